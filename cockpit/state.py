"""The reducer: a deterministic fold of events into a SessionState.

``SessionState.apply(event)`` depends only on the state and the event (no clock, no I/O), so the
live app, the headless printer, the report and a replay all see the same state from the same
events. It mutates in place for speed (a TUI folds thousands of events); ``fold`` builds a fresh
state from a stream. Events about PRs or dispatches the state has not seen (a stream that starts
mid-session) are tolerated, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from cockpit.events import (
    ROLES,
    CommitSeen,
    DecisionProposed,
    DigestUpdated,
    DispatchFinished,
    DispatchOutput,
    DispatchStarted,
    DispatchStatus,
    Error,
    Event,
    GateOpened,
    HumanDecision,
    InterruptRequested,
    Merged,
    MergeIntent,
    PrClosed,
    PrOpened,
    Purpose,
    RoundStarted,
    SessionFinished,
    SessionPaused,
    SessionReopened,
    SessionResumed,
    SessionStarted,
    Usage,
    VerdictParsed,
    Warn,
    WorktreeCreated,
    WorktreeIntent,
)

# PR statuses, in the order a PR usually moves through them.
QUEUED = "queued"
COMPOSING = "composing"
AWAITING = "awaiting"
WRITING = "writing"
REVIEWING = "reviewing"
DECIDING = "deciding"
MERGED = "merged"
ABANDONED = "abandoned"
FAILED = "failed"
INTERRUPTED = "interrupted"
SKIPPED = "skipped"

_DISPATCH_STATUS = {
    "composer:brief": COMPOSING,
    "composer:decide": DECIDING,
    "writer": WRITING,
    "reviewer": REVIEWING,
}


def split_verdict(verdicts: Iterable[str]) -> bool:
    """Reviewers disagree: at least one approves and at least one asks for changes or blocks."""
    kinds = set(verdicts)
    return "approve" in kinds and bool(kinds & {"changes", "block"})


def _usage_by_role() -> dict[str, Usage]:
    return {role: Usage() for role in ROLES}


@dataclass
class DispatchState:
    id: str
    role: str
    backend: str = ""
    model: str = ""
    pr: int | None = None
    round: int = 0
    purpose: Purpose = ""
    name: str = ""
    framing: str = ""
    status: DispatchStatus | Literal["running"] = "running"
    usage: Usage = field(default_factory=Usage)
    error: str = ""
    final_text: str = ""
    thread_id: str = ""
    started_at: float = 0.0
    finished_at: float | None = None
    outputs: int = 0

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass
class RoundState:
    n: int
    brief: str = ""
    reason: str = ""
    writer: str | None = None  # dispatch id
    reviewers: list[str] = field(default_factory=list)  # dispatch ids
    commits: list[str] = field(default_factory=list)
    verdicts: dict[str, VerdictParsed] = field(default_factory=dict)  # reviewer name -> verdict
    decision: DecisionProposed | None = None
    answers: list[HumanDecision] = field(default_factory=list)
    # Each reviewer's latest review in this round: its verdict, or None when its dispatch did
    # not finish ok. ``verdicts`` keeps every reviewer's last verdict; this is what the engine
    # decides on after a review was asked again.
    reviews: dict[str, VerdictParsed | None] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        return split_verdict(v.verdict for v in self.verdicts.values())


@dataclass
class PRState:
    n: int
    title: str = ""
    task: str = ""
    solo: bool = False
    branch: str = ""
    worktree: str = ""
    base_sha: str = ""
    added_by: str = "plan"
    status: str = QUEUED
    outcome: str = ""
    reason: str = ""
    round: int = 0
    rounds: dict[int, RoundState] = field(default_factory=dict)
    commits: list[CommitSeen] = field(default_factory=list)
    head: str = ""  # the latest commit seen on the branch
    pinned: str = ""  # the commit a review, decision, gate or merge intent of this round is about
    merged_sha: str = ""
    merge_message: str = ""
    digested: bool = False  # a digest_updated followed its close
    gate: GateOpened | None = None
    last_gate: GateOpened | None = None  # the latest gate opened, answered or not (kept on reopen)
    usage: dict[str, Usage] = field(default_factory=_usage_by_role)
    dispatches: list[str] = field(default_factory=list)
    started_at: float = 0.0  # the first dispatch
    closed_at: float | None = None
    last_activity: float = 0.0
    worktree_removed: bool = False
    failures: int = 0  # failure gates opened (a failure gate proposes retry while < max_rounds)
    merge_intent: MergeIntent | None = None  # journaled, not yet followed by ``merged``
    worktree_intent: WorktreeIntent | None = None  # not yet followed by its outcome

    @property
    def brief(self) -> str:
        """The brief of the current round (what its writer was asked to do)."""
        r = self.rounds.get(self.round)
        return r.brief if r is not None else ""

    @property
    def target(self) -> str:
        """The commit the PR's pipeline acts on: the branch's latest commit while the round's
        writer works, then the one its review, decision, gate or merge intent was about (a
        later commit, a person's, leaves it and is "the branch moved")."""
        return self.pinned or self.head

    @property
    def commit_log(self) -> list[tuple[str, str]]:
        """(sha, message) of every commit seen on the PR's branch, oldest first."""
        return [(c.sha, c.message) for c in self.commits]

    def current_round(self) -> RoundState:
        if self.round not in self.rounds:
            self.rounds[self.round] = RoundState(self.round)
        return self.rounds[self.round]

    @property
    def closed(self) -> bool:
        return self.outcome != ""

    @property
    def display_status(self) -> str:
        """What a list shows: an open gate trumps the step, except a failure keeps its colour."""
        if self.gate is not None and self.status not in (FAILED, INTERRUPTED):
            return AWAITING
        return self.status

    def spent_s(self, now: float) -> float:
        """Time since the PR's first dispatch (queued time is not time spent on it)."""
        if not self.started_at:
            return 0.0
        end = self.closed_at if self.closed_at is not None else now
        return max(0.0, end - self.started_at)


@dataclass
class SessionState:
    id: str = ""
    repo: str = ""
    base_branch: str = ""
    base_sha: str = ""
    worktree_root: str = ""
    mode: str = "run"
    auto_approve: bool = False
    max_rounds: int = 3
    composer_budget: int = 5000
    reviewers: list[str] = field(default_factory=list)
    backends: dict[str, str] = field(default_factory=dict)
    started_at: float = 0.0
    finished_at: float | None = None
    status: str = "running"
    finish_reason: str = ""
    paused: bool = False
    prs: dict[int, PRState] = field(default_factory=dict)
    dispatches: dict[str, DispatchState] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=_usage_by_role)
    gates: dict[str, GateOpened] = field(default_factory=dict)  # open gates by id
    warnings: list[Warn] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    last_seq: int = -1
    last_t: float = 0.0
    events: int = 0
    composer_context: int = 0  # prompt tokens of the latest composer call
    goal: str = ""
    digest: DigestUpdated | None = None  # the composer's memory of the session (the latest)
    closed_order: list[int] = field(default_factory=list)  # PR numbers, in the order they closed

    # --- queries -----------------------------------------------------------------------------

    def pr(self, n: int) -> PRState:
        if n not in self.prs:
            self.prs[n] = PRState(n)
        return self.prs[n]

    def waiting_for_human(self) -> list[GateOpened]:
        return sorted(self.gates.values(), key=lambda g: g.seq)

    def running_dispatches(self, pr: int | None = None) -> list[DispatchState]:
        return [d for d in self.dispatches.values() if d.running and (pr is None or d.pr == pr)]

    def running_writer(self, pr: int) -> DispatchState | None:
        """The PR's writer dispatch while it runs (a PR has at most one at a time)."""
        for did in reversed(self.prs[pr].dispatches if pr in self.prs else []):
            d = self.dispatches.get(did)
            if d is not None and d.role == "writer" and d.running:
                return d
        return None

    def writer_thread(self, pr: int) -> tuple[str, str]:
        """(thread id, final message) of the PR's writer: the latest thread any of its writer
        dispatches reported, and the final message of its latest one that finished ok."""
        thread, note = "", ""
        for did in self.prs[pr].dispatches if pr in self.prs else []:
            d = self.dispatches.get(did)
            if d is None or d.role != "writer":
                continue
            thread = d.thread_id or thread
            if d.status == "ok":
                note = d.final_text
        return thread, note

    def composer_tokens(self, pr: int) -> int:
        """The composer's tokens spent on one PR: input + output, which is what the per-PR budget
        (``composer_budget``) counts. Every view compares this figure with the budget."""
        p = self.prs.get(pr)
        return p.usage["composer"].total if p is not None else 0

    def elapsed_s(self, now: float) -> float:
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.started_at) if self.started_at else 0.0

    def mark_owner_gone(self) -> None:
        """What a view shows for a session whose owner process died without finishing it.

        The journal cannot say so itself (the dead process wrote no end), so a view that knows
        the owner is gone (``Journal.owner(id).alive``) calls this after folding: the session is
        ``unfinished``, its open PRs ``interrupted``, its running dispatches ``interrupted``, its
        gates closed. ``cockpit resume`` carries on from the journal, not from this.
        """
        if self.status != "running":
            return
        self.status = "unfinished"
        for d in self.dispatches.values():
            if d.running:
                d.status = "interrupted"
        self.gates.clear()
        for pr in self.prs.values():
            pr.gate = None
            if not pr.closed:
                pr.status = INTERRUPTED

    # --- the fold ----------------------------------------------------------------------------

    def apply(self, ev: Event) -> None:
        self.events += 1
        self.last_seq = max(self.last_seq, ev.seq)
        self.last_t = max(self.last_t, ev.t)
        if ev.pr is not None and ev.pr in self.prs:
            self.prs[ev.pr].last_activity = ev.t
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)


