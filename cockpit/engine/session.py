"""A session: the PRs of one run over one repository, their pipelines, and the human's controls.

Scheduling: PR k starts (its brief is composed) once PR k-1's writer has started, so the
composer prepares the next brief while the previous PR is written and reviewed. Writers are
limited by a semaphore (``concurrent_writers``), composer calls are serialized (they share one
thread of context), merges are serialized. Views drive the session only through the control
methods at the bottom; they learn what happened only from events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from cockpit.backends.base import (
    Backends,
    ComposeJob,
    ComposeResult,
    Reviewer,
    ReviewJob,
    ReviewResult,
    WriteJob,
    WriteResult,
)
from cockpit.backends.process import Watchdog, mark_for, session_mark, sweep_orphans
from cockpit.bus import EventBus
from cockpit.config import Config, secret_values
from cockpit.engine.dispatch import Dispatched, Dispatcher
from cockpit.engine.gates import GateAnswer, GateError, Gates
from cockpit.engine.memory import composer_context, digest_after_close
from cockpit.engine.pipeline import NextRound, Pipeline, PrRun
from cockpit.engine.recorder import Recorder
from cockpit.engine.requests import RequestPoller
from cockpit.engine.restore import ResumePoint, resume_point
from cockpit.engine.tamper import TamperWatch
from cockpit.events import (
    AnyEvent,
    CommitSeen,
    DispatchFinished,
    Error,
    GateOpened,
    PrClosed,
    PrOpened,
    Purpose,
    SessionFinished,
    SessionPaused,
    SessionReopened,
    SessionResumed,
    SessionStarted,
    SessionStatus,
    Warn,
)
from cockpit.git.model import CommitInfo
from cockpit.git.names import branch_name, slugify, worktree_name
from cockpit.git.repo import Repo
from cockpit.git.watcher import CommitWatcher
from cockpit.journal import Journal, JournalError
from cockpit.plan import PlanItem
from cockpit.secret import Redactor
from cockpit.state import PRState, SessionState, fold


class SessionError(Exception):
    """The session cannot start (repository, base branch, journal); one line for the terminal."""


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def _highest(events: Sequence[AnyEvent], prefix: str) -> int:
    """The highest number in the journal's dispatch ("d") or gate ("g") ids, so new ids go on."""
    top = 0
    for ev in events:
        ident = getattr(ev, "dispatch" if prefix == "d" else "gate", "")
        if isinstance(ident, str) and ident.startswith(prefix) and ident[1:].isdigit():
            top = max(top, int(ident[1:]))
    return top


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("cockpit", appauthor=False))


@dataclass(frozen=True)
class SessionResult:
    id: str
    status: SessionStatus
    outcomes: dict[int, str]

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted":
            return 130
        return 0 if self.status == "completed" else 1


