"""The composer's memory survives ``resume``: a session killed between PRs carries on with the
digest it had, writes each PR's digest exactly once, and every composer call after the resume
carries the memory the journal rebuilds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cockpit.backends.base import ComposeJob, Composer, ComposeResult, OutputSink
from cockpit.engine.memory import composer_context
from cockpit.engine.session import Session
from cockpit.events import DigestUpdated, DispatchStarted, PrClosed, SessionReopened
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.state import SessionState, fold
from tests.resume.crash_run import backends_of, config_of
from tests.resume.test_kill_and_resume import DEMO_OUTCOMES, _spec, crash

pytestmark = pytest.mark.slow


@dataclass
class Recording:
    """The real (scripted) composer, with the stable prefix of each call written down."""

    inner: Composer
    contexts: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def timeout_s(self) -> float:
        return self.inner.timeout_s

    async def compose(self, job: ComposeJob, out: OutputSink) -> ComposeResult:
        self.contexts.append(job.context)
        return await self.inner.compose(job, out)


@pytest.mark.parametrize("fault", ["event:pr_closed:1", "event:digest_updated:2", "event:pr_closed:3"])
def test_the_digest_survives_a_kill_and_resume(tmp_path: Path, fault: str) -> None:
    spec = _spec(tmp_path, "builtin:demo")
    sid = crash(tmp_path, spec, fault)
    with Journal(tmp_path / "journal.sqlite3") as j:
        before = list(j.read_events(sid))
    digest_before = fold(before).digest

    cfg = config_of(spec)
    backends = backends_of(spec, cfg)
    recording = Recording(backends.composer)
    backends.composer = recording
    session = Session.reopen(
        sid,
        journal=Journal(tmp_path / "journal.sqlite3"),
        repo=Repo.open(tmp_path / "repo"),
        config=cfg,
        backends=backends,
        auto_approve=True,
    )
    asyncio.run(asyncio.wait_for(session.run(), 120))
    with Journal(tmp_path / "journal.sqlite3") as j:
        after = list(j.read_events(sid))

    closes = [e.pr for e in after if isinstance(e, PrClosed)]
    digests = [e.pr for e in after if isinstance(e, DigestUpdated)]
    assert digests == closes == sorted(DEMO_OUTCOMES), (closes, digests)  # each PR's once, in order
    reopened = next(i for i, e in enumerate(after) if isinstance(e, SessionReopened))
    assert fold(after[:reopened]).digest == digest_before  # resume kept what the dead process wrote

    # Every composer call after the resume carried the memory the journal rebuilds before it.
    state = SessionState()
    carried = []
    for i, ev in enumerate(after):
        if i > reopened and isinstance(ev, DispatchStarted) and ev.role == "composer":
            carried.append(composer_context(state))
        state.apply(ev)
    assert recording.contexts == carried
    assert carried or fault == "event:pr_closed:3"  # after PR 3 only the solo PR is left: no composer
    if digest_before is not None and carried:  # the first call after the resume remembers it
        assert digest_before.text in "".join(recording.contexts[0])
    assert session.thread() == composer_context(fold(after))
