"""The owner of a session is another process: ``cockpit demo --headless --no-prompt``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.remote import Owner, run_owner


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    with run_owner(tmp_path) as o:
        yield o