class Session:
    def __init__(
        self,
        *,
        repo: Repo,
        config: Config,
        backends: Backends,
        journal: Journal,
        plan: Sequence[PlanItem],
        auto_approve: bool = False,
        mode: str = "run",
        argv: Sequence[str] = (),
        goal: str = "",
        bus: EventBus | None = None,
        session_id: str | None = None,
        worktree_root: Path | None = None,
        warnings: Sequence[str] = (),
        resume_from: Sequence[AnyEvent] = (),
    ) -> None:
        self.id = session_id or new_session_id()
        # A resumed session: its journal so far (``Session.reopen``); run() carries it on.
        self._past = list(resume_from)
        self._restored = fold(self._past) if self._past else None
        self.repo = repo
        self.config = config
        self.backends = backends
        self.journal = journal
        self.bus = bus or EventBus()
        self.auto_approve = auto_approve
        self.mode = mode
        self.argv = list(argv)
        self.goal = goal or config.session.goal
        self._initial_warnings = list(warnings)
        self.redactor = Redactor(secret_values(config))  # issue 9: secrets never reach a model either
        s = config.session
        self.max_rounds = s.max_rounds
        self.max_diff_bytes = s.max_diff_bytes
        self.commit_uncommitted = config.writer.commit_uncommitted
        self.composer_max_tokens = config.composer.max_tokens
        self.decide_with = config.composer.decide_with
        if self._restored is not None:
            self.base_branch = self._restored.base_branch
            self.mode = self._restored.mode
            worktree_root = worktree_root or Path(self._restored.worktree_root)
        else:
            self.base_branch = self._resolve_base(s.base_branch)
        root = worktree_root or (
            Path(s.worktree_root).expanduser()
            if s.worktree_root
            else repo.default_worktree_root(default_data_dir())
        )
        self.worktree_root = root.absolute()
        self._plan = list(plan)
        self.prs: list[PrRun] = []
        self._by_branch: dict[str, PrRun] = {}
        self._changed: asyncio.Event | None = None
        self._started = False
        self._finished = False
        self._stopping = False
        self.result: SessionResult | None = None
        # Created in run(): they need the running loop.
        self.recorder: Recorder
        self.dispatcher: Dispatcher
        self.gates: Gates
        self.watcher: CommitWatcher
        self.requests: RequestPoller | None = None  # answers from attach / serve, via the journal
        self.composer_lock: asyncio.Lock
        self.merge_lock: asyncio.Lock
        self.tamper: TamperWatch
        self.writer_slots: asyncio.Semaphore
        self.watchdog: Watchdog | None = None
        self.repairs: list[str] = []  # what a resume found and put right (also in session_reopened)

    @classmethod
    def reopen(
        cls,
        ref: str,
        *,
        journal: Journal,
        repo: Repo,
        config: Config,
        backends: Backends,
        auto_approve: bool = False,
        argv: Sequence[str] = (),
        bus: EventBus | None = None,
        worktree_root: Path | None = None,
    ) -> Session:
        """The session ``ref`` (id, prefix, "last"), to carry on after its process died (or was
        quit with work in flight: its ``interrupted`` PRs go on).

        Raises JournalError when it finished, or its owner still runs (named by pid and host).
        ``run()`` then takes it over, reconciles it with git and goes on where each PR was.
        """
        row = journal.get_session(ref)
        if row.status in ("completed", "failed"):
            raise JournalError(f"session {row.id} is {row.status}; there is nothing to resume")
        owner = journal.owner(row.id)
        if row.status == "running" and owner.alive:  # a finished session has no owner any more
            raise JournalError(
                f"session {row.id} is still running ({owner.describe()}); "
                "stop it first, or watch it with `cockpit replay --follow`"
            )
        past = list(journal.read_events(row.id))
        if not past:
            raise JournalError(f"session {row.id} has no events to resume from")
        return cls(
            repo=repo,
            config=config,
            backends=backends,
            journal=journal,
            plan=(),
            auto_approve=auto_approve,
            mode=row.mode,
            argv=argv,
            bus=bus,
            session_id=row.id,
            worktree_root=worktree_root,
            resume_from=past,
        )

    def _resolve_base(self, configured: str) -> str:
        base = configured or self.repo.current_branch()
        if not base:
            raise SessionError(
                f"{self.repo.workdir}: HEAD is detached; check out a branch or set [session] base_branch"
            )
        if not self.repo.branch_exists(base):
            raise SessionError(f"{self.repo.workdir}: base branch {base!r} does not exist")
        return base

    # --- run -------------------------------------------------------------------------------

    async def run(self) -> SessionResult:
        if self._started:
            raise SessionError("a session runs once")
        self._started = True
        self._changed = asyncio.Event()
        previous = None
        if self._restored is None:
            self.journal.begin_session(
                self.id, str(self.repo.workdir), self.base_branch, self.mode
            )  # JournalError
        else:
            previous = self.journal.take_over(self.id)  # JournalError when its owner came back
        past = self._restored
        self.recorder = Recorder(
            self.journal,
            self.id,
            self.bus,
            secrets=self.redactor.values,
            state=past,
            start_seq=past.last_seq + 1 if past is not None else 0,
        )
        self.dispatcher = Dispatcher(self.recorder, numbered_from=_highest(self._past, "d"))
        self.gates = Gates(
            self.recorder, auto_approve=self.auto_approve, numbered_from=_highest(self._past, "g")
        )
        # Every process this run starts carries the session's mark; the watchdog kills them if
        # this process dies without stopping them (docs/architecture.md, invariant 7: no process outlives it).
        session_mark.set(mark_for(self.id))
        self.watchdog = await asyncio.to_thread(Watchdog, mark_for(self.id))
        self.composer_lock = asyncio.Lock()
        self.merge_lock = asyncio.Lock()
        self.writer_slots = asyncio.Semaphore(self.config.session.concurrent_writers)
        self.watcher = CommitWatcher(self.repo.workdir, self._on_commits)
        self.tamper = TamperWatch(self.repo.common_dir, self.id, self.base_branch, self.recorder)  # issue 9
        status: SessionStatus = "completed"
        reason = ""
        try:
            if past is not None:
                await self._carry_on(past, previous)
            else:
                await self._begin()
            # Answers from attach / serve, through the journal (cockpit.engine.requests).
            self.requests = RequestPoller(self.journal.path, self)
            self.requests.start()
            await self._schedule()
            if self._stopping:
                status, reason = "interrupted", "stopped by a human"
            elif any(p.outcome == "failed" for p in self.prs):
                status = "failed"
        except asyncio.CancelledError:
            status, reason = "interrupted", "interrupted"
            await self._cancel_pipelines()
            raise
        except Exception as exc:
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
            self.recorder.emit(Error(where="session", message=reason))
            await self._cancel_pipelines()
        finally:
            await self._finish(status, reason)
        assert self.result is not None
        return self.result

    async def _begin(self) -> None:
        if True:
            self.recorder.emit(
                SessionStarted(
                    repo=str(self.repo.workdir),
                    base_branch=self.base_branch,
                    base_sha=self.repo.tip(self.base_branch),
                    worktree_root=str(self.worktree_root),
                    mode=self.mode,
                    auto_approve=self.auto_approve,
                    max_rounds=self.max_rounds,
                    concurrent_writers=self.config.session.concurrent_writers,
                    composer_budget_tokens=self.config.session.composer_budget_tokens,
                    backends=self.backends.describe(),
                    reviewers=[r.name for r in self.backends.reviewers],
                    argv=self.argv,
                    goal=self.goal,
                )
            )
            for message in self._initial_warnings:
                self.recorder.emit(Warn(code="config", message=message))
            await self.watcher.start()
            for item in self._plan:
                self._open_pr(item.title, item.task, not item.review, "plan")

    async def _carry_on(self, past: SessionState, previous: object) -> None:
        """Resume: stop what the dead owner left running, close its dispatches as interrupted,
        reconcile each open PR with git, say what was found, and rebuild the PR runs."""
        from cockpit.journal import Owner

        repairs = await asyncio.to_thread(sweep_orphans, self.id)
        for d in list(past.dispatches.values()):
            if d.running:
                self.recorder.emit(
                    DispatchFinished(
                        pr=d.pr,
                        dispatch=d.id,
                        role=d.role,  # type: ignore[arg-type]
                        status="interrupted",
                        error="the cockpit stopped while it ran",
                        thread_id=d.thread_id,
                    )
                )
        by_pr: dict[int, list[AnyEvent]] = {}
        for ev in self._past:
            if ev.pr is not None:
                by_pr.setdefault(ev.pr, []).append(ev)
        for n in sorted(past.prs):
            st = past.prs[n]
            pr = self._rebuild(st)
            self.prs.append(pr)
            self._by_branch[pr.branch] = pr
            if st.closed and st.outcome != "interrupted":  # an interrupted PR goes on
                self._remember(pr)
                continue
            point = resume_point(st, by_pr.get(n, []))
            if point is None:  # pragma: no cover - an open PR always has a point
                continue
            self._apply_point(pr, st, point)
            if point.merge is not None:
                notes = await asyncio.to_thread(
                    self.repo.recover_merge, self.base_branch, point.merge.sha, point.merge.onto
                )
                repairs += [f"PR {n}: {line}" for line in notes]
                tip = await asyncio.to_thread(self.repo.tip, self.base_branch)
                if tip != point.merge.onto:
                    repairs.append(f"PR {n}: the merge was done in git but not recorded; recording it")
            if point.step == "write" and pr.worktree_ready:
                repairs += [f"PR {n}: {line}" for line in await self._keep_leftovers(pr)]
            if st.worktree and not st.worktree_removed and not pr.worktree_ready:
                repairs.append(f"PR {n}: its worktree {st.worktree} is gone; made again from its branch")
            repairs.append(f"PR {n} {point.why}")
        old = previous if isinstance(previous, Owner) else None
        self.recorder.emit(
            SessionReopened(
                pid=os.getpid(),
                host=socket.gethostname(),
                previous_pid=old.pid if old is not None else None,
                previous_host=old.host if old is not None else "",
                repairs=repairs,
            )
        )
        self.repairs = repairs
        await self.watcher.start()
        for pr in self.prs:
            if not pr.closed and pr.worktree_ready:
                self.track(pr, pr.st.head or pr.base_sha)
        await self.watcher.rescan()  # commits made while nobody watched become commit_seen

    async def _keep_leftovers(self, pr: PrRun) -> list[str]:
        """Commit what an interrupted writer left uncommitted, so its writer's next run cannot
        lose it: the work stays in the branch's history whatever the writer does next."""
        dirty = await asyncio.to_thread(self.repo.dirty_files, pr.wt_path)
        if not dirty:
            return []
        await asyncio.to_thread(
            self.repo.commit_all, pr.wt_path, "cockpit: keep the uncommitted work of an interrupted writer"
        )
        return [f"committed {len(dirty)} file(s) the interrupted writer left uncommitted in {pr.wt_path}"]

    def _rebuild(self, st: PRState) -> PrRun:
        """The engine's handle on one PR of a resumed session (the PR itself is the fold)."""
        n = st.n
        return PrRun(
            n=n,
            state=self.recorder.state,
            wt_name=worktree_name(self.id, n),
            wt_path=Path(st.worktree)
            if st.worktree
            else self.worktree_root / self.id / f"{n}-{slugify(st.title)}",
        )

    def _apply_point(self, pr: PrRun, st: PRState, point: ResumePoint) -> None:
        pr.step = point.step
        if point.step == "write":
            pr.next_round = NextRound(max(1, st.round), point.brief or st.brief or st.task, point.reason)
        if point.pending_brief is not None:  # the brief gate again, with the fold's last gate
            pr.step = "brief_gate"
        if point.merge is not None:  # its merge_intent made the intent's commit the head
            pr.merge_message = point.merge.message
        elif point.step == "merge":
            decided = st.rounds[st.round].decision if st.round in st.rounds else None
            pr.merge_message = (decided.commit_message if decided is not None else "") or st.title

    async def _finish(self, status: SessionStatus, reason: str) -> None:
        self._finished = True
        if self.requests is not None:
            self.requests.stop()  # nothing is applied from here on
        if self.watchdog is not None:
            # Every dispatch has ended by now; the watchdog sweeps anything they left behind.
            await asyncio.to_thread(self.watchdog.close)
            self.watchdog = None
        for p in self.prs:
            if not p.closed:
                self.recorder.emit(PrClosed(pr=p.n, outcome="interrupted", reason=reason or "session ended"))
        self.recorder.emit(SessionFinished(status=status, reason=reason))
        self.result = SessionResult(self.id, status, {p.n: p.outcome or "" for p in self.prs})
        try:
            with contextlib.suppress(Exception):
                await self.watcher.stop()
            if self.requests is not None:
                await self.requests.aclose()  # what is still pending is refused, with why
            await self.recorder.aclose()
        except asyncio.CancelledError:
            self.recorder.close_now()  # a forced quit: still put the session's end on disk
            raise

    def _open_pr(self, title: str, task: str, solo: bool, added_by: str) -> PrRun:
        n = len(self.prs) + 1
        branch = branch_name(self.id, n, title)
        pr = PrRun(
            n=n,
            state=self.recorder.state,
            wt_name=worktree_name(self.id, n),
            wt_path=self.worktree_root / self.id / f"{n}-{slugify(title)}",
        )
        self.prs.append(pr)
        self._by_branch[branch] = pr
        self.recorder.emit(  # from here on, the PR is the fold's ``PRState``
            PrOpened(pr=n, title=title, task=task, branch=branch, solo=solo, added_by=added_by)
        )
        self._signal()
        return pr

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _may_start(self, i: int) -> bool:
        if i == 0:
            return True
        prev = self.prs[i - 1]
        return (
            prev.closed or prev.writing_started or (prev.task_handle is not None and prev.task_handle.done())
        )

    async def _schedule(self) -> None:
        assert self._changed is not None
        while not self._stopping:
            for i, p in enumerate(self.prs):
                if p.task_handle is None and not p.closed and self._may_start(i):
                    p.task_handle = asyncio.create_task(self._pipeline(p), name=f"pr-{p.n}")
                    p.task_handle.add_done_callback(lambda _t: self._signal())
            if all(p.closed or (p.task_handle is not None and p.task_handle.done()) for p in self.prs):
                break
            self._changed.clear()
            await self._changed.wait()
        if self._stopping:
            await self._cancel_pipelines()

    async def _pipeline(self, pr: PrRun) -> None:
        pipeline = Pipeline(self, pr)
        try:
            if pr.worktree_ready:  # a resumed PR in flight holds its writer slot again
                await self.take_writer_slot(pr)
            await pipeline.run()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if pr.skip_requested and not self._stopping:
                if task is not None:
                    task.uncancel()
                if not pr.closed:
                    await pipeline.close("skipped", "skipped by human")
                return
            if not pr.closed:
                self.untrack(pr)
                # The writer is stopped by now: nothing runs in its worktree.
                worktree_removed, branch_removed = pipeline.discard_if_unused()
                self.recorder.emit(
                    PrClosed(
                        pr=pr.n,
                        outcome="interrupted",
                        reason="session stopped",
                        worktree_removed=worktree_removed,
                        branch_removed=branch_removed,
                    )
                )
            raise
        except Exception as exc:
            # A bug or a git failure: the PR fails visibly, the session goes on.
            self.recorder.emit(Error(pr=pr.n, where="pipeline", message=f"{type(exc).__name__}: {exc}"))
            if not pr.closed:
                await pipeline.close("failed", f"{type(exc).__name__}: {exc}")
        finally:
            self.release_writer_slot(pr)
            if pr.closed:
                self._remember(pr)
            self._signal()

    async def _cancel_pipelines(self) -> None:
        tasks = [p.task_handle for p in self.prs if p.task_handle is not None and not p.task_handle.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def _remember(self, pr: PrRun) -> None:
        """A PR closed: journal the composer's memory after it (once per PR)."""
        folded = self.recorder.state
        st = folded.prs.get(pr.n)
        if st is None or not st.closed or st.digested:
            return
        self.recorder.emit(digest_after_close(folded, pr.n))

    def thread(self) -> tuple[str, ...]:
        """The composer's stable prefix: goal, digest and the last closed PRs, from the fold."""
        return composer_context(self.recorder.state)

    # --- dispatch helpers used by the pipeline ----------------------------------------------

    async def compose(self, pr: PrRun, job: ComposeJob, purpose: Purpose) -> Dispatched[ComposeResult]:
        c = self.backends.composer
        red = self.redactor.redact
        job = replace(job, context=tuple(map(red, job.context)), request=red(job.request))
        async with self.composer_lock:
            return await self.dispatcher.run(
                pr=pr.n,
                round_no=job.round,
                role="composer",
                backend=c.backend,
                model=c.model,
                purpose=purpose,
                timeout_s=c.timeout_s,
                call=lambda out: c.compose(job, out),
            )

    async def take_writer_slot(self, pr: PrRun) -> None:
        """A PR holds a writer slot from its first write until it closes.

        So ``concurrent_writers`` bounds the PRs in flight, and with the default of 1 each PR
        branches from the base after the previous one merged: merges fast-forward instead of
        conflicting, while the composer still prepares the next brief during the current PR.
        """
        if not pr.slot_held:
            await self.writer_slots.acquire()
            pr.slot_held = True

    def release_writer_slot(self, pr: PrRun) -> None:
        if pr.slot_held:
            pr.slot_held = False
            self.writer_slots.release()

    async def write(self, pr: PrRun, job: WriteJob) -> Dispatched[WriteResult]:
        w = self.backends.writer
        await self.dispatcher.wait_unpaused()
        pr.writer_starting = True
        self._signal()
        await self.tamper.arm()  # issue 9: the shared git dir is held while the writer runs
        try:
            return await self.dispatcher.run(
                pr=pr.n,
                round_no=job.round,
                role="writer",
                backend=w.backend,
                model=w.model,
                purpose="write",
                timeout_s=w.timeout_s,
                call=lambda out: w.write(job, out),
            )
        finally:
            await self.tamper.disarm(pr.n)

    async def review(self, pr: PrRun, rv: Reviewer, job: ReviewJob) -> Dispatched[ReviewResult]:
        job = replace(job, prompt=self.redactor.redact(job.prompt))  # the diff may hold a key
        return await self.dispatcher.run(
            pr=pr.n,
            round_no=job.round,
            role="reviewer",
            backend=rv.backend,
            model=rv.model,
            purpose="review",
            timeout_s=rv.timeout_s,
            call=lambda out: rv.review(job, out),
            name=rv.name,
            framing=rv.framing,
        )

    # --- git glue ----------------------------------------------------------------------------

    def track(self, pr: PrRun, tip: str) -> None:
        self.watcher.track(pr.branch, tip, self.base_branch)
        self.watcher.worktrees_changed()

    def untrack(self, pr: PrRun) -> None:
        with contextlib.suppress(Exception):
            self.watcher.untrack(pr.branch)

    def watcher_worktrees_changed(self) -> None:
        self.watcher.worktrees_changed()

    async def _on_commits(self, branch: str, commits: list[CommitInfo], rewritten: bool) -> None:
        pr = self._by_branch.get(branch)
        if pr is None:
            return
        await self.tamper.check(pr.n, "at a commit")  # issue 9: restored before anyone's next git command
        for i, c in enumerate(commits):
            self.recorder.emit(
                CommitSeen(
                    pr=pr.n,
                    sha=c.sha,
                    parents=list(c.parents),
                    message=c.message,
                    branch=branch,
                    author=c.author,
                    files=list(c.files),
                    insertions=c.insertions,
                    deletions=c.deletions,
                    rewritten=rewritten and i == 0,
                )
            )

    # --- controls (views call these) -----------------------------------------------------------

    @property
    def history(self) -> list[AnyEvent]:
        """The journal a resumed session started from (empty for a new session)."""
        return list(self._past)

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def paused(self) -> bool:
        return self._started and self.dispatcher.paused

    def answer(self, gate_id: str, answer: GateAnswer) -> None:
        """Resolve a gate; raises GateError when the answer does not fit it."""
        self.gates.answer(gate_id, answer)

    def open_gates(self) -> list[GateOpened]:
        return self.gates.open_gates() if self._started else []

    def pause(self, by: str = "human") -> bool:
        if not self._started or self._finished or self.dispatcher.paused:
            return False
        self.dispatcher.pause()
        self.recorder.emit(SessionPaused(by=by))
        return True

    def resume(self, by: str = "human") -> bool:
        if not self._started or self._finished or not self.dispatcher.paused:
            return False
        self.dispatcher.resume()
        self.recorder.emit(SessionResumed(by=by))
        return True

    def interrupt(self, pr: int, by: str = "human") -> bool:
        """Interrupt the PR's running writer; False when it has none running."""
        if not self._started or self._finished:
            return False
        running = self.dispatcher.running(pr=pr, role="writer")
        return any(self.dispatcher.interrupt(d, by) for d in running)

    def skip(self, pr_n: int, by: str = "human") -> bool:
        """Skip a PR wherever it is: at a gate, running, or not started yet."""
        if not self._started or self._finished:
            return False
        pr = next((p for p in self.prs if p.n == pr_n), None)
        if pr is None or pr.closed:
            return False
        gate = self.gates.gate_for_pr(pr_n)
        if gate is not None:
            try:
                self.gates.answer(gate.gate, GateAnswer("skip", by=by))
                return True
            except GateError:
                pass
        pr.skip_requested = True
        if pr.task_handle is None:
            self.recorder.emit(
                PrClosed(pr=pr.n, outcome="skipped", reason=f"skipped by {by} before it started")
            )
            self._remember(pr)
            self._signal()
            return True
        pr.task_handle.cancel()
        return True

    def add_pr(self, title: str, task: str, solo: bool = False) -> int:
        if not self._started or self._finished or self._stopping:
            raise SessionError("the session is not running; start a new one to add work")
        if not title.strip() or not task.strip():
            raise SessionError("a PR needs a title and a task")
        return self._open_pr(title.strip(), task.strip(), solo, "human").n

    def stop(self) -> None:
        """End the session: running dispatches are cancelled, open PRs close as interrupted."""
        if self._finished:
            return
        self._stopping = True
        for p in self.prs:
            if p.task_handle is not None and not p.task_handle.done():
                p.task_handle.cancel()
        self._signal()
