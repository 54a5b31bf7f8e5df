"""The invariants (docs/architecture.md) that are about the shape of the code (the others are tested with the engine)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_import_contracts_hold() -> None:
    """Invariant 2: engine, backends, git and journal never import textual; imports go downward."""
    beside = Path(sys.executable).parent / "lint-imports"
    exe = str(beside) if beside.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    done = subprocess.run([exe], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_engine_runs_without_loading_textual() -> None:
    code = (
        "import sys, cockpit.engine.session, cockpit.backends.factory, cockpit.headless, cockpit.demo; "
        "print('textual' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
