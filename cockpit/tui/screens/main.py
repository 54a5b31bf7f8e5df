"""The main screen: header, gate banner, PR list, the Writer / Reviewers / Composer panes, footer.

It owns the layout and the key bindings; what a key does lives in ``cockpit.tui.commands`` (the
command palette calls the same functions). ``render_frame`` redraws only what the events of
the last frame touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from cockpit.tui.model import Dirty
from cockpit.tui.widgets.composer import ComposerPane
from cockpit.tui.widgets.gate_banner import GateBanner
from cockpit.tui.widgets.header import SessionHeader, header_content
from cockpit.tui.widgets.pr_list import PrList
from cockpit.tui.widgets.reviewers import ReviewersPane
from cockpit.tui.widgets.writer import WriterPane, writer_subtitle

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp

PANES = ("writer", "reviewers", "composer")


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "approve", id="cockpit.approve"),
        Binding("o", "override", "override", id="cockpit.override"),
        Binding("e", "edit", "edit", id="cockpit.edit"),
        Binding("r", "retry", "retry", id="cockpit.retry"),
        Binding("s", "skip", "skip", id="cockpit.skip"),
        Binding("x", "interrupt", "interrupt", id="cockpit.interrupt"),
        Binding("p", "pause", "pause", id="cockpit.pause"),
        Binding("p", "resume", "resume", id="cockpit.resume"),
        Binding("d", "diff", "diff", id="cockpit.diff"),
        Binding("n", "add_pr", "add PR", id="cockpit.add-pr"),
        Binding("f", "follow", "follow", id="cockpit.follow"),
        Binding("j", "step(1)", "next PR", show=False, id="cockpit.next-pr"),
        Binding("k", "step(-1)", "previous PR", show=False, id="cockpit.prev-pr"),
        Binding("1", "zoom('writer')", "writer", show=False, id="cockpit.max-writer"),
        Binding("2", "zoom('reviewers')", "reviewers", show=False, id="cockpit.max-reviewers"),
        Binding("3", "zoom('composer')", "composer", show=False, id="cockpit.max-composer"),
        Binding("0", "unzoom", "restore panes", show=False, id="cockpit.restore"),
        Binding("question_mark", "help", "help", id="cockpit.help"),
        Binding("q", "quit", "quit", id="cockpit.quit"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._bindings_shown = [b for b in self.BINDINGS if isinstance(b, Binding) and b.show]
        self._keys_shown: tuple[bool | None, ...] = ()
        # Kept, not queried: a frame runs up to 30 times a second.
        self.header = SessionHeader(id="header")
        self.banner = GateBanner(id="gate-banner")
        self.pr_list = PrList(id="pr-list")
        self.writer = WriterPane(id="writer", classes="pane")
        self.reviewers = ReviewersPane(id="reviewers", classes="pane")
        self.composer = ComposerPane(id="composer", classes="pane")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.banner
        with Horizontal(id="body"):
            self.pr_list.border_title = "PRs"
            yield self.pr_list
            with Vertical(id="panes"):
                yield self.writer
                with Horizontal(id="lower"):
                    yield self.reviewers
                    yield self.composer
        yield Footer(id="footer")

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
            self.header.set(header_content(s, now, selected, replay=app.controls is None, note=note))
            self.composer.show_memory(s)
        if d.prs or tick:
            self.pr_list.update_prs(sorted(s.prs.values(), key=lambda p: p.n), now)
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
        if d.gates or d.prs or moved:
            keys = tuple(app.commands.applies(b.action) for b in self._bindings_shown)
            if keys != self._keys_shown:
                self._keys_shown = keys
                self.refresh_bindings()  # the footer recomposes: only when what applies changed

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.cockpit.commands.applies(action)

    def action_approve(self) -> None:
        self.cockpit.commands.approve()

    def action_override(self) -> None:
        self.cockpit.commands.override()

    def action_edit(self) -> None:
        self.cockpit.commands.edit()

    def action_retry(self) -> None:
        self.cockpit.commands.retry()

    def action_skip(self) -> None:
        self.cockpit.commands.skip()

    def action_interrupt(self) -> None:
        self.cockpit.commands.interrupt()

    def action_pause(self) -> None:
        self.cockpit.commands.pause()

    def action_resume(self) -> None:
        self.cockpit.commands.resume()

    def action_diff(self) -> None:
        self.cockpit.commands.diff()

    def action_add_pr(self) -> None:
        self.cockpit.commands.add_pr()

    def action_follow(self) -> None:
        self.cockpit.commands.follow()

    def action_help(self) -> None:
        self.cockpit.commands.help()

    def action_quit(self) -> None:
        self.cockpit.request_quit()

    def action_step(self, delta: int) -> None:
        self.pr_list.step(delta)

    def action_zoom(self, pane: str) -> None:
        for p in PANES:
            self.set_class(p == pane, f"-max-{p}")
        # Focus goes with the pane: keys (scrolling) must not act on one that is hidden.
        shown: Widget = {"writer": self.writer, "reviewers": self.reviewers, "composer": self.composer}[pane]
        if self.focused is None or shown not in self.focused.ancestors_with_self:
            for w in shown.query("*"):
                if w.can_focus:
                    w.focus()
                    break

    def action_unzoom(self) -> None:
        for p in PANES:
            self.remove_class(f"-max-{p}")

    @on(PrList.Picked)
    def _picked(self, event: PrList.Picked) -> None:
        self.cockpit.pick(event.pr)
