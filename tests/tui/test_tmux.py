"""The real app in a real terminal: `cockpit demo` inside tmux, driven with send-keys.

It approves a gate, opens and closes the diff, and quits with work in flight; it reads the
screen with capture-pane (the three panes and the PR list must be on it) and the journal for
what the keys did. A private tmux server (-L) keeps it apart from anyone else's sessions.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from cockpit.events import Event, HumanDecision, PrClosed, SessionFinished
from cockpit.journal import Journal

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)"),
]

E = TypeVar("E", bound=Event)
TITLES = ("Add slugify()", "Add wrap() for fixed-width text", "Count words with the regex", "Fix the typo")
POLLS = 600  # x 0.1 s


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.socket = f"cockpit-test-{os.getpid()}"
        self.target = "cockpit"
        self.tmp = tmp

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True)
        return out.stdout

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # COLUMNS / LINES may leak in from the environment tmux was started from; the pane's real
        # size must win, so they are unset.
        line = (
            f"cd {shlex.quote(str(self.tmp))} && env -u COLUMNS -u LINES {exports} {shlex.join(command)}; "
            "echo $? > exit-code"
        )
        self.run("new-session", "-d", "-s", self.target, "-x", "160", "-y", "45", line)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.target, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.target)

    def wait(self, what: str, cond: Callable[[str], bool]) -> str:
        text = ""
        for _ in range(POLLS):
            try:
                text = self.screen()
            except subprocess.CalledProcessError:
                text = ""
            if cond(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"gave up waiting for {what}; the screen was:\n{text}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


def _events(journal_path: Path, cls: type[E]) -> list[E]:
    with Journal(journal_path) as j:
        rows = j.list_sessions()
        if not rows:
            return []
        return [e for e in j.read_events(rows[0].id) if isinstance(e, cls)]


def test_cockpit_demo_in_tmux(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    tmux = Tmux(tmp_path)
    command = [
        sys.executable,
        "-m",
        "cockpit",
        "demo",
        "--speed",
        "0",
        "--gate-timeout",
        "0",
        "--journal",
        str(journal),
        "--workdir",
        str(tmp_path / "demo"),
    ]
    env = {"COCKPIT_JOURNAL": str(journal), "TERM": "xterm-256color", "COCKPIT_THEME": "cockpit-dark"}
    tmux.start(command, env)
    try:
        wanted = ("Waiting for you", "Writer", "Reviewers", "Composer", "PRs", *(t[:20] for t in TITLES))
        screen = tmux.wait("the first gate, the panes and the PRs", lambda s: all(w in s for w in wanted))
        assert "PR 1 Add slugify()" in screen  # the banner names the PR the gate is for

        time.sleep(0.5)  # as a reader would: `a` ignores a gate on the banner for less than 0.3 s
        tmux.keys("a")  # approve PR 1's brief
        for _ in range(POLLS):
            if _events(journal, HumanDecision):
                break
            time.sleep(0.1)
        first = _events(journal, HumanDecision)
        assert first and (first[0].answer, first[0].by) == ("approve", "human")

        # Approve until PR 1 has a commit under review, then look at its diff.
        for _ in range(20):
            screen = tmux.wait("a gate", lambda s: "Waiting for you" in s)
            if "PR 1" in screen and "decision" in screen:
                break
            tmux.keys("a")
            time.sleep(0.3)
        tmux.keys("d")
        diff = tmux.wait("the diff", lambda s: "Files" in s and "textkit/slug.py" in s)
        assert "+" in diff
        tmux.keys("Escape")
        tmux.wait("the main screen again", lambda s: "Reviewers" in s and "Composer" in s)

        tmux.keys("q")
        tmux.wait("the quit question", lambda s: "Quit the session?" in s)
        tmux.keys("y")
        for _ in range(POLLS):
            if (tmp_path / "exit-code").exists():
                break
            time.sleep(0.1)
        assert (tmp_path / "exit-code").read_text().strip() == "130"
    finally:
        tmux.kill()
    finished = _events(journal, SessionFinished)
    assert [e.status for e in finished] == ["interrupted"]
    assert any(e.outcome == "interrupted" for e in _events(journal, PrClosed))


def _child_of(pid: int) -> int:
    """The cockpit process: the pane's shell's child."""
    for _ in range(POLLS):
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    return int(stat.parent.name)
        time.sleep(0.1)
    raise AssertionError(f"no child of {pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_a_closed_terminal_ends_the_session_in_the_journal(tmp_path: Path) -> None:
    """tmux kill-session hangs the terminal up under the cockpit: the session must still end in
    the journal (not stay "running" forever) and the process must exit, not hang on the terminal."""
    journal = tmp_path / "journal.sqlite3"
    tmux = Tmux(tmp_path)
    command = [sys.executable, "-m", "cockpit", "demo", "--speed", "0", "--gate-timeout", "0"]
    command += ["--journal", str(journal), "--workdir", str(tmp_path / "demo")]
    tmux.start(command, {"COCKPIT_JOURNAL": str(journal), "TERM": "xterm-256color"})
    try:
        tmux.wait("the first gate", lambda s: "Waiting for you" in s)
        cockpit = _child_of(int(tmux.run("display", "-p", "-t", tmux.target, "#{pane_pid}").strip()))
        tmux.run("kill-session", "-t", tmux.target)
        for _ in range(POLLS):
            if not _alive(cockpit):
                break
            time.sleep(0.1)
        assert not _alive(cockpit)
    finally:
        tmux.kill()
    assert [e.status for e in _events(journal, SessionFinished)] == ["interrupted"]
