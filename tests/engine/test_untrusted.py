"""Issue 9 in whole sessions: no review, no merge; a cut-off decision is no decision; secrets stay
out of reviewer prompts; a tamper gate waits for a human.

Real engine (journal, watcher, worktrees, merges) with the scripted backends at speed 0.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from cockpit.backends.base import (
    ComposeJob,
    ComposeResult,
    OutputSink,
    ReviewJob,
    ReviewResult,
    WriteJob,
    WriteResult,
)
from cockpit.engine.decisions import DecisionParseError, from_result
from cockpit.engine.gates import GateAnswer
from cockpit.engine.verdicts import review_missing
from cockpit.events import GateOpened, Merged, PrClosed, Tamper, Usage
from tests.support.sessions import GateDriver, SessionHarness, git

pytestmark = pytest.mark.slow

PROSE = "Looks reasonable to me overall, though I did not check everything."

SCENARIO = f'''
[[pr]]
title = "Add notes"
task = "Write NOTES.md."

[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "Add NOTES.md"
steps = [{{ edit = "NOTES.md" }}]
[pr.round.writer.files]
"NOTES.md" = "notes\\n"

[[pr.round.review]]
reviewer = "correctness"
text = "{PROSE}"

[[pr.round.review]]
reviewer = "quality"
text = "{PROSE}"

[pr.round.decision]
action = "merge"
rationale = "the reviewers seem happy"
commit_message = "Add NOTES.md"
'''


def closed(h: SessionHarness) -> dict[int, str]:
    return {e.pr: e.outcome for e in h.of(PrClosed)}


# --- the parsers' side ---------------------------------------------------------------------------


def test_review_missing() -> None:
    assert review_missing(["approve", "unparsed"]) == ""
    assert "2 answers with no verdict" in review_missing(["unparsed", "unparsed"])
    assert "failed: quality" in review_missing(["unparsed"], ["quality"])
    assert review_missing([], ["a", "b"]).startswith("no reviewer's verdict")


@pytest.mark.parametrize(
    "result",
    [
        ComposeResult('{"action": "merge", "rationale": "trunc', Usage(), stop_reason="max_tokens"),
        ComposeResult("Decision: merge\nCommit message: Add", Usage(), stop_reason="max_tokens"),
        ComposeResult("", Usage(), tool_input={"action": "merge"}, stop_reason="max_tokens"),
        ComposeResult('{"action": "merge", "rationale": "trunc', Usage(), stop_reason="end_turn"),
        ComposeResult('Here: {"action": "merge", "rationale": "a } b"', Usage(), stop_reason="end_turn"),
    ],
)
def test_a_cut_off_answer_is_no_decision(result: ComposeResult) -> None:
    with pytest.raises(DecisionParseError):
        from_result(result)


def test_whole_answers_still_decide() -> None:
    assert (
        from_result(ComposeResult("", Usage(), tool_input={"action": "fix"}, stop_reason="tool_use")).action
        == "fix"
    )
    text = '```json\n{"action": "abandon", "rationale": "x {y}"}\n```'
    assert from_result(ComposeResult(text, Usage(), stop_reason="end_turn")).action == "abandon"


# --- sessions -------------------------------------------------------------------------------------


async def test_prose_reviews_never_merge_under_auto_approve(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, SCENARIO, auto_approve=True)
    main_before = h.git("rev-parse", "main").strip()
    result = await h.run()
    failures = [g for g in h.of(GateOpened) if g.gate_kind == "failure"]
    # the proposal is what approve does (engine/transitions.py): retry once, then fail
    assert [g.proposal for g in failures] == ["retry", "fail"]
    assert "no reviewer's verdict could be read" in failures[0].summary
    assert len(failures) == 2  # asked again once, then failed
    assert not h.of(Merged) and closed(h) == {1: "failed"}
    assert result.exit_code == 1
    assert h.git("rev-parse", "main").strip() == main_before


async def test_a_human_retries_the_review_until_it_parses(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, SCENARIO)
    reviewer = h.session.backends.reviewers[0]
    calls = 0

    async def second_time_lucky(job: ReviewJob, out: OutputSink) -> ReviewResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            return ReviewResult(PROSE, Usage())
        return ReviewResult('{"verdict": "approve", "summary": "ok", "findings": []}', Usage())

    reviewer.review = second_time_lucky  # type: ignore[method-assign]
    GateDriver(h.session)
    result = await h.run()
    assert [g.proposal for g in h.of(GateOpened) if g.gate_kind == "failure"] == ["retry"]
    assert closed(h) == {1: "merged"} and result.exit_code == 0


@pytest.mark.parametrize("stop", ["max_tokens", "end_turn"])
async def test_a_truncated_decision_never_merges(tmp_path: Path, stop: str) -> None:
    approve = '{"verdict": "approve", "summary": "ok", "findings": []}'
    h = SessionHarness.build(
        tmp_path, SCENARIO.replace(f'text = "{PROSE}"', f"text = '{approve}'"), auto_approve=True
    )
    composer = h.session.backends.composer

    async def cut(job: ComposeJob, out: OutputSink) -> ComposeResult:
        if job.purpose == "decide":
            return ComposeResult('{"action": "merge", "rationale": "trunc', Usage(1, 1), stop_reason=stop)
        return await type(composer).compose(composer, job, out)  # type: ignore[arg-type]

    composer.compose = cut  # type: ignore[method-assign]
    result = await h.run()
    gate = next(g for g in h.of(GateOpened) if g.gate_kind == "failure")
    assert gate.summary.startswith("no decision:")
    assert not h.of(Merged) and closed(h) == {1: "failed"} and result.exit_code == 1


async def test_a_key_in_the_diff_never_reaches_a_reviewer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "ghp_" + "k3Y" * 12
    monkeypatch.setenv("SOME_SERVICE_PASSWORD", "shapeless-but-named-secret")
    scenario = SCENARIO.replace(
        '"NOTES.md" = "notes\\n"', f'"NOTES.md" = "{key}\\nshapeless-but-named-secret\\n"'
    )
    h = SessionHarness.build(tmp_path, scenario, auto_approve=True)
    prompts: list[str] = []
    for rv in h.session.backends.reviewers:
        original = rv.review

        async def spy(job: ReviewJob, out: OutputSink, original=original) -> ReviewResult:  # type: ignore[no-untyped-def]
            prompts.append(job.prompt)
            return await original(job, out)

        rv.review = spy  # type: ignore[method-assign]
    await h.run()
    assert prompts and all("[redacted]" in p for p in prompts)
    assert not any(key in p or "shapeless-but-named-secret" in p for p in prompts)


async def test_a_tamper_gate_waits_for_a_human_who_may_retry(tmp_path: Path) -> None:
    approve = '{"verdict": "approve", "summary": "ok", "findings": []}'
    h = SessionHarness.build(tmp_path, SCENARIO.replace(f'text = "{PROSE}"', f"text = '{approve}'"))
    writer = h.session.backends.writer
    main_before = h.git("rev-parse", "main").strip()
    rounds = 0

    async def moves_main_once(job: WriteJob, out: OutputSink) -> WriteResult:
        nonlocal rounds
        rounds += 1
        if rounds == 2:  # the retry: honest work this time
            (job.worktree / "MORE.md").write_text("more\n")
            git("add", "MORE.md", cwd=job.worktree)
            git("commit", "-q", "-m", "Add MORE.md", cwd=job.worktree)
            return WriteResult("Added MORE.md.", Usage())
        result = await type(writer).write(writer, job, out)  # type: ignore[arg-type]
        subprocess.run(["git", "update-ref", "refs/heads/main", "HEAD"], cwd=job.worktree, check=True)
        return result

    writer.write = moves_main_once  # type: ignore[method-assign]

    def policy(gate: GateOpened) -> GateAnswer:
        return GateAnswer("retry") if gate.gate_kind == "tamper" else GateAnswer("approve")

    GateDriver(h.session, policy)
    result = await h.run()
    tamper = h.of(Tamper)
    assert len(tamper) >= 1 and "refs/heads/main moved" in tamper[0].changes[0]
    assert [g.gate_kind for g in h.of(GateOpened)].count("tamper") == 1
    assert rounds == 2  # the retry ran the writer again, on a restored base
    assert closed(h) == {1: "merged"}, [(e.reason, e.outcome) for e in h.of(PrClosed)]
    assert result.exit_code == 0
    merged = h.of(Merged)[0]
    assert git("merge-base", "--is-ancestor", main_before, "main", cwd=h.repo_dir) == ""
    assert merged.base_branch == "main"


async def test_tamper_is_undone_at_the_next_commit_while_the_writer_still_runs(tmp_path: Path) -> None:
    """The guard does not wait for the writer to end: the commit after the tamper restores it."""
    approve = '{"verdict": "approve", "summary": "ok", "findings": []}'
    h = SessionHarness.build(
        tmp_path, SCENARIO.replace(f'text = "{PROSE}"', f"text = '{approve}'"), auto_approve=True
    )
    main_before = h.git("rev-parse", "main").strip()
    seen_while_running: list[str] = []

    async def tamper_then_commit(job: WriteJob, out: OutputSink) -> WriteResult:
        (job.worktree / "a.txt").write_text("a\n")
        git("add", "a.txt", cwd=job.worktree)
        git("commit", "-q", "-m", "a", cwd=job.worktree)
        git("update-ref", "refs/heads/main", "HEAD", cwd=job.worktree)  # main to the writer's commit
        (job.worktree / "b.txt").write_text("b\n")
        git("add", "b.txt", cwd=job.worktree)
        git("commit", "-q", "-m", "b", cwd=job.worktree)  # the watcher sees this one
        for _ in range(500):
            if h.of(Tamper):
                break
            await asyncio.sleep(0.01)
        seen_while_running.append(git("rev-parse", "main", cwd=job.worktree).strip())
        return WriteResult("done", Usage())

    h.session.backends.writer.write = tamper_then_commit  # type: ignore[method-assign]
    result = await h.run()
    assert h.of(Tamper)[0].found == "at a commit"
    assert seen_while_running == [main_before]  # restored before the writer ended
    assert result.exit_code == 1 and not h.of(Merged)
