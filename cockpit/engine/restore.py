"""Where a PR carries on after its session's process died: a pure reading of its journal.

``cockpit resume`` folds the session's events (the reducer) and, for each open PR, reads its
own events in order to find the step the pipeline was at. The rules, in one place:

- an open gate (or one answered in the instant before the crash, with nothing done after the
  answer) is asked again: a brief or decision gate with the same text, without a new dispatch;
  a merge, moved or conflict gate by running its step again (which asks it again); a failure
  gate by running the failed step again;
- a dispatch that was running is run again (a writer with ``retry``, resuming its thread);
- a merge intent without a ``merged`` is the merge step again (after ``Repo.recover_merge``);
- a ``merged`` without a ``pr_closed`` closes the PR as merged; a worktree removal without one
  closes it as abandoned;
- a PR that never started starts from the beginning;
- a PR closed as ``interrupted`` (the session was quit with it in flight) goes on like an open one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cockpit.engine.decisions import ParsedDecision
from cockpit.events import (
    DecisionProposed,
    DispatchFinished,
    DispatchStarted,
    Event,
    GateOpened,
    HumanDecision,
    Merged,
    MergeIntent,
    PrClosed,
    RoundStarted,
    WorktreeCreated,
    WorktreeIntent,
)
from cockpit.state import PRState

# Events that do not move a PR's pipeline on (they can arrive at any time).
_PASSIVE = ("dispatch_output", "commit_seen", "warning", "error", "interrupt_requested", "verdict_parsed")


@dataclass(frozen=True)
class ResumePoint:
    """The step a resumed PR starts at, and what that step needs that it would have computed."""

    step: str  # a Pipeline step: compose, write, review, decide, decision_gate, solo_gate, merge, close_*
    why: str  # one line for the user
    reason: str = "first"  # for write: the round's reason
    brief: str = ""  # for write: the brief
    pending_brief: str | None = None  # compose: ask the brief gate with this
    decision: ParsedDecision | None = None  # decision_gate: ask it again about this
    merge: MergeIntent | None = None  # merge: the intent left without a ``merged``


def _dispatch_step(d: DispatchStarted | DispatchFinished, purpose: str) -> str:
    if d.role == "writer":
        return "write"
    if d.role == "reviewer":
        return "review"
    return "decide" if purpose == "decide" else "compose"


def decision_of(ev: DecisionProposed) -> ParsedDecision:
    return ParsedDecision(ev.action, ev.rationale, ev.commit_message, ev.brief, ev.parsed_from)


def resume_point(pr: PRState, events: Iterable[Event]) -> ResumePoint | None:
    """Where the open PR ``pr`` carries on, from its own events in journal order (None: closed)."""
    if pr.closed and pr.outcome != "interrupted":
        return None
    last: Event | None = None  # the last event that moved the pipeline
    gate: GateOpened | None = None  # the last gate, while nothing happened after it (or its answer)
    brief_answer: tuple[GateOpened, HumanDecision | None] | None = None
    purposes: dict[str, str] = {}
    merged = False
    for ev in events:
        kind = type(ev).__struct_config__.tag
        if kind in _PASSIVE:
            continue
        if isinstance(ev, GateOpened):
            gate = ev
            if ev.gate_kind == "brief":
                brief_answer = (ev, None)
            continue
        if isinstance(ev, HumanDecision):
            if brief_answer is not None and brief_answer[0].gate == ev.gate:
                brief_answer = (brief_answer[0], ev)
            continue  # the gate stays "pending" until the pipeline acts on the answer
        if isinstance(ev, PrClosed):
            if ev.outcome == "interrupted":  # the session was stopped with it in flight
                continue
            return None
        gate = None
        last = ev
        if isinstance(ev, DispatchStarted):
            purposes[ev.dispatch] = ev.purpose
        if isinstance(ev, Merged):
            merged = True
    round_brief = pr.rounds[pr.round].brief if pr.round in pr.rounds else ""
    if gate is not None:
        return _at_gate(pr, gate, last, purposes, round_brief)
    if last is None:
        return ResumePoint("compose", "had not started: starts now")
    if isinstance(last, Merged) or (isinstance(last, WorktreeIntent) and last.action == "remove" and merged):
        return ResumePoint("close_merged", "was merged: closing it")
    if isinstance(last, WorktreeIntent) and last.action == "remove":
        return ResumePoint("close_abandoned", "was being closed: closing it")
    if isinstance(last, MergeIntent):
        return ResumePoint("merge", "was merging: checking the merge and finishing it", merge=last)
    if isinstance(last, (WorktreeIntent, WorktreeCreated)):
        brief = ""
        if brief_answer is not None:
            g, ans = brief_answer
            brief = ans.text if ans is not None and ans.answer == "edit" and ans.text else g.text
        return ResumePoint("write", "was about to start its writer: starts it", "first", brief or round_brief)
    if isinstance(last, RoundStarted):
        if last.reason == "review":
            return ResumePoint("review", "was about to review the moved branch: reviews it")
        return ResumePoint("write", "was about to start its writer: starts it", last.reason, last.brief)
    if isinstance(last, DecisionProposed):
        return ResumePoint(
            "decision_gate",
            "the composer had decided: asking the decision gate again",
            decision=decision_of(last),
        )
    if isinstance(last, (DispatchStarted, DispatchFinished)):
        step = _dispatch_step(last, purposes.get(last.dispatch, ""))
        running = isinstance(last, DispatchStarted)
        if step == "write":
            done = isinstance(last, DispatchFinished) and last.status == "ok"
            commits = pr.rounds[pr.round].commits if pr.round in pr.rounds else []
            if done and commits:
                if pr.solo:
                    return ResumePoint("solo_gate", "its writer had committed: asking the merge gate again")
                return ResumePoint("review", "its writer had committed: reviewing")
            why = (
                "its writer was running: runs it again"
                if running
                else "its writer had stopped: runs it again"
            )
            return ResumePoint("write", why, "retry", round_brief)
        what = {"compose": "composing the brief", "review": "reviewing", "decide": "deciding"}[step]
        return ResumePoint(step, f"was {what}: does it again")
    return ResumePoint("compose", "starts again")  # pragma: no cover - every moving event is above


def _at_gate(
    pr: PRState, gate: GateOpened, last: Event | None, purposes: dict[str, str], round_brief: str
) -> ResumePoint:
    ask = f"was waiting at its {gate.gate_kind} gate: asking again"
    if gate.gate_kind == "brief":
        return ResumePoint("compose", ask, pending_brief=gate.text)
    if gate.gate_kind == "decision":
        decided = pr.rounds[gate.round].decision if gate.round in pr.rounds else None
        if decided is not None:
            return ResumePoint("decision_gate", ask, decision=decision_of(decided))
        return ResumePoint("decide", ask)
    if gate.gate_kind == "merge":
        return ResumePoint("solo_gate", ask)
    if gate.gate_kind in ("moved", "conflict"):
        return ResumePoint("merge", ask)
    # A failure gate (or a kind this version does not know): the step that failed runs again.
    if isinstance(last, (DispatchStarted, DispatchFinished)):
        step = _dispatch_step(last, purposes.get(last.dispatch, ""))
        why = f"was waiting at a {gate.gate_kind} gate after {step}: {step} runs again"
        if step == "write":
            return ResumePoint("write", why, "retry", round_brief)
        return ResumePoint(step, why)
    if isinstance(last, MergeIntent):
        return ResumePoint("merge", ask, merge=last)
    return ResumePoint("compose", f"was waiting at a {gate.gate_kind} gate: starts again")
