"""Every answer at every gate leads somewhere; skips and stops never contradict the repository."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from cockpit.engine.gates import GateAnswer
from cockpit.events import (
    DecisionProposed,
    DispatchStarted,
    GateOpened,
    Merged,
    PrClosed,
    RoundStarted,
    Warn,
)
from tests.engine.test_sessions import ONE_MORE_ROUND, closed, one_pr
from tests.support.sessions import GateDriver, SessionHarness, git

pytestmark = pytest.mark.slow


async def test_a_skip_during_the_merge_still_records_the_merge(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr())
    repo = h.session.repo
    original = repo.merge
    merging = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_merge(*args: Any) -> Any:
        loop.call_soon_threadsafe(merging.set)
        time.sleep(0.3)  # the skip lands while the merge runs in its thread
        return original(*args)

    repo.merge = slow_merge  # type: ignore[method-assign]
    GateDriver(h.session)
    task = asyncio.create_task(h.run())
    await merging.wait()
    assert h.session.skip(1)
    await task
    assert closed(h) == {1: "merged"} and len(h.of(Merged)) == 1
    assert h.git("show", "main:NOTES.md") == "notes\n"  # the journal agrees with the repository


@pytest.mark.parametrize("where", ["writer", "review", "decide"])
async def test_override_abandon_at_a_failure_gate_abandons(tmp_path: Path, where: str) -> None:
    if where == "writer":
        scenario = one_pr("fail")
    elif where == "review":
        scenario = one_pr(review='[[pr.round.review]]\nreviewer = "*"\nfault = "error"\n')
    else:
        scenario = one_pr().replace('rationale = "scripted"', 'rationale = "scripted"\nfault = "error"')
    h = SessionHarness.build(tmp_path, scenario)
    GateDriver(
        h.session,
        lambda g: (
            GateAnswer("override", action="abandon") if g.gate_kind == "failure" else GateAnswer("approve")
        ),
    )
    result = await h.run()
    assert closed(h) == {1: "abandoned"} and result.exit_code == 0


async def test_override_fix_after_a_review_failure_starts_a_fix_round(tmp_path: Path) -> None:
    scenario = one_pr(review='[[pr.round.review]]\nreviewer = "*"\nfault = "error"\n', rounds=ONE_MORE_ROUND)
    h = SessionHarness.build(tmp_path, scenario)
    fixes = iter([GateAnswer("override", action="fix", text="Try again, carefully.")])

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "failure" and g.round == 1:
            return next(fixes)
        if g.gate_kind == "failure":
            return GateAnswer("approve")  # round 2's review fails too: "fail" the PR
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    rounds = h.of(RoundStarted)
    assert [(r.round, r.reason, r.brief) for r in rounds][1] == (2, "fix", "Try again, carefully.")


async def test_a_decision_written_by_the_human_at_a_failure_gate(tmp_path: Path) -> None:
    scenario = one_pr().replace('rationale = "scripted"', 'rationale = "scripted"\nfault = "error"')
    h = SessionHarness.build(tmp_path, scenario)
    answers = iter(
        [
            GateAnswer("edit", text="not a decision at all"),  # refused: the gate opens again
            GateAnswer("edit", text="Decision: merge\nCommit message: Add notes, by hand"),
        ]
    )
    GateDriver(h.session, lambda g: next(answers) if g.gate_kind == "failure" else GateAnswer("approve"))
    result = await h.run()
    assert result.exit_code == 0 and closed(h) == {1: "merged"}
    assert [d.parsed_from for d in h.of(DecisionProposed)] == ["text"]
    assert any(w.code == "decision" for w in h.of(Warn))
    assert "Add notes, by hand" in h.of(Merged)[0].message


async def test_a_solo_pr_whose_branch_moves_is_asked_again_not_reviewed(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(extra="review = false"))
    moved = {}

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "merge" and not moved:
            wt = Path(h.state().prs[1].worktree)
            (wt / "MORE.md").write_text("more\n")
            git("add", "MORE.md", cwd=wt)
            git("-c", "user.name=P", "-c", "user.email=p@x", "commit", "-qm", "more", cwd=wt)
            moved["sha"] = git("rev-parse", "HEAD", cwd=wt).strip()
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    assert {e.role for e in h.of(DispatchStarted)} == {"writer"}  # still no reviewer, no composer
    merges = [g for g in h.of(GateOpened) if g.gate_kind == "merge"]
    assert len(merges) == 2 and merges[1].commit == moved["sha"]
    assert h.of(Merged)[0].sha == moved["sha"]


async def test_a_branch_that_keeps_moving_stops_at_max_rounds(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(), auto_approve=True, session={"max_rounds": 1})
    original = h.session.repo.merge
    count = {"n": 0}

    def commit_then_merge(branch: str, *args: Any) -> Any:
        # A person commits on the PR branch right before every merge attempt.
        count["n"] += 1
        wt = Path(h.state().prs[1].worktree)
        (wt / f"p{count['n']}.txt").write_text("x\n")
        git("add", "-A", cwd=wt)
        git("-c", "user.name=P", "-c", "user.email=p@x", "commit", "-qm", f"p{count['n']}", cwd=wt)
        return original(branch, *args)

    h.session.repo.merge = commit_then_merge  # type: ignore[method-assign]
    result = await h.run()
    moved = [g for g in h.of(GateOpened) if g.gate_kind == "moved"]
    assert moved and moved[-1].proposal == "fail" and result.exit_code == 1
    assert closed(h) == {1: "failed"}


async def test_uncommitted_work_keeps_an_abandoned_worktree(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(decision="abandon"))

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "decision":
            (Path(h.state().prs[1].worktree) / "scratch.txt").write_text("a person's notes\n")
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    close = h.of(PrClosed)[0]
    assert close.outcome == "abandoned" and not close.worktree_removed
    assert (Path(h.state().prs[1].worktree) / "scratch.txt").read_text() == "a person's notes\n"
    assert any(w.code == "worktree_kept" and "scratch.txt" in w.message for w in h.of(Warn))


async def test_controls_before_the_session_runs(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr())
    assert not h.session.pause() and not h.session.resume() and not h.session.skip(1)
    assert not h.session.interrupt(1)


async def test_secrets_are_redacted_before_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant 6, as a backstop: a writer that prints its environment does not leak the key."""
    key = "sk-ant-api03-test-Zx9q-DO-NOT-LEAK"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    scenario = one_pr().replace(
        'steps = [{ edit = "NOTES.md" }]',
        f'steps = [{{ run = "env", output = "HOME=/x\\nANTHROPIC_API_KEY={key}\\n" }}, {{ edit = "NOTES.md" }}]',
    )
    h = SessionHarness.build(tmp_path, scenario, auto_approve=True)
    await h.run()
    outputs = [
        e for e in h.events_seen if type(e).__name__ == "DispatchOutput" and e.channel == "command_output"
    ]
    assert any("ANTHROPIC_API_KEY=[redacted]" in e.text for e in outputs)
    h.journal.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert key.encode() not in blob and b"[redacted]" in blob
