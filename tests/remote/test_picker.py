"""The browser's first screen: pick a session; a finished one opens as a replay."""

from __future__ import annotations

from pathlib import Path

from cockpit.state import fold
from cockpit.tui.attach import SessionPicker, WebCockpitApp
from tests.support.sessions import SessionHarness


async def test_picking_a_finished_session_replays_it(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    journaled = h.events()
    app = WebCockpitApp(h.journal.path, by="browser:test")
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(200):
            if isinstance(app.screen, SessionPicker) and app.screen.rows:
                break
            await pilot.pause(0.02)
        picker = app.screen
        assert isinstance(picker, SessionPicker) and [r.id for r in picker.rows] == [h.session.id]
        await pilot.press("enter")
        for _ in range(1000):
            if app.session_done:
                break
            await pilot.pause(0.02)
        assert app.picked is not None and app.picked.status == "completed"
        assert app.replay is not None and app.controls is None  # a replay answers nothing
        assert app.model.state == fold(journaled)
        await pilot.press("q")
