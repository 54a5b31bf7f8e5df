"""Cockpit responsiveness while a writer floods it: keys and the gate banner under 2,000 events/s.

A writer streams DispatchOutput events (codex-like text and reasoning deltas, commands and their
output) at --rate per second through the real path: Recorder → SQLite journal (group commit on
its thread) → EventBus on the app's loop → the app. Meanwhile the pilot:

- posts a key every ~100 ms and times it until it is handled: a no-op binding (the cost of
  getting through the queue) and `j` / `k` (until the panes have switched to the other PR);
- opens a gate every ~0.5 s (emitted like the engine does) and times emit → banner drawn (the
  first screen refresh after the banner shows that gate), then answers it.

Run: python bench/tui_latency.py [--rate 2000] [--seconds 10] [--size 160x45]
Targets (the issue): key p95 < 50 ms, gate banner < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType

from cockpit.backends.base import Output
from cockpit.bus import EventBus
from cockpit.engine.recorder import Recorder
from cockpit.events import (
    DispatchStarted,
    Event,
    GateOpened,
    HumanDecision,
    PrOpened,
    RoundStarted,
    SessionStarted,
)
from cockpit.journal import Journal
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.gate_banner import GateBanner

WORDS = (
    "the",
    "writer",
    "reads",
    "the",
    "module",
    "then",
    "edits",
    "the",
    "function",
    "and",
    "runs",
    "tests",
)


class BenchApp(CockpitApp):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("z", "ping", "ping", show=False)]

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus=bus)
        self.key_sent: dict[str, float] = {}
        self.key_ms: dict[str, list[float]] = {"ping": [], "j/k": []}
        self.gate_emitted: dict[str, float] = {}
        self.gate_published: dict[str, float] = {}
        self.gate_ms: list[float] = []  # emit → drawn
        self.gate_app_ms: list[float] = []  # published on the bus → drawn (the app's own part)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, GateOpened):
            self.gate_published[ev.gate] = time.perf_counter()
        super()._on_event(ev)

    def action_ping(self) -> None:
        self.key_ms["ping"].append((time.perf_counter() - self.key_sent.pop("z")) * 1000)

    def pick(self, pr: int) -> None:
        """j / k ends here: the list moved, the panes now show the other PR."""
        super().pick(pr)
        for key in ("j", "k"):
            if key in self.key_sent:
                self.key_ms["j/k"].append((time.perf_counter() - self.key_sent.pop(key)) * 1000)

    def _frame(self, tick: bool = False) -> None:
        super()._frame(tick)
        view = self.banner_view()
        if view is not None and view.gate.gate in self.gate_emitted:
            gate = view.gate.gate
            if self.screen.query_one(GateBanner).has_class("-open"):
                emitted = self.gate_emitted.pop(gate)
                published = self.gate_published.pop(gate, emitted)

                def drawn() -> None:
                    now = time.perf_counter()
                    self.gate_ms.append((now - emitted) * 1000)
                    self.gate_app_ms.append((now - published) * 1000)

                self.call_after_refresh(drawn)


def _text_piece(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
    return words + ("\n" if rng.random() < 0.2 else " ")


async def flood(app: BenchApp, rec: Recorder, rate: float, seconds: float) -> int:
    rng = random.Random(7)
    start = time.perf_counter()
    sent = 0
    item = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            sent += 1
            r = rng.random()
            if r < 0.75:
                rec.output("d1", 1, Output("text", _text_piece(rng), {"id": f"msg{item // 40}"}))
            elif r < 0.9:
                rec.output("d1", 1, Output("reasoning", _text_piece(rng), {"id": f"rs{item // 40}"}))
            elif r < 0.95:
                rec.output("d1", 1, Output("command", "python -m pytest -q", {"id": f"cmd{sent}"}))
            else:
                out = "".join(_text_piece(rng) for _ in range(6)) + "\n"
                rec.output("d1", 1, Output("command_output", out, {"id": f"cmd{sent}", "exit_code": 0}))
            item += 1
        await asyncio.sleep(0.001)
    return sent


async def keys(app: BenchApp, seconds: float) -> None:
    start = time.perf_counter()
    flip = False
    while time.perf_counter() - start < seconds:
        await asyncio.sleep(0.1)
        if "z" not in app.key_sent:
            app.key_sent["z"] = time.perf_counter()
            app.post_message(events.Key("z", "z"))
        await asyncio.sleep(0.1)
        key = "k" if flip else "j"
        flip = not flip
        app.key_sent.pop("j", None)
        app.key_sent.pop("k", None)
        app.key_sent[key] = time.perf_counter()
        app.post_message(events.Key(key, key))


async def gates(app: BenchApp, rec: Recorder, seconds: float) -> int:
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds - 0.6:
        await asyncio.sleep(0.5)
        n += 1
        gate = f"g{n}"
        app.gate_emitted[gate] = time.perf_counter()
        rec.emit(
            GateOpened(
                pr=2,
                gate=gate,
                gate_kind="brief",
                round=1,
                proposal="write",
                summary="bench",
                options=["approve"],
            )
        )
        for _ in range(100):
            if gate not in app.gate_emitted:
                break
            await asyncio.sleep(0.01)
        rec.emit(HumanDecision(pr=2, gate=gate, answer="approve", by="bench"))
    return n


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main_async(rate: float, seconds: float, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "bench.sqlite3")
        bus = EventBus()
        app = BenchApp(bus)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            journal.begin_session("bench", tmp, "main", "bench")
            rec = Recorder(journal, "bench", bus)
            rec.emit(SessionStarted(repo=tmp, base_branch="main", base_sha="0" * 40, worktree_root=tmp))
            for n in (1, 2):
                rec.emit(PrOpened(pr=n, title=f"PR {n} under load", task="flood", branch=f"b{n}"))
            rec.emit(RoundStarted(pr=1, round=1, brief="flood"))
            rec.emit(
                DispatchStarted(pr=1, dispatch="d1", role="writer", backend="bench", model="flood", round=1)
            )
            await rec.drain()
            await pilot.pause()
            cpu0 = time.process_time()
            frames0 = app.frames
            t0 = time.perf_counter()
            sent, _, n_gates = await asyncio.gather(
                flood(app, rec, rate, seconds), keys(app, seconds), gates(app, rec, seconds)
            )
            wall = time.perf_counter() - t0
            await rec.drain()
            lag_start = time.perf_counter()
            await app.settled()
            settle = time.perf_counter() - lag_start
            cpu = time.process_time() - cpu0
            frames = app.frames - frames0
            published = bus.published
            await rec.aclose()
        journal.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"terminal {size[0]}x{size[1]}, {seconds:g} s at {rate:g} writer events/s (headless pilot)")
    print(f"  events: {sent} writer outputs emitted ({sent / wall:.0f}/s), {published} published on the bus")
    print(f"  frames: {frames} ({frames / wall:.1f}/s), caught up {settle * 1000:.0f} ms after the flood")
    print(f"  CPU {cpu:.1f} s over {wall:.1f} s wall, peak RSS {rss:.0f} MB")
    for name, ms in app.key_ms.items():
        print(
            f"  key {name:<5} n={len(ms):<3} p50 {statistics.median(ms) if ms else float('nan'):6.1f} ms"
            f"  p95 {pct(ms, 95):6.1f} ms  max {max(ms) if ms else float('nan'):6.1f} ms"
        )
    for label, g in (("emit → drawn", app.gate_ms), ("bus → drawn", app.gate_app_ms)):
        print(
            f"  gate banner n={len(g)}/{n_gates} p50 {statistics.median(g) if g else float('nan'):6.1f} ms"
            f"  p95 {pct(g, 95):6.1f} ms  max {max(g) if g else float('nan'):6.1f} ms  ({label})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rate", type=float, default=2000.0, help="writer output events per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="160x45", help="terminal size, WxH")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    asyncio.run(main_async(args.rate, args.seconds, (w, h)))


if __name__ == "__main__":
    main()
