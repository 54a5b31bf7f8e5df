"""The live cockpit: a Textual app that is a view of a session's event stream.

Events arrive from the bus (after the journal committed them) on the app's own loop and are
folded into the view model at once; the screen is redrawn from it at most 30 times a second,
so a writer streaming thousands of events a second costs one redraw per frame, and keys stay
responsive. A gate opening asks for the next frame immediately. The app runs the session
itself, as a worker, and exits with the session's exit code. Its controls are optional: a
replay driver can publish recorded events to the same bus and the same widgets show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import PurePath
from typing import Any, ClassVar

from textual import events
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from cockpit.bus import EventBus
from cockpit.engine.controls import LiveSession, ReplayControls, ReplaySource, SessionControls
from cockpit.events import Event, GateOpened, HumanDecision, PrClosed, SessionFinished
from cockpit.git.model import Diff
from cockpit.state import PRState
from cockpit.tui.commands import Commands
from cockpit.tui.countdown import Countdown
from cockpit.tui.model import ViewModel
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.stylesheets import STYLES
from cockpit.tui.theme import ANSI_THEME, DEFAULT_THEME, THEMES
from cockpit.tui.widgets.gate_banner import BannerView

FRAME_S = 1 / 30
GATE_SETTLE_S = 0.3  # `a` ignores a gate the banner has shown for less than this (a double tap)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HANGUP_GRACE_S = 15.0  # after a hangup, the longest the session gets to put its end on disk
MAX_TOASTS = 3  # per frame
DiffSource = Callable[[str, str], Diff]  # (base, head) -> Diff; called in a thread


class CockpitApp(App[int]):
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        STYLES / "app.tcss",
        STYLES / "dialogs.tcss",
        STYLES / "diff.tcss",
    ]
    TITLE = "cockpit"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit_now", "quit", show=False, priority=True, id="cockpit.quit-now"),
        Binding("ctrl+c", "quit_now", "quit", show=False, id="cockpit.ctrl-c"),
    ]

    def __init__(
        self,
        *,
        bus: EventBus,
        controls: SessionControls | None = None,
        runner: Callable[[], Awaitable[int]] | None = None,
        gate_timeout: float = 0.0,
        clock: Callable[[], float] = time.time,
        diff_source: DiffSource | None = None,
        theme: str | None = None,
        follow: bool = True,
        replay: ReplayControls | None = None,
        gate_settle_s: float = GATE_SETTLE_S,
        attached: str = "",
    ) -> None:
        super().__init__()
        self.bus = bus
        self.controls = controls
        self.replay = replay
        self.runner = runner
        self.clock = clock
        self.model = ViewModel()
        self.commands = Commands(self)
        self.countdown = Countdown(gate_timeout if controls is not None else 0.0, clock)
        self.follow = follow
        self.selected: int | None = None
        self.gate_settle_s = gate_settle_s
        # "attached to pid N on host H": another process owns the session; leaving never stops it.
        self.attached = attached
        self.session_done = runner is None
        self.exit_code = 0
        self._diff_source = diff_source
        if diff_source is None and controls is not None:
            repo = controls.repo
            self._diff_source = repo.diff
        self._theme_name = theme or os.environ.get("COCKPIT_THEME") or DEFAULT_THEME
        self._answered: set[str] = set()
        self._quitting = False
        self._hung_up = False
        self._frame_asked = False
        self._shown: int | None = -1
        self._banner_gate: str | None = None  # the gate the banner shows, and since when
        self._banner_since = 0.0
        self._signals: list[signal.Signals] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.main: MainScreen | None = None
        self.frames = 0

    # --- start and stop ------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        self.main = MainScreen(id="main")
        return self.main

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        few_colours = not self.is_headless and self.console.color_system in ("standard", "windows")
        self.theme = ANSI_THEME if few_colours else self._pick_theme(self._theme_name)
        self._install_stop_signals()
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(1.0, self._second)
        if self.runner is not None:
            self.run_worker(self._run_session(), name="session", group="session", exit_on_error=False)

    def _pick_theme(self, name: str) -> str:
        """A theme name from the user (COCKPIT_THEME, --theme) that does not exist is a warning."""
        if name in self.available_themes:
            return name
        known = ", ".join(sorted(t.name for t in THEMES))
        self.notify(
            f"No theme called {name!r}; using {DEFAULT_THEME} (cockpit's own: {known}).",
            severity="warning",
            markup=False,
            timeout=10,
        )
        return DEFAULT_THEME

    def _install_stop_signals(self) -> None:
        """SIGTERM or SIGHUP (kill, a closed terminal) stops the session as q would, and leaves:
        running writers are stopped, the journal records the session's end, and the terminal is
        restored (a second signal leaves at once)."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stop_signal, sig)
                self._signals.append(sig)

    def _stop_signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGHUP and not self._hung_up:
            self._hang_up()
        if self.attached:
            self._leave(0)
            return
        if self._quitting or self.controls is None or self.session_done:
            self._leave(self.exit_code if self.session_done else 130)
        else:
            self._stop_and_exit()

    def _hang_up(self) -> None:
        """The terminal is gone. Textual's writer thread dies on its first write to it, and
        restoring the terminal on exit then blocks for good on that thread's full queue (seen in
        tmux), so after a hangup the process ends without restoring anything (``_leave``), as
        soon as the session has put its end on disk, and at the latest after HANGUP_GRACE_S."""
        self._hung_up = True
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (1, 2):  # anything printed from here on goes nowhere instead of failing
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        os.close(devnull)
        watchdog = threading.Timer(HANGUP_GRACE_S, os._exit, args=(129,))
        watchdog.daemon = True
        watchdog.start()

    def _leave(self, code: int) -> None:
        if self._hung_up:
            os._exit(code)  # see _hang_up: there is no terminal to restore, and trying would hang
        self.exit(code)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for sig in self._signals:
                loop.remove_signal_handler(sig)
        self._signals.clear()

    def begin(
        self,
        runner: Callable[[], Awaitable[int]],
        *,
        controls: SessionControls | None = None,
        replay: ReplayControls | None = None,
        diff_source: DiffSource | None = None,
        attached: str = "",
    ) -> None:
        """Start showing a session in an app made without one (the browser's session picker)."""
        self.runner, self.controls, self.replay = runner, controls, replay
        self._diff_source = diff_source
        self.attached = attached
        self.session_done = False
        self.model.dirty.header = True
        if self.is_running:  # else on_mount starts it
            self.run_worker(self._run_session(), name="session", group="session", exit_on_error=False)

    async def _run_session(self) -> None:
        assert self.runner is not None
        try:
            code = await self.runner()
        except Exception as exc:
            code = 1
            self.notify(
                f"the session failed: {type(exc).__name__}: {exc}", severity="error", timeout=30, markup=False
            )
        self.exit_code = code
        self.session_done = True
        self.model.dirty.header = True
        if self._quitting or self._hung_up:
            self._leave(code)

    def request_quit(self) -> None:
        """q: leave at once when nothing runs; otherwise ask, stop the session, then leave."""
        if self._quitting or self.controls is None or self.session_done or self.attached:
            self.exit(self.exit_code)
            return
        s = self.model.state
        running = s.running_dispatches()
        open_prs = [p for p in s.prs.values() if not p.closed]
        if not running and not open_prs:
            self._stop_and_exit()
            return
        body = (
            f"{len(running)} dispatch{'es' if len(running) != 1 else ''} running, "
            f"{len(open_prs)} PR{'s' if len(open_prs) != 1 else ''} open.\n\n"
            "Running writers and reviewers are stopped, open PRs close as interrupted, and the journal "
            "records the session as interrupted."
        )
        self.push_screen(ConfirmScreen("Quit the session?", body, "Quit"), self._quit_confirmed)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            self._stop_and_exit()

    def _stop_and_exit(self) -> None:
        self._quitting = True
        self.countdown.stop()
        if self.controls is not None:
            self.controls.stop()
        self.notify("Stopping the session…", timeout=30)
        if self.session_done:
            self._leave(self.exit_code)

    def action_quit_now(self) -> None:
        """ctrl+q / ctrl+c: the same question as q; a second time while stopping leaves at once."""
        if self._quitting:
            self._leave(130)
        else:
            self.request_quit()

    # --- events in -----------------------------------------------------------------------

    def _on_event(self, ev: Event) -> None:
        self.model.apply(ev)
        if isinstance(ev, GateOpened):
            self._ask_frame()
        elif isinstance(ev, HumanDecision):
            self.countdown.closed(ev.gate)
            self._answered.discard(ev.gate)
        elif isinstance(ev, (PrClosed, SessionFinished)):
            open_ids = set(self.model.state.gates)
            for g in list(self._answered):
                if g not in open_ids:
                    self._answered.discard(g)

    def refresh_header(self) -> None:
        self.model.dirty.header = True
        self._ask_frame()

    def _ask_frame(self) -> None:
        if not self._frame_asked:
            self._frame_asked = True
            self.call_later(self._frame)

    async def on_event(self, event: events.Event) -> None:
        # Any key or click means a human is here: from then on they decide, not the clock.
        if isinstance(event, (events.Key, events.MouseDown)) and self.countdown.stop():
            self.model.dirty.gates = True
        await super().on_event(event)

    # --- frames --------------------------------------------------------------------------

    def _frame(self, tick: bool = False) -> None:
        self._frame_asked = False
        if self._main_on_top():  # nothing approves itself under a dialog or the diff
            for gate in self.countdown.due():
                self._auto_approve(gate)
        self._toast(self.model.take_notices())
        if self.main is None or not self.main.is_mounted:
            return  # what changed stays marked until there is a screen to draw it on
        d = self.model.take_dirty()
        selected = self._resolve_selection()
        moved = selected != self._shown
        if not (moved or tick or d.any()):
            return
        self._shown = selected
        self.frames += 1
        self.main.render_frame(d, selected, moved, tick)

    def _main_on_top(self) -> bool:
        try:
            return self.main is not None and self.screen is self.main
        except ScreenStackError:  # starting or shutting down
            return False

    def _toast(self, notices: list[tuple[str, str]]) -> None:
        """Warnings and errors as toasts; a burst becomes a few toasts and a count, not a wall."""
        shown = notices[-MAX_TOASTS:]
        if len(notices) > len(shown):
            hidden = len(notices) - len(shown)
            self.notify(
                f"{hidden} more warnings and errors: see the Writer pane and the journal", severity="warning"
            )
        for severity, text in shown:
            level: SeverityLevel = (
                "error" if severity == "error" else ("warning" if severity == "warning" else "information")
            )
            self.notify(text, severity=level, markup=False)

    async def settled(self) -> None:
        """Draw what is pending and wait until every pane caught up (tests, screenshots, bench)."""
        for _ in range(3):
            self._frame()
            await asyncio.sleep(0)
            if self.main is not None and self.main.is_mounted:
                await self.main.composer.settled.wait()
            await self.animator.wait_until_complete()
            await asyncio.sleep(0.01)

    def _second(self) -> None:
        self._frame(tick=True)

    def _resolve_selection(self) -> int | None:
        prs = self.model.state.prs
        if self.follow and self.model.focus_pr in prs:
            self.selected = self.model.focus_pr
        if self.selected not in prs:
            self.selected = min(prs) if prs else None
        return self.selected

    def pick(self, pr: int) -> None:
        """A human selected a PR: show it and stop following."""
        if self.follow:
            self.follow = False
        self.selected = pr
        self._frame()

    # --- gates ---------------------------------------------------------------------------

    def target_gate(self) -> tuple[GateOpened, str] | None:
        """The gate `a` answers: the selected PR's, else the oldest open one (with why)."""
        gates = [g for g in self.model.state.waiting_for_human() if g.gate not in self._answered]
        if not gates:
            return None
        for g in gates:
            if g.pr == self.selected:
                return g, ""
        why = "the oldest open gate" if len(gates) > 1 else "not the selected PR"
        return gates[0], why

    def just_shown(self, gate: str) -> bool:
        """True while ``gate`` is not yet the banner's, or only just became it (a double tap on
        `a` must not approve a gate that appeared under the finger)."""
        if gate != self._banner_gate:
            return True
        return self.clock() - self._banner_since < self.gate_settle_s

    def answered(self, gate: str) -> None:
        self._answered.add(gate)
        self.countdown.closed(gate)
        self.model.dirty.gates = True
        self._ask_frame()

    def banner_view(self) -> BannerView | None:
        """What the banner shows. Drawing it is what starts its gate's countdown and its settle time."""
        target = self.target_gate()
        shown = target[0].gate if target is not None else None
        if shown != self._banner_gate:
            self._banner_gate, self._banner_since = shown, self.clock()
        self.countdown.target(shown)
        if target is None:
            return None
        gate, why = target
        return BannerView(
            gate=gate,
            why=why,
            open_count=len(self.model.state.gates) - len(self._answered & set(self.model.state.gates)),
            countdown=self.countdown.remaining(gate.gate),
            countdown_stopped=self.countdown.stopped and self.countdown.timeout_s > 0,
            readonly=self.controls is None,
        )

    def _auto_approve(self, gate_id: str) -> None:
        from cockpit.engine.gates import GateAnswer, GateError

        gate = self.model.state.gates.get(gate_id)
        if self.controls is None or gate is None or gate_id in self._answered:
            return
        try:
            self.controls.answer(gate_id, GateAnswer("approve", by="timeout"))
        except GateError:
            return
        self.answered(gate_id)

    def header_note(self) -> str:
        notes = []
        if self.attached:
            notes.append(self.attached)
        if self.replay is not None and not self.session_done:
            pace = "as fast as it goes" if self.replay.speed == float("inf") else f"×{self.replay.speed:g}"
            notes.append(f"replay {pace}" + (" · paused (p)" if self.replay.paused else " (p pauses)"))
        if not self.follow:
            notes.append("follow off (f)")
        if self.countdown.active:
            notes.append(f"gates approve after {self.countdown.timeout_s:g}s")
        if self.session_done and self.runner is not None:
            notes.append("q quits")
        return " · ".join(notes)

    # --- diff ----------------------------------------------------------------------------

    def diff_loader(self, pr: PRState) -> Callable[[], Diff] | None:
        source = self._diff_source
        if source is None or not pr.head:
            return None
        base = pr.base_sha or self.model.state.base_branch
        head = pr.head
        return lambda: source(base, head)

    # --- command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        c = self.commands
        main = self.main
        yield SystemCommand("Approve", "Approve the proposal at the open gate (a)", c.approve)
        yield SystemCommand("Override", "Merge, fix or abandon instead of the proposal (o)", c.override)
        yield SystemCommand("Edit", "Edit the brief or commit message before it goes on (e)", c.edit)
        yield SystemCommand("Retry", "Retry a failed or interrupted step (r)", c.retry)
        yield SystemCommand("Skip PR", "Skip the selected PR (s)", c.skip)
        yield SystemCommand("Interrupt writer", "Stop the selected PR's running writer (x)", c.interrupt)
        if self.model.state.paused:
            yield SystemCommand("Resume", "Let new dispatches start again (p)", c.resume)
        else:
            yield SystemCommand("Pause", "Let running dispatches finish; start no new ones (p)", c.pause)
        yield SystemCommand("Diff", "Show the selected PR's diff from git (d)", c.diff)
        yield SystemCommand("Add PR", "Add a PR (title and task) to the running session (n)", c.add_pr)
        yield SystemCommand("Follow latest", "Toggle following the PR with the latest activity (f)", c.follow)
        if main is not None:
            yield SystemCommand(
                "Maximise Writer", "Give the Writer pane the screen (1)", lambda: main.action_zoom("writer")
            )
            yield SystemCommand(
                "Maximise Reviewers",
                "Give the Reviewers pane the screen (2)",
                lambda: main.action_zoom("reviewers"),
            )
            yield SystemCommand(
                "Maximise Composer",
                "Give the Composer pane the screen (3)",
                lambda: main.action_zoom("composer"),
            )
            yield SystemCommand("Restore panes", "Show all three panes (0)", main.action_unzoom)
        yield SystemCommand("Keys", "Every key and what it does (?)", c.help)
        yield SystemCommand("Quit cockpit", "Quit; asks first while work is in flight (q)", self.request_quit)
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit", "Keys"):
                yield cmd


def run_replay(driver: ReplaySource, *, diff_source: DiffSource | None = None) -> int:
    """Watch a journaled session again in the same cockpit: the same events, the same widgets."""

    async def runner() -> int:
        await driver.run()
        return 0

    app = CockpitApp(bus=driver.bus, controls=None, runner=runner, diff_source=diff_source, replay=driver)
    # Elapsed and spent times run on the replayed clock, not today's: "now" is the last event shown.
    app.clock = lambda: app.model.state.last_t or time.time()
    app.run()
    return app.return_code or 0


def run_app(session: LiveSession, *, gate_timeout: float = 0.0) -> int:
    """Run a live session in the cockpit; returns the exit code (130 when quit with work in flight)."""

    async def runner() -> int:
        result = await session.run()
        code: int = result.exit_code
        return code

    app = CockpitApp(bus=session.bus, controls=session, runner=runner, gate_timeout=gate_timeout)
    for ev in getattr(session, "history", ()):  # a resumed session: what it did before the crash
        app.model.apply(ev)
    code = app.run()
    if code is not None:
        return code
    if app.return_code:  # the app itself failed (Textual printed the traceback)
        return app.return_code
    return app.exit_code if app.session_done else 130
