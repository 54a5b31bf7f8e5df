"""What the person sees: key → visible change, measured from outside, in tmux.

The real cockpit runs in a real terminal (a private tmux server), showing the recorded demo
session at mid-session (PR 2's fix round; its first round's verdicts, brief and diff), while a
writer streams --rate lines per second through the real path (recorder → SQLite journal → bus
→ app). The bench presses each key that changes the screen with ``tmux send-keys`` and polls
``tmux capture-pane`` until the change shows; one poll costs a few milliseconds, which the
floor pays too. The floor is a bare Textual app (a Static and a Footer) answering the same keys
in the same tmux, measured in the same run; a second floor is the same app with cockpit's input
driver (cockpit/tui/driver.py), which delivers a lone escape after ESCDELAY where stock Textual
waits up to 100 ms, so that closing a dialog can be compared like with like. Last, the time
from starting ``cockpit demo`` to its first frame, against the bare app's first frame.

Run: python bench/tui_keys_tmux.py [--sizes 160x45,80x24] [--rates 0,2000] [--n 30]
Targets (issue 15): every key p95 within 20 ms of the floor; closing a dialog median within
10 ms of the floor; the first frame of `cockpit demo` within 1 s of the command starting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SOCKET = f"cockpit-bench-{os.getpid()}"


def _header_pr(screen: str) -> str:
    """The PR the header's second line is about ("composer PR 2 …" wide, "PR 2 …" narrow)."""
    lines = screen.splitlines()
    m = re.search(r"\bPR (\d+) ", lines[1]) if len(lines) > 1 else None
    return m.group(1) if m else ""


# (label, key, what shows once the key took effect)
Check = Callable[[str], bool]
COCKPIT_KEYS: list[tuple[str, str, Check]] = [
    ("1 maximise writer", "1", lambda s: "Reviewers" not in s),
    ("0 restore panes", "0", lambda s: "Reviewers" in s),
    ("? help", "?", lambda s: "esc closes" in s),
    ("escape closes help", "Escape", lambda s: "esc closes" not in s),
    ("j next PR", "j", lambda s: _header_pr(s) == "3"),
    ("k previous PR", "k", lambda s: _header_pr(s) == "2"),
    ("d diff", "d", lambda s: "Files" in s),
    ("escape closes diff", "Escape", lambda s: "Files" not in s),
    ("t timeline", "t", lambda s: "one lane per PR" in s),
    ("escape closes timeline", "Escape", lambda s: "one lane per PR" not in s),
]
FLOOR_KEYS: list[tuple[str, str, Check]] = [
    ("1 change text", "1", lambda s: "STATE ONE" in s),
    ("0 change text", "0", lambda s: "STATE ZERO" in s),
    ("? open dialog", "?", lambda s: "DIALOG OPEN" in s),
    ("escape closes dialog", "Escape", lambda s: "DIALOG OPEN" not in s),
]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=False).stdout


def capture() -> str:
    return tmux("capture-pane", "-p", "-t", "bench")


def wait_for(check: Check, timeout_s: float = 30.0) -> float:
    """Poll until ``check`` holds; the time it took, in ms (inf on timeout)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if check(capture()):
            return (time.perf_counter() - t0) * 1000
    return float("inf")


def start(cmd: list[str], size: tuple[int, int]) -> float:
    """Start ``cmd`` in a fresh tmux session; returns the perf_counter just before."""
    # The floor gets the escape delay the cockpit sets for itself (cockpit/tui/__init__.py).
    env = f"env TERM=xterm-256color COLORTERM=truecolor ESCDELAY=20 PYTHONPATH={ROOT}"
    t0 = time.perf_counter()
    tmux(
        "new-session", "-d", "-s", "bench", "-x", str(size[0]), "-y", str(size[1]),
        f"{env} {' '.join(cmd)}",
    )  # fmt: skip
    return t0


def stop() -> None:
    tmux("kill-server")
    time.sleep(0.2)


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used, in ms (10 ms ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


CPU: dict[str, list[float]] = {}


def press_all(keys: list[tuple[str, str, Check]], n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {label: [] for label, _, _ in keys}
    CPU.clear()
    pid = int(tmux("display", "-p", "-t", "bench", "#{pane_pid}").strip() or 0)
    rng = random.Random(1)
    for _ in range(n):
        for label, key, check in keys:
            c0 = cpu_ms(pid)
            t0 = time.perf_counter()
            tmux("send-keys", "-t", "bench", key)
            while not check(capture()):
                if time.perf_counter() - t0 > 10:
                    break
            out[label].append((time.perf_counter() - t0) * 1000)
            CPU.setdefault(label, []).append(cpu_ms(pid) - c0)
            time.sleep(0.05 + rng.random() * 0.05)  # off the frame grid, and let it settle
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(title: str, results: dict[str, list[float]]) -> None:
    print(f"  {title}")
    for label, ms in results.items():
        cpu = CPU.get(label, [])
        print(
            f"    {label:<22} n={len(ms):<3} median {statistics.median(ms):6.1f}  p95 {pct(ms, 95):6.1f}"
            f"  max {max(ms):6.1f} ms" + (f"   app CPU {statistics.mean(cpu):5.1f} ms/key" if cpu else "")
        )


# --- the apps (run inside tmux) ------------------------------------------------------------


def serve_floor(quick_escape: bool = False) -> None:
    """``quick_escape``: with cockpit's input driver (escape on time, cockpit/tui/driver.py)."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.screen import ModalScreen
    from textual.widgets import Footer, Static

    class Dialog(ModalScreen[None]):
        BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "close")]

        def compose(self) -> ComposeResult:
            yield Static("DIALOG OPEN")

    class Floor(App[None]):
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("1", "state('ONE')", "one"),
            Binding("0", "state('ZERO')", "zero"),
            Binding("question_mark", "dialog", "dialog"),
        ]

        def compose(self) -> ComposeResult:
            yield Static("STATE START", id="s")
            yield Footer()

        def action_state(self, name: str) -> None:
            self.query_one("#s", Static).update(f"STATE {name}")

        def action_dialog(self) -> None:
            self.push_screen(Dialog())

        def get_driver_class(self) -> Any:
            base = super().get_driver_class()
            if not quick_escape:
                return base
            sys.path.insert(0, str(ROOT))
            from cockpit.tui.driver import driver_class

            return driver_class(base)

    Floor().run()


