"""Exports of a journaled session: JSONL (the public event format) and a Markdown audit report.

The report answers what an auditor asks afterwards: per PR, what was asked, what each model did
and said, what the human decided, what was merged, and what it all cost. It is written from a
walk over the events in journal order, not from the folded state alone, so it stays true to the
journal: every attempt is listed (an interrupted writer, a retry), each answer sits next to the
gate it answered, and it says who answered: you, ``--auto-approve``, or the gate's countdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from cockpit.config import Pricing
from cockpit.engine.memory import counts
from cockpit.events import (
    ROLES,
    CommitSeen,
    DecisionProposed,
    DispatchFinished,
    DispatchStarted,
    Error,
    Event,
    GateOpened,
    HumanDecision,
    InterruptRequested,
    Merged,
    PrClosed,
    RoundStarted,
    VerdictParsed,
    Warn,
    encode,
)
from cockpit.fmt import fmt_count, fmt_money
from cockpit.pricing import session_costs
from cockpit.state import SessionState
from cockpit.timeline import mermaid_gantt

_VERDICT = {"approve": "APPROVE", "changes": "CHANGES", "block": "BLOCK", "unparsed": "UNPARSED"}
_BY = {"human": "you", "auto": "--auto-approve", "timeout": "the countdown (no key pressed in time)"}


def jsonl(events: Iterable[Event]) -> Iterator[bytes]:
    for ev in events:
        yield encode(ev) + b"\n"


def _when(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else "—"


def _tok(n: int) -> str:
    return f"{n:,}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.strip().splitlines()) or "> (empty)"


def answered_by(by: str) -> str:
    """Who answered a gate, in words: you, --auto-approve, the countdown, or what the event says."""
    return _BY.get(by, by or "unknown")


@dataclass
class _Round:
    n: int
    reason: str = ""
    items: list[list[str]] = field(default_factory=list)  # blocks of lines, in journal order


@dataclass
class _PrLog:
    rounds: dict[int, _Round] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    current: int = 0
    attempts: dict[tuple[int, str], int] = field(default_factory=dict)  # (round, who) -> count
    gates: dict[str, list[str]] = field(default_factory=dict)  # gate id -> its block

    def round(self, n: int) -> _Round:
        if n not in self.rounds:
            self.rounds[n] = _Round(n)
            self.order.append(n)
        return self.rounds[n]

    def add(self, n: int, *lines: str) -> list[str]:
        block = list(lines)
        self.round(n).items.append(block)
        return block


class _Walk:
    """Folds the events into the state and, beside it, each PR's story in journal order."""

    def __init__(self) -> None:
        self.s = SessionState()
        self.prs: dict[int, _PrLog] = {}

    def log(self, pr: int) -> _PrLog:
        if pr not in self.prs:
            self.prs[pr] = _PrLog()
        return self.prs[pr]

    def apply(self, ev: Event) -> None:
        gate = self.s.gates.get(ev.gate) if isinstance(ev, HumanDecision) else None
        self.s.apply(ev)
        if ev.pr is None:
            return
        log = self.log(ev.pr)
        if isinstance(ev, RoundStarted):
            log.current = ev.round
            r = log.round(ev.round)
            r.reason = ev.reason
            if ev.brief:
                log.add(ev.round, "Brief:", "", _quote(ev.brief))
        elif isinstance(ev, DispatchStarted):
            key = (ev.round or log.current, f"{ev.role}:{ev.name}:{ev.purpose}")
            log.attempts[key] = log.attempts.get(key, 0) + 1
        elif isinstance(ev, DispatchFinished):
            self._finished(log, ev)
        elif isinstance(ev, InterruptRequested):
            log.add(log.current, f"- interrupt of `{ev.dispatch}` requested by {answered_by(ev.by)}")
        elif isinstance(ev, CommitSeen):
            subject = ev.message.splitlines()[0] if ev.message else ""
            n = len(ev.files)
            rewritten = " (rewritten: not a descendant of the previous tip)" if ev.rewritten else ""
            log.add(
                log.current,
                f"- commit `{ev.sha[:10]}` {subject} ({fmt_count(n, 'file')}, "
                f"+{ev.insertions} −{ev.deletions}){rewritten}",
            )
        elif isinstance(ev, VerdictParsed):
            block = log.add(
                ev.round, f"**{ev.reviewer}**: {_VERDICT[ev.verdict]} on `{ev.commit[:10]}` — {ev.summary}"
            )
            for f in ev.findings:
                where = (
                    f" `{f.file}:{f.line}`"
                    if f.file and f.line is not None
                    else (f" `{f.file}`" if f.file else "")
                )
                block.append(f"  - [{f.severity}]{where} {f.text}")
            if ev.raw:
                block += ["", _quote(ev.raw[:2000])]
        elif isinstance(ev, DecisionProposed):
            block = log.add(ev.round, f"Composer proposes **{ev.action}** — {ev.rationale}")
            if ev.commit_message:
                block += ["", _quote(ev.commit_message)]
            if ev.brief:
                block += ["", "Fix brief:", "", _quote(ev.brief)]
        elif isinstance(ev, GateOpened):
            what = f"Gate {ev.gate} ({ev.gate_kind}): approve would {ev.proposal}"
            if ev.split:
                what += "; the reviewers disagree"
            log.gates[ev.gate] = log.add(ev.round, f"- {what} — _not answered_")
        elif isinstance(ev, HumanDecision):
            self._answer(log, ev, gate)
        elif isinstance(ev, Merged):
            how = "fast-forward" if ev.fast_forward else f"merge commit `{ev.merge_sha[:10]}`"
            log.add(log.current, f"- merged `{ev.sha[:10]}` into `{ev.base_branch}` ({how})")
        elif isinstance(ev, PrClosed):
            why = f": {ev.reason}" if ev.reason else ""
            log.add(log.current, f"- closed **{ev.outcome}**{why}")
        elif isinstance(ev, (Warn, Error)):
            text = ev.message if isinstance(ev, Warn) else f"{ev.where}: {ev.message}"
            log.add(log.current, f"- {'warning' if isinstance(ev, Warn) else 'error'}: {text}")

    def _finished(self, log: _PrLog, ev: DispatchFinished) -> None:
        d = self.s.dispatches.get(ev.dispatch)
        n = (d.round if d is not None and d.round else 0) or log.current
        name = d.name if d is not None else ev.role
        key = (n, f"{ev.role}:{name}:{d.purpose if d is not None else ''}")
        attempt = log.attempts.get(key, 1)
        model = f"`{d.backend}:{d.model}`" if d is not None and (d.backend or d.model) else ""
        who = {"writer": "Writer", "composer": "Composer", "reviewer": f"Reviewer {name}"}[ev.role]
        purpose = f" ({d.purpose})" if d is not None and d.purpose and ev.role == "composer" else ""
        nth = f", attempt {attempt}" if attempt > 1 else ""
        status = ev.status if ev.status == "ok" else f"**{ev.status}**"
        took = f"{ev.elapsed_s:.1f} s, {_tok(ev.usage.total)} tokens"
        line = f"- {who}{purpose} {model}{nth}: {status} after {took}"
        if ev.error:
            line += f" — {ev.error}"
        block = log.add(n, line)
        if ev.role == "writer" and ev.final_text:
            block += ["", _quote(ev.final_text)]

    def _answer(self, log: _PrLog, ev: HumanDecision, gate: GateOpened | None) -> None:
        what = ev.answer + (f" {ev.action}" if ev.action else "")
        edited = " with edited text" if ev.text else ""
        line = f"answered **{what}**{edited} by {answered_by(ev.by)} at {_when(ev.t)}"
        block = log.gates.get(ev.gate)
        if block is None:  # an answer to a gate the journal does not show opening
            block = log.add(
                gate.round if gate is not None else log.current, f"- Gate {ev.gate} — _not answered_"
            )
        block[0] = block[0].replace("_not answered_", line)
        if ev.text:
            block += ["", _quote(ev.text)]


