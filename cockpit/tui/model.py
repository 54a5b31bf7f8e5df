"""The view model: the reducer's SessionState plus the streamed text the reducer does not keep.

``SessionState`` (cockpit/state.py) is the one model of PRs, rounds, verdicts, gates and usage;
every event is folded through it first. The reducer keeps no stream text, so this module adds
only that, bounded: a writer transcript per PR, the tail of each reviewer's stream, and the
composer's current document per PR. ``apply`` also records what changed, so the screen redraws
only those parts, at most once per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.events import (
    CommitSeen,
    DecisionProposed,
    DigestUpdated,
    DispatchFinished,
    DispatchOutput,
    DispatchStarted,
    Error,
    Event,
    GateOpened,
    HumanDecision,
    InterruptRequested,
    Merged,
    PrClosed,
    PrOpened,
    RoundStarted,
    SessionFinished,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    VerdictParsed,
    Warn,
    WorktreeCreated,
)
from cockpit.fmt import fmt_count, fmt_duration, fmt_usage
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.transcript import Transcript

MAX_STREAM_CHARS = 16_000  # a reviewer's stream tail kept for its card
MAX_DOC_CHARS = 64_000  # a composer document (briefs and decisions are small)
COMMAND_OUTPUT_LINES = 12  # lines of a command's output kept in the writer transcript
KEEP_CLOSED = 8  # closed PRs whose whole transcript (up to its cap) is kept
CLOSED_LINES = 400  # what older closed PRs keep: the journal has the rest
CLOSED_DOC_CHARS = 4_000  # what their composer document keeps

# Events that move the "latest activity" a following view jumps to (stream output does not,
# unless the followed PR is idle: two concurrent writers must not make the view flicker).
_FOCUS_EVENTS = (
    DispatchStarted,
    RoundStarted,
    GateOpened,
    CommitSeen,
    DecisionProposed,
    Merged,
)


@dataclass
class StreamText:
    """The tail of one dispatch's streamed text."""

    text: str = ""
    thinking: str = ""
    chars: int = 0

    def add(self, channel: str, piece: str) -> None:
        self.chars += len(piece)
        if channel == "reasoning":
            self.thinking = (self.thinking + piece)[-MAX_STREAM_CHARS:]
        else:
            self.text = (self.text + piece)[-MAX_STREAM_CHARS:]


@dataclass
class ComposerDoc:
    """What the composer pane shows for a PR; ``key`` changes when a new document starts."""

    key: str
    title: str
    text: str = ""
    streaming: bool = False
    tool_open: bool = False

    def add(self, piece: str) -> None:
        if len(self.text) < MAX_DOC_CHARS:
            self.text = (self.text + piece)[:MAX_DOC_CHARS]


@dataclass
class Dirty:
    header: bool = False
    prs: bool = False  # the PR list
    gates: bool = False  # the set of open gates (banner, footer keys)
    writer: set[int] = field(default_factory=set)
    reviewers: set[int] = field(default_factory=set)
    composer: set[int] = field(default_factory=set)

    def any(self) -> bool:
        return self.header or self.prs or self.gates or bool(self.writer or self.reviewers or self.composer)


