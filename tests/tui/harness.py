"""A live session inside the cockpit, for pilot tests: real repo, real journal, scripted backends.

``live(tmp)`` builds the demo (or a scenario given as TOML) with gates left to the human, runs
the app with ``run_test`` and yields a ``Live`` whose helpers wait for what the journal says.
Waits are bounded by a number of polls, never asserted on time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.screen import Screen

from cockpit.demo import make_repo, setup_demo
from cockpit.demo.scenario import parse_scenario, project_files
from cockpit.engine.session import Session
from cockpit.events import Event, GateOpened
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem
from cockpit.tui.app import CockpitApp
from tests.support.scripted import scripted_backends, scripted_config

E = TypeVar("E", bound=Event)
S = TypeVar("S", bound=Screen[Any])

POLLS = 1500  # x 20 ms: generous on a loaded 2-core machine; a hang fails, it never slows a pass

HANG_SCENARIO = """
name = "hang"
project = "textkit"

[pacing]
chunk_s = 0
step_s = 0
think_s = 0

[[pr]]
title = "Write notes, then wait"
task = "Write notes/wait.md and wait for more input."
review = false

[[pr.round]]
[pr.round.writer]
outcome = "hang"
steps = [{ say = "Writing the notes first." }, { edit = "notes/wait.md" }]
files = { "notes/wait.md" = "# Waiting\\n" }
"""


@dataclass
class Clock:
    """A clock tests move by hand (the countdown and the spent times read it)."""

    now: float = 1_741_943_700.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Live:
    app: CockpitApp
    pilot: Pilot[int]
    session: Session
    journal: Journal
    repo: Repo
    clock: Clock | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def events(self, cls: type[E], **match: object) -> list[E]:
        """Journaled events of one type whose fields match (everything the app saw is committed)."""
        out: list[E] = []
        for ev in self.journal.read_events(self.session.id):
            if isinstance(ev, cls) and all(getattr(ev, k, None) == v for k, v in match.items()):
                out.append(ev)
        return out

    async def until(self, what: str, cond: Callable[[], object]) -> None:
        for _ in range(POLLS):
            if cond():
                return
            await self.pilot.pause(0.02)
        raise AssertionError(f"gave up waiting for {what}")

    async def journaled(self, cls: type[E], **match: object) -> E:
        """Wait until the journal holds such an event; return the newest."""
        await self.until(f"{cls.__name__} {match}", lambda: self.events(cls, **match))
        return self.events(cls, **match)[-1]

    def open_gate(self, pred: Callable[[GateOpened], bool]) -> GateOpened | None:
        for g in self.app.model.state.waiting_for_human():
            if pred(g):
                return g
        return None

    async def gate(self, what: str, pred: Callable[[GateOpened], bool]) -> GateOpened:
        """Approve (with the `a` key) every other gate until one matching ``pred`` is open."""
        for _ in range(POLLS):
            g = self.open_gate(pred)
            if g is not None:
                assert g.pr is not None
                self.app.pick(g.pr)
                await self.pilot.pause()
                return g
            other = self.open_gate(lambda g: True)
            if other is not None and other.gate not in self.app._answered:
                assert other.pr is not None
                self.app.pick(other.pr)
                await self.pilot.press("a")
            await self.pilot.pause(0.02)
        raise AssertionError(f"gave up waiting for the gate: {what}")

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def type_text(self, text: str) -> None:
        names = {" ": "space", "\n": "enter", ".": "full_stop", ",": "comma", "(": "left_parenthesis"}
        names |= {")": "right_parenthesis", "-": "minus", ":": "colon", "'": "apostrophe"}
        await self.pilot.press(*[names.get(ch, ch) for ch in text])

    async def screen(self, cls: type[S]) -> S:
        await self.until(f"the {cls.__name__}", lambda: isinstance(self.app.screen, cls))
        screen = self.app.screen
        assert isinstance(screen, cls)
        return screen


@contextlib.asynccontextmanager
async def live(
    tmp: Path,
    *,
    scenario: str | None = None,
    prs: int = 4,
    gate_timeout: float = 0.0,
    clock: Clock | None = None,
    size: tuple[int, int] = (120, 40),
    gate_settle_s: float = 0.0,
) -> AsyncIterator[Live]:
    if scenario is None:
        setup = setup_demo(workdir=tmp / "demo", prs=prs, config=scripted_config())
        repo_dir, config, plan, worktrees = setup.repo, setup.config, setup.plan, setup.worktrees
        scen = setup.scenario
    else:
        scen = parse_scenario(scenario, "test scenario")
        (tmp / "scenario.toml").write_text(scenario, encoding="utf-8")
        repo_dir = make_repo(tmp / "repo", project_files(scen.project))
        config = scripted_config()
        plan = [PlanItem(title=p.title, task=p.task, review=p.review) for p in scen.pr]
        worktrees = tmp / "worktrees"
    repo = Repo.open(repo_dir)
    journal = Journal(tmp / "journal.sqlite3")
    session = Session(
        repo=repo,
        config=config,
        backends=scripted_backends(config, scen),
        journal=journal,
        plan=plan,
        worktree_root=worktrees,
        mode="demo",
    )
    result: dict[str, Any] = {}

    async def runner() -> int:
        res = await session.run()
        result["status"] = res.status
        code: int = res.exit_code
        return code

    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    app = CockpitApp(
        bus=session.bus,
        controls=session,
        runner=runner,
        gate_timeout=gate_timeout,
        gate_settle_s=gate_settle_s,  # tests press `a` as soon as a gate shows, unless they test that
        **kwargs,
    )
    try:
        async with app.run_test(size=size, notifications=True) as pilot:
            h = Live(app, pilot, session, journal, repo, clock, result)
            await pilot.pause()
            yield h
            if not session.finished:
                session.stop()
                await h.until("the session to stop", lambda: session.finished and app.session_done)
    finally:
        journal.close()
