"""One locator for every simulator: it reads back the markers the engine's own prompts carry."""

from __future__ import annotations

from typing import Any

import pytest

from cockpit.demo.scenario import Located, locate, parse_scenario
from cockpit.demo.sim.anthropic import ScenarioResponder as ComposerResponder
from cockpit.demo.sim.ollama import ScenarioResponder as ReviewerResponder
from cockpit.demo.sim.writer_plan import find_writer_turn
from cockpit.engine import prompts
from cockpit.events import Finding, VerdictParsed

SCENARIO = parse_scenario(
    """
[[pr]]
title = "Add greeting"
task = "greet"
brief = "Brief for the greeting."
[[pr.round]]
writer = { message = "greeted" }
review = [{ reviewer = "correctness", text = "greeting verdict" }]

[[pr]]
title = "Count words"
task = "count"
brief = "Brief for counting."
[[pr.round]]
writer = { message = "round 1 counted" }
review = [{ reviewer = "correctness", text = "counting verdict, round 1" }]
[[pr.round]]
writer = { message = "round 2 counted" }
review = [{ reviewer = "correctness", text = "counting verdict, round 2" }]
"""
)
# Marker-like lines inside the task, the note and the diff must not be read as the header.
DECOY = "Follow up on\nPR 1: Add greeting\nRound 9\nlater."
DIFF = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-PR 1: Add greeting\n+Round 9\n"


def verdict(reviewer: str) -> VerdictParsed:
    finding = Finding("major", "off by one", "x.py", 3)
    return VerdictParsed(
        dispatch="d", round=2, reviewer=reviewer, commit="c", verdict="changes", findings=[finding]
    )


def engine_prompts(n: int, title: str, round_no: int) -> dict[str, str]:
    return {
        "brief": prompts.brief_request(n, title, DECOY),
        "decide": prompts.decide_request(
            pr=n,
            title=title,
            round_no=round_no,
            max_rounds=4,
            task=DECOY,
            writer_note=DECOY,
            commits=[("abcdef1234", "PR 1: Add greeting\nRound 9")],
            files_changed=1,
            insertions=1,
            deletions=1,
            verdicts=[verdict("correctness")],
        ),
        "review": prompts.review_request(
            pr=n,
            title=title,
            round_no=round_no,
            task=DECOY,
            brief=DECOY,
            writer_note=DECOY,
            diff=DIFF,
            files_changed=1,
            insertions=1,
            deletions=1,
            max_diff_bytes=10_000,
        ),
        "writer": prompts.writer_prompt(n, title, round_no, DECOY, reason="fix"),
    }


@pytest.mark.parametrize("kind", ["brief", "decide", "review", "writer"])
def test_the_engines_prompts_are_read_back(kind: str) -> None:
    round_no = 1 if kind == "brief" else 2  # a brief is always asked for round 1
    found = locate(SCENARIO, engine_prompts(2, "Count words", round_no)[kind])
    assert found == Located(SCENARIO.pr[1], number=2, title="Count words", round=round_no)


def test_the_reviewer_comes_from_the_system_prompt() -> None:
    system = prompts.review_system("correctness", "correctness")
    found = locate(SCENARIO, engine_prompts(1, "Add greeting", 1)["review"], system)
    assert (found.pr, found.reviewer) == (SCENARIO.pr[0], "correctness")
    assert prompts.review_system("my own", "look for typos").count("Reviewer: my own") == 1
    assert locate(SCENARIO, "", prompts.review_system("my own", "typos")).reviewer == "my own"


def test_exact_title_first_then_number_then_nothing() -> None:
    assert locate(SCENARIO, "PR 1: Count words\nRound 2\n").pr is SCENARIO.pr[1]  # the title wins
    by_number = locate(SCENARIO, "PR 2: Count the words\nRound 1\n")
    assert by_number.pr is SCENARIO.pr[1] and by_number.title == "Count the words"
    unknown = locate(SCENARIO, "PR 3: Something new   \nRound 0\n")
    assert unknown == Located(None, number=3, title="Something new", round=1)
    assert locate(SCENARIO, "no markers at all") == Located(None)
    assert locate(SCENARIO, "  PR 1: Add greeting\n").pr is None  # markers start a line


def composer_body(prompt: str, decide: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 500,
        "messages": [{"role": "user", "content": prompt}],
    }
    if decide:
        body["tools"] = [{"name": "decide", "input_schema": {"type": "object"}}]
    return body


def test_every_simulator_finds_the_same_pr_and_round() -> None:
    """PR 2 under another title, round 2: by number, in the composer, reviewer and writer sims."""
    made = engine_prompts(2, "Counting, renamed", 2)
    brief = ComposerResponder(SCENARIO, speed=0)(composer_body(made["brief"], decide=False))
    assert brief.content[0].text == "Brief for counting."  # type: ignore[union-attr]
    system = prompts.review_system("correctness", "correctness")
    review_body = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": made["review"]}]
    }
    assert ReviewerResponder(SCENARIO)(review_body).text == "counting verdict, round 2"
    writer = find_writer_turn(SCENARIO, made["writer"])
    assert (writer.title, writer.round, writer.final_text) == ("Count words", 2, "round 2 counted")
