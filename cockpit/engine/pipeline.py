"""One PR's pipeline: compose → gate → write → commit → review → decide → gate → merge | fix.

The pipeline is a small state machine (``PrRun.step`` names the next step) because human
answers redirect it: a retry goes back one step, an edit replaces a text and goes on, an
override picks another action. Every step's outcome is an event, and what the pipeline knows
of its PR (round, brief, the commit it acts on, commits, verdicts, the writer's thread,
outcome) it reads back from the reducer's fold of those events (``PrRun.st``), the same state
a resumed session starts from and every view shows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, cast

from cockpit import faults
from cockpit.backends.base import ComposeJob, ComposeResult, ReviewJob, ReviewResult, WriteJob, WriteResult
from cockpit.engine import prompts
from cockpit.engine.decisions import (
    DECIDE_TOOL,
    DecisionParseError,
    ParsedDecision,
    from_result,
    from_text,
)
from cockpit.engine.dispatch import Dispatched
from cockpit.engine.gates import GateAnswer, GateRequest
from cockpit.engine.restore import decision_of
from cockpit.engine.transitions import Step, failure_proposal, resolve
from cockpit.engine.verdicts import VERDICT_SCHEMA, parse_verdict, review_missing
from cockpit.events import (
    DecisionProposed,
    Error,
    GateKind,
    Merged,
    MergeIntent,
    Outcome,
    PrClosed,
    Purpose,
    RoundStarted,
    Usage,
    VerdictParsed,
    Warn,
    WorktreeCreated,
    WorktreeIntent,
)
from cockpit.fmt import fmt_count
from cockpit.git.model import Diff, GitError, MergeRefused, MergeResult
from cockpit.state import PRState, SessionState, split_verdict

if TYPE_CHECKING:
    from cockpit.backends.base import Backends, Reviewer
    from cockpit.engine.gates import Gates
    from cockpit.engine.recorder import Recorder
    from cockpit.engine.tamper import TamperWatch
    from cockpit.git.repo import Repo
    from cockpit.git.watcher import CommitWatcher


class PrContext(Protocol):
    """What a PR's pipeline may use of its session, and nothing more: the session's settings,
    its recorder (whose ``state`` is the fold of the journal), git, and the shared resources
    (writer slots, the composer and merge locks). ``Session`` is one."""

    recorder: Recorder
    repo: Repo
    watcher: CommitWatcher
    tamper: TamperWatch
    gates: Gates
    backends: Backends
    merge_lock: asyncio.Lock
    base_branch: str
    max_rounds: int
    max_diff_bytes: int
    composer_max_tokens: int
    decide_with: Literal["text", "tool"]
    commit_uncommitted: bool

    def thread(self) -> tuple[str, ...]: ...
    def track(self, pr: PrRun, tip: str) -> None: ...
    def untrack(self, pr: PrRun) -> None: ...
    def watcher_worktrees_changed(self) -> None: ...
    async def take_writer_slot(self, pr: PrRun) -> None: ...
    def release_writer_slot(self, pr: PrRun) -> None: ...
    async def compose(self, pr: PrRun, job: ComposeJob, purpose: Purpose) -> Dispatched[ComposeResult]: ...
    async def write(self, pr: PrRun, job: WriteJob) -> Dispatched[WriteResult]: ...
    async def review(self, pr: PrRun, rv: Reviewer, job: ReviewJob) -> Dispatched[ReviewResult]: ...


@dataclass(frozen=True)
class NextRound:
    """The round an answered gate sends the writer into, until the write step journals it
    (``round_started``). A crash before that asks the gate again (engine/restore.py)."""

    round: int
    brief: str
    reason: str  # "first" | "fix" | "retry" | "conflict"


@dataclass(eq=False)
class PrRun:
    """The engine's handle on one PR while its pipeline runs.

    The PR itself is the reducer's ``PRState`` (``st``): the fold of the events the engine
    emits (``Recorder.state``), which is also what a resumed session starts from. Kept here
    is only what the journal cannot hold; each field says why.
    """

    n: int
    state: SessionState = field(repr=False)  # the engine's fold: the PR is ``state.prs[n]``
    wt_name: str  # names derived from the session id, n and title (the journal has the path once made)
    wt_path: Path
    step: str = "compose"  # the pipeline's program counter; after a crash restore.resume_point derives it
    next_round: NextRound | None = None  # an answered gate's next round, until round_started journals it
    merge_message: str = ""  # an answered gate's message, until merge_intent journals it
    task_handle: asyncio.Task[None] | None = None  # a live task
    writer_starting: bool = False  # the scheduler's cue, set just before the writer's dispatch starts
    skip_requested: bool = False  # tells a skip's cancellation of the task from a stop's
    slot_held: bool = False  # this process holds a writer slot (a semaphore)

    @property
    def st(self) -> PRState:
        return self.state.pr(self.n)

    @property
    def title(self) -> str:
        return self.st.title

    @property
    def task(self) -> str:
        return self.st.task

    @property
    def solo(self) -> bool:
        return self.st.solo

    @property
    def branch(self) -> str:
        return self.st.branch

    @property
    def round(self) -> int:
        return self.st.round

    @property
    def brief(self) -> str:
        return self.st.brief

    @property
    def head(self) -> str:
        """The commit the pipeline acts on (``PRState.target``)."""
        return self.st.target

    @property
    def base_sha(self) -> str:
        return self.st.base_sha

    @property
    def commits(self) -> list[tuple[str, str]]:
        return self.st.commit_log

    @property
    def outcome(self) -> Outcome | None:
        return cast("Outcome", self.st.outcome) if self.st.outcome else None

    @property
    def closed(self) -> bool:
        return self.st.closed

    @property
    def worktree_ready(self) -> bool:
        """The PR's worktree was made, not removed, and is still on disk."""
        st = self.st
        return bool(st.worktree) and not st.worktree_removed and Path(st.worktree).exists()

    @property
    def writing_started(self) -> bool:
        """The next PR may start composing: this one's writer started (or is about to)."""
        if self.writer_starting:
            return True
        return any(
            (d := self.state.dispatches.get(did)) is not None and d.role == "writer"
            for did in self.st.dispatches
        )

    @property
    def thread_id(self) -> str:
        return self.state.writer_thread(self.n)[0]

    @property
    def writer_note(self) -> str:
        return self.state.writer_thread(self.n)[1]

    def review(self, reviewers: Sequence[str]) -> tuple[list[VerdictParsed], list[str]]:
        """The current round's latest review: verdicts and failed reviewers, in reviewer order."""
        r = self.st.rounds.get(self.round)
        latest = r.reviews if r is not None else {}
        verdicts = [v for name in reviewers if (v := latest.get(name)) is not None]
        failed = [name for name in reviewers if name in latest and latest[name] is None]
        return verdicts, failed


