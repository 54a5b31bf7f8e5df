"""Every test runs with a temp HOME, no system or global git config, and a temp journal.

So no test reads or writes the machine's real cockpit journal, worktree folder or git identity.
libgit2 caches its config search path per process, so it is pointed at the temp HOME too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ConfigLevel

from tests.support.simconfig import WriteConfig, sim_configs

_LEVELS = (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM)
# The real Codex CLI is installed once per machine (.ci/install-codex) under the real HOME;
# remember where before each test moves HOME, so the real-codex tests find it.
_NPM_CACHE = os.environ.get("COCKPIT_NPM_CACHE") or str(Path.home() / ".cache" / "cockpit-npm")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    (home / ".config").mkdir()
    (home / ".local" / "share").mkdir(parents=True)
    monkeypatch.setenv("COCKPIT_NPM_CACHE", _NPM_CACHE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("COCKPIT_JOURNAL", str(home / "journal.sqlite3"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    saved = {level: pygit2.settings.search_path[level] for level in _LEVELS}
    for level in _LEVELS:
        pygit2.settings.search_path[level] = str(home)
    try:
        yield home
    finally:
        for level, value in saved.items():
            pygit2.settings.search_path[level] = value


@pytest.fixture
def sim_config(tmp_path: Path) -> Iterator[WriteConfig]:
    """``sim_config(path, scenario)`` writes a cockpit.toml aimed at simulators playing ``scenario``."""
    yield from sim_configs(tmp_path)
