"""A line-API view of a Transcript: wrapped, styled, capped, and cheap under a flood.

``Log`` cannot style or wrap and ``RichLog`` cannot continue a partial line and costs ~2.7 KB a
line (docs/architecture.md, Textual), so this widget renders a shared ``Transcript`` itself. It keeps only
a row count per logical line (word-wrapped: ``Content.get_height``, the renderer's own measure)
and their running sum; strips are made only for lines on screen, and kept in a small LRU
cache. Appending costs one line measurement, showing another PR's transcript measures the last
screens at once and the older lines a slice per frame (until then their height is estimated),
so switching PRs never stalls keys. It follows the end while the user is at the bottom, stays
put when they scroll up, and follows again once they are back.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import islice
from typing import ClassVar

from rich.style import Style
from textual.content import Content
from textual.css.styles import RulesMap
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

from cockpit.tui.lru import Lru
from cockpit.tui.transcript import Transcript

EXACT_TAIL = 300  # lines measured exactly at once when a transcript is shown
REFINE_SLICE = 400  # older lines measured per step after that
STRIP_CACHE = 512  # lines whose strips are kept


class StreamView(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stream--text",
        "stream--reasoning",
        "stream--stderr",
        "stream--prompt",
        "stream--command",
        "stream--output",
        "stream--ok",
        "stream--error",
        "stream--warning",
        "stream--file",
        "stream--plan",
        "stream--commit",
        "stream--sha",
        "stream--meta",
        "stream--round",
        "stream--title",
        "stream--writer",
        "stream--answer",
    }
    DEFAULT_CSS = """
    StreamView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;  /* a scrollbar that comes and goes costs a second layout pass */
        scrollbar-size-vertical: 1;
        padding: 0 1;
        & > .stream--text { color: $foreground; }
        & > .stream--reasoning { color: $foreground-muted; text-style: italic; }
        & > .stream--stderr { color: $text-warning; }
        & > .stream--prompt { color: $text-primary; text-style: bold; }
        & > .stream--command { color: $foreground; text-style: bold; }
        & > .stream--output { color: $foreground-muted; }
        & > .stream--ok { color: $text-success; }
        & > .stream--error { color: $text-error; }
        & > .stream--warning { color: $text-warning; }
        & > .stream--file { color: $text-accent; }
        & > .stream--plan { color: $text-secondary; }
        & > .stream--commit { color: $text-success; text-style: bold; }
        & > .stream--sha { color: $text-warning; text-style: bold; }
        & > .stream--meta { color: $foreground-muted; }
        & > .stream--round { color: $text-primary; }
        & > .stream--title { color: $foreground; text-style: bold; }
        & > .stream--writer { color: $text-primary; text-style: bold; }
        & > .stream--answer { color: $text-secondary; }
    }
    """

    def __init__(
        self,
        transcript: Transcript | None = None,
        *,
        placeholder: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.transcript = transcript
        self.placeholder = placeholder
        self._first = 0  # transcript id of the line _counts[0] describes
        self._counts: list[int] = []  # rows per logical line
        self._starts: list[int] = []  # first row of each logical line
        self._exact_from = 0  # _counts[i] is measured for i >= _exact_from, estimated below
        self._width = 0
        self._version = -1
        self._strips: Lru[int, list[Strip]] = Lru(STRIP_CACHE)  # no cycles when cleared (tui/lru.py)
        self._refining = False
        self._style: Style | None = None  # the widget's rich style, per render pass
        self._rules: RulesMap | None = None  # the style rules wrapping depends on, until they change
        self.following = True  # keep the end in view; off while the user reads further up

    # --- feeding -------------------------------------------------------------------------

    def show(self, transcript: Transcript | None, placeholder: str = "") -> None:
        """Show another transcript (the selected PR changed) from its end."""
        self.transcript = transcript
        self.placeholder = placeholder
        self.following = True
        self._rebuild()
        self._to_end()

    def sync(self) -> None:
        """Catch up with the transcript: drop, re-measure and add only what changed."""
        t = self.transcript
        if t is None or t.version == self._version:
            return
        if self._content_width() != self._width:  # e.g. the scrollbar came and took a column
            self._rebuild()
            if self.following:
                self._to_end()
            return
        changed = t.take_changes()
        self._version = t.version
        removed_rows = 0
        drop = min(len(self._counts), max(0, t.first - self._first))
        if drop:
            removed_rows = self._starts[drop] if drop < len(self._starts) else self._total()
            del self._counts[:drop]
            self._exact_from = max(0, self._exact_from - drop)
        self._first = t.first
        known = len(self._counts)
        start = known if changed is None else max(0, min(known, changed - self._first))
        del self._counts[start:]
        for line_id in range(self._first + start, self._first + known):
            self._strips.discard(line_id)
        width = self._width
        self._counts.extend(self._rows(line, width) for line in islice(t.lines, start, None))
        self._exact_from = min(self._exact_from, start)
        self._restart(0 if drop else start)
        self._set_virtual(Size(width, self._total()))
        if self.following:
            self._to_end()
        elif removed_rows:
            self.scroll_to(y=max(0, self.scroll_y - removed_rows), animate=False, immediate=True)
        self.refresh()

    # --- measuring -----------------------------------------------------------------------

    def _set_virtual(self, size: Size, resized: bool = False) -> None:
        """Grow the scrollable area without a screen layout pass, unless scrollbars come or go.

        ``virtual_size`` is a layout reactive: setting it 30 times a second relayouts and repaints
        the whole screen each time (most of the cost of a flood, per bench/tui_latency.py).
        ``resized``: called from a resize, inside a layout pass already, so a new width alone does
        not ask for another one.
        """
        old = self.virtual_size
        if size == old:
            return
        viewport = self.scrollable_content_region.height
        if (
            not self.is_mounted
            or (old.width != size.width and not resized)
            or (self.styles.overflow_y == "auto" and (old.height > viewport) != (size.height > viewport))
        ):
            self.virtual_size = size
            return
        self.set_reactive(StreamView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _rows(self, line: Content, width: int) -> int:
        """Rows a line takes word-wrapped at ``width``, as the renderer will draw it."""
        if line.cell_length <= width:
            return 1  # most lines: no need to wrap anything to know
        if self._rules is None:
            self._rules = self.styles.get_rules()
        return line.get_height(self._rules, width)

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _total(self) -> int:
        return self._starts[-1] + self._counts[-1] if self._counts else 0

    def _restart(self, index: int) -> None:
        """Recompute the running row sums from line ``index`` on."""
        del self._starts[index:]
        row = self._starts[-1] + self._counts[len(self._starts) - 1] if self._starts else 0
        for i in range(len(self._starts), len(self._counts)):
            self._starts.append(row)
            row += self._counts[i]

    def _rebuild(self, resized: bool = False) -> None:
        t = self.transcript
        self._strips.clear()
        self._counts.clear()
        self._starts.clear()
        width = self._width = self._content_width()
        if t is None:
            self._first, self._version, self._exact_from = 0, -1, 0
        else:
            t.take_changes()
            self._first, self._version = t.first, t.version
            lines = list(t.lines)
            self._exact_from = max(0, len(lines) - EXACT_TAIL)
            self._counts = [_estimate(line, width) for line in lines[: self._exact_from]]
            self._counts += [self._rows(line, width) for line in lines[self._exact_from :]]
            self._restart(0)
            if self._exact_from and not self._refining:
                self._refining = True
                self.set_timer(1 / 60, self._refine)
        self._set_virtual(Size(width, self._total()), resized)
        self.refresh()

    def _refine(self) -> None:
        """Measure a slice of the lines still estimated (the oldest), keeping the view where it is."""
        self._refining = False
        self.sync()  # line i is the transcript's line i from here on
        t = self.transcript
        if t is None or not self._exact_from or self._width != self._content_width():
            return
        stop = min(self._exact_from, len(t.lines))
        begin = max(0, stop - REFINE_SLICE)
        before = self._total()
        for i, line in enumerate(islice(t.lines, begin, stop), begin):
            self._counts[i] = self._rows(line, self._width)
        self._exact_from = begin
        self._restart(begin)
        self._set_virtual(Size(self._width, self._total()))
        if self.following:
            self._to_end()
        else:
            self.scroll_to(y=max(0, self.scroll_y + self._total() - before), animate=False, immediate=True)
        self.refresh()
        if begin:
            self._refining = True
            self.set_timer(1 / 60, self._refine)

    # --- scrolling -----------------------------------------------------------------------

    def _to_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.call_after_refresh(self._settle_end)

    def _settle_end(self) -> None:
        """After layout (a banner may have taken rows), the end may have moved: follow it."""
        if self.following and self.scroll_y < self.max_scroll_y:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        if self.show_vertical_scrollbar:
            # A scroll made while the scrollbar was still hidden never reached its thumb.
            self.vertical_scrollbar.position = self.scroll_y

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False  # the user scrolled up to read
        elif new_value >= self.max_scroll_y:
            self.following = True  # back at the bottom: follow again

    def on_resize(self) -> None:
        # Inside a layout pass already: a new width is not worth a second pass of the screen.
        if self._content_width() != self._width:
            self._rebuild(resized=True)
        if self.following:
            self.call_after_refresh(self._settle_end)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rules = None
        self._strips.clear()
        self.refresh()

    # --- rendering -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # The style is looked up once per pass, not once per line (rich_style walks the DOM).
        self._style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style = None

    def _line_strips(self, index: int) -> list[Strip]:
        line_id = self._first + index
        cached = self._strips.get(line_id)
        if cached is not None:
            return cached
        t = self.transcript
        j = line_id - t.first if t is not None else -1
        if t is None or not 0 <= j < len(t.lines):
            return []
        line = t.lines[j]
        strips = self._strips_of(line, self._width, None) if line else []
        strips = strips or [Strip.blank(self._width, self._style or self.rich_style)]
        self._strips[line_id] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self._style or self.rich_style
        if not self._counts:
            if y == 0 and self.placeholder:
                text = Content.styled(self.placeholder, ".stream--meta")
                strips = self._strips_of(text, width, 1)
                if strips:
                    return strips[0].crop_extend(0, width, style)
            return Strip.blank(width, style)
        row = self.scroll_offset.y + y
        index = bisect_right(self._starts, row) - 1
        if index < 0 or row >= self._total():
            return Strip.blank(width, style)
        strips = self._line_strips(index)
        offset = row - self._starts[index]
        if offset >= len(strips):
            return Strip.blank(width, style)  # an estimated height, not measured yet
        return strips[offset].crop_extend(0, width, style).apply_offsets(0, row)

    def _strips_of(self, line: Content, width: int, height: int | None) -> list[Strip]:
        # No selection: a line's y in its own visual is not its y in the view.
        return Visual.to_strips(self, line, width, height, self.visual_style, apply_selection=False)


def _estimate(line: Content, width: int) -> int:
    return max(1, -(-line.cell_length // width))
