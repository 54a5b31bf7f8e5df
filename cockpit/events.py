"""The event vocabulary: the one language the engine, the journal and every view share.

Events are tagged msgspec Structs; the tag is the public ``kind`` field of the JSONL export
(documented in docs/events.md). Every event carries the session id, a per-session sequence
number, the wall time and the PR it concerns (None for session-wide events). The engine builds
events with ``seq=-1``; the emitter stamps session, seq and time just before journaling.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Role = Literal["composer", "writer", "reviewer"]
ROLES: tuple[Role, ...] = ("composer", "writer", "reviewer")

DispatchStatus = Literal["ok", "failed", "timeout", "interrupted", "cancelled"]
# What a dispatch streams: model prose, its reasoning, a command starting (meta.id) and its output
# (meta.exit_code), a file change, a plan, the process's stderr, and status lines.
Channel = Literal["text", "reasoning", "command", "command_output", "file_change", "plan", "stderr", "status"]
# Why a dispatch ran: the composer writes a brief or decides; the writer writes; a reviewer reviews.
Purpose = Literal["", "brief", "write", "review", "decide"]
VerdictKind = Literal["approve", "changes", "block", "unparsed"]
Action = Literal["merge", "fix", "abandon"]
Outcome = Literal["merged", "abandoned", "failed", "skipped", "interrupted"]
SessionStatus = Literal["completed", "failed", "interrupted"]
WorktreeAction = Literal["create", "remove"]

# What a gate asks the human about.
#   brief     approve the composer's brief before the writer starts
#   decision  approve the composer's merge / fix / abandon
#   merge     a solo PR (no review): merge the writer's commit?
#   failure   a dispatch failed, timed out, was interrupted, or the writer left no commit
#   moved     the branch moved after review: review the new tip again?
#   conflict  the merge was refused (conflict, dirty checkout): retry or give up
#   tamper    the writer changed the base branch, a hook or the config (restored): fail, or retry;
#             --auto-approve never passes it (issue 9)
GateKind = Literal["brief", "decision", "merge", "failure", "moved", "conflict", "tamper"]

# The human's (or --auto-approve's) answer to a gate.
Answer = Literal["approve", "override", "edit", "skip", "retry", "abandon", "fail"]


class Usage(msgspec.Struct, frozen=True, omit_defaults=True):
    """Tokens one dispatch spent. ``input_tokens`` is the whole prompt, cached part included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            max(0, self.input_tokens - other.input_tokens),
            max(0, self.output_tokens - other.output_tokens),
            max(0, self.cached_input_tokens - other.cached_input_tokens),
            max(0, self.cache_write_tokens - other.cache_write_tokens),
            max(0, self.reasoning_tokens - other.reasoning_tokens),
        )

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class Finding(msgspec.Struct, frozen=True, omit_defaults=True):
    severity: str = "info"  # "blocker" | "major" | "minor" | "info"
    text: str = ""
    file: str | None = None
    line: int | None = None


class FileStat(msgspec.Struct, frozen=True, array_like=True):
    status: str  # A M D R C T ...
    path: str
    insertions: int
    deletions: int


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=False):
    session: str = ""
    seq: int = -1
    t: float = 0.0
    pr: int | None = None


# --- session ---------------------------------------------------------------------------------


class SessionStarted(Event, tag="session_started", kw_only=True, frozen=True):
    repo: str
    base_branch: str
    base_sha: str
    worktree_root: str
    mode: str = "run"  # "run" | "demo"
    auto_approve: bool = False
    max_rounds: int = 3
    concurrent_writers: int = 1
    composer_budget_tokens: int = 5000
    backends: dict[str, str] = {}  # role or reviewer name -> "backend:model"
    reviewers: list[str] = []  # reviewer names, in order
    argv: list[str] = []
    goal: str = ""  # the session goal, the head of the composer's memory


class SessionPaused(Event, tag="session_paused", kw_only=True, frozen=True):
    by: str = "human"


