"""The reducer: properties over arbitrary event streams, and the demo's real stream."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit import events as E
from cockpit.state import AWAITING, MERGED, QUEUED, SessionState, fold, session_summary

prs = st.integers(min_value=1, max_value=4)
dispatch_ids = st.sampled_from(["d1", "d2", "d3", "d4", "d5"])
roles = st.sampled_from(list(E.ROLES))
usage = st.builds(E.Usage, *(st.integers(0, 10_000) for _ in range(5)))
text = st.text(max_size=30)

event = st.one_of(
    st.builds(E.PrOpened, pr=prs, title=text, task=text, branch=text),
    st.builds(E.RoundStarted, pr=prs, round=st.integers(1, 4), brief=text),
    st.builds(
        E.DispatchStarted,
        pr=st.none() | prs,
        dispatch=dispatch_ids,
        role=roles,
        backend=text,
        model=text,
        round=st.integers(0, 4),
        purpose=st.sampled_from(["brief", "write", "review", "decide"]),
    ),
    st.builds(
        E.DispatchOutput,
        pr=prs,
        dispatch=dispatch_ids,
        channel=st.sampled_from(["text", "reasoning"]),
        text=text,
    ),
    st.builds(
        E.DispatchFinished,
        pr=st.none() | prs,
        dispatch=dispatch_ids,
        role=roles,
        status=st.sampled_from(["ok", "failed", "timeout", "interrupted", "cancelled"]),
        usage=usage,
    ),
    st.builds(E.CommitSeen, pr=prs, sha=text, parents=st.just([]), message=text, branch=text),
    st.builds(
        E.VerdictParsed,
        pr=prs,
        dispatch=dispatch_ids,
        round=st.integers(1, 4),
        reviewer=text,
        commit=text,
        verdict=st.sampled_from(["approve", "changes", "block", "unparsed"]),
    ),
    st.builds(
        E.GateOpened,
        pr=prs,
        gate=st.sampled_from(["g1", "g2", "g3"]),
        gate_kind=st.sampled_from(["brief", "decision", "failure"]),
        round=st.integers(1, 4),
        proposal=text,
    ),
    st.builds(
        E.HumanDecision,
        pr=st.none() | prs,
        gate=st.sampled_from(["g1", "g2", "g3", "g9"]),
        answer=st.sampled_from(["approve", "skip", "retry"]),
    ),
    st.builds(E.PrClosed, pr=prs, outcome=st.sampled_from(["merged", "abandoned", "failed", "skipped"])),
    st.builds(E.Merged, pr=prs, sha=text, merge_sha=text, base_branch=text, fast_forward=st.booleans()),
    st.builds(E.SessionPaused),
    st.builds(E.SessionResumed),
    st.builds(E.SessionFinished, status=st.sampled_from(["completed", "failed", "interrupted"])),
)


def numbered(evs: list[E.Event]) -> list[E.Event]:
    import msgspec

    return [msgspec.structs.replace(e, seq=i, t=float(i)) for i, e in enumerate(evs)]


@settings(max_examples=300, deadline=None)
@given(st.lists(event, max_size=60))
def test_any_stream_folds_and_usage_adds_up(evs: list[E.Event]) -> None:
    evs = numbered(evs)
    s = fold(evs)
    finished = [e for e in evs if isinstance(e, E.DispatchFinished)]
    for role in E.ROLES:
        expected = sum((e.usage for e in finished if e.role == role), E.Usage())
        assert s.usage[role] == expected
        by_pr = sum((e.usage for e in finished if e.role == role and e.pr is not None), E.Usage())
        assert sum((p.usage[role] for p in s.prs.values()), E.Usage()) == by_pr
    assert s.events == len(evs)
    # Open gates are exactly those opened and not yet answered, closed by PR or session end.
    for gate in s.gates.values():
        assert isinstance(gate, E.GateOpened)
    if any(isinstance(e, E.SessionFinished) for e in evs[-1:]):
        assert not s.gates


@settings(max_examples=100, deadline=None)
@given(st.lists(event, max_size=40), st.integers(0, 40))
def test_folding_is_deterministic_and_resumable(evs: list[E.Event], cut: int) -> None:
    evs = numbered(evs)
    whole = fold(evs)
    resumed = fold(evs[cut:], fold(evs[:cut]))
    assert whole == resumed == fold(evs)


def test_statuses_follow_the_pipeline() -> None:
    evs = numbered(
        [
            E.SessionStarted(repo="/r", base_branch="main", base_sha="a", worktree_root="/w"),
            E.PrOpened(pr=1, title="t", task="x", branch="b"),
            E.DispatchStarted(
                pr=1, dispatch="d1", role="composer", backend="s", model="m", round=1, purpose="brief"
            ),
            E.DispatchFinished(pr=1, dispatch="d1", role="composer", status="ok", usage=E.Usage(100, 20)),
            E.GateOpened(pr=1, gate="g1", gate_kind="brief", round=1, proposal="write"),
        ]
    )
    s = fold(evs)
    pr = s.prs[1]
    assert pr.display_status == AWAITING and s.waiting_for_human()[0].gate == "g1"
    s.apply(E.HumanDecision(pr=1, gate="g1", answer="approve", seq=99, t=99.0))
    assert pr.status == QUEUED and not s.gates and pr.rounds[1].answers[0].answer == "approve"
    s.apply(
        E.DispatchStarted(pr=1, dispatch="d2", role="writer", backend="s", model="m", round=1, seq=100, t=100)
    )
    assert pr.status == "writing" and pr.rounds[1].writer == "d2"
    s.apply(E.Merged(pr=1, sha="x", merge_sha="y", base_branch="main", fast_forward=True, seq=101, t=101))
    s.apply(E.PrClosed(pr=1, outcome="merged", seq=102, t=110))
    assert pr.status == MERGED and pr.closed and pr.spent_s(999) == 110 - evs[2].t  # from the first dispatch
    assert s.composer_context == 100


def test_the_demo_stream_summarises(tmp_path: Path) -> None:
    import asyncio

    from tests.support.sessions import SessionHarness

    h = SessionHarness.build(tmp_path, auto_approve=True)
    asyncio.run(h.run())
    s: SessionState = h.state()
    summary = session_summary(s)
    assert summary["status"] == "completed"
    assert [p["outcome"] for p in summary["prs"]] == ["merged", "merged", "abandoned", "merged"]  # type: ignore[index]
    assert summary["usage"]["writer"]["input_tokens"] > 100_000  # type: ignore[index]
    # The same events, seen live by a subscriber, fold to the same state.
    assert fold(h.events_seen) == s


def test_a_session_whose_owner_is_gone_is_unfinished_and_its_open_prs_interrupted() -> None:
    from cockpit import events as E
    from cockpit.state import fold

    evs = [
        E.SessionStarted(session="s", seq=0, repo="/r", base_branch="main", base_sha="a", worktree_root="/w"),
        E.PrOpened(session="s", seq=1, pr=1, title="a", task="t", branch="b1"),
        E.PrOpened(session="s", seq=2, pr=2, title="b", task="t", branch="b2"),
        E.PrClosed(session="s", seq=3, pr=2, outcome="merged"),
        E.DispatchStarted(
            session="s", seq=4, pr=1, dispatch="d1", role="writer", backend="x", model="m", round=1
        ),
    ]
    s = fold(evs)
    assert s.status == "running" and s.prs[1].status == "writing"
    s.mark_owner_gone()
    assert s.status == "unfinished"
    assert s.prs[1].status == "interrupted" and s.prs[2].status == "merged"
    assert s.dispatches["d1"].status == "interrupted"
    reopened = fold([*evs, E.SessionReopened(session="s", seq=5, pid=1, host="h")])
    assert reopened.status == "running" and reopened.dispatches["d1"].status == "interrupted"
