"""Add a PR (a title and a task) to the running session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea


@dataclass(frozen=True)
class NewPr:
    title: str
    task: str
    solo: bool


class AddPrScreen(ModalScreen[NewPr | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "accept", "Add", priority=True, id="add-pr.accept"),
        Binding("escape", "cancel", "Cancel", id="add-pr.cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog editor-dialog") as box:
            box.border_title = "Add a PR to the session"
            yield Label("Title")
            yield Input(placeholder="Add a --json flag to the CLI", id="new-title")
            yield Label("Task")
            yield TextArea(soft_wrap=True, id="new-task")
            yield Checkbox("solo: no review, merge the writer's commit after you approve", id="new-solo")
            yield Static("", id="new-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add (ctrl+s)", variant="primary", id="accept", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def on_mount(self) -> None:
        self.query_one("#new-task", TextArea).cursor_blink = False
        self.query_one("#new-title", Input).cursor_blink = False
        self.query_one("#new-title", Input).focus()

    def action_accept(self) -> None:
        title = self.query_one("#new-title", Input).value.strip()
        task = self.query_one("#new-task", TextArea).text.strip()
        if not title or not task:
            self.query_one("#new-error", Static).update("A PR needs a title and a task.")
            return
        self.dismiss(NewPr(title, task, self.query_one("#new-solo", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        self.action_accept()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Input.Submitted, "#new-title")
    def _next_field(self) -> None:
        self.query_one("#new-task", TextArea).focus()
