"""Commit-to-callback latency of the CommitWatcher.

Makes a temp repository with one PR worktree (on a slash branch, as the engine names them), runs
``git commit`` there N times with the git CLI, and times from the commit process exiting to the
watcher's ``on_commits`` callback. The git CLI gets a temp HOME and no system config.

    /work/venv/bin/python bench/commit_latency.py [--commits 50] [--debounce-ms 10] [--step-ms 5]

A negative figure means the callback ran before the commit process had exited (the branch ref
is written before git's last cleanup).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pygit2
from pygit2.enums import ConfigLevel

from cockpit.git import CommitInfo, CommitWatcher, Repo, branch_name, worktree_name


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    repo = root / "proj"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.name", "Bench", cwd=repo)
    git("config", "user.email", "bench@example.com", cwd=repo)
    (repo / "README.md").write_text("# bench\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "initial", cwd=repo)
    return repo


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(commits: int, debounce_ms: int, step_ms: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
        for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
            pygit2.settings.search_path[level] = str(home)
        repo = Repo.open(make_repo(root))
        branch = branch_name("bench", 1, "commit latency")
        path = repo.create_worktree(worktree_name("bench", 1), root / "wt" / "bench-1", branch, "main")

        arrivals: list[tuple[float, int]] = []
        arrived = asyncio.Event()

        async def on_commits(b: str, infos: list[CommitInfo], rewritten: bool) -> None:
            arrivals.append((time.perf_counter(), len(infos)))
            arrived.set()

        watcher = CommitWatcher(repo.workdir, on_commits, debounce_ms=debounce_ms, step_ms=step_ms)
        await watcher.start()
        watcher.track(branch, repo.tip(branch), "main")
        latencies: list[float] = []
        try:
            for i in range(commits):
                (path / "file.txt").write_text(f"change {i}\n")
                git("add", "file.txt", cwd=path)
                arrived.clear()
                before = len(arrivals)
                proc = await asyncio.create_subprocess_exec(
                    "git", "commit", "-q", "-m", f"commit {i}", cwd=path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await proc.wait()
                exited = time.perf_counter()
                while len(arrivals) == before:
                    await asyncio.wait_for(arrived.wait(), 10)
                    arrived.clear()
                latencies.append((arrivals[before][0] - exited) * 1000)
                await asyncio.sleep(0.05)  # let this commit's events go by before the next one
            await asyncio.sleep(0.2)
        finally:
            await watcher.stop()

        ms = latencies
        print(
            f"commits: {commits}, callbacks: {len(arrivals)}, commits reported: {sum(n for _, n in arrivals)}"
        )
        print(f"debounce={debounce_ms} ms, step={step_ms} ms")
        print(
            f"latency from `git commit` exit to callback: p50 {statistics.median(ms):.1f} ms, "
            f"p95 {percentile(ms, 0.95):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--debounce-ms", type=int, default=10)
    parser.add_argument("--step-ms", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.commits, args.debounce_ms, args.step_ms))


if __name__ == "__main__":
    main()
