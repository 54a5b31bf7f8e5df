"""Issue 13: a session owned by one process, watched and answered from another through the journal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from cockpit.engine.requests import attach_identity
from cockpit.events import SessionFinished, SessionPaused, SessionResumed
from cockpit.journal import Journal
from cockpit.tui.attach import attach_app
from tests.support.remote import Owner, wait_for


async def _until(pilot: object, what: str, probe: object, polls: int = 600) -> None:
    for _ in range(polls):
        if probe():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def test_attach_answers_a_gate_once_and_a_second_answer_is_refused(owner: Owner) -> None:
    gate = owner.wait_gate()
    app = attach_app(owner.journal_path, owner.row, by=attach_identity())
    app.gate_settle_s = 0.0
    me = f"attach:{os.getpid()}@"
    async with app.run_test(size=(120, 40)) as pilot:
        assert f"attached to pid {owner.proc.pid} on host {owner.row.owner_host}" in app.header_note()
        await _until(pilot, "the gate on the banner", lambda: app.target_gate() is not None)
        await pilot.pause()
        await pilot.press("a")
        await _until(pilot, "the owner's answer", lambda: owner.decisions(gate.gate))

        # p pauses the owner's session and p again resumes it, through the journal too.
        await pilot.press("p")
        await _until(pilot, "the pause", lambda: owner.events(SessionPaused))
        await _until(pilot, "the view to see the pause", lambda: app.model.state.paused)
        await pilot.press("p")
        await _until(pilot, "the resume", lambda: owner.events(SessionResumed))

        await pilot.press("q")  # leaving the attached view
    (decision,) = owner.decisions(gate.gate)
    assert decision.answer == "approve" and decision.by.startswith(me)
    assert all(e.by.startswith(me) for e in owner.events(SessionPaused) + owner.events(SessionResumed))  # type: ignore[attr-defined]
    with owner.journal() as j:
        (req,) = [r for r in j.session_requests(owner.row.id) if r.kind == "answer"]
        assert (req.status, req.gate, req.by) == ("applied", gate.gate, decision.by)

        # A second answer to the same gate, as a late browser would send it: refused, with why.
        late = j.add_request(owner.row.id, "answer", by="browser:test", gate=gate.gate, answer="abandon")
    refused = owner.settled(late)
    assert refused.status == "rejected"
    assert f"gate {gate.gate} was already answered: approve by {decision.by}" == refused.message
    assert len(owner.decisions(gate.gate)) == 1

    # Leaving the attached cockpit left the session running in its owner.
    assert owner.running() and not owner.events(SessionFinished)


def test_requests_left_when_the_owner_finishes_are_refused(owner: Owner) -> None:
    gate = owner.wait_gate()
    with owner.journal() as j:
        rid = j.add_request(owner.row.id, "skip", by="attach:test", pr=99)
    assert owner.settled(rid).message == "PR 99 is closed or does not exist"
    owner.proc.terminate()
    owner.proc.wait(timeout=60)
    wait_for("the session's end", lambda: owner.events(SessionFinished))
    with owner.journal() as j:
        late = j.add_request(owner.row.id, "answer", by="attach:test", gate=gate.gate, answer="approve")
        assert j.get_session(owner.row.id).status == "interrupted"
    # Nobody owns the session any more: the requester's own check refuses what is pending.
    from cockpit.bus import EventBus
    from cockpit.engine.requests import RemoteControls

    with owner.journal() as j:
        row = j.get_session(owner.row.id)
    controls = RemoteControls(owner.journal_path, row, EventBus(), by="attach:test")
    controls._outstanding[late] = "answer"
    controls._give_up_if_owner_gone()
    assert owner.settled(late).message.startswith("the session's owner (pid ")
    controls.close()


def _cockpit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_attach_says_what_to_do_when_nobody_runs_the_session(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    got = _cockpit("attach", "--journal", str(path))
    assert got.returncode == 2 and "no session is running" in got.stderr
    with Journal(path) as j:
        j.begin_session("done", "/repo", "main", "run")
        w = j.writer("done")
        w.append(SessionFinished(session="done", seq=0, t=1.0, status="completed"))
        w.close()
    got = _cockpit("attach", "done", "--journal", str(path))
    assert got.returncode == 2
    assert "session done is completed, nobody is running it: `cockpit replay` watches it again" in got.stderr