class SessionResumed(Event, tag="session_resumed", kw_only=True, frozen=True):
    by: str = "human"


class Warn(Event, tag="warning", kw_only=True, frozen=True):
    message: str
    code: str = ""


class SessionFinished(Event, tag="session_finished", kw_only=True, frozen=True):
    status: SessionStatus
    reason: str = ""


class SessionReopened(Event, tag="session_reopened", kw_only=True, frozen=True):
    """``cockpit resume`` took over a session whose owner process is gone."""

    pid: int  # the new owner
    host: str
    previous_pid: int | None = None
    previous_host: str = ""
    repairs: list[str] = []  # what the resume found and put right (git, leftover processes)


# --- PRs -------------------------------------------------------------------------------------


class PrOpened(Event, tag="pr_opened", kw_only=True, frozen=True):
    title: str
    task: str
    branch: str
    solo: bool = False
    added_by: str = "plan"  # "plan" | "human"


class WorktreeCreated(Event, tag="worktree_created", kw_only=True, frozen=True):
    path: str
    branch: str
    base_sha: str


class WorktreeIntent(Event, tag="worktree_intent", kw_only=True, frozen=True):
    """About to create or remove a PR's worktree (journaled first, so a crash can be told apart)."""

    action: WorktreeAction
    path: str
    branch: str
    base_sha: str = ""


class RoundStarted(Event, tag="round_started", kw_only=True, frozen=True):
    round: int
    brief: str
    reason: str = "first"  # "first" | "fix" | "retry" | "review" (re-review a moved branch)


class PrClosed(Event, tag="pr_closed", kw_only=True, frozen=True):
    outcome: Outcome
    reason: str = ""
    worktree_removed: bool = False
    branch_removed: bool = False  # the PR never committed: its branch went with its worktree


# --- dispatches ------------------------------------------------------------------------------


class DispatchStarted(Event, tag="dispatch_started", kw_only=True, frozen=True):
    dispatch: str
    role: Role
    backend: str
    model: str
    round: int = 0
    purpose: Purpose = ""
    name: str = ""  # reviewer name, or the role for singletons
    framing: str = ""


class DispatchOutput(Event, tag="dispatch_output", kw_only=True, frozen=True):
    """A piece of a dispatch's stream. Text may be coalesced (~50 ms per dispatch and channel)."""

    dispatch: str
    channel: Channel
    text: str
    meta: dict[str, Any] = {}


class DispatchFinished(Event, tag="dispatch_finished", kw_only=True, frozen=True):
    dispatch: str
    role: Role
    status: DispatchStatus
    usage: Usage = Usage()
    error: str = ""
    final_text: str = ""
    thread_id: str = ""
    elapsed_s: float = 0.0


# --- git -------------------------------------------------------------------------------------


class CommitSeen(Event, tag="commit_seen", kw_only=True, frozen=True):
    sha: str
    parents: list[str]
    message: str
    branch: str
    author: str = ""
    files: list[FileStat] = []
    insertions: int = 0
    deletions: int = 0
    rewritten: bool = False  # the tip moved to a non-descendant (amend, rebase, reset)


class Tamper(Event, tag="tamper", kw_only=True, frozen=True):
    """The writer changed what it may not (a ref outside its branch, a hook, the shared config);
    cockpit put it back before anything else ran. docs/architecture.md, invariant 8."""

    found: str  # "after the writer" | "at a commit" | "before the merge"
    changes: list[str]  # one line each: "refs/heads/main moved 1a2b… → 3c4d…", "hooks/post-commit planted"
    quarantine_refs: list[str] = []  # where moved-to commits stay reachable
    quarantine_dir: str = ""  # where changed hooks and config were moved aside
    restored: bool = True
    problems: list[str] = []  # what could not be put back


class Merged(Event, tag="merged", kw_only=True, frozen=True):
    sha: str  # the reviewed commit that was merged
    merge_sha: str  # the new tip of the base branch
    base_branch: str
    fast_forward: bool
    message: str = ""


