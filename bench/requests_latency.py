"""Requests through the journal: what the owner's polling costs, and how soon a request lands.

- idle poll: one ``PRAGMA data_version`` (what the owner pays every 150 ms while nothing came),
  and one pending-requests query over a table of 10,000 settled requests (what it pays when
  another connection committed something: with a writer streaming, that is every poll);
- request -> settled: a requester writes pause / resume requests at random moments from its own
  connection and polls its row every 2 ms; the owner's poller (the real ``RequestPoller``, every
  150 ms) applies them, idle, then while its journal writer streams 2,000 events/s;
- floor: one INSERT plus one SELECT of the row on a second connection, no poller.
Run: python bench/requests_latency.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cockpit import events as E
from cockpit.bus import EventBus
from cockpit.engine.gates import GateAnswer
from cockpit.engine.requests import RequestPoller
from cockpit.journal import Journal


class PauseOnly:
    """Just enough of a session for the poller: pause and resume flip a flag."""

    id = "s"

    def __init__(self) -> None:
        self.bus = EventBus()
        self.paused = False

    def answer(self, gate_id: str, answer: GateAnswer, /) -> None:
        raise NotImplementedError

    def pause(self, by: str = "human") -> bool:
        self.paused, was = True, self.paused
        return not was

    def resume(self, by: str = "human") -> bool:
        self.paused, was = False, self.paused
        return was

    def interrupt(self, pr: int, by: str = "human") -> bool:
        return False

    def skip(self, pr_n: int, by: str = "human") -> bool:
        return False


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]


def requester(path: Path, n: int, out: list[float]) -> None:
    j = Journal(path)
    for i in range(n):
        time.sleep(random.uniform(0, 0.15))  # a human's request lands at any point of a poll period
        t0 = time.perf_counter()
        rid = j.add_request("s", "pause" if i % 2 == 0 else "resume", by="bench")
        while j.requests([rid])[0].status not in ("applied", "rejected"):
            time.sleep(0.002)
        out.append((time.perf_counter() - t0) * 1000)
    j.close()


async def run_poller(path: Path, n: int, stream: bool) -> list[float]:
    owner = PauseOnly()
    poller = RequestPoller(path, owner)
    poller.start()
    lat: list[float] = []
    t = threading.Thread(target=requester, args=(path, n, lat))
    writer = Journal(path).writer("s") if stream else None
    seq = 10_000_000 if stream else 0
    t.start()
    while t.is_alive():
        if writer is not None:  # 2,000 events/s in 10 ms bursts, like a busy writer's stream
            for _ in range(20):
                writer.append(
                    E.DispatchOutput(
                        session="s", seq=seq, t=time.time(), pr=1, dispatch="d1", channel="text", text="y"
                    )
                )
                seq += 1
        await asyncio.sleep(0.01)
    t.join()
    await poller.aclose()
    if writer is not None:
        writer.close()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.sqlite3"
        j = Journal(path)
        j.begin_session("s", "/repo", "main", "bench")
        for _ in range(10_000):
            rid = j.add_request("s", "pause", by="old")
            j.settle_request(rid, "applied")
        k = 2000
        t0 = time.perf_counter()
        for _ in range(k):
            j.data_version()
        dv = (time.perf_counter() - t0) / k * 1e6
        t0 = time.perf_counter()
        for _ in range(k):
            j.pending_requests("s")
        q = (time.perf_counter() - t0) / k * 1e6
        print(f"idle poll: data_version {dv:.1f} µs; pending query over 10,000 settled rows {q:.1f} µs")

        other = Journal(path)
        floor: list[float] = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            rid = j.add_request("s", "pause", by="floor")
            other.requests([rid])
            floor.append((time.perf_counter() - t0) * 1000)
            j.settle_request(rid, "rejected", "floor")
        other.close()
        print(f"floor (insert + read on another connection): median {statistics.median(floor):.2f} ms")
        j.close()

        for stream in (False, True):
            lat = asyncio.run(run_poller(path, args.requests, stream))
            what = "while 2,000 events/s stream" if stream else "idle owner"
            print(
                f"request -> settled, {what}: median {statistics.median(lat):.0f} ms, "
                f"p95 {pct(lat, 0.95):.0f} ms, max {max(lat):.0f} ms ({len(lat)} requests, poll 150 ms)"
            )


if __name__ == "__main__":
    main()
