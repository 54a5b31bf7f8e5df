"""The main screen: header, gate banner, PR list, the Writer / Reviewers / Composer panes, footer.

It owns the layout; its key bindings come from the table of actions (``cockpit.tui.actions``)
and what a key does lives in ``cockpit.tui.commands`` (the command palette calls the same
functions). ``render_frame`` redraws only what the events of
the last frame touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widget import Widget

from cockpit.tui.actions import bindings
from cockpit.tui.model import Dirty
from cockpit.tui.widgets.composer import ComposerPane
from cockpit.tui.widgets.gate_banner import GateBanner
from cockpit.tui.widgets.header import SessionHeader, header_variants
from cockpit.tui.widgets.keys_footer import KeysFooter
from cockpit.tui.widgets.onepass import Column, Row
from cockpit.tui.widgets.pr_list import PrList
from cockpit.tui.widgets.reviewers import ReviewersPane
from cockpit.tui.widgets.writer import WriterPane, writer_subtitle

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings())

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        # Kept, not queried: a frame runs up to 30 times a second.
        self.header = SessionHeader(id="header")
        self.banner = GateBanner(id="gate-banner")
        self.pr_list = PrList(id="pr-list")
        self.writer = WriterPane(id="writer", classes="pane")
        self.reviewers = ReviewersPane(id="reviewers", classes="pane")
        self.composer = ComposerPane(id="composer", classes="pane")
        self.footer = KeysFooter(id="footer")
        self.lower = Row(id="lower")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.banner
        with Row(id="body"):
            self.pr_list.border_title = "PRs"
            yield self.pr_list
            with Column(id="panes"):
                yield self.writer
                with self.lower:
                    yield self.reviewers
                    yield self.composer
        yield self.footer

    @property
    def cockpit(self) -> CockpitApp:
        return cast("CockpitApp", self.app)

    def on_mount(self) -> None:
        self.pr_list.focus()

    # --- drawing -------------------------------------------------------------------------

    def render_frame(self, d: Dirty, selected: int | None, moved: bool, tick: bool) -> None:
        """Redraw what changed. ``moved``: the selection changed; ``tick``: the clock moved."""
        if not self.header.is_attached:
            return  # the app is shutting down: its widgets are already gone
        app = self.cockpit
        s = app.model.state
        now = app.clock()
        pr = s.prs.get(selected) if selected is not None else None
        if d.header or moved or tick:
            note = app.header_note()
            self.header.show(
                header_variants(
                    s,
                    now,
                    selected,
                    replay=app.controls is None and not app.setting_up,
                    note=note,
                    pricing=app.pricing,
                )
            )
            self.composer.show_memory(s)
        if d.prs or tick:
            running = frozenset(d.pr for d in s.running_dispatches() if d.pr is not None)
            self.pr_list.update_prs(
                sorted(s.prs.values(), key=lambda p: p.n), now, paused=s.paused, running=running
            )
        if moved:
            self.pr_list.select_pr(selected)
        if d.gates or moved or tick or d.prs:
            self.banner.show_gate(s, app.banner_view())
        if moved or (selected is not None and selected in d.writer):
            t = app.model.transcripts.get(selected) if selected is not None else None
            self.writer.show(s, pr, t)
        elif d.prs and pr is not None:
            self.writer.border_subtitle = writer_subtitle(s, pr)
        if moved or (selected is not None and (selected in d.reviewers or d.prs)):
            self.reviewers.show(s, pr, app.model.streams)
        if moved or (selected is not None and selected in d.composer):
            doc = app.model.composer.get(selected) if selected is not None else None
            self.composer.show(doc, selected, pr is not None and pr.solo)
        if d.gates or d.prs or moved or tick:
            self.footer.show_keys(self.footer_items())

    # --- keys ----------------------------------------------------------------------------

    def footer_items(self) -> list[tuple[str, str, str, int]]:
        """(screen action, key, label, rank) of each key the footer shows now."""
        return [(f"do('{name}')", key, label, rank) for name, key, label, rank in self.cockpit.footer_keys()]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "do" and parameters:
            return self.cockpit.commands.applies(str(parameters[0]))
        return True

    def action_do(self, name: str) -> None:
        """Every key of the table of actions comes here (see cockpit.tui.actions)."""
        self.cockpit.commands.run(name)

    def zoom(self, pane: str) -> None:
        """Give one pane the screen. Only the panes' ``display`` changes: a class on the screen
        would make Textual match the CSS of every widget below it again (the cost of a key press
        on a busy screen)."""
        panes = self._panes()
        self.writer.display = pane == "writer"
        self.lower.display = pane != "writer"
        self.reviewers.display = pane == "reviewers"
        self.composer.display = pane == "composer"
        # Focus goes with the pane: keys (scrolling) must not act on one that is hidden.
        shown = panes[pane]
        if self.focused is None or shown not in self.focused.ancestors_with_self:
            for w in shown.query("*"):
                if w.can_focus:
                    w.focus()
                    break

    def unzoom(self) -> None:
        for w in (self.writer, self.lower, self.reviewers, self.composer):
            w.display = True

    def _panes(self) -> dict[str, Widget]:
        return {"writer": self.writer, "reviewers": self.reviewers, "composer": self.composer}

    @on(PrList.Picked)
    def _picked(self, event: PrList.Picked) -> None:
        self.cockpit.pick(event.pr)