def markdown(
    events: Iterable[Event],
    pricing: Mapping[str, Pricing] | None = None,
    *,
    event_count: int | None = None,
    owner_gone: bool = False,
) -> str:
    """The audit report. ``event_count``: how many events the session has, when ``events``
    leaves some out (an export skips the streamed output, which the report never shows)."""
    walk = _Walk()
    for ev in events:
        walk.apply(ev)
    s = walk.s
    if owner_gone:  # its process died without finishing it: unfinished, open PRs interrupted
        s.mark_owner_gone()
    out = [f"# cockpit session {s.id}", ""]
    out.append(f"- repository: `{s.repo}`, base branch `{s.base_branch}` at `{s.base_sha[:10]}`")
    out.append(
        f"- started {_when(s.started_at)}, finished {_when(s.finished_at)}, "
        f"status **{s.status}**{f' ({s.finish_reason})' if s.finish_reason else ''}"
    )
    gates = "--auto-approve" if s.auto_approve else "a human at the cockpit"
    out.append(
        f"- wall time {s.elapsed_s(s.last_t):.1f} s; {event_count or s.events} events; "
        f"gates answered by {gates}"
    )
    if s.backends:
        out.append("- backends: " + ", ".join(f"{k} `{v}`" for k, v in s.backends.items()))
    out += [
        "",
        "## Usage",
        "",
        "| role | input | cached | output | reasoning |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for role in ROLES:
        u = s.usage[role]
        out.append(
            f"| {role} | {_tok(u.input_tokens)} | {_tok(u.cached_input_tokens)} | "
            f"{_tok(u.output_tokens)} | {_tok(u.reasoning_tokens)} |"
        )
    if pricing:
        costs = session_costs(s, pricing)
        line = f"Cost: {fmt_money(costs.total)}"
        if costs.unpriced:
            line += f" (unpriced: {', '.join(sorted(costs.unpriced))})"
        out += ["", line]
    for w in s.warnings:
        if w.pr is None:
            out += ["", f"**Warning:** {w.message}"]
    if s.prs:
        out += ["", "## Timeline", "", mermaid_gantt(s)]
    for n, pr in sorted(s.prs.items()):
        out += ["", f"## PR {n}: {pr.title}", ""]
        solo = ", solo (no review)" if pr.solo else ""
        out.append(
            f"**{pr.outcome or pr.status}** after {pr.round} round(s){solo}; branch `{pr.branch}`; "
            f"{pr.spent_s(s.last_t):.1f} s"
        )
        if pr.reason:
            out.append(f"\nReason: {pr.reason}")
        if pr.merged_sha:
            out.append(f"\nMerged as `{pr.merged_sha[:10]}`.")
        t = pr.usage
        out.append(
            "\nTokens (in / out): "
            + ", ".join(
                f"{role} {_tok(t[role].input_tokens)} / {_tok(t[role].output_tokens)}" for role in ROLES
            )
        )
        out += ["", "Task:", "", _quote(pr.task)]
        log = walk.prs.get(n, _PrLog())
        for rn in log.order:
            r = log.rounds[rn]
            title = (
                f"### Round {rn}" + (f" ({r.reason})" if r.reason else "")
                if rn
                else "### Before the first round"
            )
            out += ["", title]
            for block in r.items:
                out += ["", *block]
    out += _digest_section(s)
    return "\n".join(out) + "\n"


def _digest_section(s: SessionState) -> list[str]:
    """The composer's memory as the session left it: what its next call would have carried."""
    if s.digest is None:
        return []
    d = s.digest
    who = "the composer" if d.source == "composer" else "cockpit (the composer gave none)"
    out = ["", "## Composer memory at the end", ""]
    if s.goal:
        out += ["Goal:", "", _quote(s.goal), ""]
    out.append(f"Digest after PR {d.pr}, written by {who}; {counts(s)}:")
    return [*out, "", _quote(d.text)]
