"""Every key, what it does, and when it applies."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.tui.replay_keys import help_rows

KEYS: tuple[tuple[str, str, str], ...] = (
    ("Gates", "a", "approve what is proposed (the selected PR's gate, else the oldest open one)"),
    ("", "o", "override: merge, fix (you edit the brief) or abandon instead"),
    ("", "e", "edit the brief or commit message before it goes on (ctrl+s accepts, esc cancels)"),
    ("", "r", "retry a failed or interrupted step"),
    ("", "s", "skip the selected PR (asks first)"),
    ("Session", "x", "interrupt the selected PR's running writer (asks first)"),
    ("", "p", "pause / resume: running dispatches finish, no new ones start"),
    ("", "n", "add a PR (title and task) to the running session"),
    ("", "q", "quit (asks while work is in flight; the journal records the session as interrupted)"),
    ("View", "j / k", "select the next / previous PR (or click it)"),
    ("", "f", "follow the PR with the latest activity (on at start)"),
    ("", "d", "diff of the selected PR, from git: per file, with stats"),
    ("", "t", "timeline view: one lane per PR, dispatches as bars, gates, commits and merges as marks"),
    ("", "1 2 3", "maximise the Writer, Reviewers or Composer pane"),
    ("", "0", "restore the three panes"),
    ("", "tab", "move focus between the list and the panes (then scroll with arrows / pgup / pgdn)"),
    ("", "ctrl+p", "command palette: every action above, by name"),
    ("", "?", "this help"),
)


def help_content() -> Content:
    lines: list[Content] = []
    for group, key, what in KEYS + help_rows():
        if group:
            if lines:
                lines.append(Content(""))
            lines.append(Content.styled(group, "bold $text-primary"))
        lines.append(Content.assemble((f"  {key:<7}", "bold $text-warning"), (what, "")))
    lines.append(Content(""))
    lines.append(
        Content.styled(
            "In `cockpit demo` the gate on the banner approves itself after a countdown; "
            "any key or click stops it.",
            "$foreground-muted",
        )
    )
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close")
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help-dialog") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes"
            with VerticalScroll():
                yield Static(help_content())

    def action_close(self) -> None:
        self.dismiss(None)
