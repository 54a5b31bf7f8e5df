"""The replay player: seeks fold from checkpoints, steps and milestones land where they say, speed 0
gives the loop back, and --follow reads a live session to its end."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.longsession import synthetic_events, write_session
from cockpit import checkpoints
from cockpit.bus import EventBus
from cockpit.events import Event
from cockpit.journal import Journal
from cockpit.replay import MILESTONE_KINDS, SPEEDS, ReplayDriver
from cockpit.state import SessionState, fold


class Viewer:
    """Folds what the player shows, the way the cockpit's view model does (reset on a seek)."""

    def __init__(self, driver: ReplayDriver) -> None:
        self.state = SessionState()
        self.resets = 0
        driver.on_reset = self.reset
        driver.bus.subscribe(self.state_apply)

    def reset(self, state: SessionState) -> None:
        self.state = state
        self.resets += 1

    def state_apply(self, ev: Event) -> None:
        self.state.apply(ev)


@pytest.fixture(scope="module")
def long_journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Event]]:
    path = tmp_path_factory.mktemp("player") / "j.sqlite3"
    write_session(path, 6000, 6, every=500)
    return path, list(synthetic_events(6000, 6))


def test_checkpoints_are_written_beside_the_events(long_journal: tuple[Path, list[Event]]) -> None:
    path, events = long_journal
    with Journal(path) as j:
        seqs = [
            r[0] for r in j._conn.execute("SELECT seq FROM checkpoints WHERE session = 'bench' ORDER BY seq")
        ]
        assert len(seqs) >= 5 and seqs[-1] == len(events)
        for at in (0, 1, 777, 3001, len(events)):
            assert j.state_at("bench", at) == fold(events[:at])
        summary = j.summary("bench")
        assert summary["events"] == len(events) and summary["status"] == "completed"
        assert {(s["role"], s["model"]) for s in summary["spend"]} == {
            ("composer", "claude-sonnet-4-6"),
            ("reviewer", "glm-4.6"),
            ("writer", "gpt-5-codex"),
        }


def test_seek_step_and_ends(long_journal: tuple[Path, list[Event]]) -> None:
    path, events = long_journal
    driver = ReplayDriver(path, "bench", EventBus(), hold=True)
    view = Viewer(driver)
    try:
        for target in (4000, 10, 2500, 2501, len(events) - 1, 3):
            assert driver.seek(target) == target
            assert view.state == fold(events[:target]), target
        resets = view.resets
        driver.seek(3)
        driver.step(1)
        assert driver.position == 4 and driver.paused and view.resets == resets  # forward: no refold
        driver.step(-1)
        assert driver.position == 3 and view.state == fold(events[:3])
        assert driver.end() == len(events) and view.state == fold(events)
        assert driver.home() == 0 and view.state == SessionState()
        assert driver.seek(10**9) == len(events) and driver.seek(-5) == 0  # clamped
    finally:
        driver.close()


def test_milestones_and_go_to_a_pr(long_journal: tuple[Path, list[Event]]) -> None:
    path, events = long_journal
    driver = ReplayDriver(path, "bench", EventBus(), hold=True)
    view = Viewer(driver)
    try:
        wanted = [e.seq for e in events if type(e).__struct_config__.tag in MILESTONE_KINDS]
        assert [m.seq for m in driver.milestones()] == wanted
        first = driver.next_milestone()
        assert first is not None and first.kind == "human_decision" and driver.position == wanted[0] + 1
        second = driver.next_milestone()
        assert second is not None and second.seq == wanted[1]
        back = driver.prev_milestone()
        assert back is not None and back.seq == wanted[0] and view.state == fold(events[: wanted[0] + 1])
        assert driver.goto_pr(4)
        opened = next(e for e in events if e.pr == 4)
        assert driver.position == opened.seq + 1 and 4 in view.state.prs
        assert not driver.goto_pr(99)
    finally:
        driver.close()


def test_speed_steps() -> None:
    d = ReplayDriver(Path("unused.sqlite3"), "s", EventBus(), speed=1)
    assert d.faster() == 2 and d.slower() == 1
    for _ in range(20):
        d.slower()
    assert d.speed == SPEEDS[0] == 0.25
    for _ in range(20):
        d.faster()
    assert d.speed == float("inf")  # "as fast as possible" is the top step


