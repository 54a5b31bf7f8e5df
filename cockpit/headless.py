"""The headless view: one readable line per step, and a summary table at the end.

It folds the same events as the TUI through the same reducer; it only prints differently.
With ``verbose`` it also prints the models' streamed text (sanitized: model output is never
interpreted by the terminal).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO, TypeVar

from cockpit.config import Pricing
from cockpit.engine.controls import GateAnswer, LiveSession
from cockpit.events import (
    CommitSeen,
    DecisionProposed,
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
    SessionReopened,
    SessionResumed,
    SessionStarted,
    Tamper,
    VerdictParsed,
    Warn,
    WorktreeCreated,
)
from cockpit.fmt import fmt_count, fmt_duration, fmt_money, fmt_tokens, fmt_usage
from cockpit.pricing import session_costs
from cockpit.state import SessionState
from cockpit.text import cut_lines, sanitize

T = TypeVar("T")

_COLORS = {
    "dim": "2",
    "bold": "1",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}
_ROLE_COLOR = {"composer": "magenta", "writer": "cyan", "reviewer": "yellow"}
_VERDICT_COLOR = {"approve": "green", "changes": "yellow", "block": "red", "unparsed": "magenta"}
_OUTCOME_COLOR = {
    "merged": "green",
    "abandoned": "yellow",
    "failed": "red",
    "skipped": "dim",
    "interrupted": "red",
}


def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class HeadlessPrinter:
    """Subscribe ``printer.on_event`` to a bus; call ``print_summary`` at the end."""

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        color: bool | None = None,
        verbose: bool = False,
        pricing: Mapping[str, Pricing] | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.color = use_color(self.out) if color is None else color
        self.verbose = verbose
        self.pricing = dict(pricing or {})
        self.state = SessionState()
        self._handlers: dict[type[Event], Callable[[Any], str | None]] = {
            SessionStarted: self._session_started,
            SessionFinished: self._session_finished,
            SessionPaused: lambda e: self.c("dim", "session paused: no new dispatches start"),
            SessionResumed: lambda e: self.c("dim", "session resumed"),
            SessionReopened: lambda e: self.c(
                "yellow",
                f"resumed after its process (pid {e.previous_pid} on {e.previous_host or '?'}) died"
                + "".join(f"\n  {sanitize(line)}" for line in e.repairs),
            ),
            PrOpened: self._pr_opened,
            WorktreeCreated: self._worktree,
            RoundStarted: self._round,
            DispatchStarted: self._dispatch_started,
            DispatchOutput: self._output,
            DispatchFinished: self._dispatch_finished,
            CommitSeen: self._commit,
            VerdictParsed: self._verdict,
            DecisionProposed: self._decision,
            GateOpened: self._gate,
            HumanDecision: self._answer,
            InterruptRequested: lambda e: self.c("red", f"interrupt requested for {e.dispatch}"),
            Merged: self._merged,
            Tamper: lambda e: self.c(
                "red",
                f"TAMPER ({e.found}), {'restored' if e.restored else 'NOT fully restored'}: "
                + sanitize("; ".join([*e.changes, *e.problems])),
            ),
            PrClosed: self._closed,
            Warn: lambda e: self.c("yellow", f"warning: {sanitize(e.message)}"),
            Error: lambda e: self.c("red", f"error ({e.where}): {sanitize(e.message)}"),
        }

    # --- output ----------------------------------------------------------------------------

    def c(self, color: str, text: str) -> str:
        if not self.color or color not in _COLORS:
            return text
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m"

    def write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def on_event(self, ev: Event) -> None:
        self.state.apply(ev)
        handler = self._handlers.get(type(ev))
        if handler is None:
            return
        text = handler(ev)
        if text is None:
            return
        elapsed = ev.t - self.state.started_at if self.state.started_at else 0.0
        stamp = self.c("dim", f"{elapsed:7.1f}s")
        who = self.c("bold", f"PR{ev.pr:<2}") if ev.pr is not None else "    "
        for i, line in enumerate(text.splitlines() or [""]):
            self.write(f"{stamp} {who} {line}" if i == 0 else f"{' ' * 8} {' ' * 4} {line}")

    def _dispatch(self, did: str) -> tuple[str, str]:
        d = self.state.dispatches.get(did)
        if d is None:
            return "dispatch", "dim"
        label = d.name if d.role == "reviewer" else d.role
        return label, _ROLE_COLOR.get(d.role, "dim")

    # --- per event -------------------------------------------------------------------------

    def _session_started(self, e: SessionStarted) -> str:
        roles = ", ".join(f"{k} {v}" for k, v in e.backends.items())
        auto = " (auto-approve)" if e.auto_approve else ""
        return (
            self.c("bold", f"session {e.session}")
            + f" on {e.repo} ({e.base_branch} @ {e.base_sha[:8]}){auto}"
            + "\n"
            + self.c("dim", roles)
        )

    def _session_finished(self, e: SessionFinished) -> str:
        color = {"completed": "green", "failed": "red", "interrupted": "red"}.get(e.status, "dim")
        why = f": {e.reason}" if e.reason else ""
        return self.c(color, f"session {e.status}{why}")

    def _pr_opened(self, e: PrOpened) -> str:
        solo = " (solo: no review)" if e.solo else ""
        by = " (added by a human)" if e.added_by == "human" else ""
        return f"{self.c('bold', sanitize(e.title))}{solo}{by}"

    def _worktree(self, e: WorktreeCreated) -> str:
        return self.c("dim", f"worktree {e.path} on {e.branch} from {e.base_sha[:8]}")

    def _round(self, e: RoundStarted) -> str:
        return self.c("bold", f"round {e.round}") + self.c("dim", f" ({e.reason})")

    def _dispatch_started(self, e: DispatchStarted) -> str:
        label, color = self._dispatch(e.dispatch)
        what = {
            "brief": "composing the brief",
            "write": "writing",
            "review": "reviewing",
            "decide": "deciding",
        }.get(e.purpose, e.purpose)
        return f"{self.c(color, label)} ▸ {what} ({e.backend}:{e.model})"

    def _output(self, e: DispatchOutput) -> str | None:
        label, color = self._dispatch(e.dispatch)
        if e.channel == "command":
            return f"{self.c(color, label)} $ {sanitize(e.text).strip()}"
        if e.channel == "command_output":
            code = e.meta.get("exit_code")
            if code not in (None, 0):
                return f"{self.c(color, label)} " + self.c("red", f"exit {code}")
            return None if not self.verbose else self.c("dim", sanitize(cut_lines(e.text)).rstrip())
        if e.channel == "file_change":
            changes = e.meta.get("changes") or [{"path": e.text, "kind": "update"}]
            listed = ", ".join(
                f"{c.get('kind', '?')} {c.get('path', '?')}" for c in changes if isinstance(c, dict)
            )
            return f"{self.c(color, label)} ✎ {sanitize(listed)}"
        if not self.verbose:
            return None
        text = sanitize(cut_lines(e.text)).rstrip()
        if not text:
            return None
        return self.c("dim", text) if e.channel == "reasoning" else text

    def _dispatch_finished(self, e: DispatchFinished) -> str:
        label, color = self._dispatch(e.dispatch)
        took = fmt_duration(e.elapsed_s)
        if e.status == "ok":
            return f"{self.c(color, label)} ✓ done in {took} ({fmt_usage(e.usage)})"
        return f"{self.c(color, label)} " + self.c("red", f"✗ {e.status} after {took}: {sanitize(e.error)}")

    def _commit(self, e: CommitSeen) -> str:
        subject = sanitize(e.message.splitlines()[0] if e.message else "")
        rewritten = self.c("yellow", " (rewritten)") if e.rewritten else ""
        return (
            f"commit {self.c('bold', e.sha[:8])} {subject} "
            f"({fmt_count(len(e.files), 'file')}, +{e.insertions} −{e.deletions}){rewritten}"
        )

    def _verdict(self, e: VerdictParsed) -> str:
        badge = self.c(_VERDICT_COLOR.get(e.verdict, "dim"), e.verdict.upper())
        line = f"{self.c('yellow', e.reviewer)} {badge}"
        if e.summary:
            line += f" — {sanitize(e.summary)}"
        for f in e.findings:
            where = (
                f" {f.file}:{f.line}" if f.file and f.line is not None else (f" {f.file}" if f.file else "")
            )
            line += f"\n  [{f.severity}]{sanitize(where)} {sanitize(f.text)}"
        if e.verdict == "unparsed":
            line += "\n  " + self.c("dim", sanitize(e.raw[:300]))
        return line

    def _decision(self, e: DecisionProposed) -> str:
        line = f"{self.c('magenta', 'composer')} proposes {self.c('bold', e.action.upper())}"
        if e.rationale:
            line += f": {sanitize(e.rationale)}"
        return line

    def _gate(self, e: GateOpened) -> str:
        split = self.c("red", " SPLIT VERDICT") if e.split else ""
        return (
            self.c("bold", f"⏸ gate {e.gate} ({e.gate_kind})")
            + f" → {e.proposal}{split}: {sanitize(e.summary)}"
        )

    def _answer(self, e: HumanDecision) -> str:
        extra = f" {e.action}" if e.action else ""
        edited = " (text edited)" if e.text else ""
        return f"↳ {e.answer}{extra}{edited} by {e.by}"

    def _merged(self, e: Merged) -> str:
        how = "fast-forward" if e.fast_forward else f"merge commit {e.merge_sha[:8]}"
        return self.c("green", f"merged {e.sha[:8]} into {e.base_branch} ({how})")

    def _closed(self, e: PrClosed) -> str:
        color = _OUTCOME_COLOR.get(e.outcome, "dim")
        why = f": {sanitize(e.reason)}" if e.reason else ""
        return self.c(color, f"closed {e.outcome.upper()}{why}")

    # --- summary ---------------------------------------------------------------------------

    def print_summary(self, state: SessionState | None = None) -> None:
        for line in summary_lines(state or self.state, color=self.c, pricing=self.pricing):
            self.write(line)


def summary_lines(
    s: SessionState,
    color: Callable[[str, str], str] = lambda c, t: t,
    pricing: Mapping[str, Pricing] | None = None,
) -> list[str]:
    """The per-PR table: outcome, rounds, commits, tokens per role (in+out), wall time, cost."""
    costs = session_costs(s, pricing) if pricing else None
    headers = ["PR", "title", "outcome", "rounds", "commits", "composer", "writer", "reviewers", "wall"]
    rows: list[list[str]] = []
    for pr in sorted(s.prs.values(), key=lambda p: p.n):
        rows.append(
            [
                str(pr.n),
                sanitize(pr.title)[:38],
                pr.outcome or pr.status,
                str(pr.round),
                str(len(pr.commits)),
                fmt_tokens(pr.usage["composer"].total),
                fmt_tokens(pr.usage["writer"].total),
                fmt_tokens(pr.usage["reviewer"].total),
                fmt_duration(pr.spent_s(s.last_t)),
            ]
        )
    rows.append(
        [
            "",
            "total",
            s.status,
            str(sum(p.round for p in s.prs.values())),
            str(sum(len(p.commits) for p in s.prs.values())),
            fmt_tokens(s.usage["composer"].total),
            fmt_tokens(s.usage["writer"].total),
            fmt_tokens(s.usage["reviewer"].total),
            fmt_duration(s.elapsed_s(s.last_t)),
        ]
    )
    if costs is not None:
        headers.append("cost")
        for r in rows[:-1]:
            r.append(fmt_money(costs.by_pr.get(int(r[0]), 0.0)) if costs.complete else "n/a")
        rows[-1].append(fmt_money(costs.total) if costs.complete else "n/a")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = {0, 3, 4, 5, 6, 7, 8, 9}

    def fmt(cells: list[str], outcome_color: str = "") -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        if outcome_color:
            padded[2] = color(outcome_color, padded[2])  # the outcome cell itself, never a title
        return "  ".join(padded)

    out = ["", color("bold", fmt(headers))]
    for r in rows[:-1]:
        out.append(fmt(r, _OUTCOME_COLOR.get(r[2], "")))
    out.append(color("dim", "-" * len(fmt(headers))))
    out.append(fmt(rows[-1]))
    if costs is not None:
        by_role = ", ".join(f"{role} {fmt_money(v)}" for role, v in sorted(costs.by_role.items()))
        line = f"cost: {fmt_money(costs.total)} ({by_role})" if by_role else f"cost: {fmt_money(costs.total)}"
        if costs.unpriced:
            line += f"; no price for {', '.join(sorted(costs.unpriced))} ([pricing] in cockpit.toml)"
        out.append(color("dim", line))
    composer_per_pr = [t for t in (s.composer_tokens(n) for n in s.prs) if t]
    if composer_per_pr:
        avg = sum(composer_per_pr) / len(composer_per_pr)
        out.append(
            color(
                "dim",
                f"composer tokens per PR (input + output): avg {avg:,.0f}, max {max(composer_per_pr):,} "
                f"(budget {s.composer_budget:,} tokens per PR)",
            )
        )
    return out


# The same letter for the same answer as in the cockpit (tests/tui/test_actions.py checks it);
# fail is a capital F, as f follows the latest PR in the cockpit.
_KEYS = {"a": "approve", "o": "override", "e": "edit", "r": "retry", "b": "abandon", "F": "fail", "s": "skip"}


def _edit_text(initial: str) -> str | None:
    """$EDITOR on a temp file when set, else one line typed at the prompt."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        line = input("new text (one line; empty keeps it): ").strip()
        return line or None
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(initial)
        path = f.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    finally:
        os.unlink(path)
    return text if text and text != initial.strip() else None


