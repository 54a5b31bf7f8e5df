"""A PR whose writer never committed leaves neither worktree nor branch, unless something is uncommitted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cockpit.engine.gates import GateAnswer
from cockpit.events import DispatchStarted, GateOpened, PrClosed, WorktreeCreated
from tests.engine.test_sessions import one_pr
from tests.support.sessions import GateDriver, SessionHarness

pytestmark = pytest.mark.slow


def touches_nothing(outcome: str) -> str:
    """A one-PR scenario whose writer ends with ``outcome`` before it has written any file."""
    return f'''
[[pr]]
title = "Add notes"
task = "Write NOTES.md."
[[pr.round]]
[pr.round.writer]
outcome = "{outcome}"
error = "boom"
[pr.round.decision]
action = "merge"
rationale = "scripted"
'''


def pr_branches(h: SessionHarness) -> list[str]:
    out = h.git("branch", "--format=%(refname:short)").split()
    return [b for b in out if b.startswith("cockpit/")]


def leftovers(h: SessionHarness) -> tuple[PrClosed, list[str], bool]:
    """The PR's close event, its session's branches, and whether its worktree folder is still there."""
    (close,) = h.of(PrClosed)
    (made,) = h.of(WorktreeCreated)
    return close, pr_branches(h), Path(made.path).exists()


async def test_a_failed_writer_leaves_nothing(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, touches_nothing("fail"), auto_approve=True)
    result = await h.run()
    close, branches, folder = leftovers(h)
    assert result.exit_code == 1 and close.outcome == "failed"
    assert (close.worktree_removed, close.branch_removed) == (True, True)
    assert branches == [] and not folder
    assert h.git("worktree", "list").count("\n") == 1  # only the user's checkout


async def test_skipped_after_no_commit_leaves_nothing(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("no_commit"))

    def policy(g: GateOpened) -> GateAnswer:
        return GateAnswer("skip") if g.gate_kind == "failure" else GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    close, branches, folder = leftovers(h)
    assert close.outcome == "skipped" and close.branch_removed
    assert branches == [] and not folder


@pytest.mark.parametrize("outcome", ["dirty", "fail"])  # a failing writer that wrote files first
async def test_uncommitted_work_keeps_the_worktree_and_the_branch(tmp_path: Path, outcome: str) -> None:
    h = SessionHarness.build(tmp_path, one_pr(outcome), auto_approve=True)
    await h.run()
    close, branches, folder = leftovers(h)
    assert close.outcome == "failed"
    assert (close.worktree_removed, close.branch_removed) == (False, False)
    assert len(branches) == 1 and folder


async def test_interrupted_before_a_commit_leaves_nothing(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, touches_nothing("hang"), auto_approve=True)
    task = asyncio.create_task(h.run())
    await h.wait_event(DispatchStarted, lambda e: e.role == "writer")
    h.session.stop()
    result = await task
    close, branches, folder = leftovers(h)
    assert result.exit_code == 130 and close.outcome == "interrupted"
    assert close.branch_removed and branches == [] and not folder


async def test_a_pr_with_commits_keeps_its_branch(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(decision="abandon"), auto_approve=True)
    await h.run()
    close, branches, folder = leftovers(h)
    assert close.outcome == "abandoned" and close.worktree_removed and not close.branch_removed
    assert len(branches) == 1 and not folder
