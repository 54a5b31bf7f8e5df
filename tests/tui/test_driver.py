"""cockpit's input driver (cockpit/tui/driver.py) in a real terminal, and where it is used.

The driver copies Textual's input loop to deliver a lone escape on time; this runs it under
tmux and checks that keys still arrive as keys: a lone escape as ``escape``, an arrow key's
escape sequence as one ``up`` (not an escape and two letters), plain letters as themselves.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from textual.drivers.linux_driver import LinuxDriver

from cockpit.tui.driver import QuickEscapeDriver, driver_class

ROOT = Path(__file__).resolve().parents[2]

APP = """
import sys
from pathlib import Path
from textual.app import App
from textual.widgets import Static
from cockpit.tui.driver import driver_class

OUT = Path(sys.argv[1])

class Echo(App[None]):
    def compose(self):
        yield Static("READY", id="s")

    def get_driver_class(self):
        return driver_class(super().get_driver_class())

    def on_key(self, event):
        with OUT.open("a") as f:
            f.write(event.key + "\\n")
        self.query_one("#s", Static).update("GOT " + event.key)
        if event.key == "q":
            self.exit()

Echo().run()
"""


def test_it_replaces_only_the_linux_driver() -> None:
    assert driver_class(LinuxDriver) is QuickEscapeDriver
    assert driver_class(HeadlessDriver) is HeadlessDriver


@pytest.mark.tmux
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
def test_keys_arrive_whole_through_it_in_a_real_terminal(tmp_path: Path) -> None:
    script = tmp_path / "echo_app.py"
    script.write_text(APP, encoding="utf-8")
    out = tmp_path / "keys.txt"
    socket = f"cockpit-driver-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False
        ).stdout

    def wait_for(text: str) -> str:
        screen = ""
        for _ in range(300):
            screen = tmux("capture-pane", "-p", "-t", "t")
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never showed; the screen was:\n{screen}")

    # COLUMNS / LINES leak in from pytest's environment; the pane's own size must win.
    env = f"env -u COLUMNS -u LINES TERM=xterm-256color ESCDELAY=20 PYTHONPATH={shlex.quote(str(ROOT))}"
    cmd = f"{env} {shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(out))}"
    tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "10", cmd)
    try:
        wait_for("READY")
        for key, shown in (
            ("Escape", "escape"),
            ("Up", "up"),
            ("x", "x"),
            ("Escape", "escape"),
            ("Down", "down"),
        ):
            tmux("send-keys", "-t", "t", key)
            wait_for(f"GOT {shown}")
            tmux("send-keys", "-t", "t", "z")  # a marker between keys: the next wait cannot match early
            wait_for("GOT z")
        tmux("send-keys", "-t", "t", "q")
        for _ in range(100):
            if "q" in out.read_text(encoding="utf-8").split():
                break
            time.sleep(0.05)
    finally:
        tmux("kill-server")
    keys = out.read_text(encoding="utf-8").split()
    assert keys == ["escape", "z", "up", "z", "x", "z", "escape", "z", "down", "z", "q"]
