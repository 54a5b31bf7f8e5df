"""The session as a picture: one lane per PR, each dispatch a bar, gates, commits and merges marks.

Built from the reducer's state alone, so the TUI's timeline view and the Markdown report's
Mermaid ``gantt`` block draw the same thing, live or replayed. Pipelining shows as overlap across
lanes: PR n+1's composer bar under PR n's writer bar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cockpit.state import SessionState


@dataclass(frozen=True)
class Bar:
    start: float
    end: float
    role: str  # composer | writer | reviewer
    label: str  # "brief", "write", "review correctness", "decide"
    status: str  # the dispatch's status ("running" while it runs)


@dataclass(frozen=True)
class Mark:
    t: float
    kind: str  # gate | answer | commit | merge | closed
    label: str


@dataclass
class Lane:
    pr: int
    title: str
    outcome: str
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


def lanes(s: SessionState, now: float) -> list[Lane]:
    """One lane per PR, in PR order; a running dispatch's bar ends at ``now``."""
    out: dict[int, Lane] = {
        n: Lane(n, p.title, p.outcome or p.display_status) for n, p in sorted(s.prs.items())
    }
    for d in s.dispatches.values():
        lane = out.get(d.pr) if d.pr is not None else None
        if lane is None or not d.started_at:
            continue
        end = d.finished_at if d.finished_at is not None else max(now, d.started_at)
        what = d.purpose or d.role
        if d.role == "reviewer":
            what = f"review {d.name}".strip()
        lane.bars.append(Bar(d.started_at, end, d.role, what, d.status))
    for n, p in s.prs.items():
        lane = out[n]
        for c in p.commits:
            lane.marks.append(Mark(c.t, "commit", c.sha[:8]))
        for r in p.rounds.values():
            for a in r.answers:
                lane.marks.append(Mark(a.t, "answer", f"{a.answer} by {a.by}"))
        if p.gate is not None:
            lane.marks.append(Mark(p.gate.t, "gate", f"{p.gate.gate_kind} gate"))
        if p.closed_at is not None:
            lane.marks.append(Mark(p.closed_at, "merge" if p.outcome == "merged" else "closed", p.outcome))
    for lane in out.values():
        lane.bars.sort(key=lambda b: (b.start, b.end))
        lane.marks.sort(key=lambda m: m.t)
    return list(out.values())


def span(s: SessionState, now: float) -> tuple[float, float]:
    start = s.started_at or min((d.started_at for d in s.dispatches.values() if d.started_at), default=now)
    end = s.finished_at if s.finished_at is not None else max(now, s.last_t)
    return start, max(end, start)


# --- Mermaid ---------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9 .,()+/_-]")


def _name(text: str, limit: int = 40) -> str:
    """Text Mermaid reads as a plain name: no ``:``, ``#``, ``;`` or newlines, cut short."""
    clean = " ".join(_UNSAFE.sub(" ", text).split())
    return (clean[: limit - 1] + "…") if len(clean) > limit else (clean or "-")


def mermaid_gantt(s: SessionState) -> str:
    """A Mermaid ``gantt`` block of the session (seconds from its start), for a PR description."""
    start, _ = span(s, s.last_t)
    lines = [
        "```mermaid",
        "gantt",
        f"    title Session {_name(s.id, 60)}",
        "    dateFormat X",
        "    axisFormat %H:%M:%S",
    ]
    for lane in lanes(s, s.last_t):
        lines.append(f"    section PR {lane.pr} {_name(lane.title, 30)}")
        for b in lane.bars:
            b0 = int(b.start - start)
            b1 = max(b0 + 1, round(b.end - start))
            tag = (
                "crit, " if b.status not in ("ok", "running") else ("active, " if b.role == "writer" else "")
            )
            lines.append(f"    {b.role} {_name(b.label, 30)} ({b.status}) :{tag}{b0}, {b1}")
        for m in lane.marks:
            if m.kind in ("commit", "merge", "answer"):
                lines.append(f"    {m.kind} {_name(m.label, 30)} :milestone, {int(m.t - start)}, 0")
    lines.append("```")
    return "\n".join(lines)
