"""How long ``cockpit run``'s preflight takes before a session starts.

Runs :func:`cockpit.doctor.preflight` against the simulators (the anthropic and ollama adapters'
checks over loopback HTTP, the codex-compatible CLI's ``--version``, the repository) N times, and
each check alone, so the figure for "all at once" can be compared with the slowest single check
(the floor) and with their sum (what running them one after another would cost).

    .venv/bin/python bench/preflight.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cockpit.demo import make_repo
from cockpit.demo.stack import start_sims
from cockpit.doctor import (
    PREFLIGHT_TIMEOUT_S,
    check_composer,
    check_repo,
    check_reviewers,
    check_writer,
    preflight,
)


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    t = PREFLIGHT_TIMEOUT_S
    with tempfile.TemporaryDirectory() as tmp, start_sims("builtin:demo", speed=0) as stack:
        repo = make_repo(Path(tmp) / "repo", {"a.txt": "a\n"})
        cfg = stack.config()
        assert preflight(cfg, repo) == [], "the simulators should pass every check"
        rows = {
            "repository": timed(lambda: check_repo(repo, cfg), args.runs),
            "writer (--version)": timed(lambda: check_writer(cfg, t), args.runs),
            "reviewers (ollama)": timed(lambda: asyncio.run(check_reviewers(cfg, t)), args.runs),
            "composer (anthropic)": timed(lambda: asyncio.run(check_composer(cfg, t)), args.runs),
        }
        whole = timed(lambda: preflight(cfg, repo), args.runs)
    for name, ms in rows.items():
        print(f"{name:<22} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms")
    floor = max(statistics.median(ms) for ms in rows.values())
    total = sum(statistics.median(ms) for ms in rows.values())
    name = "preflight (all at once)"
    print(f"{name:<22} median {statistics.median(whole):7.1f} ms   max {max(whole):7.1f} ms")
    print(f"floor (slowest check) {floor:.1f} ms; one after another would be {total:.1f} ms")


if __name__ == "__main__":
    main()
