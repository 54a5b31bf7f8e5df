"""The quick commands stay quick: they do not import Textual, the model clients, git or the engine.

Each check runs the command in a fresh interpreter and looks at ``sys.modules`` afterwards, so
an eager import anywhere under ``cockpit.cli`` shows up (issue 15: the first frame, issue 10:
``cockpit sessions`` answers at once).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("textual", "anthropic", "ollama", "pygit2", "cockpit.engine", "cockpit.tui", "cockpit.demo")

PROBE = """
import json, runpy, sys
sys.argv = ["cockpit", *sys.argv[1:]]
try:
    runpy.run_module("cockpit", run_name="__main__")
except SystemExit:
    pass
heavy = json.loads({heavy!r})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or any(
    m == h or m.startswith(h + ".") for h in heavy))), file=sys.stderr)
"""


def loaded_by(args: list[str], tmp_path: Path) -> list[str]:
    code = PROBE.format(heavy=json.dumps(HEAVY))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={"COCKPIT_JOURNAL": str(tmp_path / "journal.db"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    last = proc.stderr.strip().splitlines()[-1]
    loaded: list[str] = json.loads(last)
    return loaded


@pytest.mark.parametrize(
    "args", [["--version"], ["sessions", "--json"], ["sessions"], ["--help"]], ids=" ".join
)
def test_quick_commands_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    assert loaded_by(args, tmp_path) == []


def test_the_probe_sees_an_import(tmp_path: Path) -> None:
    """The check itself works: a command that runs the engine does load it."""
    loaded = loaded_by(["run", "--repo", str(tmp_path), "--task", "x"], tmp_path)
    assert "pygit2" in loaded
