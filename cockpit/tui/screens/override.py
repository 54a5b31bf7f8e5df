"""Override the composer: pick merge, fix or abandon instead of what it proposed."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from cockpit.events import GateOpened
from cockpit.tui.format import GATE_KIND_TEXT, one_line

_WHAT = {
    "merge": "merge the reviewed commit",
    "fix": "send the writer a fix brief (you edit it next)",
    "abandon": "close the PR without merging",
}
_KEYS = {"merge": "m", "fix": "f", "abandon": "b"}


def override_actions(gate: GateOpened) -> list[str]:
    """The actions an override can pick at this gate (a failed step cannot be merged)."""
    if gate.gate_kind in ("decision", "merge"):
        return ["merge", "fix", "abandon"]
    return ["fix", "abandon"]


class OverrideScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "pick('merge')", "Merge", id="override.merge"),
        Binding("f", "pick('fix')", "Fix", id="override.fix"),
        Binding("b", "pick('abandon')", "Abandon", id="override.abandon"),
        Binding("escape", "pick('')", "Cancel", id="override.cancel"),
    ]

    def __init__(self, gate: GateOpened, note: Content | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.gate = gate
        self.note = note  # e.g. the split verdict, said again where the choice is made
        self.actions = override_actions(gate)

    def compose(self) -> ComposeResult:
        g = self.gate
        with Vertical(classes="dialog") as box:
            box.border_title = f"Override · PR {g.pr} · {GATE_KIND_TEXT.get(g.gate_kind, g.gate_kind)}"
            summary = one_line(g.summary, 300)
            if not summary.lower().startswith("composer proposes"):
                summary = f"Proposed: {g.proposal}. {summary}".strip()
            yield Static(Content(summary), classes="dialog-body")
            if self.note is not None:
                yield Static(self.note, classes="dialog-body")
            for action in self.actions:
                line = Content.assemble(
                    (f" {_KEYS[action]} ", "bold $text-warning"),
                    (f"{action:<8}", "bold"),
                    (_WHAT[action], "$foreground-muted"),
                )
                yield Button(line, id=f"pick-{action}", classes="choice", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def action_pick(self, action: str) -> None:
        if action and action not in self.actions:
            self.notify(f"{action} does not apply to a {self.gate.gate_kind} gate", severity="warning")
            return
        self.dismiss(action or None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        self.dismiss(bid.removeprefix("pick-") if bid.startswith("pick-") else None)
