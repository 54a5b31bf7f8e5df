"""The replay's timeline bar: where the player is on the session clock, and the milestones.

Two lines at the bottom of the replay screen: the player's state (playing or paused, speed,
skip idle, session clock, event position), then a bar as wide as the screen with the part
played filled and each milestone marked in its column (the most telling kind wins a column).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.content import Content
from textual.widget import Widget

# kind -> (mark, style, rank: a higher rank wins a shared column)
MARKS: dict[str, tuple[str, str, int]] = {
    "commit_seen": ("●", "$text-primary", 1),
    "verdict_parsed": ("v", "$text-accent", 2),
    "decision_proposed": ("◇", "$text-secondary", 3),
    "human_decision": ("◆", "$text-warning", 4),
    "merged": ("✓", "$text-success", 5),
    "error": ("✗", "$text-error", 6),
}
LEGEND = (
    ("●", "commit"),
    ("v", "verdict"),
    ("◇", "decision"),
    ("◆", "answer"),
    ("✓", "merge"),
    ("✗", "error"),
)


@dataclass(frozen=True)
class BarView:
    position: int
    total: int
    now: float  # session time of the last event shown
    start: float
    end: float
    speed: float
    paused: bool
    skip_idle: bool
    at_end: bool
    following: bool = False
    ending: str = ""  # how the whole session ended, and what it cost (its stored summary)
    marks: Sequence[tuple[float, str]] = field(default_factory=tuple)  # (t, kind)


def fmt_speed(speed: float) -> str:
    return "as fast as possible" if math.isinf(speed) else f"{speed:g}×"


def clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def bar_line(v: BarView, width: int) -> Content:
    """The bar: played part filled, the position as a cursor, milestones in their columns."""
    width = max(1, width)
    span = max(v.end - v.start, 1e-9)

    def col(t: float) -> int:
        return min(width - 1, max(0, int((t - v.start) / span * (width - 1) + 0.5)))

    cells: list[tuple[str, str, int] | None] = [None] * width
    for t, kind in v.marks:
        mark = MARKS.get(kind)
        if mark is None:
            continue
        c = col(t)
        cur = cells[c]
        if cur is None or mark[2] > cur[2]:
            cells[c] = mark
    here = col(v.now) if v.position else 0
    parts: list[tuple[str, str]] = []
    for i, cell in enumerate(cells):
        if i == here:
            parts.append(("┃", "bold $text-warning"))
        elif cell is not None:
            parts.append((cell[0], cell[1] + (" on $primary 25%" if i < here else "")))
        elif i < here:
            parts.append(("━", "$primary"))
        else:
            parts.append(("─", "$foreground-muted"))
    return Content.assemble(*parts)


def status_line(v: BarView, width: int = 1000) -> Content:
    state = "‖ paused" if v.paused else ("■ at the end" if v.at_end else "▶ playing")
    if v.following and v.at_end:
        state = "… following"
    parts: list[tuple[str, str] | str] = [
        (state, "bold $text-warning" if v.paused else "bold $text-primary"),
        ("  ", ""),
        (fmt_speed(v.speed), "bold"),
        ("  skip idle" if v.skip_idle else "  real gaps", "$foreground-muted"),
        ("  │  ", "$foreground-muted"),
        (clock(v.now - v.start if v.position else 0), "bold"),
        (f" / {clock(v.end - v.start)}", "$foreground-muted"),
        ("  │  ", "$foreground-muted"),
        (f"event {v.position:,} / {v.total:,}", ""),
    ]
    if v.ending:
        parts += [("  │  ", "$foreground-muted"), (v.ending, "$foreground-muted")]
    legend: list[tuple[str, str] | str] = [("  │ ", "$foreground-muted")]
    for glyph, word in LEGEND:
        kind = next(k for k, m in MARKS.items() if m[0] == glyph)
        legend += [(f" {glyph}", MARKS[kind][1]), (f" {word}", "$foreground-muted")]
    line = Content.assemble(*parts)
    with_legend = Content.assemble(*parts, *legend)
    return with_legend if with_legend.cell_length <= width else line


class TimelineBar(Widget):
    DEFAULT_CSS = """
    TimelineBar {
        height: 2;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: BarView | None = None

    def show(self, view: BarView) -> None:
        if view != self.view:
            self.view = view
            self.refresh()

    def render(self) -> Content:
        v = self.view
        if v is None:
            return Content("")
        width = self.content_region.width or 80
        return Content("\n").join([status_line(v, width), bar_line(v, width)])
