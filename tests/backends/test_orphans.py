"""Processes a dead session left behind are found by their mark and stopped (resume, clean)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cockpit.backends.process import SESSION_ENV, Watchdog, mark_for, session_processes, sweep_orphans


def _marked_sleeper(mark: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, SESSION_ENV: mark},
        start_new_session=True,
    )


def _gone(proc: subprocess.Popen[bytes], limit_s: float = 10.0) -> bool:
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc.poll() is not None


def test_sweep_orphans_stops_a_dead_owners_processes_and_keeps_ours() -> None:
    orphan = _marked_sleeper("s-1:999999999")  # an owner pid that does not exist
    mine = _marked_sleeper(mark_for("s-1"))  # started by this process for the same session
    other = _marked_sleeper("s-2:999999999")  # another session
    try:
        deadline = time.monotonic() + 10
        while len(session_processes("s-1")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        said = sweep_orphans("s-1")
        assert _gone(orphan) and len(said) == 1 and f"pid {orphan.pid}" in said[0]
        assert mine.poll() is None and other.poll() is None
    finally:
        for p in (orphan, mine, other):
            p.kill()
            p.wait()


def test_the_watchdog_kills_its_sessions_processes_when_the_pipe_closes() -> None:
    dog = Watchdog(mark_for("s-3"))
    proc = _marked_sleeper(mark_for("s-3"))
    try:
        assert proc.poll() is None
        dog.close()  # as when the cockpit exits or dies: the pipe closes
        assert _gone(proc)
    finally:
        proc.kill()
        proc.wait()