class MergeIntent(Event, tag="merge_intent", kw_only=True, frozen=True):
    """About to merge ``sha`` onto ``onto`` (the base tip it was read as). Journaled before the
    merge touches anything: with ``merged`` after it, a crash is before, during or after."""

    sha: str
    onto: str
    base_branch: str
    message: str = ""


# --- review and decision ---------------------------------------------------------------------


class VerdictParsed(Event, tag="verdict_parsed", kw_only=True, frozen=True):
    dispatch: str
    round: int
    reviewer: str
    commit: str
    verdict: VerdictKind
    summary: str = ""
    findings: list[Finding] = []
    raw: str = ""  # kept whole when nothing parsed (UNPARSED)


class DecisionProposed(Event, tag="decision_proposed", kw_only=True, frozen=True):
    dispatch: str
    round: int
    commit: str
    action: Action
    rationale: str = ""
    commit_message: str = ""
    brief: str = ""
    parsed_from: str = "tool"  # "tool" | "text" | "script"
    digest: str = ""  # the session digest the composer proposed with this decision ("" = none)


class DigestUpdated(Event, tag="digest_updated", kw_only=True, frozen=True):
    """The composer's memory of the session after a PR closed (``pr``): what later calls carry."""

    text: str
    source: Literal["composer", "auto"] = "auto"  # the composer wrote it, or cockpit built it
    closed: int = 0  # how many PRs had closed when it was written
    words: int = 0


class GateOpened(Event, tag="gate_opened", kw_only=True, frozen=True):
    gate: str
    gate_kind: GateKind
    round: int
    proposal: str  # what approve does: an Action, "write" (brief gates), "review" or "fail"
    text: str = ""  # the brief, the commit message or the failure, editable where it applies
    commit: str = ""
    summary: str = ""  # one line for banners
    split: bool = False  # reviewers disagree
    options: list[Answer] = []


class HumanDecision(Event, tag="human_decision", kw_only=True, frozen=True):
    gate: str
    answer: Answer
    action: str = ""  # for override: the chosen action
    text: str | None = None  # for edit / override: the replacement brief or message
    commit: str = ""  # the commit the answer is about (copied from the gate)
    by: str = "human"  # "human" | "auto" | "timeout"


class InterruptRequested(Event, tag="interrupt_requested", kw_only=True, frozen=True):
    dispatch: str
    by: str = "human"


class Error(Event, tag="error", kw_only=True, frozen=True):
    where: str
    message: str


AnyEvent = (
    SessionStarted
    | SessionPaused
    | SessionResumed
    | Warn
    | SessionFinished
    | SessionReopened
    | PrOpened
    | WorktreeIntent
    | WorktreeCreated
    | RoundStarted
    | PrClosed
    | DispatchStarted
    | DispatchOutput
    | DispatchFinished
    | CommitSeen
    | MergeIntent
    | Tamper
    | Merged
    | VerdictParsed
    | DecisionProposed
    | DigestUpdated
    | GateOpened
    | HumanDecision
    | InterruptRequested
    | Error
)

EVENT_TYPES: tuple[type[Event], ...] = (
    SessionStarted,
    SessionPaused,
    SessionResumed,
    Warn,
    SessionFinished,
    SessionReopened,
    PrOpened,
    WorktreeIntent,
    WorktreeCreated,
    RoundStarted,
    PrClosed,
    DispatchStarted,
    DispatchOutput,
    DispatchFinished,
    CommitSeen,
    MergeIntent,
    Tamper,
    Merged,
    VerdictParsed,
    DecisionProposed,
    DigestUpdated,
    GateOpened,
    HumanDecision,
    InterruptRequested,
    Error,
)

KINDS: dict[str, type[Event]] = {t.__struct_config__.tag: t for t in EVENT_TYPES}  # type: ignore[misc]

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class EventDecodeError(ValueError):
    """A journal row or JSONL line that is not a valid event."""


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes | str) -> AnyEvent:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(str(exc)) from exc


def kind_of(event: Event) -> str:
    return str(event.__struct_config__.tag)