def serve_cockpit(rate: float) -> None:
    sys.path.insert(0, str(ROOT))
    from cockpit.backends.base import Output
    from cockpit.bus import EventBus
    from cockpit.engine.recorder import Recorder
    from cockpit.journal import Journal
    from cockpit.tui.app import CockpitApp
    from tests.tui.scenes import diff_source, mid_session, mid_session_writer, recorded_events

    events = recorded_events()[: mid_session()]
    writer = mid_session_writer()
    last_t = events[-1].t
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="cockpit-bench-")
    journal = Journal(Path(tmp) / "bench.sqlite3")
    bus = EventBus()
    app = CockpitApp(
        bus=bus, clock=lambda: last_t + time.time() - t_start, diff_source=diff_source, follow=False
    )

    async def flood() -> None:
        journal.begin_session("bench", tmp, "main", "bench")
        rec = Recorder(journal, "bench", bus)
        rng = random.Random(7)
        words = ("the", "writer", "reads", "a", "module", "then", "edits", "one", "function", "and", "tests")
        n = 0
        t0 = time.perf_counter()
        while rate > 0:
            due = int((time.perf_counter() - t0) * rate)
            while n < due:
                n += 1
                line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + "\n"
                rec.output(writer.dispatch, 2, Output("text", line, {"id": f"msg{n // 50}"}))
            await asyncio.sleep(0.002)

    async def on_ready() -> None:
        bus.publish(events)
        app.pick(2)
        app.run_worker(flood(), name="flood")

    app.call_later(on_ready)
    trace = os.environ.get("COCKPIT_BENCH_TRACE")
    if trace:
        _trace(app, Path(trace))
    app.run()
    journal.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _trace(app: Any, out: Path) -> None:
    """Where the time goes inside the process: key received → the first write to the terminal after
    it, and how long frames, screen updates and writes take (for finding causes, not the figures)."""
    from textual import events
    from textual.screen import Screen

    spans: dict[str, list[float]] = {"frame": [], "display": []}
    pending: list[tuple[float, str]] = []
    last = [""]
    orig_on_event = type(app).on_event
    orig_display = type(app)._display
    orig_frame = type(app)._frame
    orig_update = Screen._on_timer_update

    async def on_event(self: Any, event: Any) -> None:
        if isinstance(event, events.Key):
            pending.append((time.perf_counter(), event.key))
            last[0] = event.key
        await orig_on_event(self, event)

    def display(self: Any, screen: Any, renderable: Any) -> None:
        t0 = time.perf_counter()
        orig_display(self, screen, renderable)
        t1 = time.perf_counter()
        spans["display"].append((t1 - t0) * 1000)
        while pending:
            t_key, key = pending.pop()
            spans.setdefault(f"key {key}→display", []).append((t1 - t_key) * 1000)
        if len(spans["display"]) % 5 == 0:
            dump()

    def frame(self: Any, tick: bool = False) -> None:
        t0 = time.perf_counter()
        orig_frame(self, tick)
        spans["frame"].append((time.perf_counter() - t0) * 1000)

    def update(self: Any) -> None:
        t0 = time.perf_counter()
        orig_update(self)
        spans.setdefault(f"update after {last[0]}", []).append((time.perf_counter() - t0) * 1000)

    type(app).on_event = on_event
    type(app)._display = display
    type(app)._frame = frame
    Screen._on_timer_update = update  # type: ignore[method-assign]

    def dump() -> None:
        with out.open("w") as f:
            for name, ms in spans.items():
                if ms:
                    f.write(
                        f"{name:<28} n={len(ms):<5} median {statistics.median(ms):7.2f}"
                        f"  p95 {pct(ms, 95):7.2f}  max {max(ms):7.2f} ms\n"
                    )


