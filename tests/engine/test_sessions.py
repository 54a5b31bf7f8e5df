"""Whole sessions in real temp repositories: the loop's shapes, failures and human controls.

Each test runs the real engine (journal, watcher, worktrees, merges) with the scripted backends
at speed 0, and asserts on the journal's events and on the repository, never on the clock.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.backends.base import ComposeJob, ComposeResult, OutputSink, WriteJob, WriteResult
from cockpit.engine.gates import GateAnswer
from cockpit.events import (
    CommitSeen,
    DecisionProposed,
    DispatchFinished,
    DispatchStarted,
    GateOpened,
    HumanDecision,
    Merged,
    PrClosed,
    RoundStarted,
    SessionFinished,
    VerdictParsed,
    Warn,
)
from tests.support.sessions import GateDriver, SessionHarness, git

pytestmark = pytest.mark.slow


def closed(h: SessionHarness) -> dict[int, str]:
    return {e.pr: e.outcome for e in h.of(PrClosed)}


def one_pr(
    outcome: str = "commit",
    *,
    decision: str = "merge",
    rounds: str = "",
    extra: str = "",
    review: str = "",
    title: str = "Add notes",
    path: str = "NOTES.md",
) -> str:
    """A one-PR scenario whose first round's writer ends with ``outcome``."""
    return f'''
[[pr]]
title = "{title}"
task = "Write {path}."
{extra}
[[pr.round]]
[pr.round.writer]
outcome = "{outcome}"
commit_message = "Add {path}"
steps = [{{ edit = "{path}" }}]
[pr.round.writer.files]
"{path}" = "notes\\n"
{review}
[pr.round.decision]
action = "{decision}"
rationale = "scripted"
brief = "Do it again, better."
{rounds}
'''


# --- the loop's shapes -----------------------------------------------------------------------


