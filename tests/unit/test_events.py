from __future__ import annotations

import json

import pytest

from cockpit import events as E


def test_every_kind_round_trips() -> None:
    samples: list[E.Event] = [
        E.SessionStarted(repo="/r", base_branch="main", base_sha="a", worktree_root="/w"),
        E.SessionPaused(),
        E.SessionResumed(),
        E.Warn(message="w"),
        E.SessionFinished(status="completed"),
        E.PrOpened(pr=1, title="t", task="x", branch="b"),
        E.WorktreeCreated(pr=1, path="/p", branch="b", base_sha="a"),
        E.RoundStarted(pr=1, round=1, brief="b"),
        E.PrClosed(pr=1, outcome="merged"),
        E.DispatchStarted(dispatch="d1", role="writer", backend="x", model="m"),
        E.DispatchOutput(dispatch="d1", channel="text", text="hi", meta={"exit_code": 1}),
        E.DispatchFinished(dispatch="d1", role="writer", status="ok", usage=E.Usage(1, 2, 3, 4, 5)),
        E.CommitSeen(sha="s", parents=["p"], message="m", branch="b", files=[E.FileStat("M", "f", 1, 2)]),
        E.Merged(sha="s", merge_sha="m", base_branch="main", fast_forward=True),
        E.Tamper(found="after the writer", changes=["config changed"], quarantine_refs=["r"]),
        E.VerdictParsed(
            dispatch="d",
            round=1,
            reviewer="r",
            commit="c",
            verdict="changes",
            findings=[E.Finding("major", "bad", "f.py", 3)],
        ),
        E.DecisionProposed(dispatch="d", round=1, commit="c", action="fix", brief="b"),
        E.DigestUpdated(pr=1, text="Merged 1 PR.", source="composer", closed=1, words=3),
        E.GateOpened(gate="g1", gate_kind="decision", round=1, proposal="merge", options=["approve"]),
        E.HumanDecision(gate="g1", answer="override", action="fix", text="t"),
        E.InterruptRequested(dispatch="d1"),
        E.Error(where="x", message="m"),
        E.SessionReopened(pid=1, host="h", previous_pid=2, repairs=["r"]),
        E.WorktreeIntent(pr=1, action="create", path="/p", branch="b", base_sha="a"),
        E.MergeIntent(pr=1, sha="s", onto="o", base_branch="main"),
    ]
    assert {E.kind_of(s) for s in samples} == set(E.KINDS)
    for s in samples:
        data = E.encode(s)
        assert json.loads(data)["kind"] == E.kind_of(s)
        assert E.decode(data) == s


def test_bad_input_is_a_clear_error() -> None:
    for bad in (b"{", b'{"kind": "nope"}', b'{"kind": "pr_opened"}', b"[]"):
        with pytest.raises(E.EventDecodeError):
            E.decode(bad)


def test_usage_arithmetic() -> None:
    a, b = E.Usage(10, 5, 3, 1, 2), E.Usage(4, 1, 1, 0, 1)
    assert a + b == E.Usage(14, 6, 4, 1, 3)
    assert a - b == E.Usage(6, 4, 2, 1, 1)
    assert b - a == E.Usage()
    assert a.total == 15
