"""The sidebar: one two-line entry per PR (glyph, number, title; status, round, time spent)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from cockpit.fmt import fmt_duration
from cockpit.state import PRState
from cockpit.text import sanitize
from cockpit.tui.format import status_of

# A step whose dispatch finished while the session is paused: what it did, and that it waits.
_DONE = {"writing": "written", "reviewing": "reviewed", "composing": "composed", "deciding": "decided"}


def pr_prompt(pr: PRState, now: float, width: int, *, paused: bool = False, running: bool = True) -> Content:
    glyph, style, label = status_of(pr.display_status)
    if paused and not running and pr.display_status in _DONE:
        # Paused, the next step does not start: "writing" would be stale once the writer is done.
        glyph, style, label = "⏸", "$text-warning", f"{_DONE[pr.display_status]} · paused"
    title = sanitize(pr.title).replace("\n", " ") or f"PR {pr.n}"
    head = Content.assemble((f"{glyph} ", style), (f"{pr.n:>2} ", "$foreground-muted"), (title, "bold"))
    detail = [(f"  {label}", style)]
    if pr.round:
        detail.append((f" · r{pr.round}", "$foreground-muted"))
    if pr.solo:
        detail.append((" · solo", "$foreground-muted"))
    detail.append((f" · {fmt_duration(pr.spent_s(now))}", "$foreground-muted"))
    return Content("\n").join(
        [head.truncate(width, ellipsis=True), Content.assemble(*detail).truncate(width)]
    )


class PrList(OptionList):
    """Highlight = selection. A human moving it posts ``Picked``; the app's own moves (follow) do not."""

    @dataclass
    class Picked(Message):
        pr: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._order: list[int] = []
        self._prompts: dict[int, Content] = {}
        self._programmatic: int | None = None  # the index the app moved to, not a human
        # The last update, kept to draw it again at a new width: a prompt is truncated to the
        # width it was drawn at, and an update before the first layout sees no width at all.
        self._last: tuple[list[PRState], float, bool, frozenset[int]] | None = None
        self._width = 0

    def update_prs(
        self, prs: list[PRState], now: float, *, paused: bool = False, running: frozenset[int] = frozenset()
    ) -> None:
        """``running``: the PRs with a dispatch running (a paused PR without one shows as waiting)."""
        self._last = (prs, now, paused, running)
        width = self._width = self._prompt_width()
        for pr in prs:
            prompt = pr_prompt(pr, now, width, paused=paused, running=pr.n in running)
            if pr.n not in self._prompts:
                self._order.append(pr.n)
                self._prompts[pr.n] = prompt
                self.add_option(Option(prompt, id=f"pr-{pr.n}"))
            elif not prompt.is_same(self._prompts[pr.n]):
                self._prompts[pr.n] = prompt
                self.replace_option_prompt(f"pr-{pr.n}", prompt)

    def _prompt_width(self) -> int:
        return max(8, self.scrollable_content_region.width - 1)

    def on_resize(self) -> None:
        """Redraw the prompts at the new width (a merged PR's prompt never changes by itself)."""
        if self._last is not None and self._prompt_width() != self._width:
            prs, now, paused, running = self._last
            self.update_prs(prs, now, paused=paused, running=running)

    def select_pr(self, n: int | None) -> None:
        """Move the highlight without telling anyone (follow mode, startup)."""
        if n is None or n not in self._order:
            return
        index = self._order.index(n)
        if self.highlighted != index:
            self._programmatic = index
            self.highlighted = index

    @property
    def selected_pr(self) -> int | None:
        if self.highlighted is None or not self._order:
            return None
        return self._order[min(self.highlighted, len(self._order) - 1)]

    def step(self, delta: int) -> int | None:
        """The PR ``delta`` entries away, highlighted without a message: the caller shows it in
        the same frame (a message would show the highlight one screen update before the PR)."""
        if not self._order:
            return None
        current = self.highlighted if self.highlighted is not None else 0
        n = self._order[max(0, min(len(self._order) - 1, current + delta))]
        self.select_pr(n)
        return n

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self._programmatic is not None and event.option_index == self._programmatic:
            self._programmatic = None
            return
        self._programmatic = None
        n = self.selected_pr
        if n is not None:
            self.post_message(self.Picked(n))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        n = self.selected_pr
        if n is not None:
            self.post_message(self.Picked(n))
