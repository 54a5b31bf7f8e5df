"""Where a PR carries on after a crash, read from its events (engine/restore.py)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cockpit import events as E
from cockpit.engine.restore import resume_point
from cockpit.state import fold

OPENED = [
    E.SessionStarted(seq=0, repo="/r", base_branch="main", base_sha="a", worktree_root="/w"),
    E.PrOpened(seq=1, pr=1, title="t", task="do it", branch="b"),
]
COMPOSED = [
    E.DispatchStarted(pr=1, dispatch="d1", role="composer", backend="x", model="m", round=1, purpose="brief"),
    E.DispatchFinished(pr=1, dispatch="d1", role="composer", status="ok"),
]
BRIEF_GATE = E.GateOpened(pr=1, gate="g1", gate_kind="brief", round=1, proposal="write", text="the brief")
WRITING = [
    BRIEF_GATE,
    E.HumanDecision(pr=1, gate="g1", answer="approve"),
    E.WorktreeIntent(pr=1, action="create", path="/w/1", branch="b", base_sha="a"),
    E.WorktreeCreated(pr=1, path="/w/1", branch="b", base_sha="a"),
    E.RoundStarted(pr=1, round=1, brief="the brief"),
    E.DispatchStarted(pr=1, dispatch="d2", role="writer", backend="x", model="m", round=1, purpose="write"),
]
WRITTEN = [
    E.CommitSeen(pr=1, sha="c1", parents=["a"], message="m", branch="b"),
    E.DispatchFinished(pr=1, dispatch="d2", role="writer", status="ok"),
]
DECIDED = [
    E.DispatchStarted(
        pr=1, dispatch="d3", role="composer", backend="x", model="m", round=1, purpose="decide"
    ),
    E.DispatchFinished(pr=1, dispatch="d3", role="composer", status="ok"),
    E.DecisionProposed(pr=1, dispatch="d3", round=1, commit="c1", action="merge", commit_message="msg"),
]


def point(*evs: Any) -> Any:
    events = [msgspec.structs.replace(e, seq=i) for i, e in enumerate([*OPENED, *evs])]
    state = fold(events)
    return resume_point(state.prs[1], [e for e in events if e.pr == 1])


def gate(kind: str, proposal: str) -> E.GateOpened:
    return E.GateOpened(pr=1, gate="g9", gate_kind=kind, round=1, proposal=proposal)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("evs", "step"),
    [
        ((), "compose"),
        ((*COMPOSED[:1],), "compose"),
        ((*COMPOSED, BRIEF_GATE), "compose"),
        ((*COMPOSED, *WRITING[:2]), "compose"),  # answered, nothing done since: asked again
        ((*COMPOSED, *WRITING[:3]), "write"),
        ((*COMPOSED, *WRITING[:5]), "write"),
        ((*COMPOSED, *WRITING), "write"),
        ((*COMPOSED, *WRITING, *WRITTEN), "review"),
        ((*COMPOSED, *WRITING, *WRITTEN, *DECIDED[:1]), "decide"),
        ((*COMPOSED, *WRITING, *WRITTEN, *DECIDED), "decision_gate"),
        ((*COMPOSED, *WRITING, *WRITTEN, *DECIDED, gate("decision", "merge")), "decision_gate"),
        ((*COMPOSED, *WRITING, *WRITTEN, gate("merge", "merge")), "solo_gate"),
        ((*COMPOSED, *WRITING, *WRITTEN, *DECIDED, gate("moved", "review")), "merge"),
        ((*COMPOSED, *WRITING, *WRITTEN, *DECIDED, gate("conflict", "fix")), "merge"),
        (
            (
                *COMPOSED,
                *WRITING,
                E.DispatchFinished(pr=1, dispatch="d2", role="writer", status="failed"),
                gate("failure", "retry"),
            ),
            "write",
        ),
        ((*COMPOSED, *WRITING, *WRITTEN, E.RoundStarted(pr=1, round=2, brief="", reason="review")), "review"),
        (
            (
                *COMPOSED,
                *WRITING,
                *WRITTEN,
                *DECIDED,
                E.MergeIntent(pr=1, sha="c1", onto="a", base_branch="main"),
            ),
            "merge",
        ),
        (
            (
                *COMPOSED,
                *WRITING,
                *WRITTEN,
                *DECIDED,
                E.Merged(pr=1, sha="c1", merge_sha="c1", base_branch="main", fast_forward=True),
            ),
            "close_merged",
        ),
        (
            (
                *COMPOSED,
                *WRITING,
                *WRITTEN,
                *DECIDED,
                E.WorktreeIntent(pr=1, action="remove", path="/w/1", branch="b"),
            ),
            "close_abandoned",
        ),
    ],
)
def test_where_a_pr_carries_on(evs: tuple[Any, ...], step: str) -> None:
    assert point(*evs).step == step


def test_what_the_resumed_step_needs_comes_from_the_journal() -> None:
    assert point(*COMPOSED, BRIEF_GATE).pending_brief == "the brief"
    p = point(*COMPOSED, *WRITING)
    assert (p.reason, p.brief) == ("retry", "the brief")
    edited = point(
        *COMPOSED, BRIEF_GATE, E.HumanDecision(pr=1, gate="g1", answer="edit", text="mine"), WRITING[2]
    )
    assert edited.brief == "mine"
    d = point(*COMPOSED, *WRITING, *WRITTEN, *DECIDED).decision
    assert d is not None and d.action == "merge" and d.commit_message == "msg"
    m = point(
        *COMPOSED, *WRITING, *WRITTEN, *DECIDED, E.MergeIntent(pr=1, sha="c1", onto="a", base_branch="main")
    )
    assert m.merge is not None and m.merge.onto == "a"


def test_a_closed_pr_has_no_point() -> None:
    assert point(E.PrClosed(pr=1, outcome="skipped")) is None
