"""Verdict and decision parsing: real messy shapes, and never an exception on any text."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.demo.scenario import builtin_scenario
from cockpit.engine.decisions import DecisionParseError, from_text, from_tool_input
from cockpit.engine.verdicts import parse_verdict


@pytest.mark.parametrize(
    ("text", "verdict", "how"),
    [
        ('{"verdict": "approve", "summary": "ok", "findings": []}', "approve", "json"),
        (
            'Sure!\n```json\n{"verdict": "changes", "summary": "s", "findings": []}\n```\nBye',
            "changes",
            "fenced",
        ),
        ('I think {"verdict": "block", "summary": "no"} is right.', "block", "embedded"),
        ('{"verdict": "changes", "summary": "cut off here', "changes", "repaired"),
        ('{"verdict": "approve", "findings": [{"severity": "major", "text": "x"', "approve", "repaired"),
        ("Looks fine.\nVERDICT: APPROVE", "approve", "line"),
        ("**Verdict:** Request changes\n- [major] a.py:3 bad", "changes", "line"),
        ("Final verdict - LGTM", "approve", "line"),
        ('{"approved": false, "summary": "nope"}', "changes", "json"),
        ("I have no opinion.", "unparsed", "none"),
        ("", "unparsed", "none"),
    ],
)
def test_verdict_shapes(text: str, verdict: str, how: str) -> None:
    got = parse_verdict(text)
    assert (got.verdict, got.how) == (verdict, how)


def test_findings_are_normalised() -> None:
    got = parse_verdict(
        '{"verdict": "changes", "summary": "s", "findings": ['
        '{"severity": "HIGH", "location": "src/a.py:12", "message": "m"},'
        '{"level": "nit", "path": "b.py", "line": "7", "description": "d"}, "plain"]}'
    )
    assert [(f.severity, f.file, f.line, f.text) for f in got.findings] == [
        ("major", "src/a.py", 12, "m"),
        ("info", "b.py", 7, "d"),
        ("info", None, None, "plain"),
    ]


def test_prose_findings_with_locations() -> None:
    got = parse_verdict("VERDICT: CHANGES\n- [major] textkit/wrap.py:6 empty first line\n- [minor] naming")
    assert [(f.severity, f.file, f.line) for f in got.findings] == [
        ("major", "textkit/wrap.py", 6),
        ("minor", None, None),
    ]


def test_every_demo_review_parses() -> None:
    for pr in builtin_scenario("demo").pr:
        for rnd in pr.round:
            for review in rnd.review:
                assert parse_verdict(review.text).parsed, (pr.title, review.reviewer)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_verdict_parser_never_raises(text: str) -> None:
    parse_verdict(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]":,\\ verdictapprovechanges\n`'), max_size=200))
def test_verdict_parser_never_raises_on_json_debris(text: str) -> None:
    parse_verdict(text)


def test_decision_from_tool_and_text() -> None:
    d = from_tool_input({"action": "Fix", "rationale": "r", "brief": "b"})
    assert (d.action, d.brief, d.parsed_from) == ("fix", "b", "tool")
    with pytest.raises(DecisionParseError):
        from_tool_input({"action": "ship it maybe"})
    t = from_text("We should merge.\n\nDecision: MERGE\nCommit message: Add x\n\nRationale: both approve")
    assert (t.action, t.commit_message, t.rationale, t.parsed_from) == (
        "merge",
        "Add x",
        "both approve",
        "text",
    )
    j = from_text('Here: ```json\n{"action": "abandon", "rationale": "no"}\n```')
    assert j.action == "abandon"
    b = from_text("Decision: fix\n\nBrief:\n1. do a\n2. do b\n")
    assert b.brief == "1. do a\n2. do b"
    for bad in ("", "I am not sure.", "Decision: merge\nAction: abandon"):
        with pytest.raises(DecisionParseError):
            from_text(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_decision_text_parser_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(DecisionParseError):
        from_text(text)


def test_odd_digits_and_deep_nesting_do_not_escape() -> None:
    got = parse_verdict('{"verdict": "changes", "summary": "s", "findings": [{"text": "t", "line": "²"}]}')
    assert got.verdict == "changes" and got.findings[0].line is None
    deep = "```json\n" + "[" * 100_000 + "\n```\nDecision: merge"
    assert from_text(deep).action == "merge"
    with pytest.raises(DecisionParseError):
        from_text("[" * 100_000)