class Pipeline:
    def __init__(self, session: PrContext, pr: PrRun) -> None:
        self.s = session
        self.pr = pr
        self._steps: dict[str, Callable[[], Awaitable[None]]] = {
            "compose": self.compose,
            "write": self.write,
            "review": self.review,
            "decide": self.decide,
            "merge": self.merge,
            # entry points of a resumed PR (engine/restore.py)
            "brief_gate": self._ask_brief_again,
            "decision_gate": self._ask_decision_again,
            "solo_gate": self.solo_gate,
            "close_merged": self._close_merged,
            "close_abandoned": self._close_abandoned,
        }
        self._review_retries: dict[int, int] = {}  # per round: reviews asked again (issue 9)
        self._stats: tuple[str, int, int, int] | None = None  # git's (head, files, +, -): a cache

    async def run(self) -> None:
        pr = self.pr
        if pr.solo and pr.step == "compose":
            self._start_writing("first", prompts.default_brief(pr.title, pr.task))
        while not pr.closed:
            await self._steps[pr.step]()

    # --- helpers ---------------------------------------------------------------------------

    def emit_round(self, round_no: int, brief: str, reason: str) -> None:
        self.s.recorder.emit(RoundStarted(pr=self.pr.n, round=round_no, brief=brief, reason=reason))

    async def gate(
        self,
        kind: GateKind,
        proposal: str,
        *,
        text: str = "",
        summary: str = "",
        commit: str = "",
        split: bool = False,
    ) -> GateAnswer:
        req = GateRequest(
            self.pr.n, self.pr.round, kind, proposal, text, commit or self.pr.head, summary, split
        )
        return await self.s.gates.ask(req)

    async def ask(
        self,
        kind: GateKind,
        proposal: str,
        *,
        text: str = "",
        summary: str = "",
        commit: str = "",
        split: bool = False,
    ) -> tuple[GateAnswer, Step]:
        """Open a gate; the answer and the step it leads to (``transitions.TABLE``)."""
        ans = await self.gate(kind, proposal, text=text, summary=summary, commit=commit, split=split)
        return ans, resolve(kind, proposal, ans.answer, ans.action, ans.text)

    def failure_proposal(self) -> str:
        """A failure gate proposes retry while the PR has failed fewer than max_rounds times."""
        st = self.s.recorder.state.prs.get(self.pr.n)
        return failure_proposal((st.failures if st is not None else 0) + 1, self.s.max_rounds)

    async def close(self, outcome: Outcome, reason: str = "") -> None:
        """Close the PR. The PrClosed event goes out even if a skip or stop cancels us half-way."""
        pr = self.pr
        removed = branch_removed = False
        try:
            if pr.worktree_ready:
                await self.s.watcher.rescan()  # report every commit on the branch before we stop watching
                removed, branch_removed = await asyncio.to_thread(self.discard_if_unused)
            if outcome in ("merged", "abandoned") and pr.worktree_ready and not removed:
                removed = await self._remove_worktree()
        finally:
            self.closed_now(outcome, reason, removed, branch_removed)

    def discard_if_unused(self) -> tuple[bool, bool]:
        """Remove the worktree and branch of a PR that produced nothing: no commit, nothing uncommitted.

        Git only (no events), so it runs in a worker thread or, as a stopped session unwinds,
        directly. Says what went (worktree, branch); a git failure leaves the rest as it is.
        """
        pr, repo = self.pr, self.s.repo
        try:
            if not pr.worktree_ready or repo.tip(pr.branch) != pr.base_sha or repo.dirty_files(pr.wt_path):
                return False, False
            repo.remove_worktree(pr.wt_path)
        except GitError:
            return False, False
        try:
            return True, repo.delete_branch(pr.branch, expected=pr.base_sha)
        except GitError:
            return True, False

    def closed_now(
        self, outcome: Outcome, reason: str, worktree_removed: bool = False, branch_removed: bool = False
    ) -> None:
        pr = self.pr
        if pr.closed:
            return
        self.s.untrack(pr)
        self.s.release_writer_slot(pr)
        self.s.recorder.emit(
            PrClosed(
                pr=pr.n,
                outcome=outcome,
                reason=reason,
                worktree_removed=worktree_removed,
                branch_removed=branch_removed,
            )
        )

    async def _remove_worktree(self) -> bool:
        """Remove a finished PR's worktree, unless something in it was never committed (kept, said)."""
        pr = self.pr
        try:
            dirty = await asyncio.to_thread(self.s.repo.dirty_files, pr.wt_path)
            if dirty:
                listed = ", ".join(dirty[:10]) + (" …" if len(dirty) > 10 else "")
                self.s.recorder.emit(
                    Warn(
                        pr=pr.n,
                        code="worktree_kept",
                        message=(
                            f"worktree {pr.wt_path} kept: {len(dirty)} uncommitted file(s) in it: {listed}"
                        ),
                    )
                )
                return False
            self.s.recorder.emit(
                WorktreeIntent(pr=pr.n, action="remove", path=str(pr.wt_path), branch=pr.branch)
            )
            await self.s.recorder.drain()
            await asyncio.to_thread(self.s.repo.remove_worktree, pr.wt_path)
        except GitError as exc:
            self.s.recorder.emit(Error(pr=pr.n, where="git", message=f"could not remove worktree: {exc}"))
            return False
        self.s.watcher_worktrees_changed()
        return True

    async def settle(self, ans: GateAnswer, step: Step, what: str, why_abandon: str = "") -> bool:
        """The steps every gate treats alike: skip, abandon, fail close the PR. True when closed."""
        if step.action == "skip":
            await self.close("skipped", f"skipped by {ans.by}")
            return True
        if step.action == "abandon":
            await self.close("abandoned", why_abandon or f"abandoned by {ans.by}")
            return True
        if step.action == "fail" and not step.edited:
            await self.fail(ans, what)
            return True
        return False

    async def fail(self, answer: GateAnswer, what: str) -> None:
        await self.close("failed", what if answer.by == "human" else f"{what} ({answer.by})")

    # --- compose ---------------------------------------------------------------------------

    async def _ask_brief_again(self) -> None:
        """A resumed PR that waited at its brief gate: the same brief again, from the fold."""
        g = self.pr.st.last_gate
        if g is None or g.gate_kind != "brief":
            self.pr.step = "compose"
            return
        await self._brief_gate(g.text)

    async def _ask_decision_again(self) -> None:
        """A resumed PR whose composer had decided: its decision gate again, from the fold."""
        r = self.pr.st.rounds.get(self.pr.round)
        if r is None or r.decision is None:
            self.pr.step = "decide"
            return
        await self.decision_gate(decision_of(r.decision))

    async def _close_merged(self) -> None:
        await self.close("merged", "merged before the cockpit stopped")

    async def _close_abandoned(self) -> None:
        await self.close("abandoned", "abandoned before the cockpit stopped")

    async def compose(self) -> None:
        pr = self.pr
        job = ComposeJob(
            pr=pr.n,
            round=1,
            purpose="brief",
            title=pr.title,
            system=prompts.BRIEF_SYSTEM,
            context=self.s.thread(),
            request=prompts.brief_request(pr.n, pr.title, pr.task),
            max_tokens=self.s.composer_max_tokens,
        )
        d = await self.s.compose(pr, job, "brief")
        if not d.ok or d.result is None or not d.result.text.strip():
            why = d.error or "the composer wrote an empty brief"
            what = f"composing the brief failed: {why}"
            ans, step = await self.ask(
                "failure",
                self.failure_proposal(),
                summary=what,
                text=prompts.default_brief(pr.title, pr.task),
            )
            if await self.settle(ans, step, what):
                return
            if step.text:  # the human's brief (edit, or an override with text): the writer starts
                self._start_writing("first", step.text)
                return
            if step.action == "merge":  # nothing to merge yet
                await self.fail(ans, what)
            return  # retry: compose again
        await self._brief_gate(d.result.text.strip())

    async def _brief_gate(self, brief: str) -> None:
        ans, step = await self.ask("brief", "write", text=brief, summary="brief ready for the writer")
        if await self.settle(ans, step, "the brief"):
            return
        if step.action == "retry":
            return
        self._start_writing("first", step.text or brief)

    def _start_writing(self, reason: str, brief: str, round_no: int = 0) -> None:
        """Go to the write step: round ``round_no`` (default: the current one, at least 1)."""
        self.pr.next_round = NextRound(round_no or max(1, self.pr.round), brief, reason)
        self.pr.step = "write"

    # --- write -----------------------------------------------------------------------------

    async def write(self) -> None:
        pr = self.pr
        if not pr.worktree_ready:
            await self.s.take_writer_slot(pr)
            await self._create_worktree()
        nxt = pr.next_round or NextRound(max(1, pr.round), pr.brief, "retry")
        pr.next_round = None
        self.emit_round(nxt.round, nxt.brief, nxt.reason)
        before = await asyncio.to_thread(self.s.repo.tip, pr.branch)
        resume = pr.thread_id if nxt.reason in ("fix", "retry", "conflict") else ""
        job = WriteJob(
            pr=pr.n,
            round=pr.round,
            title=pr.title,
            prompt=prompts.writer_prompt(pr.n, pr.title, pr.round, pr.brief, nxt.reason),
            worktree=pr.wt_path,
            branch=pr.branch,
            git_dirs=self.s.repo.git_dirs_for(pr.wt_path),
            resume_thread=resume,
            thread_usage=self._thread_usage(resume) if resume else None,
        )
        d = await self.s.write(pr, job)
        await self.s.watcher.rescan()  # commit_seen events are out before we decide anything
        if self.s.tamper.pending(pr.n):  # issue 9: it changed what it may not (already restored)
            if await self.tamper_gate():
                self._start_writing("retry", pr.brief)
            return
        after = await asyncio.to_thread(self.s.repo.tip, pr.branch)
        if d.ok and after == before:
            after = await self._commit_leftovers(d.result, before)
        if d.ok and after == before and self._round_has_commits():
            before = ""  # a resumed round: its writer committed before the crash, this run added none
        if d.ok and after != before:  # the rescan above made ``after`` the PR's head
            if pr.solo:
                await self.solo_gate()
            else:
                pr.step = "review"
            return
        if d.ok:
            dirty = await asyncio.to_thread(self.s.repo.dirty_files, pr.wt_path)
            what = "the writer exited without committing"
            if dirty:
                what += f" and left {fmt_count(len(dirty), 'changed file')} uncommitted"
                text = "Uncommitted: " + ", ".join(dirty[:20])
            else:
                text = ""
        else:
            what = {"interrupted": "the writer was interrupted", "timeout": "the writer timed out"}.get(
                d.status, "the writer failed"
            )
            text = d.error
        await self.writer_failed(what, text)

    def _thread_usage(self, thread: str) -> Usage:
        """What the writer's thread has spent so far, summed from the journal (the engine's fold)."""
        state = self.s.recorder.state
        st = state.prs.get(self.pr.n)
        total = Usage()
        for did in st.dispatches if st is not None else []:
            d = state.dispatches.get(did)
            if d is not None and d.role == "writer" and d.thread_id == thread:
                total = total + d.usage
        return total

    def _round_has_commits(self) -> bool:
        """Whether the journal holds commits of this PR's current round (the engine's fold)."""
        st = self.s.recorder.state.prs.get(self.pr.n)
        r = st.rounds.get(self.pr.round) if st is not None else None
        return r is not None and bool(r.commits)

    async def _commit_leftovers(self, result: WriteResult | None, before: str) -> str:
        pr = self.pr
        if not self.s.commit_uncommitted:
            return before
        dirty = await asyncio.to_thread(self.s.repo.dirty_files, pr.wt_path)
        if not dirty:
            return before
        message = (result.final_message.strip() if result else "") or pr.title
        await asyncio.to_thread(self.s.repo.commit_all, pr.wt_path, message)
        self.s.recorder.emit(
            Warn(
                pr=pr.n,
                code="committed_for_writer",
                message=f"committed {len(dirty)} file(s) the writer left uncommitted",
            )
        )
        await self.s.watcher.rescan()
        return await asyncio.to_thread(self.s.repo.tip, pr.branch)

    async def _create_worktree(self) -> None:
        pr = self.pr
        base = await asyncio.to_thread(self.s.repo.tip, self.s.base_branch)
        existing = await asyncio.to_thread(self.s.repo.branch_exists, pr.branch)
        if existing:  # a resumed PR whose worktree was never made (or was lost): its branch as it is
            base = await asyncio.to_thread(self.s.repo.tip, pr.branch)
        self.s.recorder.emit(
            WorktreeIntent(pr=pr.n, action="create", path=str(pr.wt_path), branch=pr.branch, base_sha=base)
        )
        await self.s.recorder.drain()  # on disk before the worktree is: a crash is before or during
        await asyncio.to_thread(
            self.s.repo.create_worktree, pr.wt_name, pr.wt_path, pr.branch, base, reuse_branch=existing
        )
        self.s.track(pr, base)
        self.s.recorder.emit(WorktreeCreated(pr=pr.n, path=str(pr.wt_path), branch=pr.branch, base_sha=base))

    async def writer_failed(self, what: str, text: str) -> None:
        pr = self.pr
        ans, step = await self.ask("failure", self.failure_proposal(), summary=what, text=text or pr.brief)
        if await self.settle(ans, step, what):
            return
        if step.action == "merge":  # an override to merge: nothing committed to merge
            await self.fail(ans, what)
            return
        self._start_writing("retry", step.text or pr.brief)  # the human's brief, if they wrote one

    # --- solo ------------------------------------------------------------------------------

    async def solo_gate(self, summary: str = "solo PR: merge the writer's commit?", commit: str = "") -> None:
        pr = self.pr
        message = self._last_subject() or pr.title
        ans, step = await self.ask("merge", "merge", text=message, summary=summary, commit=commit)
        await self.act(ans, step, message, "")

    def _last_subject(self) -> str:
        return self.pr.commits[-1][1].strip() if self.pr.commits else ""

    # --- review ----------------------------------------------------------------------------

    async def review(self) -> None:
        pr = self.pr
        head = pr.head
        diff: Diff = await asyncio.to_thread(self.s.repo.diff, self.s.base_branch, head)
        n_files = len(diff.files)
        self._stats = (head, n_files, diff.insertions, diff.deletions)
        size = len(diff.text.encode())
        request = prompts.review_request(
            pr=pr.n,
            title=pr.title,
            round_no=pr.round,
            task=pr.task,
            brief=pr.brief,
            writer_note=pr.writer_note,
            diff=diff.text,
            files_changed=n_files,
            insertions=diff.insertions,
            deletions=diff.deletions,
            max_diff_bytes=self.s.max_diff_bytes,
        )
        if size > self.s.max_diff_bytes:
            self.s.recorder.emit(
                Warn(
                    pr=pr.n,
                    code="diff_cut",
                    message=(f"diff of {size} bytes cut to {self.s.max_diff_bytes} for the reviewers"),
                )
            )
        results = await asyncio.gather(
            *[
                self.s.review(
                    pr,
                    rv,
                    ReviewJob(
                        pr=pr.n,
                        round=pr.round,
                        title=pr.title,
                        commit=head,
                        system=prompts.review_system(rv.name, rv.framing),
                        prompt=request,
                        schema=VERDICT_SCHEMA,
                    ),
                )
                for rv in self.s.backends.reviewers
            ]
        )
        for rv, d in zip(self.s.backends.reviewers, results, strict=True):
            if not d.ok or d.result is None:
                continue  # its dispatch_finished says so (the fold's ``RoundState.reviews``)
            parsed = parse_verdict(d.result.text)
            self.s.recorder.emit(
                VerdictParsed(
                    pr=pr.n,
                    dispatch=d.id,
                    round=pr.round,
                    reviewer=rv.name,
                    commit=head,
                    verdict=parsed.verdict,
                    summary=parsed.summary,
                    findings=parsed.findings,
                    raw="" if parsed.parsed else d.result.text,
                )
            )
        verdicts, failed = self._review()
        missing = review_missing((v.verdict for v in verdicts), failed)
        if missing:  # issue 9: no parsed verdict, no review; the proposal is to ask again
            await self.review_failed(missing, "\n".join(d.error for d in results if d.error))
            return
        if failed:
            names = ", ".join(failed)
            proposal = "decide" if verdicts else self.failure_proposal()
            what = f"review failed: {names}"
            ans, step = await self.ask(
                "failure", proposal, summary=what, text="\n".join(d.error for d in results if d.error)
            )
            if await self.settle(ans, step, what):
                return
            if step.action == "retry":
                return  # review again
            if ans.answer == "override":
                await self.act(ans, step, pr.title, ans.text or "")
                return
        pr.step = "decide"

    async def review_failed(self, why: str, errors: str) -> None:
        """A failure gate proposing to review again. A human's approve retries; --auto-approve
        retries once per round, then fails the PR: an unreviewed PR never merges on its own."""
        pr = self.pr
        raw = "\n\n".join(f"{v.reviewer}: {v.raw}" for v in self._review()[0] if v.raw)
        tries = self._review_retries.get(pr.round, 0)
        proposal = "retry" if tries < 1 else "fail"  # ask again once per round, then fail
        what = f"review failed: {why}"
        ans, step = await self.ask("failure", proposal, summary=what, text=errors or raw)
        if await self.settle(ans, step, what):
            return
        if ans.answer == "override":
            await self.act(ans, step, pr.title, ans.text or "")
            return
        self._review_retries[pr.round] = tries + 1
        # retry (or an edit): the step stays "review"

    # --- decide ----------------------------------------------------------------------------

    async def decide(self) -> None:
        pr = self.pr
        if self._stats is None or self._stats[0] != pr.head:
            await asyncio.to_thread(self._diff_stats)
        assert self._stats is not None
        _, files, ins, dels = self._stats
        verdicts, failed = self._review()
        request = prompts.decide_request(
            pr=pr.n,
            title=pr.title,
            round_no=pr.round,
            max_rounds=self.s.max_rounds,
            task=pr.task,
            writer_note=pr.writer_note,
            commits=pr.commits,
            files_changed=files,
            insertions=ins,
            deletions=dels,
            verdicts=verdicts,
            failed_reviewers=failed,
        )
        tool = DECIDE_TOOL if self.s.decide_with == "tool" else None  # else the rules are the system's
        job = ComposeJob(
            pr=pr.n,
            round=pr.round,
            purpose="decide",
            title=pr.title,
            system=prompts.COMPOSER_SYSTEM if tool else prompts.DECIDE_SYSTEM,
            context=self.s.thread(),
            request=request,
            tool=tool,
            max_tokens=self.s.composer_max_tokens,
        )
        d: Dispatched[ComposeResult] = await self.s.compose(pr, job, "decide")
        decision, why = None, d.error
        if d.ok and d.result is not None:
            try:
                decision = from_result(d.result)  # a cut-off answer is no decision (issue 9)
            except DecisionParseError as exc:
                why = str(exc)
        if decision is None:
            what = f"no decision: {why}"
            ans, step = await self.ask(
                "failure", self.failure_proposal(), summary=what, text=d.result.text if d.result else ""
            )
            if await self.settle(ans, step, what):
                return
            if ans.answer == "override":
                await self.act(ans, step, ans.text or "", ans.text or "")
                return
            if not (step.edited and step.text):
                return  # retry: decide again
            try:  # the human wrote the decision themselves ("Decision: fix ...")
                decision = from_text(step.text)
            except DecisionParseError as exc:
                self.s.recorder.emit(Warn(pr=pr.n, code="decision", message=f"your text: {exc}"))
                return  # step stays "decide": the gate opens again
        self.s.recorder.emit(
            DecisionProposed(
                pr=pr.n,
                dispatch=d.id,
                round=pr.round,
                commit=pr.head,
                action=decision.action,
                rationale=decision.rationale,
                commit_message=decision.commit_message,
                brief=decision.brief,
                parsed_from=decision.parsed_from,
                digest=decision.digest if decision.action in ("merge", "abandon") else "",
            )
        )
        await self.decision_gate(decision)

    def _diff_stats(self) -> None:
        diff = self.s.repo.diff(self.s.base_branch, self.pr.head)
        self._stats = (self.pr.head, len(diff.files), diff.insertions, diff.deletions)

    def _review(self) -> tuple[list[VerdictParsed], list[str]]:
        """The current round's latest verdicts and failed reviewers (the fold), in reviewer order."""
        return self.pr.review([rv.name for rv in self.s.backends.reviewers])

    async def decision_gate(self, decision: ParsedDecision) -> None:
        pr = self.pr
        proposal: str = decision.action
        summary = f"composer proposes {decision.action}"
        if decision.rationale:
            summary += f": {prompts.clip(decision.rationale.splitlines()[0], 160)}"
        if decision.action == "fix" and pr.round >= self.s.max_rounds:
            proposal = "abandon"
            summary = (
                f"composer wants another fix, but round {pr.round} of {self.s.max_rounds} is the last;"
                " proposing abandon"
            )
        text = decision.commit_message if decision.action == "merge" else decision.brief
        if decision.action == "merge" and not text:
            text = pr.title
        split = split_verdict(v.verdict for v in self._review()[0])
        if split:
            summary += " — reviewers disagree"
        ans, step = await self.ask("decision", proposal, text=text, summary=summary, split=split)
        if step.action == "retry":
            pr.step = "decide"
            return
        reason = decision.rationale if proposal == decision.action else summary
        await self.act(ans, step, decision.commit_message or pr.title, decision.brief, reason)

    async def act(self, ans: GateAnswer, step: Step, message: str, brief: str, reason: str = "") -> None:
        """Carry out a merge / fix / abandon step (a decision or merge gate, or an override)."""
        pr = self.pr
        why = reason if ans.answer == "approve" and step.action == "abandon" else ""
        if await self.settle(ans, step, "failed at a gate", why):
            return
        action = step.action
        edited = step.text or None
        if action == "merge":
            pr.merge_message = edited or message or pr.title
            pr.step = "merge"
        elif action == "fix":
            fix_brief = edited or brief
            if not fix_brief.strip():
                findings = "\n".join(f"- {f.text}" for v in self._review()[0] for f in v.findings)
                fix_brief = (
                    f"Address the reviewers' findings:\n{findings}" if findings else "Address the review."
                )
            self._start_writing("fix", fix_brief, pr.round + 1)
        else:
            await self.fail(ans, f"unknown action {action!r}")

    # --- merge -----------------------------------------------------------------------------

    async def merge(self) -> None:
        pr = self.pr
        await self.s.watcher.rescan()  # a person's commit at the gate is seen before we act on the tip
        tip = await asyncio.to_thread(self.s.repo.tip, pr.branch)
        if tip != pr.head:
            await self.moved(tip)
            return
        merging = asyncio.ensure_future(self._merge_locked())
        try:
            result = await asyncio.shield(merging)
        except asyncio.CancelledError:
            # A skip or stop arrived mid-merge. The merge itself runs to its end in its thread;
            # record what it did, so the journal never contradicts the repository.
            with contextlib.suppress(Exception):
                done = await merging
                if done is not None:
                    self._merged(done)
                    self.closed_now("merged", "merged before the skip or stop took effect")
            raise
        except MergeRefused as exc:
            await self.refused(exc)
            return
        except GitError as exc:
            what = f"merge failed: {exc}"
            ans, step = await self.ask("conflict", "fail", summary=what, text=str(exc))
            if await self.settle(ans, step, what) or step.action != "fix":
                return  # retry (and merge: try again); fix without a conflict has nothing to fix
            await self.fail(ans, what)
            return
        if result is None:
            await self.tamper_gate()  # retry: the step stays "merge"
            return
        self._merged(result)
        await self.close("merged")

    async def tamper_gate(self) -> bool:
        """Issue 9: the writer changed a ref, a hook or the config; it is restored and journaled
        (``tamper``). Only a human goes on (retry: True); approve, and --auto-approve, fail the PR."""
        pr = self.pr
        found = self.s.tamper.take(pr.n) or ["the repository was changed"]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        what = f"tamper: {'; '.join(found[:3])}{more if len(found) > 3 else ''}"
        ans, step = await self.ask(
            "tamper",
            "fail",
            summary=f"the writer tampered, restored: {found[0]}{more}",
            text="\n".join(found),
        )
        if await self.settle(ans, step, what):  # approve (the proposal), fail, skip, abandon
            return False
        return step.action == "retry"  # --auto-approve answers "fail" here, never retry

    async def _merge_locked(self) -> MergeResult | None:
        """The merge, onto the base tip the guard holds; None when the guard found tamper first."""
        pr = self.pr
        async with self.s.merge_lock, self.s.tamper.merging(pr.n) as base_tip:
            if self.s.tamper.pending(pr.n):
                return None
            onto: str = base_tip if base_tip else await asyncio.to_thread(self.s.repo.tip, self.s.base_branch)
            self.s.recorder.emit(
                MergeIntent(
                    pr=pr.n, sha=pr.head, onto=onto, base_branch=self.s.base_branch, message=pr.merge_message
                )
            )
            await self.s.recorder.drain()  # the intent is on disk before the merge touches anything
            result = await asyncio.to_thread(
                self.s.repo.merge, pr.branch, pr.head, self.s.base_branch, pr.merge_message, base_tip
            )
            faults.at("merge_done")
            self.s.tamper.accepted(result.merge_sha)
            return result

    def _merged(self, result: MergeResult) -> None:
        self.s.recorder.emit(
            Merged(
                pr=self.pr.n,
                sha=result.sha_merged,
                merge_sha=result.merge_sha,
                base_branch=self.s.base_branch,
                fast_forward=result.fast_forward,
                message=self.pr.merge_message,
            )
        )

    async def moved(self, tip: str) -> None:
        pr = self.pr
        if pr.solo:  # no review to redo: ask again about merging the new tip
            await self.solo_gate(f"the branch moved ({tip[:8]}): merge the new tip?", tip)
            return
        last = pr.round >= self.s.max_rounds
        ans, step = await self.ask(
            "moved",
            "fail" if last else "review",
            commit=tip,
            summary=(
                f"the branch moved after review ({pr.head[:8]} → {tip[:8]}): "
                + (f"round {pr.round} of {self.s.max_rounds} was the last" if last else "review the new tip?")
            ),
        )
        if await self.settle(ans, step, "the branch moved after the last review round"):
            return
        self.emit_round(pr.round + 1, pr.brief, "review")  # the moved gate made ``tip`` the head
        pr.step = "review"

    async def refused(self, exc: MergeRefused) -> None:
        pr = self.pr
        if exc.reason == "moved":
            await self.moved(await asyncio.to_thread(self.s.repo.tip, pr.branch))
            return
        can_fix = exc.reason == "conflict" and pr.round < self.s.max_rounds
        proposal = "fix" if can_fix else "fail"
        brief = prompts.conflict_brief(self.s.base_branch, exc.files) if exc.reason == "conflict" else ""
        what = f"merge refused: {exc}"
        ans, step = await self.ask("conflict", proposal, summary=what, text=brief or "\n".join(exc.files))
        if await self.settle(ans, step, what, f"abandoned by {ans.by} after a refused merge"):
            return
        if step.action == "fix":
            self._start_writing("conflict", step.text or brief, pr.round + 1)
            return
        # retry, or an override to merge: step stays "merge", try again (the human fixed their checkout)