def _session_started(s: SessionState, ev: SessionStarted) -> None:
    s.id = ev.session
    s.repo = ev.repo
    s.base_branch = ev.base_branch
    s.base_sha = ev.base_sha
    s.worktree_root = ev.worktree_root
    s.mode = ev.mode
    s.auto_approve = ev.auto_approve
    s.max_rounds = ev.max_rounds
    s.composer_budget = ev.composer_budget_tokens
    s.reviewers = list(ev.reviewers)
    s.backends = dict(ev.backends)
    s.goal = ev.goal
    s.started_at = ev.t
    s.status = "running"


def _session_finished(s: SessionState, ev: SessionFinished) -> None:
    s.finished_at = ev.t
    s.status = ev.status
    s.finish_reason = ev.reason
    s.gates.clear()
    for d in s.dispatches.values():
        if d.running:
            d.status = "cancelled"
            d.finished_at = ev.t
    for pr in s.prs.values():
        pr.gate = None


def _session_reopened(s: SessionState, ev: SessionReopened) -> None:
    s.status = "running"
    s.finished_at = None
    s.paused = False
    s.gates.clear()
    for d in s.dispatches.values():
        if d.running:
            d.status = "interrupted"
            d.finished_at = ev.t
    for pr in s.prs.values():
        pr.gate = None
        if pr.outcome == INTERRUPTED:  # a session quit with work in flight: the PR goes on
            pr.outcome, pr.reason, pr.closed_at = "", "", None
            pr.status = QUEUED


