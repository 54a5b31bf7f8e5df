"""Replay feeds the journal's events back with their order; exports keep everything, and no secret."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.bus import EventBus
from cockpit.demo.scenario import project_files
from cockpit.demo.stack import SIM_KEY, start_sims
from cockpit.events import Event, SessionFinished, Warn, decode
from cockpit.journal import Journal
from cockpit.plan import PlanItem
from cockpit.replay import ReplayDriver
from cockpit.report import markdown
from cockpit.state import fold
from tests.support.sessions import SessionHarness, config_session

pytestmark = pytest.mark.slow


async def test_replay_is_the_same_stream(tmp_path: Path) -> None:
    h = SessionHarness.build(tmp_path, auto_approve=True)
    await h.run()
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    n = await ReplayDriver(h.journal.path, h.session.id, bus, speed=0).run()
    assert seen == h.events() == h.events_seen and n == len(seen)
    assert fold(seen) == h.state()


def test_gaps_are_divided_and_idle_is_skipped(tmp_path: Path) -> None:
    d = ReplayDriver(tmp_path / "j.sqlite3", "s", EventBus(), speed=10, skip_idle=False)
    assert d._gap(None, 5.0) == 0 and d._gap(0.0, 5.0) == 0.5 and d._gap(0.0, 3600.0) == 360
    assert d.toggle_skip_idle() is True  # i: a gap over 2 s of session time plays as 2 s
    assert d._gap(0.0, 1.0) == 0.1 and d._gap(0.0, 3600.0) == 0.2
    d.set_speed(0)
    assert d._gap(0.0, 5.0) == 0


async def test_follow_reads_a_session_still_being_written(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    w = j.writer("s1")
    w.append(Warn(session="s1", seq=0, t=1.0, message="first"))
    w.flush()
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    driver = ReplayDriver(path, "s1", bus, speed=0, follow=True, poll_s=0.02)
    task = asyncio.create_task(driver.run())
    await asyncio.sleep(0.1)
    assert [type(e).__name__ for e in seen] == ["Warn"] and not task.done()
    w.append(Warn(session="s1", seq=1, t=2.0, message="second"))
    w.append(SessionFinished(session="s1", seq=2, t=3.0, status="completed"))
    w.flush()
    assert await asyncio.wait_for(task, 10) == 3
    assert [e.seq for e in seen] == [0, 1, 2]
    w.close()


async def test_exports_and_no_secret_anywhere(tmp_path: Path) -> None:
    """Invariant 6: the API key reaches neither the journal nor an export."""
    stack = start_sims("builtin:demo", speed=0)
    try:
        cfg = stack.config()
        session, journal = config_session(
            tmp_path, cfg, [PlanItem("Add slugify()", "slugs")], files=project_files("textkit")
        )
        assert (await session.run()).exit_code == 0
        auth = [
            r.headers.get("x-api-key", "") + r.headers.get("authorization", "") for r in stack.anthropic.log
        ]
    finally:
        stack.close()
    assert all(SIM_KEY in a for a in auth)  # the key was really used on the wire
    journal.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite3*"))
    assert SIM_KEY.encode() not in blob
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "export", "--journal", str(tmp_path / "j.sqlite3")],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    lines = out.splitlines()
    events = [decode(line) for line in lines]
    assert events[0].seq == 0 and isinstance(events[-1], SessionFinished) and len(events) > 20
    assert all(json.loads(line)["kind"] for line in lines)
    assert SIM_KEY.encode() not in out
    md = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "export",
            "last",
            "--format",
            "md",
            "--journal",
            str(tmp_path / "j.sqlite3"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert md == markdown(events)
    assert "## PR 1: Add slugify()" in md and "**correctness**: APPROVE" in md
    assert "Composer proposes **merge**" in md
    assert SIM_KEY not in md


def test_replay_command(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "demo",
            "--headless",
            "--speed",
            "0",
            "--prs",
            "2",
            "--journal",
            str(journal),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    again = subprocess.run(
        [sys.executable, "-m", "cockpit", "replay", "--headless", "--speed", "0", "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    strip = [ln.split(None, 1)[-1] for ln in demo.stdout.splitlines() if "s " in ln[:12]]
    replayed = [ln.split(None, 1)[-1] for ln in again.stdout.splitlines() if "s " in ln[:12]]
    assert strip == replayed  # the same lines, in the same order
    missing = subprocess.run(
        [sys.executable, "-m", "cockpit", "replay", "nope", "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no session 'nope'" in missing.stderr


async def test_a_long_session_replays_whole(tmp_path: Path) -> None:
    """More events than one read batch: the replay still reaches the end (no --follow)."""
    from cockpit.replay import BATCH

    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    w = j.writer("s1")
    n = BATCH * 2 + 501
    for i in range(n - 1):
        w.append(Warn(session="s1", seq=i, t=float(i), message=str(i)))
    w.append(SessionFinished(session="s1", seq=n - 1, t=float(n), status="completed"))
    w.flush()
    w.close()
    seen: list[Event] = []
    bus = EventBus()
    bus.subscribe(seen.append)
    driver = ReplayDriver(path, "s1", bus, speed=0)
    assert await driver.run() == n and driver.finished
    assert [e.seq for e in seen] == list(range(n))


async def test_follow_ends_when_the_owner_is_gone(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    w = j.writer("s1")
    w.append(Warn(session="s1", seq=0, t=1.0, message="only"))
    w.flush()
    w.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE sessions SET owner_pid = 999999999")  # a process that no longer exists
    conn.commit()
    driver = ReplayDriver(path, "s1", EventBus(), speed=0, follow=True, poll_s=0.01)
    assert await asyncio.wait_for(driver.run(), 10) == 1 and not driver.finished
