"""A widget that shows one Content and repaints without a layout pass unless its height changes.

``Static.update`` always asks for a layout, which on a busy screen costs more than the repaint
itself (measured in bench/tui_latency.py); the header ticks every second and the banner counts
down, so they use this instead.
"""

from __future__ import annotations

from textual.content import Content

from cockpit.tui.widgets.onepass import OnePass


class TextBox(OnePass):
    DEFAULT_CSS = """
    TextBox {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._content = Content("")

    @property
    def content(self) -> Content:
        return self._content

    def set(self, content: Content) -> None:
        old = self._content
        if content.is_same(old):
            return
        self._content = content
        width = self.content_region.width
        if not self.is_mounted or width <= 0:
            self.refresh(layout=True)
            return
        rules = self.styles.get_rules()
        self.refresh(layout=old.get_height(rules, width) != content.get_height(rules, width))

    def render(self) -> Content:
        return self._content
