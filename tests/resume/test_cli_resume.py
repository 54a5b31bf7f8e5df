"""`cockpit resume` from the command line: a killed `cockpit demo` carries on; a live or finished
session is refused with a clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.journal import Journal

pytestmark = pytest.mark.slow


def cockpit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def test_a_killed_demo_resumes_with_its_simulators(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite3")
    work = tmp_path / "demo"
    first = cockpit(
        "demo", "--headless", "--speed", "0", "--prs", "2", "--workdir", str(work), "--journal", journal,
        env={"COCKPIT_FAULT_KILL": "event:verdict_parsed:1"},
    )  # fmt: skip
    assert first.returncode == -9, first.stderr
    listed = cockpit("sessions", "--journal", journal)
    assert " unfinished " in listed.stdout and "2 interrupted" in listed.stdout
    again = cockpit("resume", "--headless", "--journal", journal)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resumed after its process" in again.stdout and "PR 1 was " in again.stdout
    listed = cockpit("sessions", "--journal", journal)
    assert " completed " in listed.stdout and "2 merged" in listed.stdout
    log = subprocess.run(
        ["git", "log", "--oneline", "main"], cwd=work / "textkit", capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) >= 3
    nothing = cockpit("resume", "--journal", journal)
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr


def test_a_session_whose_owner_lives_is_refused_with_its_pid_and_host(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        j.begin_session("20261206-000000-beef", "/nowhere", "main", "run")  # owned by this process
    out = cockpit("resume", "20261206-000000-beef", "--headless", "--journal", str(path))
    assert out.returncode == 2
    assert f"still running (pid {os.getpid()} on {socket.gethostname()})" in out.stderr
