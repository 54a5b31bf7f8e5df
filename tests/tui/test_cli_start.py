"""How the CLI starts the cockpit: it needs a terminal, and says so when it has none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_without_a_terminal_says_to_use_headless(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "demo",
            "--speed",
            "0",
            "--prs",
            "1",
            "--workdir",
            str(tmp_path / "w"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COCKPIT_JOURNAL": str(tmp_path / "j.sqlite3"), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert "needs a terminal" in proc.stderr and "--headless" in proc.stderr


def test_demo_help_documents_the_gate_timeout() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cockpit", "demo", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert "--gate-timeout SECONDS" in proc.stdout
    assert "[default: 10.0; x>=0]" in proc.stdout
