# ruff: noqa: E501, ASYNC110
"""Replay of a long session: a generated session of 1,000,000 events, opened, sought and exported.

Measures what issue 10 sets targets for: open and first frame (< 1 s), jump to the end and draw
(< 2 s), any seek (< 100 ms), resident memory (< 300 MB), ``sessions --json`` (< 0.3 s), headless
replay at speed 0 and ``export`` (< 5 s each). A floor is measured in the same run (a Python
process that only starts cockpit's CLI, and a fixed CPU loop) so figures taken on a loaded
machine can be read against it.

Run: python bench/replay_long.py [--events 1000000] [--prs 200] [--journal FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.longsession import write_session
from cockpit.bus import EventBus
from cockpit.journal import Journal
from cockpit.replay import ReplayDriver


def cli(*args: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if done.returncode != 0:
        raise SystemExit(f"cockpit {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - t0, done.returncode


def cpu_floor() -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(2_000_000):
        x += i
    return time.perf_counter() - t0


async def empty_first_frame() -> float:
    """The floor for "open and first frame": an empty cockpit, no journal at all."""
    from cockpit.tui.app import CockpitApp

    t0 = time.perf_counter()
    app = CockpitApp(bus=EventBus())
    async with app.run_test(size=(160, 45)) as pilot:
        while app.frames < 1:
            await asyncio.sleep(0.001)
        took = time.perf_counter() - t0
        await pilot.press("q")
    return took


async def tui(path: Path, session: str) -> dict[str, float]:
    from cockpit.tui.app import CockpitApp

    out: dict[str, float] = {"empty_first_frame_s": await empty_first_frame()}
    t0 = time.perf_counter()
    driver = ReplayDriver(path, session, EventBus(), speed=5, hold=True)

    async def runner() -> int:
        return await driver.run()

    app = CockpitApp(bus=driver.bus, controls=None, runner=runner, replay=driver)
    app.clock = lambda: app.model.state.last_t or time.time()
    async with app.run_test(size=(160, 45)) as pilot:
        while app.frames < 1:
            await asyncio.sleep(0.001)
        out["open_first_frame_s"] = time.perf_counter() - t0
        driver.pause()
        await pilot.pause()
        t1 = time.perf_counter()
        await pilot.press("end")
        await app.settled()
        out["end_and_draw_s"] = time.perf_counter() - t1
        assert driver.position == driver.total
        rng = random.Random(7)
        seeks: list[float] = []
        drawn: list[float] = []
        for _ in range(30):
            target = rng.randrange(0, driver.total)
            t2 = time.perf_counter()
            driver.seek(target)
            seeks.append(time.perf_counter() - t2)
            await app.settled()
            drawn.append(time.perf_counter() - t2)
        out["seek_median_s"] = statistics.median(seeks)
        out["seek_p90_s"] = statistics.quantiles(seeks, n=10)[-1]
        out["seek_max_s"] = max(seeks)
        out["seek_and_draw_median_s"] = statistics.median(drawn)
        t3 = time.perf_counter()
        for _ in range(20):
            driver.step(-1)
        out["step_back_s"] = (time.perf_counter() - t3) / 20
        t4 = time.perf_counter()
        for _ in range(20):
            driver.next_milestone()
        out["next_milestone_s"] = (time.perf_counter() - t4) / 20
        await pilot.press("q")
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--prs", type=int, default=200)
    ap.add_argument("--journal", type=Path, default=None, help="reuse (or make) this journal")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.journal or Path(tmp.name) / "long.sqlite3"
    if not path.exists():
        t0 = time.perf_counter()
        n = write_session(path, args.events, args.prs)
        print(f"generated {n:,} events over {args.prs} PRs in {time.perf_counter() - t0:.1f} s ({path})")
    with Journal(path) as j:
        n = j.count_events("bench")
        ck = j._conn.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM checkpoints").fetchone()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    print(f"session: {n:,} events; journal {size:.0f} MB, {ck[0]} checkpoints ({ck[1] / 1e6:.1f} MB)")
    print(f"floor: cockpit --version {cli('--version')[0]:.2f} s; CPU loop {cpu_floor():.3f} s")
    res = asyncio.run(tui(path, "bench"))
    print(
        f"open + first frame        {res['open_first_frame_s']:.2f} s   (target < 1 s; "
        f"an empty cockpit's first frame: {res['empty_first_frame_s']:.2f} s)"
    )
    print(f"jump to end + draw        {res['end_and_draw_s']:.2f} s   (target < 2 s)")
    print(
        f"seek (30 random)          median {res['seek_median_s'] * 1000:.0f} ms, p90 {res['seek_p90_s'] * 1000:.0f} ms, max {res['seek_max_s'] * 1000:.0f} ms"
        f"   (target < 100 ms); with the redraw: median {res['seek_and_draw_median_s'] * 1000:.0f} ms"
    )
    print(
        f"step back / next mark     {res['step_back_s'] * 1000:.0f} ms / {res['next_milestone_s'] * 1000:.0f} ms"
    )
    print(f"peak RSS (cockpit)        {res['rss_mb']:.0f} MB   (target < 300 MB)")
    j = str(path)
    t0 = time.perf_counter()
    with Journal(path) as jj:
        for row in jj.list_sessions():
            jj.summary(row.id)
    print(f"sessions, in process      {(time.perf_counter() - t0) * 1000:.0f} ms (list + stored summary)")
    print(
        f"sessions --json           {cli('sessions', '--json', '--journal', j)[0]:.2f} s   (target < 0.3 s)"
    )
    print(
        f"replay --headless -s 0    {cli('replay', 'bench', '--headless', '--speed', '0', '--journal', j)[0]:.2f} s   (target < 5 s)"
    )
    out = str(Path(tmp.name) / "out")
    print(
        f"export (jsonl)            {cli('export', 'bench', '-o', out, '--journal', j)[0]:.2f} s   (target < 5 s)"
    )
    print(
        f"export --format md        {cli('export', 'bench', '--format', 'md', '-o', out, '--journal', j)[0]:.2f} s   (target < 5 s)"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
