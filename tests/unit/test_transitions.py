"""The gate table: one test per cell (gate kind × answer), written out independently."""

from __future__ import annotations

import pytest

from cockpit.engine.transitions import (
    OPTIONS,
    TABLE,
    Step,
    UnknownAnswer,
    auto_answer,
    failure_proposal,
    resolve,
)

# kind, the proposal it makes in this test, answer -> expected step (override picks "fix"
# with text "T"; edit brings text "E").
EXPECTED: dict[tuple[str, str], Step] = {
    ("brief", "approve"): Step("write"),
    ("brief", "edit"): Step("write", "E", edited=True),
    ("brief", "retry"): Step("retry"),
    ("brief", "skip"): Step("skip"),
    ("brief", "abandon"): Step("abandon"),
    ("decision", "approve"): Step("merge"),
    ("decision", "override"): Step("fix", "T"),
    ("decision", "edit"): Step("merge", "E", edited=True),
    ("decision", "retry"): Step("retry"),
    ("decision", "skip"): Step("skip"),
    ("decision", "abandon"): Step("abandon"),
    ("merge", "approve"): Step("merge"),
    ("merge", "override"): Step("fix", "T"),
    ("merge", "edit"): Step("merge", "E", edited=True),
    ("merge", "skip"): Step("skip"),
    ("merge", "abandon"): Step("abandon"),
    ("failure", "approve"): Step("retry"),  # the forward step, not "fail"
    ("failure", "retry"): Step("retry"),
    ("failure", "edit"): Step("retry", "E", edited=True),
    ("failure", "override"): Step("fix", "T"),
    ("failure", "fail"): Step("fail"),
    ("failure", "skip"): Step("skip"),
    ("failure", "abandon"): Step("abandon"),
    ("moved", "approve"): Step("review"),
    ("moved", "fail"): Step("fail"),
    ("moved", "skip"): Step("skip"),
    ("moved", "abandon"): Step("abandon"),
    ("conflict", "approve"): Step("fix"),
    ("conflict", "retry"): Step("retry"),
    ("conflict", "override"): Step("fix", "T"),
    ("conflict", "fail"): Step("fail"),
    ("conflict", "skip"): Step("skip"),
    ("conflict", "abandon"): Step("abandon"),
    ("tamper", "approve"): Step("fail"),  # a tamper gate proposes fail
    ("tamper", "retry"): Step("retry"),
    ("tamper", "fail"): Step("fail"),
    ("tamper", "skip"): Step("skip"),
    ("tamper", "abandon"): Step("abandon"),
}
PROPOSALS = {
    "brief": "write",
    "decision": "merge",
    "merge": "merge",
    "failure": "retry",
    "tamper": "fail",
    "moved": "review",
    "conflict": "fix",
}


def test_the_expectations_cover_every_cell_of_the_table() -> None:
    cells = {(kind, answer) for kind, answers in TABLE.items() for answer in answers}
    assert cells == set(EXPECTED)
    assert {k: set(v) for k, v in OPTIONS.items()} == {k: set(v) for k, v in TABLE.items()}


@pytest.mark.parametrize(("kind", "answer"), sorted(EXPECTED), ids=[f"{k}-{a}" for k, a in sorted(EXPECTED)])
def test_a_cell(kind: str, answer: str) -> None:
    text = "E" if answer == "edit" else "T" if answer == "override" else None
    action = "fix" if answer == "override" else ""
    got = resolve(kind, PROPOSALS[kind], answer, action, text)  # type: ignore[arg-type]
    assert got == EXPECTED[(kind, answer)]


def test_an_answer_a_gate_does_not_offer_is_refused() -> None:
    with pytest.raises(UnknownAnswer):
        resolve("moved", "review", "edit")
    with pytest.raises(UnknownAnswer):
        resolve("no-such-gate", "x", "approve")


def test_a_failure_gate_retries_until_max_rounds_then_fails() -> None:
    assert [failure_proposal(n, 3) for n in (1, 2, 3, 4)] == ["retry", "retry", "fail", "fail"]
    assert resolve("failure", failure_proposal(3, 3), "approve") == Step("fail")
    assert resolve("failure", failure_proposal(3, 3), "edit", text="new brief").text == "new brief"


def test_auto_approve_never_approves_a_tamper_gate() -> None:
    assert auto_answer("decision") == "approve" and auto_answer("failure") == "approve"
    assert auto_answer("tamper") == "fail"
