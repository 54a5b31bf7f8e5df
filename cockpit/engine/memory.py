"""The composer's memory of a session, as a pure function of the session's events.

A long session must not grow the composer's prompt: every call carries the session goal, a
digest of the session so far (at most ``MAX_DIGEST_WORDS``) and the last ``RECENT_PRS`` closed
PRs, nothing more. The composer keeps the digest current in its decision (the ``DIGEST:``
section, or the decide tool's ``digest`` field); when it gives none (or the PR closed another
way than it proposed) cockpit writes one itself, deterministically, from the closed PRs. Each
new digest is journaled as a ``digest_updated`` event, and everything here reads only the fold
of the journal (``SessionState``), so a replay, a resumed session or an export sees the memory
the composer saw.
"""

from __future__ import annotations

from collections import Counter

from cockpit.engine.prompts import (
    MAX_DIGEST_WORDS,
    RECENT_PRS,
    ThreadEntry,
    clip,
    clip_words,
    composer_memory,
    data_text,
    one_line,
    word_count,
)
from cockpit.events import DecisionProposed, DigestUpdated
from cockpit.fmt import fmt_count
from cockpit.state import PRState, SessionState

_AGREES = {"merge": "merged", "abandon": "abandoned"}  # a decision and the outcome it leads to
_ORDER = ("merged", "abandoned", "failed", "skipped", "interrupted")


def last_decision(pr: PRState) -> DecisionProposed | None:
    for n in sorted(pr.rounds, reverse=True):
        if pr.rounds[n].decision is not None:
            return pr.rounds[n].decision
    return None


def entry(pr: PRState) -> ThreadEntry:
    """How a closed PR is remembered: its outcome and one line of why or what."""
    decision = last_decision(pr)
    if pr.outcome == "merged" and pr.merge_message.strip():
        note = pr.merge_message.strip().splitlines()[0]
    elif decision is not None and decision.rationale.strip() and _AGREES.get(decision.action) == pr.outcome:
        note = clip(decision.rationale.strip().splitlines()[0], 160)
    else:
        note = pr.reason
    return ThreadEntry(pr.n, pr.title, pr.outcome or "closed", max(pr.round, 1), note)


def counts(state: SessionState) -> str:
    """``12 PRs closed: 9 merged, 2 abandoned, 1 skipped``: what every digest sits under."""
    by = Counter(state.prs[n].outcome for n in state.closed_order if n in state.prs)
    total = sum(by.values())
    parts = [f"{by[o]} {o}" for o in _ORDER if by[o]]
    parts += [f"{c} {o}" for o, c in sorted(by.items()) if o not in _ORDER]
    return f"{fmt_count(total, 'PR')} closed" + (f": {', '.join(parts)}" if parts else "")


def composer_context(state: SessionState, recent: int = RECENT_PRS) -> tuple[str, ...]:
    """The stable prefix of every composer call: goal, digest, the last ``recent`` closed PRs."""
    closed = [state.prs[n] for n in state.closed_order[-recent:] if n in state.prs] if recent else []
    digest = state.digest.text if state.digest is not None else ""
    return composer_memory(state.goal, digest, counts(state), [entry(p) for p in closed])


def usable_digest(text: str) -> str:
    """The composer's digest as it will be kept, or "" when there is nothing usable in it."""
    return clip_words(data_text(text), MAX_DIGEST_WORDS) if text.strip() else ""


def digest_after_close(state: SessionState, n: int) -> DigestUpdated:
    """The digest once PR ``n`` has closed (``state`` has folded its ``pr_closed``).

    The composer's own digest counts when the PR closed the way its decision proposed;
    otherwise the previous digest gains a line for each PR closed since, and when that would
    pass the word limit, cockpit writes the whole digest from the closed PRs (``ledger``).
    """
    pr = state.prs.get(n)
    decision = last_decision(pr) if pr is not None else None
    if pr is not None and decision is not None and _AGREES.get(decision.action) == pr.outcome:
        text = usable_digest(decision.digest)
        if text:
            return _event(n, text, "composer", state)
    return _event(n, auto_digest(state), "auto", state)


def auto_digest(state: SessionState) -> str:
    prev = state.digest
    if prev is not None and prev.text.strip():
        since = [state.prs[k] for k in state.closed_order[prev.closed :] if k in state.prs]
        text = "\n".join([prev.text.strip(), *(entry(p).line() + "." for p in since)])
        if word_count(text) <= MAX_DIGEST_WORDS:
            return text
    return ledger(state)


def ledger(state: SessionState) -> str:
    """A digest from the closed PRs alone: what constrains later work first, newest first."""
    closed = [state.prs[k] for k in reversed(state.closed_order) if k in state.prs]
    constraints = [p for p in closed if p.outcome in ("abandoned", "failed")]
    merged = [p for p in closed if p.outcome == "merged"]
    others = [p for p in closed if p.outcome not in ("abandoned", "failed", "merged")]
    lines: list[str] = []
    words = 0
    left_out = 0

    def add(line: str) -> None:
        nonlocal words, left_out
        w = word_count(line)
        if words + w > MAX_DIGEST_WORDS - 6:
            left_out += 1
            return
        lines.append(line)
        words += w

    for p in constraints:
        why = entry(p).note
        tail = f": {one_line(why, 160)}" if why else ""
        add(f"Not done (PR {p.n}, {p.outcome}): {one_line(p.title, 80)}{tail}")
    for p in merged:
        e = entry(p)
        add(f"Merged (PR {p.n}): {one_line(e.note or p.title, 100)}")
    for p in others:
        add(f"PR {p.n} {p.outcome}: {one_line(p.title, 80)}")
    if left_out:
        lines.append(f"({fmt_count(left_out, 'older PR')} left out.)")
    return "\n".join(lines)


def _event(n: int, text: str, source: str, state: SessionState) -> DigestUpdated:
    return DigestUpdated(
        pr=n,
        text=text,
        source="composer" if source == "composer" else "auto",
        closed=len(state.closed_order),
        words=word_count(text),
    )
