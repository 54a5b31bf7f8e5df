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
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from typing import Any, ClassVar

from textual import events
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen

from cockpit.bus import EventBus
from cockpit.config import Pricing
from cockpit.engine.controls import LiveSession, ReplayControls, ReplaySource, SessionControls
from cockpit.events import CommitSeen, Event, FileStat, GateOpened, HumanDecision, PrClosed, SessionFinished
from cockpit.fmt import fmt_count
from cockpit.git.model import Diff
from cockpit.state import PRState, SessionState
from cockpit.tui import strips
from cockpit.tui.actions import ACTIONS, Action, effective_key, key_display, keymap_from_config
from cockpit.tui.collector import IdleCollector
from cockpit.tui.commands import Commands
from cockpit.tui.countdown import Countdown
from cockpit.tui.driver import driver_class
from cockpit.tui.gate_target import GateTargets
from cockpit.tui.model import ViewModel
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.screens.replay import ReplayScreen as ReplayScreenType
from cockpit.tui.stop_signals import StopSignals
from cockpit.tui.stylesheets import STYLES
from cockpit.tui.theme import ANSI_THEME, DEFAULT_THEME, THEMES
from cockpit.tui.widgets.gate_banner import BannerView

FRAME_S = 1 / 30
GATE_SETTLE_S = 0.3  # `a` ignores a gate the banner has shown for less than this (a double tap)
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
        pricing: Mapping[str, Pricing] | None = None,
        gate_settle_s: float = GATE_SETTLE_S,
        keys: Mapping[str, str] | None = None,
        attached: str = "",
    ) -> None:
        super().__init__()
        self.bus = bus
        self.controls = controls
        self.replay = replay
        self.pricing: Mapping[str, Pricing] = pricing or {}  # [pricing]: the header's costs
        self.runner = runner
        self.clock = clock
        self.model = ViewModel()
        self.commands = Commands(self)
        self.countdown = Countdown(gate_timeout if controls is not None else 0.0, clock)
        self.gates = GateTargets(self.countdown, lambda: self.clock(), gate_settle_s)
        self.signals = StopSignals(self._stop_signal, self.exit)
        self.collector = IdleCollector()
        strips.install()  # no self-referencing strips: garbage a full collection must find
        self.follow = follow
        self.selected: int | None = None
        # "attached to pid N on host H": another process owns the session; leaving never stops it.
        self.attached = attached
        self.session_done = runner is None
        self.exit_code = 0
        self._diff_source = diff_source
        if diff_source is None and controls is not None:
            repo = controls.repo
            self._diff_source = repo.diff
        self._theme_name = theme or os.environ.get("COCKPIT_THEME") or DEFAULT_THEME
        self._quitting = False
        self._frame_asked = False
        self._shown: int | None = -1
        self._unsubscribe: Callable[[], None] | None = None
        self.main: MainScreen | None = None
        self.frames = 0
        # A session still being set up (`cockpit demo`): the step the header names, the setup
        # to run in a thread once the screen shows, and what it raised.
        self.setting_up = ""
        self._prepare: Callable[[Callable[[str], None]], LiveSession] | None = None
        self._prepared_gate_timeout = 0.0
        self.prepared: LiveSession | None = None
        self.setup_error: BaseException | None = None
        self.setup_started = threading.Event()
        self.setup_finished = threading.Event()
        # `[keys]` from cockpit.toml as a Textual keymap; names were checked by the caller.
        self.keymap, _ = keymap_from_config(keys or {})

    # --- start and stop ------------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        return driver_class(super().get_driver_class())

    def get_default_screen(self) -> Screen[Any]:
        if self.replay is not None:
            self.main = ReplayScreenType(id="main")
            self.replay.on_reset = self.reset_model
            self.replay.on_owner_gone = self.owner_gone
        else:
            self.main = MainScreen(id="main")
        return self.main

    def reset_model(self, state: SessionState) -> None:
        """A replay seeked: the views start again from ``state`` (a checkpoint), and the events
        after it follow through the bus as usual."""
        self.model = ViewModel()
        self.model.state = state
        latest = max(state.prs.values(), key=lambda p: (p.last_activity, p.n), default=None)
        self.model.focus_pr = latest.n if latest is not None else None
        self.model._focus_waiting_gate()
        self.gates.answered.clear()
        self._shown = -1  # every pane redraws, as after a change of selection
        self._ask_frame()

    def owner_gone(self) -> None:
        """The replayed session's process died mid-session: it is unfinished, its open PRs
        interrupted, as ``sessions`` and ``export`` say."""
        self.model.state.mark_owner_gone()
        self._shown = -1
        self._ask_frame()
        self.refresh_header()

    def show_timeline(self) -> None:
        """t: the session as a picture, one lane per PR (live and in a replay)."""
        from cockpit.tui.screens.timeline import TimelineScreen

        if not isinstance(self.screen, TimelineScreen):
            if not self.is_screen_installed("timeline"):
                self.install_screen(TimelineScreen(), "timeline")
            self.push_screen("timeline")

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        few_colours = not self.is_headless and self.console.color_system in ("standard", "windows")
        self.theme = ANSI_THEME if few_colours else self._pick_theme(self._theme_name)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.signals.install()
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(1.0, self._second)
        self.call_after_refresh(self.collector.start)  # after the first frame: it collects first
        if self.runner is not None:
            self.run_worker(self._run_session(), name="session", group="session", exit_on_error=False)
        if self._prepare is not None:  # after the first frame: the setup's imports hold the GIL
            self.call_after_refresh(
                self.run_worker, self._set_up, name="setup", group="session", thread=True, exit_on_error=False
            )

    def set_up_first(
        self, prepare: Callable[[Callable[[str], None]], LiveSession], *, gate_timeout: float = 0.0
    ) -> None:
        """Draw the cockpit at once and make the session in a thread meanwhile (its repository,
        simulators, preflight): ``prepare`` names each step through the callback it gets. A
        failure ends the app and is kept in ``setup_error`` for the caller to report."""
        self._prepare = prepare
        self._prepared_gate_timeout = gate_timeout
        self.setting_up = "starting"
        self.session_done = False
        self.exit_code = 130  # quitting before the session starts interrupts it

    def _set_up(self) -> None:
        assert self._prepare is not None
        self.setup_started.set()
        if self._quitting or not self.is_running:  # gone before the setup began: nothing to undo
            self.setup_finished.set()
            return
        try:
            session = self._prepare(partial(self._from_thread, self._setup_step))
        except BaseException as exc:  # handed to the caller, which reports it after the screen closes
            self.setup_error = exc
            self.setup_finished.set()
            self._from_thread(self.exit, None)
            return
        self.prepared = session
        self.setup_finished.set()
        self._from_thread(self._setup_done, session)

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback`` on the app's loop; nothing once the app has gone (quit during setup)."""
        if self.is_running and not self._quitting:
            with contextlib.suppress(RuntimeError):
                self.call_from_thread(callback, *args)

    def _setup_step(self, step: str) -> None:
        self.setting_up = step
        self.model.dirty.header = True
        self._ask_frame()

    def _setup_done(self, session: LiveSession) -> None:
        if self._quitting:
            return

        async def runner() -> int:
            result = await session.run()
            code: int = result.exit_code
            return code

        self.setting_up = ""
        self.collector.start()  # the setup's imports and objects are long-lived too
        self.countdown.timeout_s = self._prepared_gate_timeout
        self.bus = session.bus
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self.begin(runner, controls=session, diff_source=session.repo.diff)

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

    def _stop_signal(self) -> None:
        """SIGTERM / SIGHUP: stop the session as q would; a second one (or nothing to stop) leaves."""
        if self.attached:
            self._leave(0)
            return
        if self._quitting or self.controls is None or self.session_done:
            self._leave(self.exit_code if self.session_done else 130)
        else:
            self._stop_and_exit()

    def _leave(self, code: int) -> None:
        self.signals.leave(code)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.signals.uninstall()
        self.collector.stop()

    @property
    def gate_settle_s(self) -> float:
        """How long a gate must have been on the banner before `a` answers it (the double-tap
        guard); the gate targets own the value, so setting it here takes effect."""
        return self.gates.settle_s

    @gate_settle_s.setter
    def gate_settle_s(self, seconds: float) -> None:
        self.gates.settle_s = seconds

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
        if self._quitting or self.signals.hung_up:
            self._leave(code)

    def request_quit(self) -> None:
        """q: leave at once when nothing runs; otherwise ask, stop the session, then leave."""
        if self.setting_up:  # nothing started yet: leave, the caller tidies up
            self._quitting = True
            self.exit(130)
            return
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
            f"{fmt_count(len(running), 'dispatch', 'dispatches')} running, "
            f"{fmt_count(len(open_prs), 'PR')} open.\n\n"
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
            self.gates.closed(ev.gate)
        elif isinstance(ev, (PrClosed, SessionFinished)):
            self.gates.forget_all_but(set(self.model.state.gates))

    def refresh_header(self) -> None:
        self.model.dirty.header = True
        self._ask_frame()

    def _ask_frame(self) -> None:
        if not self._frame_asked:
            self._frame_asked = True
            self.call_later(self._frame)

    async def on_event(self, event: events.Event) -> None:
        # Any key or click means a human is here: from then on they decide, not the clock.
        if isinstance(event, (events.Key, events.MouseDown)):
            self.collector.touched()
            if self.countdown.stop():
                self.model.dirty.gates = True
        await super().on_event(event)

    # --- frames --------------------------------------------------------------------------

    def _frame(self, tick: bool = False) -> None:
        self._frame_asked = False
        if self._main_on_top():  # nothing approves itself under a dialog or the diff
            for gate in self.countdown.due():
                if self.gates.approve_timed_out(self.model.state, self.controls, gate):
                    self.model.dirty.gates = True
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
        self.collector.tick()

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
        return self.gates.target(self.model.state, self.selected)

    def just_shown(self, gate: str) -> bool:
        return self.gates.just_shown(gate)

    def answered(self, gate: str) -> None:
        self.gates.mark_answered(gate)
        self.model.dirty.gates = True
        self._ask_frame()

    def banner_view(self) -> BannerView | None:
        return self.gates.banner_view(
            self.model.state, self.selected, readonly=self.controls is None, keys=self.gate_keys()
        )

    def header_note(self) -> str:
        notes = []
        if self.setting_up:
            notes.append(f"setting up the demo: {self.setting_up}…")
        if self.attached:
            notes.append(self.attached)
        if self.replay is not None and not self.session_done:
            pace = "as fast as it goes" if self.replay.speed == float("inf") else f"×{self.replay.speed:g}"
            notes.append(
                f"replay {pace}" + (" · paused (space)" if self.replay.paused else " (space pauses)")
            )
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
        if self.replay is None:
            return lambda: source(base, head)
        repo = self.model.state.repo
        commits = list(pr.commits)

        def load() -> Diff:
            """A replay outlives its repository: then the journal's per-file stats, and why."""
            try:
                return source(base, head)
            except Exception as exc:
                return journal_diff(
                    commits,
                    f"The repository {repo} is gone or no longer holds {head[:8]} "
                    f"({type(exc).__name__}: {exc}). The journal keeps each commit's "
                    "per-file stats, shown here; it keeps no patches.",
                )

        return load

    # --- command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers the actions that apply now, from the table of actions."""
        c = self.commands
        for a in ACTIONS:
            if a.name != "palette" and c.applies(a.name):
                yield SystemCommand(a.title, f"{a.help} ({self.key_of(a)})", partial(c.run, a.name))
        main = self.main
        if self.replay is not None and isinstance(main, ReplayScreenType):
            from cockpit.tui.replay_keys import REPLAY_KEYS

            for k in REPLAY_KEYS:  # the player's keys, from their one table
                yield SystemCommand(
                    k.title,
                    f"{k.help} ({k.shown_key or k.key})",
                    lambda action=k.command: self.run_action(action, main),
                )
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit", "Keys"):
                yield cmd

    # --- keys ----------------------------------------------------------------------------

    def key_of(self, action: Action) -> str:
        """The key that runs ``action`` as a person reads it, `[keys]` applied."""
        return key_display(effective_key(action, self.keymap))

    def footer_keys(self) -> list[tuple[str, str, str, int]]:
        """(name, key, label, rank) of each footer action that applies now."""
        c = self.commands
        return [
            (a.name, self.key_of(a), a.label, a.footer) for a in ACTIONS if a.footer and c.applies(a.name)
        ]

    def gate_keys(self) -> dict[str, str]:
        return {a.name: self.key_of(a) for a in ACTIONS if a.kind == "gate" or a.name == "skip"}