async def test_speed_zero_gives_the_loop_back(long_journal: tuple[Path, list[Event]]) -> None:
    """At speed 0 the player still yields to the loop (so a screen can draw) while it publishes."""
    path, events = long_journal
    bus = EventBus()
    ticks = {"n": 0}
    ticks_seen: list[int] = []
    bus.subscribe(lambda ev: ticks_seen.append(ticks["n"]))
    driver = ReplayDriver(path, "bench", bus, speed=0)
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks["n"] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    slow: list[float] = []

    def slow_view(ev: Event) -> None:  # a view that takes time per event, like a real one
        t = time.perf_counter() + 0.0002
        while time.perf_counter() < t:
            pass
        slow.append(ev.t)

    bus.subscribe(slow_view)
    assert await driver.run() == len(events)
    stop.set()
    await task
    # The loop ran other work many times while the player was publishing, not only after it.
    assert len(set(ticks_seen)) > 10 and ticks_seen[-1] > ticks_seen[0]


def test_old_journal_gains_the_tables_and_is_indexed_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    write_session(path, 3000, 3, every=500)
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE checkpoints; DROP TABLE summaries;")  # a journal from before them
    conn.close()
    with Journal(path) as j:
        assert j.checkpoint_before("bench", 10**9) == (0, None)
        summary = j.summary("bench")  # indexes the finished session once
        assert summary["status"] == "completed" and summary["events"] == j.count_events("bench")
        n = j._conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        assert n >= 1 and checkpoints.read_summary(j._conn, "bench") is not None
        # A checkpoint of another shape or reducer version is ignored, never misread.
        j._conn.execute("UPDATE checkpoints SET version = 'other'")
        assert j.checkpoint_before("bench", 10**9) == (0, None)
        assert j.state_at("bench") == fold(j.read_events("bench"))


@pytest.mark.slow
async def test_follow_reads_every_event_of_a_live_demo(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    argv = ["demo", "--headless", "--prs", "2", "--speed", "3", "--journal", str(journal)]
    demo = subprocess.Popen(
        [sys.executable, "-m", "cockpit", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        sid = ""
        for _ in range(1200):  # wait for the session to exist
            if journal.exists():
                with Journal(journal) as j:
                    rows = j.list_sessions()
                if rows:
                    sid = rows[0].id
                    break
            await asyncio.sleep(0.05)
        assert sid and demo.poll() is None  # followed while it is still being written
        bus = EventBus()
        seen: list[Event] = []
        bus.subscribe(seen.append)
        driver = ReplayDriver(journal, sid, bus, speed=0, follow=True, poll_s=0.05)
        n = await asyncio.wait_for(driver.run(), 300)
        assert await asyncio.to_thread(demo.wait, 300) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    with Journal(journal) as j:
        events = list(j.read_events(sid))
    assert n == len(seen) == len(events) and seen == events
    assert type(seen[-1]).__name__ == "SessionFinished" and driver.finished


def test_a_failing_checkpoint_never_costs_an_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: checkpoints.Checkpointer, conn: object, events: object) -> None:
        raise RuntimeError("reducer bug")

    monkeypatch.setattr(checkpoints.Checkpointer, "add", broken)
    errors: list[BaseException] = []
    with Journal(tmp_path / "j.sqlite3") as j:
        j.begin_session("bench", "/r", "main", "run")
        w = j.writer("bench", on_error=errors.append, checkpoint_every=10)
        events = list(synthetic_events(500, 2))
        for ev in events:
            w.append(ev)
        w.flush()
        w.close()
        assert list(j.read_events("bench")) == events
        assert any("checkpoints stopped" in str(e) for e in errors)
        assert j.state_at("bench") == fold(events)  # folded from the events instead


def test_without_a_view_to_reset_the_player_only_moves_forward(
    long_journal: tuple[Path, list[Event]],
) -> None:
    """A headless printer cannot start again: Ctrl-C's skip to the end publishes the rest once."""
    path, events = long_journal
    seen: list[Event] = []
    bus = EventBus()
    bus.subscribe(seen.append)
    driver = ReplayDriver(path, "bench", bus)
    try:
        driver.seek(1234)
        assert driver.seek(10) == 1234  # no going back
        driver.skip_to_end()
        assert seen == events  # every event exactly once, in order
    finally:
        driver.close()
