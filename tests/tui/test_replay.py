"""cockpit replay in the cockpit: the journal's events, through the driver, into the same widgets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cockpit.bus import EventBus
from cockpit.replay import ReplayDriver
from cockpit.state import fold
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.pr_list import PrList
from tests.support.sessions import SessionHarness


async def test_a_replay_shows_the_session_and_p_pauses_it(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    journaled = h.events()
    bus = EventBus()
    driver = ReplayDriver(h.journal.path, h.session.id, bus, speed=0.05)

    async def runner() -> int:
        await driver.run()
        return 0

    app = CockpitApp(bus=bus, controls=None, runner=runner, replay=driver, clock=lambda: journaled[-1].t)
    said: list[str] = []
    notify = app.notify

    def spy(message: str, *args: object, **kw: object) -> None:  # toasts expire; what was said stays
        said.append(message)
        notify(message, *args, **kw)  # type: ignore[arg-type]

    app.notify = spy  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await pilot.press("space")  # pause the replay itself, not a session
        await pilot.pause()
        assert driver.paused
        assert "Replay paused: space plays." in said
        seen = driver.published
        await asyncio.sleep(0.2)
        assert driver.published == seen  # nothing moves while paused
        driver.set_speed(0)  # as fast as possible
        await pilot.press("space")
        assert "Replay playing." in said
        for _ in range(500):
            if app.session_done:
                break
            await asyncio.sleep(0.02)
        assert app.session_done and driver.finished
        await pilot.pause()
        # The app folded exactly what the journal holds, so it shows what the live session showed.
        assert app.model.state == fold(journaled)
        assert app.screen.query_one(PrList).option_count == 4
        await pilot.press("q")
