"""A key's visible change is in the very next refresh of the screen, not a tick or a pass later.

Each test wraps the app's write to the terminal and looks at what the first write after a key
showed: which widgets were visible, and what they held. No clock is read.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from cockpit.bus import EventBus
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.help import HelpScreen
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.screens.timeline import TimelineScreen
from cockpit.tui.widgets.reviewers import ReviewerCard
from tests.tui.scenes import diff_source, index_of, recorded_events


def _mid_session_app() -> tuple[CockpitApp, EventBus, int]:
    upto = index_of("dispatch_started", pr=2, round=2, role="writer") + 12
    t = recorded_events()[upto - 1].t
    bus = EventBus()
    return CockpitApp(bus=bus, clock=lambda: t, diff_source=diff_source, follow=False), bus, upto


class Writes:
    """What each write to the terminal showed once the key was handled: the screen, its visible
    widgets, the composer's text. (A write already under way when the key arrived, a tick's, does
    not count: the key had not been handled yet.)"""

    def __init__(self, app: CockpitApp) -> None:
        self.seen: list[tuple[Screen[Any], set[Any], str]] = []
        self.handled = False
        original = app._display
        run = app.commands.run

        def display(screen: Screen[Any], update: Any) -> None:
            if self.handled:
                main = app.main
                composer = main.composer.source if main is not None else ""
                self.seen.append((screen, set(screen._compositor.visible_widgets), composer))
            original(screen, update)

        def handled(name: str) -> None:
            run(name)
            self.handled = True

        app._display = display  # type: ignore[method-assign]
        app.commands.run = handled  # type: ignore[method-assign]

    def clear(self) -> None:
        self.seen.clear()
        self.handled = False

    def count_close(self, screen: Any) -> None:
        """A dialog's escape runs its ``action_close``, not a command: count it as handled there."""
        original = screen.action_close

        def close() -> None:
            original()
            self.handled = True

        screen.action_close = close

    @property
    def first(self) -> tuple[Screen[Any], set[Any], str]:
        assert self.seen, "nothing was written to the terminal"
        return self.seen[0]


async def test_each_key_shows_its_change_in_the_next_write() -> None:
    app, bus, upto = _mid_session_app()
    async with app.run_test(size=(160, 45)) as pilot:
        bus.publish(recorded_events()[:upto])
        await app.settled()
        app.pick(2)
        await app.settled()
        await pilot.pause()
        main = app.main
        assert isinstance(main, MainScreen)
        writes = Writes(app)

        await pilot.press("1")
        await pilot.pause()
        _, visible, _ = writes.first
        assert main.writer in visible and main.reviewers not in visible and main.composer not in visible

        writes.clear()
        await pilot.press("0")
        await pilot.pause()
        _, visible, _ = writes.first
        assert {main.writer, main.reviewers, main.composer} <= visible

        writes.clear()
        composer_before = main.composer.source
        await pilot.press("j")
        await pilot.pause()
        _, _, composer = writes.first
        assert app.selected == 3 and composer != composer_before  # PR 3's brief, in the same write

        writes.clear()
        await pilot.press("question_mark")
        await pilot.pause()
        screen, _, _ = writes.first
        assert isinstance(screen, HelpScreen)

        writes.clear()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        writes.count_close(help_screen)
        await pilot.press("escape")
        await pilot.pause()
        screen, _, _ = writes.first
        assert screen is main

        writes.clear()
        await pilot.press("t")
        await pilot.pause()
        screen, _, _ = writes.first
        assert isinstance(screen, TimelineScreen)

        writes.clear()
        timeline = app.screen
        assert isinstance(timeline, TimelineScreen)
        writes.count_close(timeline)
        await pilot.press("escape")
        await pilot.pause()
        screen, _, _ = writes.first
        assert screen is main
        await pilot.press("t")  # installed once: the same screen comes back
        await pilot.pause()
        assert app.screen is timeline


async def test_switching_prs_reuses_the_reviewer_cards() -> None:
    """Cards are filled again, not removed and mounted: mounting made a PR switch lay the screen
    out two or three times after its first frame."""
    app, bus, upto = _mid_session_app()
    async with app.run_test(size=(160, 45)) as pilot:
        bus.publish(recorded_events()[:upto])
        await app.settled()
        app.pick(2)
        await app.settled()
        main = app.main
        assert isinstance(main, MainScreen)
        cards = list(main.reviewers.query(ReviewerCard))
        assert len(cards) == 2
        names = [c._head.content.plain for c in cards]
        await pilot.press("j")  # PR 3: no review yet
        await app.settled()
        assert app.selected == 3
        assert list(main.reviewers.query(ReviewerCard)) == cards
        assert not any(c.display for c in cards)
        await pilot.press("k")
        await app.settled()
        assert list(main.reviewers.query(ReviewerCard)) == cards
        assert all(c.display for c in cards)
        assert [c._head.content.plain for c in cards] == names
