"""The replay screen: the main screen plus the player (its keys and the timeline bar).

Everything the live cockpit shows is shown the same way; what a replay adds is declared in
``cockpit.tui.replay_keys`` and drawn by ``TimelineBar`` at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from cockpit.config import Pricing
from cockpit.pricing import fmt_cost, spend_cost
from cockpit.tui.model import Dirty
from cockpit.tui.replay_keys import REPLAY_KEYS, bindings
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.widgets.timeline_bar import BarView, TimelineBar, fmt_speed

if TYPE_CHECKING:
    from cockpit.engine.controls import ReplayControls

_ACTIONS = frozenset(k.command.split("(")[0] for k in REPLAY_KEYS)
_MILESTONE_WORDS = {
    "commit_seen": "commit",
    "verdict_parsed": "verdict",
    "decision_proposed": "decision",
    "human_decision": "answer",
    "merged": "merge",
    "error": "error",
}


class GotoPrScreen(ModalScreen[int | None]):
    """g: which PR to go to."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="goto-pr.cancel")]

    def __init__(self, known: list[int]) -> None:
        super().__init__(classes="dialog-screen")
        self.known = known

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Go to a PR"
            box.border_subtitle = "enter goes · esc cancels"
            shown = ", ".join(str(n) for n in self.known[:20]) + (" …" if len(self.known) > 20 else "")
            yield Label(f"PR number ({shown or 'none yet'})")
            yield Input(type="integer", id="goto-pr-number")
            yield Static("", id="goto-pr-error", classes="dialog-error", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            n = int(event.value)
        except ValueError:
            self.query_one("#goto-pr-error", Static).update("A PR number, please.")
            return
        self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReplayScreen(MainScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*bindings()]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline_bar = TimelineBar(id="timeline-bar")

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield self.timeline_bar
            yield widget

    @property
    def player(self) -> ReplayControls:
        replay = self.cockpit.replay
        assert replay is not None
        return replay

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ACTIONS:
            return True
        if action in ("pause", "resume"):
            return False  # space plays and pauses a replay
        return super().check_action(action, parameters)

    def render_frame(self, d: Dirty, selected: int | None, moved: bool, tick: bool) -> None:
        super().render_frame(d, selected, moved, tick)
        if self.timeline_bar.is_attached:
            self.timeline_bar.show(bar_view(self.player, self.cockpit.pricing))

    # --- the player's keys ----------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.cockpit.notify(text, timeout=3, markup=False)
        self.cockpit.refresh_header()

    def action_play_pause(self) -> None:
        playing = self.player.toggle()
        self._say("Replay playing." if playing else "Replay paused: space plays.")

    def action_speed(self, delta: int) -> None:
        speed = self.player.faster() if delta > 0 else self.player.slower()
        self._say(f"Replay speed: {fmt_speed(speed)}.")

    def action_skip_idle(self) -> None:
        on = self.player.toggle_skip_idle()
        self._say("Skip idle on: gaps over 2 s play as 2 s." if on else "Skip idle off: gaps play in full.")

    def action_step_event(self, delta: int) -> None:
        self.player.step(delta)
        self.cockpit.refresh_header()

    def action_milestone(self, delta: int) -> None:
        m = self.player.next_milestone() if delta > 0 else self.player.prev_milestone()
        if m is None:
            self._say("No further milestone." if delta > 0 else "Back at the start.")
            return
        where = f" · PR {m.pr}" if m.pr is not None else ""
        self._say(f"{_MILESTONE_WORDS.get(m.kind, m.kind)}{where}")

    def action_goto_pr(self) -> None:
        known = self.player.pr_numbers()

        def go(n: int | None) -> None:
            if n is None:
                return
            if not self.player.goto_pr(n):
                self._say(f"No PR {n} in this session.")
                return
            self.cockpit.follow = False
            self.cockpit.selected = n
            self.cockpit.refresh_header()

        self.app.push_screen(GotoPrScreen(known), go)

    def action_home(self) -> None:
        self.player.home()
        self.cockpit.refresh_header()

    def action_end(self) -> None:
        self.player.end()
        self.cockpit.refresh_header()


def ending(p: ReplayControls, pricing: Mapping[str, Pricing]) -> str:
    """How the whole session ended and what it cost, from its stored summary."""
    summary = p.summary()
    if not summary:
        return ""  # still being written: no summary yet
    status = str(summary.get("status") or "")
    if status == "running" and not p.follow:
        status = "unfinished"
    cost = fmt_cost(spend_cost(summary.get("spend") or [], pricing))
    return f"session {status} · {cost}"


def bar_view(p: ReplayControls, pricing: Mapping[str, Pricing]) -> BarView:
    start, end = p.span()
    return BarView(
        position=p.position,
        total=p.total,
        now=p.last_t or start,
        start=start,
        end=end,
        speed=p.speed,
        paused=p.paused,
        skip_idle=p.skip_idle,
        at_end=p.at_end,
        following=p.follow,
        ending=ending(p, pricing),
        marks=tuple((m.t, m.kind) for m in p.milestones()),
    )