# --- the bench -----------------------------------------------------------------------------


def run_keys(
    serve: list[str], ready: Check, keys: list[tuple[str, str, Check]], size: tuple[int, int], n: int
):
    start(serve, size)
    if wait_for(ready) == float("inf"):
        print("    the app did not start:\n" + capture())
        stop()
        return None
    time.sleep(1.0)
    try:
        return press_all(keys, n)
    finally:
        stop()


def first_frame(
    cmd: Callable[[int], list[str]], ready: Check, size: tuple[int, int], tries: int
) -> tuple[list[float], list[float]]:
    """Wall time from starting ``cmd`` to ``ready`` on screen, and the CPU the process used by then."""
    out: list[float] = []
    cpu: list[float] = []
    for i in range(tries):
        t0 = start(cmd(i), size)
        pid = 0
        while not ready(capture()):
            if time.perf_counter() - t0 > 60:
                break
        out.append((time.perf_counter() - t0) * 1000)
        pid = int(tmux("display", "-p", "-t", "bench", "#{pane_pid}").strip() or 0)
        cpu.append(cpu_ms(pid) if pid else float("nan"))
        stop()
    return out, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default="160x45,80x24")
    ap.add_argument("--rates", default="0,2000", help="writer lines per second, comma separated")
    ap.add_argument("--n", type=int, default=30, help="presses of each key")
    ap.add_argument("--first-frame-only", action="store_true", help="only the first-frame figures")
    ap.add_argument("--tries", type=int, default=5, help="starts of each command for the first frame")
    ap.add_argument("--serve", choices=["floor", "floor-quick-escape", "cockpit"], help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve in ("floor", "floor-quick-escape"):
        serve_floor(quick_escape=args.serve == "floor-quick-escape")
        return
    if args.serve == "cockpit":
        serve_cockpit(args.rate)
        return
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    me = [PY, str(Path(__file__).resolve())]
    load = os.getloadavg()
    print(f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores shared with others)")
    for size_s in [] if args.first_frame_only else args.sizes.split(","):
        size = tuple(int(x) for x in size_s.split("x"))
        print(f"\n{size[0]}x{size[1]}")
        floor = run_keys([*me, "--serve", "floor"], lambda s: "STATE START" in s, FLOOR_KEYS, size, args.n)
        if floor:
            report("floor: bare Textual (Static + Footer)", floor)
        quick = run_keys(
            [*me, "--serve", "floor-quick-escape"], lambda s: "STATE START" in s, FLOOR_KEYS[2:], size, args.n
        )
        if quick:
            report("floor with cockpit's input driver (escape on time)", quick)
        for rate in (float(r) for r in args.rates.split(",")):
            got = run_keys(
                [*me, "--serve", "cockpit", "--rate", str(rate)],
                lambda s: _header_pr(s) == "2",
                COCKPIT_KEYS,
                size,
                args.n,
            )
            if got:
                report(f"cockpit, writer streaming {rate:g} lines/s", got)
    size = (160, 45)
    print("\nfirst frame after the command starts (160x45)")
    tmp = tempfile.mkdtemp(prefix="cockpit-bench-demo-")
    try:

        def demo(i: int) -> list[str]:
            return [
                str(Path(PY).parent / "cockpit"), "demo", "--gate-timeout", "0", "--workdir", f"{tmp}/{i}",
                "--journal", f"{tmp}/j.sqlite3",
            ]  # fmt: skip

        for label, cmd, ready in (
            ("floor (bare Textual)", lambda i: [*me, "--serve", "floor"], lambda s: "STATE START" in s),
            ("cockpit demo", demo, lambda s: "PRs" in s and "Writer" in s),  # the layout is drawn
        ):
            wall, cpu = first_frame(cmd, ready, size, args.tries)
            print(
                f"  {label:<21} median {statistics.median(wall):6.0f} ms  max {max(wall):6.0f} ms"
                f"   CPU by then {statistics.median(cpu):5.0f} ms"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