async def test_demo_session_merges_fixes_and_abandons(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    composer_jobs: list[ComposeJob] = []
    writer_jobs: list[WriteJob] = []
    composer, writer = h.session.backends.composer, h.session.backends.writer

    async def spy_compose(job: ComposeJob, out: OutputSink) -> ComposeResult:
        composer_jobs.append(job)
        return await type(composer).compose(composer, job, out)  # type: ignore[arg-type]

    async def spy_write(job: WriteJob, out: OutputSink) -> WriteResult:
        writer_jobs.append(job)
        return await type(writer).write(writer, job, out)  # type: ignore[arg-type]

    composer.compose = spy_compose  # type: ignore[method-assign]
    writer.write = spy_write  # type: ignore[method-assign]

    result = await h.run()

    assert result.status == "completed" and result.exit_code == 0
    assert closed(h) == {1: "merged", 2: "merged", 3: "abandoned", 4: "merged"}
    st = h.state()
    assert st.prs[2].round == 2 and [r.reason for r in (st.prs[2].rounds[1], st.prs[2].rounds[2])] == [
        "first",
        "fix",
    ]
    # The split verdict of PR 2's first round is flagged at its gate.
    gates = [g for g in h.of(GateOpened) if g.pr == 2 and g.gate_kind == "decision"]
    assert gates[0].split and gates[0].proposal == "fix" and not gates[1].split
    # The solo PR had no reviewer and no composer dispatch.
    roles_4 = {e.role for e in h.of(DispatchStarted) if e.pr == 4}
    assert roles_4 == {"writer"}
    # Merged commits are on the base branch, and the merged project's own tests pass.
    log = h.git("log", "--format=%s", "main")
    assert "Add slugify() with tests" in log and "wrap(): no empty first line" in log
    assert "regex" not in log
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=h.repo_dir,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # Invariant 3: the composer never received a diff.
    assert composer_jobs and all(
        "diff --git" not in "".join([j.system, *j.context, j.request]) for j in composer_jobs
    )
    assert all("def slugify" not in j.request for j in composer_jobs)
    # Invariant 4: writers never run in the user's checkout.
    assert writer_jobs and all(
        h.repo_dir.resolve() not in (j.worktree.resolve(), *j.worktree.resolve().parents) for j in writer_jobs
    )
    # Merged and abandoned PRs lose their worktree, keep their branch.
    assert all(e.worktree_removed for e in h.of(PrClosed))
    branches = h.git("branch", "--format=%(refname:short)")
    assert sum(1 for b in branches.splitlines() if b.startswith("cockpit/")) == 4


async def test_reviews_decisions_and_merges_name_the_same_commit(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    for merged in h.of(Merged):
        verdicts = [v for v in h.of(VerdictParsed) if v.pr == merged.pr]
        decisions = [d for d in h.of(DecisionProposed) if d.pr == merged.pr]
        if verdicts:
            last_round = max(v.round for v in verdicts)
            assert {v.commit for v in verdicts if v.round == last_round} == {merged.sha}
            assert decisions[-1].commit == merged.sha
        commits = [c.sha for c in h.of(CommitSeen) if c.pr == merged.pr]
        assert commits[-1] == merged.sha


async def test_human_answers_every_gate(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path)
    driver = GateDriver(h.session)
    result = await h.run()
    assert result.exit_code == 0
    answers = h.of(HumanDecision)
    assert len(answers) == len(driver.seen) == 8  # 3 briefs, 4 decisions, 1 solo merge
    assert {a.by for a in answers} == {"human"}
    assert closed(h) == {1: "merged", 2: "merged", 3: "abandoned", 4: "merged"}


async def test_override_to_fix_with_an_edited_brief(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(rounds=ONE_MORE_ROUND))
    state = {"decisions": 0}

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "decision":
            state["decisions"] += 1
            if state["decisions"] == 1:
                return GateAnswer("override", action="fix", text="Rename it to NOTES.txt as well.")
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    rounds = h.of(RoundStarted)
    assert [(r.round, r.reason) for r in rounds] == [(1, "first"), (2, "fix")]
    assert rounds[1].brief == "Rename it to NOTES.txt as well."
    assert closed(h) == {1: "merged"}


ONE_MORE_ROUND = """
[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "Round two"
[pr.round.writer.files]
"NOTES.md" = "notes, round two\\n"
[pr.round.decision]
action = "merge"
rationale = "fine now"
commit_message = "Add notes"
"""


async def test_edit_commit_message_reaches_the_merge_commit(tmp_path: Path) -> None:
    # Two PRs in flight at once: the second cannot fast-forward, so the message is used.
    scenario = one_pr(title="A", path="a.txt") + one_pr(title="B", path="b.txt")
    h = SessionHarness.build(tmp_path, scenario, session={"concurrent_writers": 2})

    # Which PR merges second (the non-fast-forward one) depends on which writer finishes first,
    # so both decisions are edited, each with its own words; the second merge must carry its own.
    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "decision":
            path = "a.txt" if g.pr == 1 else "b.txt"
            return GateAnswer("edit", text=f"Add {path}\n\nEdited by a human at PR {g.pr}'s gate.")
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    await h.run()
    assert closed(h) == {1: "merged", 2: "merged"}
    merges = {m.pr: m for m in h.of(Merged)}
    non_ff = [m for m in merges.values() if not m.fast_forward]
    assert len(non_ff) == 1
    body = h.git("log", "-1", "--format=%B", non_ff[0].merge_sha)
    assert f"Edited by a human at PR {non_ff[0].pr}'s gate." in body
    assert h.git("show", "main:a.txt") == "notes\n" and h.git("show", "main:b.txt") == "notes\n"


async def test_max_rounds_turns_a_fix_into_an_abandon(tmp_path: Path) -> None:
    scenario = one_pr(decision="fix", rounds=ONE_MORE_ROUND.replace('action = "merge"', 'action = "fix"'))
    h = SessionHarness.build(tmp_path, scenario, auto_approve=True, session={"max_rounds": 2})
    await h.run()
    gates = [g for g in h.of(GateOpened) if g.gate_kind == "decision"]
    assert [g.proposal for g in gates] == ["fix", "abandon"]
    assert closed(h) == {1: "abandoned"}
    assert "round 2 of 2" in h.of(PrClosed)[0].reason


# --- failures --------------------------------------------------------------------------------


async def test_writer_failure_fails_the_pr_under_auto_approve(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("fail"), auto_approve=True)
    result = await h.run()
    assert result.exit_code == 1 and result.status == "failed"
    fin = [e for e in h.of(DispatchFinished) if e.role == "writer"]
    assert fin[0].status == "failed" and "writer failed" in fin[0].error
    # approve at a failure gate is the forward step: retry, bounded by max_rounds (3), then fail
    gates = [g for g in h.of(GateOpened) if g.gate_kind == "failure"]
    assert [g.proposal for g in gates] == ["retry", "retry", "fail"]
    assert all("fail" in g.options and "edit" in g.options for g in gates)
    assert len(fin) == 3
    assert closed(h) == {1: "failed"}
    assert h.of(SessionFinished)[0].status == "failed"


async def test_writer_without_commit_then_retry_then_abandon(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("no_commit"))
    answers = iter(["approve", "retry", "abandon"])  # brief, then the two failure gates
    GateDriver(h.session, lambda g: GateAnswer(next(answers)))  # type: ignore[arg-type]
    result = await h.run()
    failures = [g for g in h.of(GateOpened) if g.gate_kind == "failure"]
    assert len(failures) == 2 and all("without committing" in g.summary for g in failures)
    assert "uncommitted" not in failures[0].summary
    assert [r.reason for r in h.of(RoundStarted)] == ["first", "retry"]
    assert closed(h) == {1: "abandoned"} and result.exit_code == 0


async def test_dirty_writer_is_reported(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("dirty"), auto_approve=True)
    result = await h.run()
    gate = next(g for g in h.of(GateOpened) if g.gate_kind == "failure")
    assert "1 changed file uncommitted" in gate.summary and "NOTES.md" in gate.text
    assert result.exit_code == 1


async def test_commit_uncommitted_commits_for_the_writer(tmp_path: Path) -> None:
    h = SessionHarness.build(
        tmp_path, one_pr("dirty"), auto_approve=True, writer={"commit_uncommitted": True}
    )
    result = await h.run()
    assert result.exit_code == 0 and closed(h) == {1: "merged"}
    assert any(w.code == "committed_for_writer" for w in h.of(Warn))
    assert h.git("show", "main:NOTES.md") == "notes\n"


async def test_writer_timeout_is_a_visible_failure(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("hang"), auto_approve=True, writer_timeout_s=0.3)
    result = await h.run()
    fin = next(e for e in h.of(DispatchFinished) if e.role == "writer")
    assert fin.status == "timeout"
    failures = [g for g in h.of(GateOpened) if g.gate_kind == "failure"]
    assert [g.summary for g in failures] == ["the writer timed out"] * 3  # retried up to max_rounds
    assert [g.proposal for g in failures] == ["retry", "retry", "fail"]
    assert result.exit_code == 1


async def test_reviewer_failure_continues_with_the_others(tmp_path: Path) -> None:
    review = """
[[pr.round.review]]
reviewer = "quality"
fault = "error"
"""
    h = SessionHarness.build(tmp_path, one_pr(review=review), auto_approve=True)
    result = await h.run()
    gate = next(g for g in h.of(GateOpened) if g.gate_kind == "failure")
    assert gate.proposal == "decide" and "quality" in gate.summary
    assert [v.reviewer for v in h.of(VerdictParsed)] == ["correctness"]
    assert closed(h) == {1: "merged"} and result.exit_code == 0


async def test_decision_in_prose_is_parsed(tmp_path: Path) -> None:
    scenario = one_pr().replace(
        'rationale = "scripted"', 'rationale = "scripted"\nas_text = true\ncommit_message = "Add notes"'
    )
    h = SessionHarness.build(tmp_path, scenario, auto_approve=True)
    await h.run()
    d = h.of(DecisionProposed)[0]
    assert d.parsed_from == "text" and d.action == "merge"
    assert closed(h) == {1: "merged"}


# --- human controls --------------------------------------------------------------------------


async def test_interrupt_a_writer_then_retry_then_skip(tmp_path: Path) -> None:
    scenario = one_pr("hang").replace(
        'steps = [{ edit = "NOTES.md" }]', 'steps = [{ edit = "NOTES.md" }, { say = "thinking" }]'
    )
    h = SessionHarness.build(tmp_path, scenario)
    answers = iter(["approve", "retry", "skip"])
    GateDriver(h.session, lambda g: GateAnswer(next(answers)))  # type: ignore[arg-type]
    task = asyncio.create_task(h.run())
    for n in (1, 2):
        started = await h.wait_event(
            DispatchStarted, lambda e, n=n: e.role == "writer" and e.dispatch == _nth_writer(h, n)
        )
        await h.wait_for(lambda: (h.tmp / "worktrees").exists())
        await asyncio.sleep(0.05)
        assert h.session.interrupt(1)
        await h.wait_event(DispatchFinished, lambda e, d=started.dispatch: e.dispatch == d)
    result = await task
    fins = [e for e in h.of(DispatchFinished) if e.role == "writer"]
    assert [f.status for f in fins] == ["interrupted", "interrupted"]
    gates = [g for g in h.of(GateOpened) if g.gate_kind == "failure"]
    assert [g.summary for g in gates] == ["the writer was interrupted"] * 2
    assert closed(h) == {1: "skipped"} and result.exit_code == 0
    # What the writer left is kept in its worktree (a skipped PR keeps it).
    wt = Path(h.state().prs[1].worktree)
    assert (wt / "NOTES.md").read_text() == "notes\n"


def _nth_writer(h: SessionHarness, n: int) -> str:
    writers = [e.dispatch for e in h.events_seen if isinstance(e, DispatchStarted) and e.role == "writer"]
    return writers[n - 1] if len(writers) >= n else "?"


async def test_pause_holds_new_dispatches(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr())
    paused = asyncio.Event()

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "brief":
            h.session.pause()
            paused.set()
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    task = asyncio.create_task(h.run())
    await paused.wait()
    await h.wait_event(HumanDecision)
    await asyncio.sleep(0.3)
    assert not [e for e in h.events_seen if isinstance(e, DispatchStarted) and e.role == "writer"]
    assert h.session.paused
    h.session.resume()
    result = await task
    assert result.exit_code == 0 and closed(h) == {1: "merged"}
    kinds = h.kinds()
    assert kinds.index("session_paused") < kinds.index("session_resumed")


async def test_skip_at_a_gate_and_before_start(tmp_path: Path) -> None:
    scenario = one_pr(title="A", path="a.txt") + one_pr(title="B", path="b.txt")
    h = SessionHarness.build(tmp_path, scenario)

    def policy(g: GateOpened) -> GateAnswer | None:
        if g.pr == 1 and g.gate_kind == "brief":
            assert h.session.skip(2)  # not started yet
            return GateAnswer("skip")
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    result = await h.run()
    assert closed(h) == {1: "skipped", 2: "skipped"} and result.exit_code == 0
    assert not [e for e in h.of(DispatchStarted) if e.role == "writer"]


async def test_skip_a_running_writer(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("hang"))
    GateDriver(h.session)
    task = asyncio.create_task(h.run())
    await h.wait_event(DispatchStarted, lambda e: e.role == "writer")
    assert h.session.skip(1)
    result = await task
    assert closed(h) == {1: "skipped"} and result.exit_code == 0
    assert [e.status for e in h.of(DispatchFinished) if e.role == "writer"] == ["cancelled"]


async def test_add_a_pr_to_a_running_session(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr())

    def policy(g: GateOpened) -> GateAnswer:
        if g.pr == 1 and g.gate_kind == "brief":
            assert h.session.add_pr("Document the API", "Write docs/api.md describing textkit's API.") == 2
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    result = await h.run()
    assert result.exit_code == 0 and closed(h) == {1: "merged", 2: "merged"}
    opened = [e for e in h.events() if type(e).__name__ == "PrOpened"]
    assert [o.added_by for o in opened] == ["plan", "human"]  # type: ignore[attr-defined]
    assert "notes/document-the-api.md" in h.git("ls-tree", "-r", "--name-only", "main")


async def test_stop_interrupts_the_session(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr("hang"), auto_approve=True)
    task = asyncio.create_task(h.run())
    await h.wait_event(DispatchStarted, lambda e: e.role == "writer")
    h.session.stop()
    result = await task
    assert result.status == "interrupted" and result.exit_code == 130
    assert closed(h) == {1: "interrupted"}
    assert h.of(SessionFinished)[0].status == "interrupted"
    assert [e.status for e in h.of(DispatchFinished) if e.role == "writer"] == ["cancelled"]


# --- git: moved branches, refused merges, concurrency ----------------------------------------


async def test_a_commit_after_review_is_reviewed_before_merge(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(rounds=ONE_MORE_ROUND))
    person_sha: dict[str, str] = {}

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "decision" and not person_sha:
            # A person commits in the PR's worktree while the decision waits at the gate.
            wt = Path(h.state().prs[1].worktree)
            (wt / "PERSON.md").write_text("added by a person\n")
            git("add", "PERSON.md", cwd=wt)
            git("-c", "user.name=Person", "-c", "user.email=p@example.com", "commit", "-qm", "person", cwd=wt)
            person_sha["sha"] = git("rev-parse", "HEAD", cwd=wt).strip()
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    result = await h.run()
    assert result.exit_code == 0
    moved = [g for g in h.of(GateOpened) if g.gate_kind == "moved"]
    assert len(moved) == 1 and moved[0].commit == person_sha["sha"]
    assert any(c.sha == person_sha["sha"] for c in h.of(CommitSeen))
    assert [r.reason for r in h.of(RoundStarted)] == ["first", "review"]
    merged = h.of(Merged)[0]
    assert merged.sha == person_sha["sha"]
    assert {v.commit for v in h.of(VerdictParsed) if v.round == 2} == {person_sha["sha"]}


async def test_merge_refused_over_uncommitted_user_changes_then_retried(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, one_pr(path="README.md"))
    readme = h.repo_dir / "README.md"

    def policy(g: GateOpened) -> GateAnswer:
        if g.gate_kind == "decision":
            readme.write_text("my own uncommitted edit\n")
        if g.gate_kind == "conflict":
            assert readme.read_text() == "my own uncommitted edit\n"  # nothing lost
            git("checkout", "--", "README.md", cwd=h.repo_dir)  # the user sets it aside
            return GateAnswer("retry")
        return GateAnswer("approve")

    GateDriver(h.session, policy)
    result = await h.run()
    refused = [g for g in h.of(GateOpened) if g.gate_kind == "conflict"]
    assert len(refused) == 1 and refused[0].proposal == "fail" and "README.md" in refused[0].text
    assert result.exit_code == 0 and closed(h) == {1: "merged"}
    assert readme.read_text() == "notes\n"


async def test_concurrent_writers_overlap(tmp_path: Path) -> None:
    scenario = "".join(one_pr(title=t, path=f"{t}.txt") for t in ("a", "b", "c"))
    h = SessionHarness.build(
        tmp_path,
        scenario.replace("[pr.round.writer]", "[pr.round.writer]\n"),
        auto_approve=True,
        session={"concurrent_writers": 2},
    )
    result = await h.run()
    assert result.exit_code == 0 and closed(h) == {1: "merged", 2: "merged", 3: "merged"}
    files = h.git("ls-tree", "-r", "--name-only", "main").split()
    assert {"a.txt", "b.txt", "c.txt"} <= set(files)