@dataclass
class JournalDiff(Diff):
    """What the journal knows of a diff whose repository is gone: per-file stats and a note."""

    note: str = ""


def journal_diff(commits: Iterable[CommitSeen], note: str) -> JournalDiff:
    """The files the PR's commits touched, as the journal recorded them (summed per path)."""
    by_path: dict[str, FileStat] = {}
    for c in commits:
        for f in c.files:
            old = by_path.get(f.path)
            if old is None:
                by_path[f.path] = f
            else:
                by_path[f.path] = FileStat(
                    f.status, f.path, old.insertions + f.insertions, old.deletions + f.deletions
                )
    files = list(by_path.values())
    return JournalDiff(
        "", files, sum(f.insertions for f in files), sum(f.deletions for f in files), note=note
    )


def run_replay(
    driver: ReplaySource,
    *,
    diff_source: DiffSource | None = None,
    pricing: Mapping[str, Pricing] | None = None,
) -> int:
    """Watch a journaled session again in the same cockpit: the same events, the same widgets."""

    async def runner() -> int:
        await driver.run()
        return 0

    app = CockpitApp(
        bus=driver.bus, controls=None, runner=runner, diff_source=diff_source, replay=driver, pricing=pricing
    )
    # Elapsed and spent times run on the replayed clock, not today's: "now" is the last event shown.
    app.clock = lambda: app.model.state.last_t or time.time()
    app.run()
    return app.return_code or 0