async def _on_daemon(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking terminal call (input, an editor) on a daemon thread.

    Not asyncio.to_thread: a session that stops while the prompt waits must not hang the exit
    (asyncio.run waits for its executor's threads, and input() never returns on its own).
    """
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        try:
            value, exc = fn(*args), None
        except BaseException as e:  # EOFError, OSError from the terminal
            value, exc = None, e
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, value, exc)

    threading.Thread(target=work, name="gate-prompt", daemon=True).start()
    return await fut


async def answer_gates_on_terminal(session: LiveSession, printer: HeadlessPrinter) -> None:
    """Headless without --auto-approve: ask at the terminal for each gate, in the order they open."""
    import asyncio

    from cockpit.engine.gates import GateError

    queue: asyncio.Queue[GateOpened] = asyncio.Queue()
    session.bus.subscribe(lambda ev: queue.put_nowait(ev) if isinstance(ev, GateOpened) else None)
    while True:
        gate = await queue.get()
        while gate.gate in {g.gate for g in session.open_gates()}:
            keys = " · ".join(f"{k} {v}" for k, v in _KEYS.items() if v in gate.options)
            if gate.text:
                printer.write(printer.c("dim", sanitize(gate.text)))
            raw = await _on_daemon(input, f"PR{gate.pr} {gate.gate_kind} → {gate.proposal}?  {keys}  > ")
            typed = raw.strip()[:1]
            answer = _KEYS.get(typed) or _KEYS.get(typed.lower()) if typed != "f" else None
            if answer is None or answer not in gate.options:
                printer.write(f"choose one of: {keys}")
                continue
            action, text = "", None
            if answer == "override":
                action = (await _on_daemon(input, "action (merge / fix / abandon): ")).strip().lower()
            if answer in ("edit", "override") and action != "abandon":
                text = await _on_daemon(_edit_text, gate.text)
                if answer == "edit" and text is None:
                    printer.write("nothing changed; gate still open")
                    continue
            try:
                session.answer(gate.gate, GateAnswer(answer, action=action, text=text))
            except GateError as exc:
                printer.write(printer.c("red", str(exc)))
                continue
            break


def closing_lines(s: SessionState, replay_command: str, *, per_pr: bool = True) -> list[str]:
    """What stays on the terminal once the cockpit has closed: the session, its PRs, how to replay.

    Printed after the live screen is gone (and after the headless table, with ``per_pr`` off,
    since the table already has each PR's outcome), so the id is never lost with the screen.
    """
    if not s.id:
        return []
    lines = [f"session {s.id}: {s.status}" + (f" ({sanitize(s.finish_reason)})" if s.finish_reason else "")]
    if per_pr:
        width = max((len(pr.outcome or pr.status) for pr in s.prs.values()), default=0)
        for pr in sorted(s.prs.values(), key=lambda p: p.n):
            line = f"  PR {pr.n}  {pr.outcome or pr.status:<{width}}  {sanitize(pr.title)}"
            if pr.worktree and not pr.worktree_removed and os.path.isdir(pr.worktree):
                line += f"  (worktree kept: {pr.worktree})"
            lines.append(line)
    lines.append(f"replay it: {replay_command}")
    return lines
