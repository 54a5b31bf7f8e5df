"""The timeline view (t): one lane per PR, the composer, writer and reviewer dispatches as bars,
gates, commits and merges as marks, on the session clock. It redraws once a second and whenever
the screen is resized; live and in a replay alike (it reads the same view model)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from cockpit.fmt import fmt_duration
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.timeline import Lane, lanes, span
from cockpit.tui.format import ROLE_STYLE, STATUS

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp

LABEL_W = 22
HINT = "esc / t / q back"
ROLE_CELL = {"composer": "▆", "writer": "█", "reviewer": "▄"}
MARK_CELL = {
    "gate": ("◆", "bold $text-warning"),
    "answer": ("◆", "$text-warning"),
    "commit": ("●", "bold $text-primary"),
    "merge": ("✓", "bold $text-success"),
    "closed": ("■", "$text-error"),
}


def lane_line(lane: Lane, start: float, end: float, width: int) -> Content:
    width = max(8, width)
    total = max(end - start, 1e-9)

    def col(t: float) -> int:
        return min(width - 1, max(0, int((t - start) / total * width)))

    cells: list[tuple[str, str]] = [("·", "$foreground 20%")] * width
    for b in lane.bars:
        style = ROLE_STYLE.get(b.role, "")
        if b.status not in ("ok", "running"):
            style = "$text-error"
        for c in range(col(b.start), col(b.end) + 1):
            cells[c] = (ROLE_CELL.get(b.role, "█"), style)
    for m in lane.marks:
        cells[col(m.t)] = MARK_CELL.get(m.kind, ("|", ""))
    glyph, style, _ = STATUS.get(lane.outcome, ("·", "", ""))
    label = sanitize(f"{lane.pr} {lane.title}")
    label = label if len(label) <= LABEL_W - 3 else label[: LABEL_W - 4] + "…"
    return Content.assemble((f"{glyph} ", style), (f"{label:<{LABEL_W - 2}}", ""), *cells)


def timeline_content(s: SessionState, now: float, width: int) -> Content:
    start, end = span(s, now)
    bar_w = max(8, width - LABEL_W)
    rows: list[Content] = [
        Content.assemble(
            ("Session clock ", "$foreground-muted"),
            (fmt_duration(end - start), "bold"),
            ("   ", ""),
            ("▆ composer  ", ROLE_STYLE["composer"]),
            ("█ writer  ", ROLE_STYLE["writer"]),
            ("▄ reviewer  ", ROLE_STYLE["reviewer"]),
            ("◆ gate/answer  ", "$text-warning"),
            ("● commit  ", "$text-primary"),
            ("✓ merge  ", "$text-success"),
            ("■ closed otherwise", "$text-error"),
        ),
        Content(""),
    ]
    ls = lanes(s, now)
    if not ls:
        rows.append(Content.styled("No PRs yet.", "$foreground-muted"))
    rows += [lane_line(lane, start, end, bar_w) for lane in ls]
    ticks = [" "] * bar_w
    for i in range(0, 5):
        c = min(bar_w - 1, int(i / 4 * (bar_w - 1)))
        text = fmt_duration((end - start) * i / 4)
        c = min(c, bar_w - len(text))
        for j, ch in enumerate(text):
            ticks[c + j] = ch
    rows.append(Content.assemble((" " * LABEL_W, ""), ("".join(ticks), "$foreground-muted")))
    return Content("\n").join(rows)


class TimelineView(Widget):
    """Draws at its own width, whenever it is drawn: no frame shows a stale size."""

    DEFAULT_CSS = """
    TimelineView {
        height: auto;
    }
    """

    def render(self) -> Content:
        app = cast("CockpitApp", self.app)
        width = self.content_region.width or self.app.size.width - 4
        return timeline_content(app.model.state, app.clock(), max(40, width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        app = cast("CockpitApp", self.app)
        return len(app.model.state.prs) + 3 + (0 if app.model.state.prs else 1)


class TimelineScreen(Screen[None]):
    """Installed once and shown again (``CockpitApp.show_timeline``): closing a screen that is not
    installed removes it, and Textual then lays out the screen behind it a second time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t,q", "close", "back", id="timeline.close"),
    ]
    DEFAULT_CSS = """
    #timeline-keys { dock: bottom; height: 1; padding: 0 1; background: $panel; color: $foreground-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._lanes = -1

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="timeline-scroll") as box:
            box.border_title = "Timeline · one lane per PR"
            yield TimelineView(id="timeline")
        # A line of text, not Textual's Footer: that recomposes its keys each time the screen opens.
        yield Static(HINT, id="timeline-keys", markup=False)

    def on_mount(self) -> None:
        self.set_interval(1 / 4, self.redraw)

    def redraw(self) -> None:
        """The bars grow with the clock; the height changes only with the number of PRs."""
        if not self.is_current:
            return
        lanes = len(cast("CockpitApp", self.app).model.state.prs)
        self.query_one(TimelineView).refresh(layout=lanes != self._lanes)
        self._lanes = lanes

    def on_screen_resume(self) -> None:
        self._lanes = -1
        self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)
