"""Edit a brief or a commit message before it goes on: ctrl+s accepts, esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea


class EditorScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "accept", "Accept", priority=True, id="editor.accept"),
        Binding("escape", "cancel", "Cancel", id="editor.cancel"),
    ]

    def __init__(self, title: str, text: str, hint: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._text = text
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog editor-dialog") as box:
            box.border_title = self._title
            if self._hint:
                yield Static(self._hint, classes="dialog-hint", markup=False)
            yield TextArea(self._text, soft_wrap=True, show_line_numbers=False, id="editor-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Accept (ctrl+s)", variant="primary", id="accept", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = False
        area.focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def action_accept(self) -> None:
        self.dismiss(self.text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        self.action_accept()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()
