"""The replay player in the cockpit: play, pause, step, seek, milestones, speed, go to a PR, the
timeline bar and the timeline view, driven by keys through Textual's pilot."""

from __future__ import annotations

import math
from pathlib import Path

from cockpit.bus import EventBus
from cockpit.events import CommitSeen
from cockpit.replay import ReplayDriver
from cockpit.state import fold
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.replay import ReplayScreen
from cockpit.tui.screens.timeline import TimelineScreen
from cockpit.tui.widgets.timeline_bar import TimelineBar
from tests.support.sessions import SessionHarness


async def test_player_keys(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    events = h.events()
    bus = EventBus()
    driver = ReplayDriver(h.journal.path, h.session.id, bus, speed=0.01, hold=True)
    driver.pause()  # the test moves it by keys only

    async def runner() -> int:
        return await driver.run()

    app = CockpitApp(bus=bus, controls=None, runner=runner, replay=driver, clock=lambda: events[-1].t)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        assert isinstance(app.screen, ReplayScreen)

        async def at(n: int) -> None:
            await pilot.pause()
            assert driver.position == n
            assert app.model.state == fold(events[:n])

        await pilot.press("end")
        await at(len(events))
        assert app.screen.query_one(TimelineBar).view is not None
        await pilot.press("home")
        await at(0)
        await pilot.press("right", "right", "right")
        await at(3)
        await pilot.press("left")
        await at(2)
        await pilot.press("right_square_bracket")  # the first milestone: its event is the last shown
        first = driver.milestones()[0]
        await at(first.seq + 1)
        await pilot.press("right_square_bracket", "left_square_bracket")
        await at(first.seq + 1)
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("3", "enter")
        opened = next(e for e in events if e.pr == 3)
        await at(opened.seq + 1)
        assert app.selected == 3
        # speed: + and - step through 0.25x .. 64x, then as fast as possible
        driver.set_speed(1)
        await pilot.press("plus")
        assert driver.speed == 2
        await pilot.press("minus", "minus")
        assert driver.speed == 0.5
        await pilot.press("i")
        assert driver.skip_idle is False
        await pilot.press("i")
        # space plays; at top speed it reaches the end, and the player holds there
        for _ in range(12):
            await pilot.press("plus")
        assert math.isinf(driver.speed)
        await pilot.press("space")
        assert not driver.paused
        for _ in range(200):
            await pilot.pause(0.02)
            if driver.at_end and driver.position == len(events):
                break
        await at(len(events))
        await pilot.press("space")
        assert driver.paused
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReplayScreen)
        messages = [n.message for n in app._notifications]
        assert "Replay paused: space plays." in messages
        await pilot.press("q")


async def test_replay_diff_without_the_repository(tmp_path: Path) -> None:
    """d in a replay whose repository is gone: the journal's per-file stats, and it says why."""
    from cockpit.git.model import GitError
    from cockpit.tui.screens.diff import DiffScreen

    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    events = h.events()
    driver = ReplayDriver(h.journal.path, h.session.id, EventBus(), hold=True)
    driver.pause()

    def gone(base: str, head: str) -> object:
        raise GitError("repository /nowhere does not exist")

    async def runner() -> int:
        return await driver.run()

    app = CockpitApp(
        bus=driver.bus,
        controls=None,
        runner=runner,
        replay=driver,
        diff_source=gone,
        clock=lambda: events[-1].t,
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("end")
        await pilot.pause()
        pr = next(p for p in app.model.state.prs.values() if p.commits)
        app.pick(pr.n)
        await pilot.press("d")
        for _ in range(200):
            await pilot.pause(0.02)
            screen = app.screen
            if isinstance(screen, DiffScreen) and screen.diff is not None and "gone" in screen.shown_text:
                break
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.diff is not None
        paths = {f.path for c in pr.commits for f in c.files}
        assert {f.path for f in screen.diff.files} == paths and paths
        assert "is gone" in screen.shown_text and "per-file stats" in screen.shown_text


async def test_timeline_view_in_the_live_cockpit(tmp_path: Path) -> None:
    """t in the live cockpit: one lane per PR, redrawn as events arrive; t again goes back."""
    from cockpit.tui.screens.main import MainScreen
    from cockpit.tui.screens.timeline import timeline_content
    from tests.tui import scenes

    scene = scenes.scenes()["timeline"]
    app, bus = scenes.build(scene, scenes.scratch_controls(tmp_path))
    events = scenes.recorded_events()
    half = len(events) // 2
    async with app.run_test(size=(140, 40)) as pilot:
        bus.publish(events[:half])
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        before = timeline_content(app.model.state, app.clock(), 120).plain
        bus.publish(events[half:])
        await pilot.pause(0.3)
        after = timeline_content(app.model.state, app.clock(), 120).plain
        lane4 = [ln for ln in after.splitlines() if "4 Fix the typo" in ln]
        assert before != after and lane4 and "█" in lane4[0]  # PR 4's writer, drawn once it ran
        assert all(f"{n} " in after for n in (1, 2, 3))
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_player_keys_are_in_the_palette(tmp_path: Path) -> None:
    from tests.tui import scenes

    app, _ = scenes.build_replay(scenes.scenes()["replay-mid-session"], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.replay is not None and app.replay.position == 0
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Replay", "space", *"end")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.replay.position:
                break
        assert app.replay.position == app.replay.total


async def test_a_replay_of_a_session_whose_owner_died_ends_unfinished(tmp_path: Path) -> None:
    """A session cut off mid-way (its owner died: here, half of its export imported) replays to
    its last event and then says what ``sessions`` says: unfinished, its open PRs interrupted."""
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    events = h.events()
    whole = b"".join(h.journal.export_chunks(h.session.id)).splitlines(keepends=True)
    cut = next(e.seq for e in events if isinstance(e, CommitSeen) and e.pr == 2)  # PR 2 mid-round
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(whole[: cut + 1]))
    from cockpit.journal import Journal

    with Journal(tmp_path / "cut.sqlite3") as j:
        sid, _ = j.import_jsonl(part)
        assert j.get_session(sid).status == "unfinished"
    bus = EventBus()
    driver = ReplayDriver(tmp_path / "cut.sqlite3", sid, bus, speed=math.inf, hold=True)

    async def runner() -> int:
        return await driver.run()

    app = CockpitApp(bus=bus, controls=None, runner=runner, replay=driver, clock=lambda: events[cut].t)
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(200):
            await pilot.pause()
            if driver.at_end and app.model.state.status == "unfinished":
                break
        assert driver.position == cut + 1
        assert app.model.state.status == "unfinished"
        assert app.model.state.prs[2].status == "interrupted"
        assert app.model.state.prs[1].status == "merged"
