"""After the cockpit closes, the terminal keeps the session id, each PR's outcome and the replay command.

Headless: printed after the summary table. Live: printed after the screen is restored, checked
in a real terminal (a private tmux server) whose shell outlives the cockpit.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cockpit.demo import make_repo
from cockpit.demo.scenario import project_files
from cockpit.journal import Journal
from tests.support.simconfig import WriteConfig

pytestmark = pytest.mark.slow


def cockpit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def only_session(journal: Path) -> str:
    with Journal(journal) as j:
        rows = j.list_sessions()
    assert len(rows) == 1
    return rows[0].id


def test_headless_ends_with_the_session_and_how_to_replay_it(tmp_path: Path, sim_config: WriteConfig) -> None:
    repo = make_repo(tmp_path / "repo", project_files("textkit"))
    sim_config(tmp_path / "cockpit.toml", "builtin:demo")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[pr]]\ntitle = "Add slugify()"\ntask = "slugs"\n')
    journal = tmp_path / "j.sqlite3"
    done = cockpit(
        "run", "--repo", str(repo), "--plan", str(plan), "--config", str(tmp_path / "cockpit.toml"),
        "--headless", "--auto-approve", "--journal", str(journal),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sid = only_session(journal)
    tail = done.stdout.splitlines()[-2:]
    replay = f"cockpit replay {sid} --journal {shlex.quote(str(journal))}"
    assert tail == [f"session {sid}: completed", f"replay it: {replay}"]
    assert "Add slugify()" in done.stdout and "merged" in done.stdout  # the table, above, has each PR
    argv = shlex.split(replay)  # the printed command works as printed
    assert argv[0] == "cockpit"
    again = subprocess.run(
        [sys.executable, "-m", *argv, "--headless", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "merged" in again.stdout


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
def test_the_live_cockpit_prints_it_after_the_screen_is_restored(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    socket = f"cockpit-closing-{id(tmp_path)}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def wait(what: str, cond: Callable[[str], bool]) -> str:
        screen = ""
        for _ in range(600):
            screen = tmux("capture-pane", "-p", "-J", "-t", "t")
            if cond(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"gave up waiting for {what}; the screen was:\n{screen}")

    command = [sys.executable, "-m", "cockpit", "demo", "--speed", "0", "--gate-timeout", "0", "--prs", "1"]
    command += ["--journal", str(journal), "--workdir", str(tmp_path / "demo")]
    line = f"cd {shlex.quote(str(tmp_path))} && env -u COLUMNS -u LINES TERM=xterm-256color "
    line += shlex.join(command) + "; echo exit=$?"
    # A shell in the pane outlives the cockpit, so what it printed after closing can be read.
    tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "45", "sh")
    try:
        wait("the shell's prompt", lambda s: s.strip() != "")  # typed before it, keys mix with it
        tmux("send-keys", "-t", "t", line, "Enter")
        wait("the first gate", lambda s: "Waiting for you" in s)
        time.sleep(0.5)
        tmux("send-keys", "-t", "t", "q")
        wait("the quit question", lambda s: "Quit the session?" in s)  # PR 1 is open: it asks
        tmux("send-keys", "-t", "t", "y")
        screen = wait("the shell again", lambda s: "exit=130" in s)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    sid = only_session(journal)
    assert "Waiting for you" not in screen  # the live screen is gone: this is the restored terminal
    lines = [ln.rstrip() for ln in screen.splitlines()]
    heads = [i for i, ln in enumerate(lines) if f"session {sid}: interrupted" in ln]
    assert heads, screen  # the reason depends on how the quit reached the session
    start = heads[0]
    assert lines[start + 1].split() == ["PR", "1", "interrupted", "Add", "slugify()"]
    assert lines[start + 2] == f"replay it: cockpit replay {sid} --journal {shlex.quote(str(journal))}"
