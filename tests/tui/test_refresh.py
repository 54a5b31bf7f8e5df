"""A key's visible change is in the very next refresh of the screen, not a tick or a pass later.

Each test wraps the app's write to the terminal and looks at what the first write after a key
showed: which widgets were visible, and what they held. No clock is read.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.help import HelpScreen
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.screens.timeline import TimelineScreen
from cockpit.tui.widgets.reviewers import ReviewerCard
from tests.tui.scenes import mid_session_app, recorded_events


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
    app, bus, upto = mid_session_app()
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

        async def opens_and_escape_closes(key: str, kind: type[Screen[Any]]) -> Screen[Any]:
            """``key`` shows a ``kind`` screen in the next write, escape shows main in the next."""
            writes.clear()
            await pilot.press(key)
            await pilot.pause()
            screen, _, _ = writes.first
            assert isinstance(screen, kind)
            writes.clear()
            dialog = app.screen
            assert isinstance(dialog, kind)
            writes.count_close(dialog)
            await pilot.press("escape")
            await pilot.pause()
            screen, _, _ = writes.first
            assert screen is main
            return dialog

        await opens_and_escape_closes("question_mark", HelpScreen)
        timeline = await opens_and_escape_closes("t", TimelineScreen)
        await pilot.press("t")  # installed once: the same screen comes back
        await pilot.pause()
        assert app.screen is timeline


async def test_switching_prs_reuses_the_reviewer_cards() -> None:
    """Cards are filled again, not removed and mounted: mounting made a PR switch lay the screen
    out two or three times after its first frame."""
    app, bus, upto = mid_session_app()
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
