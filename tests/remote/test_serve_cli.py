"""cockpit serve on the command line: what it says before any browser connects."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "serve", "--journal", str(tmp_path / "j.sqlite3"), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        got = _serve(tmp_path, "--port", str(port))
    assert got.returncode == 2
    assert f"cockpit: cannot serve on 127.0.0.1:{port}:" in got.stderr and "in use" in got.stderr


def test_a_host_off_loopback_is_warned_about(tmp_path: Path) -> None:
    # 192.0.2.1 is a documentation address no machine has: the bind fails, after the warning.
    got = _serve(tmp_path, "--host", "192.0.2.1", "--port", "8765")
    assert "warning: serving on 192.0.2.1, not loopback" in got.stderr
    assert got.returncode == 2 and "cannot serve on 192.0.2.1:8765" in got.stderr
    assert "open http://192.0.2.1:8765/" in got.stdout  # the URL, with its token
