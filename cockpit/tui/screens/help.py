"""Every key and what it does, made from the table of actions (with the user's `[keys]` applied).

Each line is a key and its help; a help text that wraps continues under the help column, not at
the left margin, at any width (the lines are wrapped here, for the width they get).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widget import Widget

from cockpit.tui.actions import ACTIONS, HELP_NOTES, Action, key_display
from cockpit.tui.replay_keys import help_rows as replay_help_rows

KEY_WIDTH = 9
FOOTNOTE = (
    "In `cockpit demo` the gate on the banner approves itself after a countdown; any key or click stops it."
)


def help_rows(key_of: Callable[[Action], str], replay: bool = True) -> list[tuple[str, str, str]]:
    """(group, key, help) per line; the group only on its first line."""
    rows: list[tuple[str, str, str]] = []
    group = ""
    for a in ACTIONS:
        if not a.in_help:
            continue
        rows.append((a.group if a.group != group else "", key_of(a), a.help))
        group = a.group
    rows += [("", key, what) for key, what in HELP_NOTES]
    if replay:
        rows += list(replay_help_rows())
    return rows


def _wrap(text: str, width: int) -> list[str]:
    """Words into lines of at most ``width`` cells (a longer word is cut)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def help_content(rows: list[tuple[str, str, str]], width: int) -> Content:
    indent = 2 + KEY_WIDTH
    text_width = max(10, width - indent)
    lines: list[Content] = []
    for group, key, what in rows:
        if group:
            if lines:
                lines.append(Content(""))
            lines.append(Content.styled(group, "bold $text-primary"))
        wrapped = _wrap(what, text_width)
        lines.append(Content.assemble((f"  {key:<{KEY_WIDTH}}", "bold $text-warning"), wrapped[0]))
        lines += [Content(" " * indent + more) for more in wrapped[1:]]
    lines.append(Content(""))
    lines += [Content.styled(line, "$foreground-muted") for line in _wrap(FOOTNOTE, max(10, width))]
    return Content("\n").join(lines)


class HelpText(Widget):
    """The help lines, wrapped with a hanging indent for the width the widget has."""

    DEFAULT_CSS = "HelpText { height: auto; }"

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = rows
        self._cache: tuple[int, Content] | None = None

    def _content(self, width: int) -> Content:
        if self._cache is None or self._cache[0] != width:
            self._cache = (width, help_content(self._rows, width))
        return self._cache[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._content(width).split("\n"))

    def render(self) -> Content:
        return self._content(self.content_region.width)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close")
    ]

    def __init__(self, key_of: Callable[[Action], str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._rows = help_rows(key_of or (lambda a: key_display(a.key)))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help-dialog") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes"
            with VerticalScroll():
                yield HelpText(self._rows)

    def action_close(self) -> None:
        self.dismiss(None)
