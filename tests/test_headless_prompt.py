"""Headless without --auto-approve: gates are answered at the terminal (a real pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.demo import make_repo
from cockpit.demo.scenario import project_files
from tests.support.simconfig import WriteConfig

pytestmark = pytest.mark.slow


def test_gates_are_answered_at_the_prompt(tmp_path: Path, sim_config: WriteConfig) -> None:
    repo = make_repo(tmp_path / "repo", project_files("textkit"))
    cfg = tmp_path / "cockpit.toml"
    sim_config(cfg, "builtin:demo")
    journal = tmp_path / "j.sqlite3"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "run",
            "--repo",
            str(repo),
            "--task",
            "Add slugify()",
            "--config",
            str(cfg),
            "--headless",
            "--journal",
            str(journal),
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "NO_COLOR": "1", "EDITOR": ""},
        close_fds=True,
    )
    os.close(slave)
    screen = ""
    answers = ["z", "a", "o", "merge", "Add slugify, edited at the prompt"]  # z: no such answer
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(master, 4096).decode("utf-8", "replace")
                except OSError:
                    break
            if answers and (screen.rstrip().endswith(">") or screen.rstrip().endswith(":")):
                os.write(master, (answers.pop(0) + "\n").encode())
                screen += "\n"
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, screen
    assert "PR1 brief → write?" in screen and "a approve · e edit · r retry · s skip · x abandon" in screen
    assert "choose one of:" in screen  # the unknown answer was refused, the gate stayed open
    listed = subprocess.run(
        [sys.executable, "-m", "cockpit", "sessions", "--json", "--journal", str(journal)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout)[0]["prs"][0]["outcome"] == "merged"
    from cockpit.events import HumanDecision
    from cockpit.journal import Journal

    j = Journal(journal)
    answers_seen = [e for e in j.read_events(j.get_session("last").id) if isinstance(e, HumanDecision)]
    assert [(a.answer, a.action, a.by) for a in answers_seen] == [
        ("approve", "", "human"),
        ("override", "merge", "human"),
    ]
    assert answers_seen[1].text == "Add slugify, edited at the prompt"
