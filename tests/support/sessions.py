"""Whole sessions in temp git repositories, with the scripted backends and a real journal.

``SessionHarness`` builds a repository (the demo's textkit project by default), a journal, the
scripted backends from a scenario (TOML text or the built-in demo) and a Session; ``GateDriver``
answers gates from the bus the way a view would, with a policy per gate.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from cockpit.backends.base import Backends
from cockpit.config import Config, SessionConfig, WriterConfig
from cockpit.demo import make_repo
from cockpit.demo.scenario import Scenario, builtin_scenario, parse_scenario, project_files
from cockpit.engine.gates import GateAnswer
from cockpit.engine.session import Session, SessionResult
from cockpit.events import AnyEvent, Event, GateOpened
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem
from cockpit.state import SessionState, fold
from tests.support.scripted import ScriptedComposer, ScriptedReviewer, ScriptedWriter, scripted_config

Policy = Callable[[GateOpened], GateAnswer | None]


def git(*args: str, cwd: Path, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def approve_all(gate: GateOpened) -> GateAnswer:
    return GateAnswer("approve")


@dataclass
class GateDriver:
    """Answers gates as they open (from the bus, like a view), recording what it saw."""

    session: Session
    policy: Policy = approve_all
    seen: list[GateOpened] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session.bus.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, GateOpened):
            self.seen.append(ev)
            answer = self.policy(ev)
            if answer is not None:
                # Answer on the next loop turn, as a keypress would.
                asyncio.get_running_loop().call_soon(self.session.answer, ev.gate, answer)


@dataclass
class SessionHarness:
    tmp: Path
    scenario: Scenario
    plan: list[PlanItem]
    config: Config
    repo_dir: Path
    journal: Journal
    session: Session
    events_seen: list[Event] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        tmp: Path,
        scenario: str | Scenario | None = None,
        *,
        prs: list[PlanItem] | None = None,
        auto_approve: bool = False,
        session: dict[str, Any] | None = None,
        writer: dict[str, Any] | None = None,
        reviewers: tuple[str, ...] = ("correctness", "quality"),
        files: dict[str, str] | None = None,
        writer_timeout_s: float = 60.0,
    ) -> SessionHarness:
        scen = (
            builtin_scenario("demo")
            if scenario is None
            else scenario
            if isinstance(scenario, Scenario)
            else parse_scenario(scenario, "test scenario")
        )
        repo_dir = make_repo(tmp / "repo", files if files is not None else project_files("textkit"))
        base = scripted_config(reviewers)
        cfg = msgspec.structs.replace(
            base,
            session=msgspec.structs.replace(SessionConfig(), **(session or {})),
            writer=msgspec.structs.replace(
                WriterConfig(model="scripted-writer", timeout_s=writer_timeout_s),
                **(writer or {}),
            ),
        )
        backends = Backends(
            composer=ScriptedComposer(scen, 0.0),
            writer=ScriptedWriter(scen, 0.0, timeout_s=writer_timeout_s),
            reviewers=[ScriptedReviewer(n, scen, 0.0) for n in reviewers],
        )
        plan = prs or [PlanItem(p.title, p.task, p.review) for p in scen.pr]
        journal = Journal(tmp / "journal.sqlite3")
        sess = Session(
            repo=Repo.open(repo_dir),
            config=cfg,
            backends=backends,
            journal=journal,
            plan=plan,
            auto_approve=auto_approve,
            worktree_root=tmp / "worktrees",
        )
        h = cls(tmp, scen, plan, cfg, repo_dir, journal, sess)
        sess.bus.subscribe(h.events_seen.append)
        return h

    async def run(self, limit_s: float = 60.0) -> SessionResult:
        return await asyncio.wait_for(self.session.run(), limit_s)

    def events(self) -> list[AnyEvent]:
        return list(self.journal.read_events(self.session.id))

    def kinds(self) -> list[str]:
        return [type(e).__struct_config__.tag for e in self.events()]  # type: ignore[misc]

    def state(self) -> SessionState:
        return fold(self.events())

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events() if isinstance(e, kind)]

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return git(*args, cwd=cwd or self.repo_dir)

    async def wait_for(self, predicate: Callable[[], bool], limit_s: float = 20.0) -> None:
        """Poll until ``predicate()`` holds (events arrive a few ms after they happen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.01)

    async def wait_event(
        self, kind: type[Event], where: Callable[[Any], bool] = lambda e: True, limit_s: float = 20.0
    ) -> Any:
        found: list[Any] = []

        def look() -> bool:
            found[:] = [e for e in self.events_seen if isinstance(e, kind) and where(e)]
            return bool(found)

        await self.wait_for(look, limit_s)
        return found[0]


def config_session(
    tmp: Path,
    cfg: Config,
    plan: list[PlanItem],
    *,
    files: dict[str, str] | None = None,
    auto_approve: bool = True,
    **kwargs: Any,
) -> tuple[Session, Journal]:
    """A session over a fresh repository with the backends a config names (e.g. the simulators')."""
    from cockpit.backends.factory import build_backends

    repo = make_repo(tmp / "repo", files if files is not None else {"README.md": "# planets\n"})
    journal = Journal(tmp / "j.sqlite3")
    session = Session(
        repo=Repo.open(repo),
        config=cfg,
        backends=build_backends(cfg),
        journal=journal,
        plan=plan,
        auto_approve=auto_approve,
        worktree_root=tmp / "wt",
        **kwargs,
    )
    return session, journal
