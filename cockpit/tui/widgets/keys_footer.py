"""The footer: the keys that apply now, made from the table of actions.

Only actions that apply are shown. When the terminal is too narrow for all of them, the ones
with the highest footer rank go first, so `? help` and `q quit` stay at every width. Each key is
a link that runs its action. It is one line of text drawn without a layout pass (unlike
Textual's Footer, which recomposes its children whenever the bindings change).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.markup import escape

from cockpit.tui.widgets.textbox import TextBox

GAP = "  "


def footer_content(items: Sequence[tuple[str, str, str, int]], width: int) -> Content:
    """``items``: (screen action, key, label, rank) in table order, all applying now."""
    kept = list(items)

    def cells(its: list[tuple[str, str, str, int]]) -> int:
        return sum(len(key) + 1 + len(label) for _, key, label, _ in its) + len(GAP) * max(0, len(its) - 1)

    while len(kept) > 1 and cells(kept) > width:
        worst = max(range(len(kept)), key=lambda i: (kept[i][3], i))
        del kept[worst]
    parts: list[Content] = []
    for name, key, label, _ in kept:
        # The key and its label are one link: a click runs the action.
        markup = f"[@click=screen.{name}][b $text-warning]{escape(key)}[/] {escape(label)}[/]"
        parts.append(Content.from_markup(markup))
    return Content(GAP).join(parts)


class KeysFooter(TextBox):
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground-muted;
        text-wrap: nowrap;
        text-overflow: clip;
        link-style: none;
        link-style-hover: bold;
        link-background-hover: $primary 30%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._items: tuple[tuple[str, str, str, int], ...] = ()
        self._width = -1

    def show_keys(self, items: Sequence[tuple[str, str, str, int]]) -> None:
        items = tuple(items)
        if items != self._items:
            self._items = items
            self._width = -1
            self.refresh()

    def render(self) -> Content:
        width = self.content_region.width
        if width != self._width:
            self._width = width
            self._content = footer_content(self._items, width)
        return self._content