def _paused(s: SessionState, ev: SessionPaused) -> None:
    s.paused = True


def _resumed(s: SessionState, ev: SessionResumed) -> None:
    s.paused = False


def _warning(s: SessionState, ev: Warn) -> None:
    s.warnings.append(ev)


def _error(s: SessionState, ev: Error) -> None:
    s.errors.append(ev)


def _pr_opened(s: SessionState, ev: PrOpened) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.title, pr.task, pr.branch, pr.solo, pr.added_by = ev.title, ev.task, ev.branch, ev.solo, ev.added_by
    pr.last_activity = ev.t
    pr.status = QUEUED


def _worktree_intent(s: SessionState, ev: WorktreeIntent) -> None:
    if ev.pr is not None:
        s.pr(ev.pr).worktree_intent = ev


def _merge_intent(s: SessionState, ev: MergeIntent) -> None:
    if ev.pr is not None:
        pr = s.pr(ev.pr)
        pr.merge_intent = ev
        pr.pinned = ev.sha


def _worktree_created(s: SessionState, ev: WorktreeCreated) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.worktree_intent = None
    pr.worktree, pr.branch, pr.base_sha = ev.path, ev.branch, ev.base_sha
    if not pr.head:
        pr.head = ev.base_sha


def _round_started(s: SessionState, ev: RoundStarted) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.round = ev.round
    r = pr.current_round()
    r.brief, r.reason = ev.brief, ev.reason
    if ev.reason != "review":  # a writer's round follows the branch; a re-review keeps the moved tip
        pr.pinned = ""