def fence(text: str, info: str = "text") -> str:
    """``text`` in a fenced block whose fence cannot occur inside it."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}\n"


class ViewModel:
    def __init__(self) -> None:
        self.state = SessionState()
        self.transcripts: dict[int, Transcript] = {}
        self.streams: dict[str, StreamText] = {}
        self.composer: dict[int, ComposerDoc] = {}
        self.focus_pr: int | None = None
        self._running: dict[int, set[str]] = {}  # running dispatch ids per PR
        self._items: dict[str, str] = {}  # the stream item (codex message id) each running writer is in
        self._answered_gate: GateOpened | None = None  # the gate the event being applied answers
        self.notices: list[tuple[str, str]] = []  # (severity, text) for toasts
        self.dirty = Dirty(header=True, prs=True, gates=True)
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            SessionStarted: self._session_started,
            SessionFinished: self._session_finished,
            SessionPaused: self._paused,
            SessionResumed: self._paused,
            Warn: self._warning,
            Error: self._error,
            PrOpened: self._pr_opened,
            WorktreeCreated: self._worktree,
            RoundStarted: self._round,
            DispatchStarted: self._dispatch_started,
            DispatchOutput: self._output,
            DispatchFinished: self._dispatch_finished,
            CommitSeen: self._commit,
            Merged: self._merged,
            PrClosed: self._closed,
            DecisionProposed: self._decision,
            DigestUpdated: self._digest,
            GateOpened: self._gate,
            HumanDecision: self._answer,
            InterruptRequested: self._interrupt,
            VerdictParsed: self._verdict,
        }

    # --- queries -------------------------------------------------------------------------

    def transcript(self, pr: int) -> Transcript:
        t = self.transcripts.get(pr)
        if t is None:
            t = self.transcripts[pr] = Transcript()
        return t

    def take_dirty(self) -> Dirty:
        d, self.dirty = self.dirty, Dirty()
        return d

    def take_notices(self) -> list[tuple[str, str]]:
        n, self.notices = self.notices, []
        return n

    # --- the fold ------------------------------------------------------------------------

    def apply(self, ev: Event) -> None:
        # An answer's text is shown by the kind of gate it answered, which the fold forgets.
        self._answered_gate = self.state.gates.get(ev.gate) if isinstance(ev, HumanDecision) else None
        self.state.apply(ev)
        if ev.pr is not None and self._moves_focus(ev, ev.pr):
            self.focus_pr = ev.pr
        if isinstance(ev, (HumanDecision, PrClosed)):
            self._focus_waiting_gate()
        handler = self._handlers.get(type(ev))
        if handler is not None:
            handler(ev)

    def _focus_waiting_gate(self) -> None:
        """Once the focused PR no longer waits for you, the oldest PR that does takes the view."""
        focused = self.state.prs.get(self.focus_pr) if self.focus_pr is not None else None
        if focused is not None and focused.gate is not None:
            return
        waiting = [g for g in self.state.waiting_for_human() if g.pr is not None]
        if waiting:
            self.focus_pr = waiting[0].pr

    def _moves_focus(self, ev: Event, pr: int) -> bool:
        focused = self.state.prs.get(self.focus_pr) if self.focus_pr is not None else None
        if focused is not None and focused.gate is not None and pr != focused.n:
            return False  # a PR waiting for you keeps the view until its gate is answered
        if isinstance(ev, _FOCUS_EVENTS):
            return True
        if isinstance(ev, DispatchOutput):
            return self.focus_pr is None or not self._running.get(self.focus_pr)
        return False

    def _dispatch_of(self, did: str) -> tuple[str, int | None]:
        d = self.state.dispatches.get(did)
        return (d.role, d.pr) if d is not None else ("", None)

    # --- session -------------------------------------------------------------------------

    def _session_started(self, ev: SessionStarted) -> None:
        self.dirty.header = True

    def _digest(self, ev: DigestUpdated) -> None:
        self.dirty.header = True  # the header's context gauge and the Composer pane's memory

    def _session_finished(self, ev: SessionFinished) -> None:
        self._running.clear()
        self.dirty.header = self.dirty.prs = self.dirty.gates = True
        why = f": {ev.reason}" if ev.reason else ""
        severity = "information" if ev.status == "completed" else "warning"
        self.notices.append((severity, f"session {ev.status}{why}"))

    def _paused(self, ev: Event) -> None:
        self._header_only(ev)
        self.dirty.prs = True  # the list says which PRs wait because of the pause

    def _header_only(self, ev: Event) -> None:
        self.dirty.header = True
        self.dirty.gates = True  # the footer's pause / resume label

    def _warning(self, ev: Warn) -> None:
        if ev.pr is not None:
            self.transcript(ev.pr).line(("⚠ ", ".stream--warning"), (ev.message, ".stream--warning"))
            self.dirty.writer.add(ev.pr)
        self.notices.append(("warning", sanitize(ev.message)))

    def _error(self, ev: Error) -> None:
        if ev.pr is not None:
            self.transcript(ev.pr).line((f"✗ {ev.where}: ", ".stream--error"), (ev.message, ".stream--error"))
            self.dirty.writer.add(ev.pr)
        self.notices.append(("error", f"{ev.where}: {sanitize(ev.message)}"))

    # --- PRs -----------------------------------------------------------------------------

    def _pr_opened(self, ev: PrOpened) -> None:
        assert ev.pr is not None
        t = self.transcript(ev.pr)
        t.line((f"PR {ev.pr} · ", ".stream--meta"), (ev.title, ".stream--title"))
        for ln in sanitize(ev.task).strip().splitlines()[:6]:
            t.line((ln, ".stream--meta"))
        if ev.added_by == "human":
            t.line(("added by you", ".stream--meta"))
        self.dirty.prs = True
        self.dirty.writer.add(ev.pr)

    def _worktree(self, ev: WorktreeCreated) -> None:
        assert ev.pr is not None
        folder = ev.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        self.transcript(ev.pr).line((f"worktree …/{folder} · base {ev.base_sha[:8]}", ".stream--meta"))
        self.dirty.writer.add(ev.pr)

    def _round(self, ev: RoundStarted) -> None:
        assert ev.pr is not None
        self._drop_streams(ev.pr, before_round=ev.round)
        t = self.transcript(ev.pr)
        t.close()
        t.line(("", ""))
        t.line((f"── round {ev.round} · {ev.reason} ", ".stream--round"), ("─" * 24, ".stream--round"))
        self.dirty.prs = True
        self.dirty.writer.add(ev.pr)
        self.dirty.reviewers.add(ev.pr)

    def _closed(self, ev: PrClosed) -> None:
        assert ev.pr is not None
        style = ".stream--ok" if ev.outcome == "merged" else ".stream--error"
        if ev.outcome in ("abandoned", "skipped"):
            style = ".stream--warning"
        why = f": {ev.reason}" if ev.reason else ""
        self.transcript(ev.pr).line((f"■ closed {ev.outcome}", style), (why, ".stream--meta"))
        self._drop_streams(ev.pr)
        self._shrink_closed()
        self.dirty.prs = self.dirty.gates = self.dirty.header = True
        self.dirty.writer.add(ev.pr)

    def _shrink_closed(self) -> None:
        """Memory stays bounded over a long session: PRs closed long ago keep a short tail."""
        closed = sorted(
            (p for p in self.state.prs.values() if p.closed and p.n in self.transcripts),
            key=lambda p: p.closed_at or 0.0,
        )
        for pr in closed[:-KEEP_CLOSED]:
            self.transcripts[pr.n].shrink(CLOSED_LINES)
            doc = self.composer.get(pr.n)
            if doc is not None and len(doc.text) > CLOSED_DOC_CHARS:
                doc.text = doc.text[:CLOSED_DOC_CHARS] + "\n\n*… cut: the journal has the rest.*\n"

    def _drop_streams(self, pr: int, before_round: int | None = None) -> None:
        """Reviewer stream tails serve running cards; a new round or a closed PR needs none of them."""
        p = self.state.prs.get(pr)
        for did in p.dispatches if p is not None else ():
            d = self.state.dispatches.get(did)
            if d is not None and d.role == "reviewer" and (before_round is None or d.round < before_round):
                self.streams.pop(did, None)

    def _merged(self, ev: Merged) -> None:
        assert ev.pr is not None
        how = "fast-forward" if ev.fast_forward else f"merge commit {ev.merge_sha[:8]}"
        self.transcript(ev.pr).line((f"✓ merged {ev.sha[:8]} into {ev.base_branch} ({how})", ".stream--ok"))
        self.dirty.prs = True
        self.dirty.writer.add(ev.pr)

    # --- dispatches ----------------------------------------------------------------------

    def _dispatch_started(self, ev: DispatchStarted) -> None:
        self.dirty.prs = True
        if ev.pr is None:
            return
        self._running.setdefault(ev.pr, set()).add(ev.dispatch)
        if ev.role == "writer":
            self.transcript(ev.pr).line(
                ("▸ writer ", ".stream--writer"),
                (f"{ev.backend}:{ev.model} · {ev.dispatch}", ".stream--meta"),
            )
            self.dirty.writer.add(ev.pr)
        elif ev.role == "reviewer":
            self.streams[ev.dispatch] = StreamText()
            self.dirty.reviewers.add(ev.pr)
        elif ev.role == "composer":
            title = "Brief" if ev.purpose == "brief" else "Decision"
            self.composer[ev.pr] = ComposerDoc(ev.dispatch, f"{title} · round {ev.round}", streaming=True)
            self.dirty.composer.add(ev.pr)

    def _output(self, ev: DispatchOutput) -> None:
        role, pr = self._dispatch_of(ev.dispatch)
        pr = ev.pr if ev.pr is not None else pr
        if pr is None:
            return
        if role == "writer":
            self._writer_output(self.transcript(pr), ev)
            self.dirty.writer.add(pr)
        elif role == "reviewer":
            self.streams.setdefault(ev.dispatch, StreamText()).add(ev.channel, ev.text)
            self.dirty.reviewers.add(pr)
        elif role == "composer":
            doc = self.composer.get(pr)
            if doc is None or doc.key != ev.dispatch:
                return
            if ev.channel == "status":
                if not doc.tool_open:
                    doc.add(f"\n\n*{sanitize(ev.text).strip()}*\n")
            elif ev.meta.get("tool"):
                if not doc.tool_open:
                    doc.add("\n\n```json\n")
                    doc.tool_open = True
                doc.add(sanitize(ev.text))
            elif ev.channel == "text":
                doc.add(sanitize(ev.text))
            else:
                return
            self.dirty.composer.add(pr)

    def _writer_output(self, t: Transcript, ev: DispatchOutput) -> None:
        ch, meta = ev.channel, ev.meta
        item = meta.get("id")
        new_item = isinstance(item, str) and item and self._items.get(ev.dispatch) != item
        if ch in ("text", "reasoning") and new_item:
            t.close()  # a new message or reasoning item starts on its own line
            self._items[ev.dispatch] = str(item)
        if ch == "text":
            t.write(ev.text, ".stream--text")
        elif ch == "reasoning":
            t.write(ev.text, ".stream--reasoning")
        elif ch == "stderr":
            t.write(ev.text, ".stream--stderr")
        elif ch == "command":
            t.line(("$ ", ".stream--prompt"), (ev.text.strip(), ".stream--command"))
        elif ch == "command_output":
            t.block(ev.text, ".stream--output", COMMAND_OUTPUT_LINES)
            code = meta.get("exit_code")
            if isinstance(code, int) and not isinstance(code, bool):
                if code == 0:
                    t.line(("  ✓ exit 0", ".stream--ok"))
                else:
                    t.line((f"  ✗ exit {code}", ".stream--error"))
        elif ch == "file_change":
            changes = meta.get("changes")
            items = (
                changes if isinstance(changes, list) and changes else [{"path": ev.text, "kind": "update"}]
            )
            for c in items:
                if not isinstance(c, dict):
                    continue
                kind = str(c.get("kind", "update"))
                glyph = {"add": "+", "delete": "−", "update": "~"}.get(kind, "~")
                t.line((f"✎ {glyph} ", ".stream--file"), (str(c.get("path", "?")), ".stream--file"))
        elif ch == "plan":
            todo = meta.get("items")
            if isinstance(todo, list) and todo:
                for it in todo:
                    if isinstance(it, dict):
                        box = "☑" if it.get("completed") else "☐"
                        t.line((f"{box} ", ".stream--plan"), (str(it.get("text", "")), ".stream--plan"))
            else:
                t.write(ev.text, ".stream--plan")
        else:  # status (the channel is a Literal: nothing else decodes)
            level = meta.get("level")
            style = (
                ".stream--error"
                if level == "error"
                else (".stream--warning" if level == "warning" else ".stream--meta")
            )
            t.line(("· ", style), (ev.text.strip(), style))

    def _dispatch_finished(self, ev: DispatchFinished) -> None:
        self.dirty.header = self.dirty.prs = True
        _, pr = self._dispatch_of(ev.dispatch)
        pr = ev.pr if ev.pr is not None else pr
        if pr is None:
            return
        self._running.get(pr, set()).discard(ev.dispatch)
        self._items.pop(ev.dispatch, None)
        took = fmt_duration(ev.elapsed_s)
        if ev.role == "writer":
            t = self.transcript(pr)
            t.close()
            if ev.status == "ok":
                t.line(
                    (f"✓ writer done in {took}", ".stream--ok"),
                    (f" · {fmt_usage(ev.usage)}", ".stream--meta"),
                )
            else:
                t.line(
                    (f"✗ writer {ev.status} after {took}", ".stream--error"),
                    (f": {ev.error}", ".stream--error"),
                )
            self.dirty.writer.add(pr)
        elif ev.role == "reviewer":
            self.dirty.reviewers.add(pr)
        elif ev.role == "composer":
            doc = self.composer.get(pr)
            if doc is not None and doc.key == ev.dispatch:
                if doc.tool_open:
                    doc.add("\n```\n")
                    doc.tool_open = False
                if ev.status != "ok":
                    doc.add(f"\n\n**{ev.status}**: {sanitize(ev.error)}\n")
                doc.streaming = False
                self.dirty.composer.add(pr)

    def _commit(self, ev: CommitSeen) -> None:
        assert ev.pr is not None
        subject = ev.message.strip().splitlines()[0] if ev.message.strip() else "(no message)"
        n = len(ev.files)
        self.transcript(ev.pr).line(
            ("● commit ", ".stream--commit"),
            (ev.sha[:8], ".stream--sha"),
            ("  ", ""),
            (subject, ".stream--commit"),
            (f"  +{ev.insertions}", ".stream--ok"),
            (f" −{ev.deletions}", ".stream--error"),
            (f" · {fmt_count(n, 'file')}", ".stream--meta"),
            (" (rewritten)" if ev.rewritten else "", ".stream--warning"),
        )
        self.dirty.writer.add(ev.pr)
        self.dirty.prs = True

    def _interrupt(self, ev: InterruptRequested) -> None:
        if ev.pr is None:
            return
        self.transcript(ev.pr).line((f"■ interrupt requested by {ev.by}", ".stream--error"))
        self.dirty.writer.add(ev.pr)

    # --- decisions and gates -------------------------------------------------------------

    def _decision(self, ev: DecisionProposed) -> None:
        assert ev.pr is not None
        parts = [f"### Proposes {ev.action.upper()}\n"]
        if ev.rationale:
            parts.append(sanitize(ev.rationale).strip() + "\n")
        if ev.action == "merge" and ev.commit_message:
            parts.append("**Commit message**\n")
            parts.append(fence(sanitize(ev.commit_message)))
        if ev.action == "fix" and ev.brief:
            parts.append("**Fix brief**\n")
            parts.append(sanitize(ev.brief).strip() + "\n")
        self.composer[ev.pr] = ComposerDoc(
            f"decision-{ev.seq}", f"Decision · round {ev.round}", "\n".join(parts)
        )
        self.dirty.composer.add(ev.pr)
        self.dirty.reviewers.add(ev.pr)

    def _verdict(self, ev: VerdictParsed) -> None:
        if ev.pr is not None:
            self.dirty.reviewers.add(ev.pr)
        self.dirty.prs = self.dirty.gates = True  # the badges in the list and a split on the banner

    def _gate(self, ev: GateOpened) -> None:
        self.dirty.gates = self.dirty.prs = True
        if ev.pr is not None and ev.gate_kind in ("failure", "conflict", "moved", "tamper"):
            self.transcript(ev.pr).line(
                ("◆ waiting for you: ", ".stream--warning"), (ev.summary, ".stream--warning")
            )
            self.dirty.writer.add(ev.pr)
        if ev.pr is not None:
            self.dirty.reviewers.add(ev.pr)

    def _answer(self, ev: HumanDecision) -> None:
        self.dirty.gates = self.dirty.prs = True
        pr = ev.pr
        if pr is None:
            return
        what = ev.answer + (f" {ev.action}" if ev.action else "")
        edited = " with edited text" if ev.text else ""
        self.transcript(pr).line((f"↳ {what}{edited} (by {ev.by})", ".stream--answer"))
        self.dirty.writer.add(pr)
        if ev.text:
            body = sanitize(ev.text)
            gate = self._answered_gate
            is_brief = (ev.answer == "override" and ev.action == "fix") or (
                ev.answer == "edit"
                and gate is not None
                and (gate.gate_kind in ("brief", "failure", "conflict") or gate.proposal == "fix")
            )
            shown = body.strip() + "\n" if is_brief else fence(body)
            self.composer[pr] = ComposerDoc(
                f"answer-{ev.seq}", f"Your {ev.answer}", f"*Edited by you*\n\n{shown}"
            )
            self.dirty.composer.add(pr)
