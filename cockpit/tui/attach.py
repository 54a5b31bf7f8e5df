"""The cockpit on a session another process owns: ``cockpit attach``, and the browser's cockpit.

An attached cockpit follows the journal (the replay driver, as fast as it goes, then polling)
and its controls write requests into the journal (``cockpit.engine.requests``); the owner
applies them. Leaving never stops the session. The browser gets a session picker first: a
running session opens attached, a finished one opens as a replay.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from cockpit.bus import EventBus
from cockpit.engine.requests import RemoteControls
from cockpit.git.model import Diff
from cockpit.git.repo import Repo
from cockpit.journal import Journal, RequestRow, SessionRow
from cockpit.replay import ReplayDriver
from cockpit.text import sanitize
from cockpit.tui.app import CockpitApp, DiffSource

REPLAY_SPEED = 5.0
PICKER_REFRESH_S = 2.0


def repo_diff(repo_path: str) -> DiffSource:
    """Diffs come from the session's repository, as long as it (and its commits) still exist."""

    def diff(base: str, head: str) -> Diff:
        return Repo.open(Path(repo_path)).diff(base, head)

    return diff


def attach_note(row: SessionRow) -> str:
    return f"attached to pid {row.owner_pid} on host {row.owner_host}"


def _settled_toast(app: CockpitApp) -> Callable[[RequestRow], None]:
    def settled(r: RequestRow) -> None:
        what = r.answer if r.kind == "answer" else r.kind
        where = f"gate {r.gate}" if r.gate else (f"PR {r.pr}" if r.pr is not None else "the session")
        if r.status == "applied":
            app.notify(f"{what} ({where}): applied by the owner", markup=False)
        else:
            app.notify(f"{what} ({where}) refused: {r.message}", severity="warning", markup=False, timeout=8)

    return settled


def _attach(
    app: CockpitApp, journal_path: Path, row: SessionRow, *, by: str, read_only: bool
) -> tuple[Callable[[], Any], RemoteControls]:
    """A runner that follows the session into ``app.bus``, and controls that write requests."""
    controls = RemoteControls(journal_path, row, app.bus, by=by, read_only=read_only)
    controls.on_settled = _settled_toast(app)
    controls.on_refused = lambda message: app.notify(message, severity="warning", markup=False)
    driver = ReplayDriver(journal_path, row.id, app.bus, speed=math.inf, follow=True)

    async def runner() -> int:
        try:
            async with controls.watching():
                await driver.run()
        finally:
            controls.close()
        return 0

    return runner, controls


def attach_app(journal_path: Path, row: SessionRow, *, by: str, read_only: bool = False) -> CockpitApp:
    """The live cockpit on a session another process owns, ready to run."""
    app = CockpitApp(bus=EventBus())
    runner, controls = _attach(app, journal_path, row, by=by, read_only=read_only)
    note = attach_note(row) + (" · read-only" if read_only else "")
    app.begin(runner, controls=controls, diff_source=repo_diff(row.repo), attached=note)
    return app


def run_attach(journal_path: Path, row: SessionRow, *, by: str, read_only: bool = False) -> int:
    """``cockpit attach``: leaving returns 0; the session goes on in its owner."""
    attach_app(journal_path, row, by=by, read_only=read_only).run()
    return 0


class SessionPicker(ModalScreen[str | None]):
    """The browser's first screen: the journal's sessions, newest first; enter opens one."""

    DEFAULT_CSS = """
    SessionPicker { align: center middle; }
    SessionPicker > Vertical { width: 90%; max-width: 120; height: 80%; border: round $accent;
        background: $panel; padding: 0 1; }
    SessionPicker OptionList { height: 1fr; }
    SessionPicker .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "refresh", id="picker.refresh"),
    ]

    def __init__(self, journal_path: Path) -> None:
        super().__init__()
        self.journal_path = journal_path
        self.rows: list[SessionRow] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("cockpit · pick a session", classes="title")
            yield Label(
                "running: watch and answer it · finished: replay it · enter opens, r refreshes",
                classes="hint",
            )
            yield OptionList(id="sessions")

    def on_mount(self) -> None:
        self.action_refresh()
        self.set_interval(PICKER_REFRESH_S, self.action_refresh)
        self.query_one(OptionList).focus()

    def action_refresh(self) -> None:
        with Journal(self.journal_path) as j:
            rows = j.list_sessions(limit=50)
        if [(r.id, r.status) for r in rows] == [(r.id, r.status) for r in self.rows]:
            return
        self.rows = rows
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if not rows:
            options.add_option(Option("no sessions in the journal yet", disabled=True))
            return
        for r in rows:
            started = dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M")
            mark = "● live " if r.status == "running" else f"{r.status:<11}"
            options.add_option(Option(f"{mark} {r.id}  {started}  {sanitize(r.repo)}", id=r.id))
        if highlighted is None:  # enter opens the newest live session, else the newest one
            highlighted = next((i for i, r in enumerate(rows) if r.status == "running"), 0)
        options.highlighted = min(highlighted, len(rows) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class WebCockpitApp(CockpitApp):
    """What ``cockpit serve`` runs for each browser: the picker, then attach or replay."""

    def __init__(self, journal_path: Path, *, by: str, read_only: bool = False) -> None:
        super().__init__(bus=EventBus())
        self.journal_path = journal_path
        self.by = by
        self.read_only = read_only
        self.picked: SessionRow | None = None

    def on_ready(self) -> None:
        self.push_screen(SessionPicker(self.journal_path), self._picked)

    def _picked(self, session_id: str | None) -> None:
        if session_id is None:
            return
        with Journal(self.journal_path) as j:
            row = j.get_session(session_id)
        self.picked = row
        self.title = f"cockpit · {row.id}"
        if row.status == "running":
            runner, controls = _attach(self, self.journal_path, row, by=self.by, read_only=self.read_only)
            note = attach_note(row) + (" · read-only" if self.read_only else "")
            self.begin(runner, controls=controls, diff_source=repo_diff(row.repo), attached=note)
            return
        driver = ReplayDriver(self.journal_path, row.id, self.bus, speed=REPLAY_SPEED)

        async def replay() -> int:
            await driver.run()
            return 0

        # Elapsed and spent times run on the replayed clock, as in ``cockpit replay``.
        self.clock = lambda: self.model.state.last_t or time.time()
        self.begin(replay, replay=driver, diff_source=repo_diff(row.repo))
