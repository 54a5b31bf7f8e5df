"""How the cockpit looks, as SVG snapshots (pytest-textual-snapshot) of the recorded demo session.

Plain ``def`` tests: ``snap_compare`` runs its own event loop. Each scene publishes a prefix of
the recorded events with the clock frozen at the last one (see scenes.py). After a deliberate
change of looks: ``pytest tests/tui/test_snapshots.py --snapshot-update``, then check the report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui import scenes

SnapCompare = Callable[..., bool]


def _compare(snap_compare: SnapCompare, tmp_path: Path, name: str) -> bool:
    scene = scenes.scenes()[name]
    if scene.replay:
        app, bus = scenes.build_replay(scene, tmp_path)
    else:
        app, bus = scenes.build(scene, scenes.scratch_controls(tmp_path))

    async def run_before(pilot: Pilot[Any]) -> None:
        await scenes.play(app, bus, scene)

    return snap_compare(app, terminal_size=scene.size, run_before=run_before)


@pytest.mark.parametrize(
    "name",
    [
        "mid-session",
        "gate-split",
        "override",
        "diff",
        "help",
        "gate-split-80x24",
        "replay-mid-session",
        "timeline",
    ],
)
def test_snapshot(snap_compare: SnapCompare, tmp_path: Path, name: str) -> None:
    assert _compare(snap_compare, tmp_path, name)