def run_app(
    session: LiveSession,
    *,
    gate_timeout: float = 0.0,
    keys: Mapping[str, str] | None = None,
    pricing: Mapping[str, Pricing] | None = None,
) -> int:
    """Run a live session in the cockpit; returns the exit code (130 when quit with work in flight)."""

    async def runner() -> int:
        result = await session.run()
        code: int = result.exit_code
        return code

    app = CockpitApp(
        bus=session.bus,
        controls=session,
        runner=runner,
        gate_timeout=gate_timeout,
        keys=keys,
        pricing=pricing,
    )
    for ev in getattr(session, "history", ()):  # a resumed session: what it did before the crash
        app.model.apply(ev)
    code = app.run()
    if code is not None:
        return code
    if app.return_code:  # the app itself failed (Textual printed the traceback)
        return app.return_code
    return app.exit_code if app.session_done else 130


def run_app_after_setup(
    prepare: Callable[[Callable[[str], None]], LiveSession],
    *,
    gate_timeout: float = 0.0,
    keys: Mapping[str, str] | None = None,
    pricing: Mapping[str, Pricing] | None = None,
) -> tuple[int, LiveSession | None]:
    """The cockpit first, the session after: ``prepare`` runs in a thread while the screen says
    which step it is on, then the session runs as in ``run_app``. Returns the exit code and the
    session (None when setup did not finish); re-raises what ``prepare`` raised, once the
    terminal is restored."""
    app = CockpitApp(bus=EventBus(), keys=keys, pricing=pricing)
    app.set_up_first(prepare, gate_timeout=gate_timeout)
    code = app.run()
    if app.setup_started.is_set():  # a quit during setup: let it finish so the caller can tidy up
        app.setup_finished.wait()
    if app.setup_error is not None:
        raise app.setup_error
    if code is None:
        code = app.return_code or (app.exit_code if app.session_done else 130)
    return code, (app.prepared if app.runner is not None else None)  # None: it never started
