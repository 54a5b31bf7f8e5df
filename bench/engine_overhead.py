"""The engine's own overhead: a whole 4-PR demo session at speed 0 (no pacing, scripted models).

Everything real runs: journal, watcher, worktrees, git commits by the scripted writer, merges.
Run from the repository root (it borrows the tests' scripted backends):
python -m bench.engine_overhead [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cockpit.demo import setup_demo
from cockpit.engine.session import Session
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from tests.support.scripted import scripted_backends, scripted_config


async def one_run(tmp: Path) -> tuple[float, int, str]:
    setup = setup_demo(workdir=tmp / "demo", prs=4, config=scripted_config())
    backends = scripted_backends(setup.config, setup.scenario)
    journal = Journal(tmp / "j.sqlite3")
    session = Session(
        repo=Repo.open(setup.repo),
        config=setup.config,
        backends=backends,
        journal=journal,
        plan=setup.plan,
        auto_approve=True,
        worktree_root=setup.worktrees,
        mode="bench",
    )
    t0 = time.perf_counter()
    result = await session.run()
    dt = time.perf_counter() - t0
    n = journal.count_events(session.id)
    journal.close()
    return dt, n, result.status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            dt, n, status = asyncio.run(one_run(Path(d)))
            assert status == "completed", status
            times.append(dt)
            print(f"4-PR session at --speed 0: {dt:.2f} s, {n} events journaled")
    print(
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"over {len(times)} runs (target < 3 s)"
    )


if __name__ == "__main__":
    main()
