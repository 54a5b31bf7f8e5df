"""A line-API view of a Transcript: wrapped, styled, capped, and cheap to keep up to date.

``Log`` cannot style or wrap and ``RichLog`` cannot continue a partial line and costs ~2.7 KB a
line (guides/textual.md), so this widget renders a shared ``Transcript`` itself: each logical
line is wrapped once into Strips, only the lines that changed since the last frame are wrapped
again, and lines the transcript dropped are dropped here too. It follows the end while the
user is at the bottom, stays put when they scroll up, and follows again once they are back.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import ClassVar

from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import RenderOptions

from cockpit.tui.transcript import Transcript


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
        overflow-y: auto;
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
        self._rows: list[Strip] = []
        self._counts: deque[int] = deque()  # rows per logical line, from line id self._first
        self._first = 0
        self._wrap_width = 0
        self._version = -1
        self.following = True  # keep the end in view; off while the user reads further up

    # --- feeding -------------------------------------------------------------------------

    def show(self, transcript: Transcript | None, placeholder: str = "") -> None:
        """Show another transcript (the selected PR changed): rebuild and go to its end."""
        self.transcript = transcript
        self.placeholder = placeholder
        self._rebuild()
        self.following = True
        self._to_end()

    def sync(self) -> None:
        """Catch up with the transcript: drop, re-wrap and add only what changed."""
        t = self.transcript
        if t is None or t.version == self._version:
            return
        width = self._content_width()
        if width != self._wrap_width:
            self._rebuild()
            return
        changed = t.take_changes()
        self._version = t.version
        removed = 0
        while self._first < t.first and self._counts:
            removed += self._counts.popleft()
            self._first += 1
        if removed:
            del self._rows[:removed]
        if not self._counts:
            self._first = t.first
        start = self._first + len(self._counts)
        if changed is not None:
            start = max(self._first, min(start, changed))
        while self._first + len(self._counts) > start:
            n = self._counts.pop()
            if n:
                del self._rows[-n:]
        options = self._options()
        for line in islice(t.lines, start - t.first, None):
            strips = self._wrap(line, width, options)
            self._counts.append(len(strips))
            self._rows.extend(strips)
        self.virtual_size = Size(width, len(self._rows))
        if self.following:
            self._to_end()
        elif removed:
            self.scroll_to(y=max(0, self.scroll_y - removed), animate=False, immediate=True)
        self.refresh()

    # --- wrapping ------------------------------------------------------------------------

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _options(self) -> RenderOptions:
        return RenderOptions(self._get_style, self.styles.get_rules())

    def _wrap(self, line: Content, width: int, options: RenderOptions) -> list[Strip]:
        if not line:
            return [Strip.blank(width, self.rich_style)]
        strips = line.render_strips(width, None, self.visual_style, options)
        return strips or [Strip.blank(width, self.rich_style)]

    def _rebuild(self) -> None:
        self._rows.clear()
        self._counts.clear()
        t = self.transcript
        width = self._content_width()
        self._wrap_width = width
        if t is None:
            self._first, self._version = 0, -1
        else:
            t.take_changes()
            self._first, self._version = t.first, t.version
            options = self._options()
            for line in t.lines:
                strips = self._wrap(line, width, options)
                self._counts.append(len(strips))
                self._rows.extend(strips)
        self.virtual_size = Size(width, len(self._rows))
        self.refresh()

    def _to_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.call_after_refresh(self._settle_end)

    def _settle_end(self) -> None:
        """After layout (a banner may have taken rows), the end may have moved: follow it."""
        if self.following and self.scroll_y < self.max_scroll_y:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False  # the user scrolled up to read
        elif new_value >= self.max_scroll_y:
            self.following = True  # back at the bottom: follow again

    def on_resize(self) -> None:
        if self._content_width() != self._wrap_width:
            self._rebuild()
        if self.following:
            self.call_after_refresh(self._settle_end)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._rebuild()

    # --- rendering -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        style = self.rich_style
        if not self._rows and y == 0 and self.placeholder:
            text = Content.styled(self.placeholder, ".stream--meta")
            strips = text.render_strips(width, 1, self.visual_style, self._options())
            return strips[0].crop_extend(0, width, style) if strips else Strip.blank(width, style)
        if index >= len(self._rows):
            return Strip.blank(width, style)
        return self._rows[index].crop_extend(0, width, style).apply_offsets(0, index)

    @property
    def row_count(self) -> int:
        return len(self._rows)