def _pr_closed(s: SessionState, ev: PrClosed) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    if not pr.closed:
        s.closed_order.append(ev.pr)
    pr.outcome = ev.outcome
    pr.status = ev.outcome
    pr.reason = ev.reason
    pr.closed_at = ev.t
    pr.worktree_removed = ev.worktree_removed
    pr.worktree_intent = None
    if pr.gate is not None:
        s.gates.pop(pr.gate.gate, None)
        pr.gate = None


def _dispatch_started(s: SessionState, ev: DispatchStarted) -> None:
    d = DispatchState(
        ev.dispatch,
        ev.role,
        ev.backend,
        ev.model,
        ev.pr,
        ev.round,
        ev.purpose,
        ev.name,
        ev.framing,
        started_at=ev.t,
    )
    s.dispatches[ev.dispatch] = d
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.dispatches.append(ev.dispatch)
    if not pr.started_at:
        pr.started_at = ev.t
    key = f"composer:{ev.purpose}" if ev.role == "composer" else ev.role
    pr.status = _DISPATCH_STATUS.get(key, pr.status)
    if ev.round:
        pr.round = max(pr.round, ev.round)
        r = pr.rounds.setdefault(ev.round, RoundState(ev.round))
        if ev.role == "writer":
            r.writer = ev.dispatch
        elif ev.role == "reviewer":
            r.reviewers.append(ev.dispatch)


def _dispatch_output(s: SessionState, ev: DispatchOutput) -> None:
    d = s.dispatches.get(ev.dispatch)
    if d is not None:
        d.outputs += 1
        thread = ev.meta.get("thread_id") if ev.meta else None
        if isinstance(thread, str) and thread:  # a writer's thread, known before it finishes
            d.thread_id = thread


def _dispatch_finished(s: SessionState, ev: DispatchFinished) -> None:
    d = s.dispatches.get(ev.dispatch)
    if d is None:
        d = DispatchState(ev.dispatch, ev.role, pr=ev.pr)
        s.dispatches[ev.dispatch] = d
    d.status, d.usage, d.error = ev.status, ev.usage, ev.error
    d.final_text, d.finished_at = ev.final_text, ev.t
    d.thread_id = ev.thread_id or d.thread_id
    s.usage[ev.role] = s.usage.get(ev.role, Usage()) + ev.usage
    if ev.role == "composer" and ev.usage.input_tokens:
        s.composer_context = ev.usage.input_tokens
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.usage[ev.role] = pr.usage.get(ev.role, Usage()) + ev.usage
    if ev.role == "reviewer" and ev.status != "ok" and d.round:
        pr.rounds.setdefault(d.round, RoundState(d.round)).reviews[d.name] = None
    if ev.role == "writer" and ev.status == "interrupted":
        pr.status = INTERRUPTED
    elif ev.status in ("failed", "timeout") and ev.role == "writer":
        pr.status = FAILED


