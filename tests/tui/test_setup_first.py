"""`cockpit demo` draws the cockpit before its setup: the header names the step under way, and a
setup that fails ends the app with the error kept for the command line to report."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cockpit.bus import EventBus
from cockpit.engine.controls import LiveSession
from cockpit.tui.app import CockpitApp


class SetupBroke(Exception):
    pass


async def test_the_screen_names_the_setup_step_then_reports_a_failure() -> None:
    reached = threading.Event()
    go_on = threading.Event()

    def prepare(step: Callable[[str], None]) -> LiveSession:
        step("making the scratch repository")
        reached.set()
        assert go_on.wait(30)
        raise SetupBroke("the disk is full")

    app = CockpitApp(bus=EventBus())
    app.set_up_first(prepare, gate_timeout=5)
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(200):
            await pilot.pause(0.02)
            if reached.is_set() and app.setting_up != "starting":
                break
        await pilot.pause()
        assert app.main is not None and app.main.header.is_attached
        assert app.setting_up == "making the scratch repository"
        assert "setting up the demo: making the scratch repository" in app.header_note()
        assert app.controls is None and not app.session_done  # nothing runs yet
        go_on.set()
        assert app.setup_finished.wait(30)
        for _ in range(200):
            if not app.is_running:
                break
            await pilot.pause(0.02)
    assert isinstance(app.setup_error, SetupBroke)
    assert app.prepared is None


async def test_q_during_setup_leaves_as_interrupted() -> None:
    go_on = threading.Event()

    def prepare(step: Callable[[str], None]) -> LiveSession:
        step("starting the simulators")
        go_on.wait(30)
        raise SetupBroke("never reached the session")

    app = CockpitApp(bus=EventBus())
    app.set_up_first(prepare)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    go_on.set()
    assert app.return_value == 130
