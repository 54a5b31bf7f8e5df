"""What the engine reads of a PR from the fold (issue 8 point 1): the commit it acts on, the
current brief, the latest review of a round, the writer's thread and the last gate."""

from __future__ import annotations

from cockpit import events as E
from cockpit.state import fold


def _seq(evs: list[E.Event]) -> list[E.Event]:
    import msgspec

    return [msgspec.structs.replace(e, seq=i, t=float(i)) for i, e in enumerate(evs)]


OPENED: list[E.Event] = [
    E.PrOpened(pr=1, title="t", task="do it", branch="b"),
    E.WorktreeCreated(pr=1, path="/wt", branch="b", base_sha="base"),
    E.RoundStarted(pr=1, round=1, brief="first brief"),
    E.CommitSeen(pr=1, sha="c1", parents=["base"], message="one", branch="b"),
]


def _verdict(reviewer: str, commit: str, dispatch: str, round_no: int = 1) -> E.VerdictParsed:
    return E.VerdictParsed(
        pr=1, dispatch=dispatch, round=round_no, reviewer=reviewer, commit=commit, verdict="approve"
    )


def test_target_follows_the_branch_while_the_writer_works() -> None:
    pr = fold(_seq([*OPENED, E.CommitSeen(pr=1, sha="c2", parents=["c1"], message="two", branch="b")])).prs[1]
    assert pr.head == pr.target == "c2"
    assert pr.brief == "first brief" and pr.commit_log == [("c1", "one"), ("c2", "two")]


def test_a_review_pins_the_target_and_a_later_commit_moves_only_the_head() -> None:
    evs = [
        *OPENED,
        _verdict("a", "c1", "d2"),
        E.CommitSeen(pr=1, sha="p1", parents=["c1"], message="a person's", branch="b"),
    ]
    pr = fold(_seq(evs)).prs[1]
    assert (pr.head, pr.target) == ("p1", "c1")


def test_the_moved_gate_pins_the_new_tip_through_its_review_round() -> None:
    evs = [
        *OPENED,
        _verdict("a", "c1", "d2"),
        E.CommitSeen(pr=1, sha="p1", parents=["c1"], message="a person's", branch="b"),
        E.GateOpened(pr=1, gate="g1", gate_kind="moved", round=1, proposal="review", commit="p1"),
        E.HumanDecision(pr=1, gate="g1", answer="approve"),
        E.RoundStarted(pr=1, round=2, brief="first brief", reason="review"),
    ]
    pr = fold(_seq(evs)).prs[1]
    assert pr.target == "p1" and pr.round == 2 and pr.brief == "first brief"


def test_a_fix_round_follows_the_branch_again() -> None:
    evs = [
        *OPENED,
        E.DecisionProposed(pr=1, dispatch="d3", round=1, commit="c1", action="fix", brief="fix it"),
        E.RoundStarted(pr=1, round=2, brief="fix it", reason="fix"),
        E.CommitSeen(pr=1, sha="c2", parents=["c1"], message="fixed", branch="b"),
    ]
    pr = fold(_seq(evs)).prs[1]
    assert pr.target == "c2" and pr.brief == "fix it"


def test_a_merge_intent_pins_its_commit() -> None:
    evs = [*OPENED, E.MergeIntent(pr=1, sha="c1", onto="base", base_branch="main")]
    assert fold(_seq(evs)).prs[1].target == "c1"


def test_reviews_keep_each_reviewers_latest_attempt() -> None:
    evs = [
        *OPENED,
        E.DispatchStarted(pr=1, dispatch="d2", role="reviewer", backend="o", model="m", round=1, name="a"),
        E.DispatchStarted(pr=1, dispatch="d3", role="reviewer", backend="o", model="m", round=1, name="b"),
        E.DispatchFinished(pr=1, dispatch="d2", role="reviewer", status="ok"),
        E.DispatchFinished(pr=1, dispatch="d3", role="reviewer", status="failed"),
        _verdict("a", "c1", "d2"),
    ]
    r = fold(_seq(evs)).prs[1].rounds[1]
    assert r.reviews["a"] is not None and r.reviews["b"] is None
    again = [
        E.DispatchStarted(pr=1, dispatch="d4", role="reviewer", backend="o", model="m", round=1, name="a"),
        E.DispatchStarted(pr=1, dispatch="d5", role="reviewer", backend="o", model="m", round=1, name="b"),
        E.DispatchFinished(pr=1, dispatch="d4", role="reviewer", status="timeout"),
        E.DispatchFinished(pr=1, dispatch="d5", role="reviewer", status="ok"),
        _verdict("b", "c1", "d5"),
    ]
    r = fold(_seq([*evs, *again])).prs[1].rounds[1]
    assert r.reviews["a"] is None and r.reviews["b"] is not None
    assert set(r.verdicts) == {"a", "b"}  # what views show is unchanged: every reviewer's last verdict


def test_writer_thread_is_the_latest_thread_and_the_last_ok_message() -> None:
    evs = [
        *OPENED,
        E.DispatchStarted(pr=1, dispatch="d1", role="writer", backend="codex", model="m", round=1),
        E.DispatchFinished(
            pr=1, dispatch="d1", role="writer", status="ok", thread_id="t1", final_text="done"
        ),
        E.DispatchStarted(pr=1, dispatch="d2", role="writer", backend="codex", model="m", round=1),
        E.DispatchOutput(pr=1, dispatch="d2", channel="status", text="", meta={"thread_id": "t1"}),
        E.DispatchFinished(pr=1, dispatch="d2", role="writer", status="interrupted"),
    ]
    s = fold(_seq(evs))
    assert s.writer_thread(1) == ("t1", "done")
    assert s.writer_thread(9) == ("", "")


def test_the_last_gate_survives_its_answer_and_a_reopen() -> None:
    evs = [
        E.PrOpened(pr=1, title="t", task="do it", branch="b"),
        E.GateOpened(pr=1, gate="g1", gate_kind="brief", round=1, proposal="write", text="the brief"),
        E.SessionReopened(pid=1, host="h"),
    ]
    pr = fold(_seq(evs)).prs[1]
    assert pr.gate is None and pr.last_gate is not None and pr.last_gate.text == "the brief"