def _commit_seen(s: SessionState, ev: CommitSeen) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.commits.append(ev)
    pr.head = ev.sha
    if pr.round:
        pr.current_round().commits.append(ev.sha)


def _verdict(s: SessionState, ev: VerdictParsed) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    r = pr.rounds.setdefault(ev.round, RoundState(ev.round))
    r.verdicts[ev.reviewer] = ev
    r.reviews[ev.reviewer] = ev
    pr.pinned = ev.commit


def _decision(s: SessionState, ev: DecisionProposed) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.rounds.setdefault(ev.round, RoundState(ev.round)).decision = ev
    pr.pinned = ev.commit


def _gate_opened(s: SessionState, ev: GateOpened) -> None:
    s.gates[ev.gate] = ev
    if ev.pr is not None:
        pr = s.pr(ev.pr)
        pr.gate = pr.last_gate = ev
        if ev.commit:
            pr.pinned = ev.commit
        if ev.gate_kind == "failure":
            pr.failures += 1


def _human_decision(s: SessionState, ev: HumanDecision) -> None:
    gate = s.gates.pop(ev.gate, None)
    pr_n = ev.pr if ev.pr is not None else (gate.pr if gate is not None else None)
    if pr_n is None:
        return
    pr = s.pr(pr_n)
    if pr.gate is not None and pr.gate.gate == ev.gate:
        pr.gate = None
    round_no = gate.round if gate is not None else pr.round
    pr.rounds.setdefault(round_no, RoundState(round_no)).answers.append(ev)
    if not pr.closed:
        pr.status = QUEUED  # until the engine's next step starts a dispatch


def _interrupt(s: SessionState, ev: InterruptRequested) -> None:
    pass


def _merged(s: SessionState, ev: Merged) -> None:
    if ev.pr is None:
        return
    pr = s.pr(ev.pr)
    pr.merged_sha = ev.merge_sha
    pr.merge_message = ev.message
    pr.status = MERGED
    pr.merge_intent = None


def _digest(s: SessionState, ev: DigestUpdated) -> None:
    s.digest = ev
    if ev.pr is not None:
        s.pr(ev.pr).digested = True


_HANDLERS: dict[type[Event], Callable[[SessionState, Any], None]] = {
    SessionStarted: _session_started,
    SessionFinished: _session_finished,
    SessionPaused: _paused,
    SessionResumed: _resumed,
    SessionReopened: _session_reopened,
    WorktreeIntent: _worktree_intent,
    MergeIntent: _merge_intent,
    Warn: _warning,
    Error: _error,
    PrOpened: _pr_opened,
    WorktreeCreated: _worktree_created,
    RoundStarted: _round_started,
    PrClosed: _pr_closed,
    DispatchStarted: _dispatch_started,
    DispatchOutput: _dispatch_output,
    DispatchFinished: _dispatch_finished,
    CommitSeen: _commit_seen,
    VerdictParsed: _verdict,
    DecisionProposed: _decision,
    DigestUpdated: _digest,
    GateOpened: _gate_opened,
    HumanDecision: _human_decision,
    InterruptRequested: _interrupt,
    Merged: _merged,
}


def fold(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    state = state or SessionState()
    for ev in events:
        state.apply(ev)
    return state


def session_summary(s: SessionState) -> dict[str, object]:
    """The shape of ``cockpit sessions --json`` for one session."""
    return {
        "id": s.id,
        "repo": s.repo,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "status": s.status,
        "prs": [
            {
                "id": pr.n,
                "title": pr.title,
                "branch": pr.branch,
                "outcome": pr.outcome or pr.status,
                "rounds": pr.round,
                "commits": len(pr.commits),
            }
            for pr in sorted(s.prs.values(), key=lambda p: p.n)
        ],
        "usage": {
            role: {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cached_input_tokens": u.cached_input_tokens,
                "reasoning_tokens": u.reasoning_tokens,
            }
            for role, u in ((r, s.usage.get(r, Usage())) for r in ROLES)
        },
        "wall_s": round(s.elapsed_s(s.last_t), 3),
    }
