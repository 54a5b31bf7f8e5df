"""The idle collector: it freezes what is alive at start, runs full collections only when the
person is quiet, and gives the interpreter back as it found it."""

from __future__ import annotations

import gc

from cockpit.bus import EventBus
from cockpit.tui.app import CockpitApp
from cockpit.tui.collector import EVERY_S, OLD_THRESHOLD, QUIET_S, IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_start_freezes_and_stop_restores() -> None:
    before = gc.get_threshold()
    c = IdleCollector(Clock())
    try:
        c.start()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], OLD_THRESHOLD)
        c.start()  # again after a setup: still restores the first thresholds
    finally:
        c.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    c.stop()  # twice is harmless
    assert gc.get_threshold() == before


def test_a_full_collection_waits_for_a_quiet_moment() -> None:
    clock = Clock()
    c = IdleCollector(clock)
    assert not c.tick()  # not started: never collects
    try:
        c.start()
        clock.now += EVERY_S - 1
        assert not c.tick()  # not due yet
        clock.now += 2
        c.touched()  # someone is typing
        assert not c.tick()
        clock.now += QUIET_S / 2
        assert not c.tick()
        clock.now += QUIET_S
        assert c.tick() and c.full_runs == 1
        assert not c.tick()  # the next one is EVERY_S later
        clock.now += EVERY_S
        assert c.tick() and c.full_runs == 2
    finally:
        c.stop()


async def test_the_app_takes_over_while_it_runs_and_gives_back() -> None:
    before = gc.get_threshold()
    app = CockpitApp(bus=EventBus())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.settled()
        assert app.collector.active
        assert gc.get_threshold()[2] == OLD_THRESHOLD
        await pilot.press("j")  # a key: not quiet
        assert not app.collector.tick()
    assert not app.collector.active
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
