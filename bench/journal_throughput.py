"""Journal append throughput: events/s through the batched writer, durable (synchronous=FULL).

Also the latency of one event from append to committed-and-visible when the writer is idle.
Run: python bench/journal_throughput.py [--events N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cockpit import events as E
from cockpit.journal import Journal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        j = Journal(Path(d) / "j.sqlite3")
        j.begin_session("s", "/repo", "main", "bench")
        w = j.writer("s")
        n = args.events
        t0 = time.perf_counter()
        for i in range(n):
            w.append(
                E.DispatchOutput(
                    session="s", seq=i, t=time.time(), pr=1, dispatch="d1", channel="text", text="x" * 60
                )
            )
        w.flush()
        dt = time.perf_counter() - t0
        print(f"burst: {n:,} events in {dt:.2f} s = {n / dt:,.0f} events/s durable, in {w.batches} batches")

        # A steady stream of 2,000 events/s (a busy writer), measuring append -> committed.
        done = threading.Event()
        committed: dict[int, float] = {}
        w.close()
        w = j.writer(
            "s", on_committed=lambda b: [committed.__setitem__(e.seq, time.perf_counter()) for e in b]
        )
        sent: dict[int, float] = {}
        base = n
        for k in range(4000):
            seq = base + k
            sent[seq] = time.perf_counter()
            w.append(
                E.DispatchOutput(
                    session="s", seq=seq, t=time.time(), pr=1, dispatch="d1", channel="text", text="y" * 60
                )
            )
            time.sleep(0.0005)
        w.flush()
        done.set()
        lat = sorted((committed[s] - sent[s]) * 1000 for s in sent)
        q = statistics.quantiles(lat, n=100)
        print(
            f"steady ~2k/s: append->committed p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms, max {lat[-1]:.2f} ms "
            f"({w.batches} batches for 4,000 events)"
        )
        w.close()
        j.close()


if __name__ == "__main__":
    main()
