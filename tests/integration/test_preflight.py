"""``cockpit run`` checks every backend before it spends: one missing piece per test, nothing touched.

The backends are the real adapters' checks against the simulators (anthropic, ollama, the
codex-compatible CLI); ``run`` is a real process over a real repository and a real journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.demo import make_repo
from cockpit.demo.stack import SIM_KEY_ENV, SimStack, start_sims
from cockpit.journal import Journal
from tests.support.sessions import git

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[SimStack]:
    s = start_sims("builtin:demo", speed=0)
    yield s
    s.close()


def write_config(repo: Path, stack: SimStack, **broken: str) -> None:
    """A cockpit.toml aimed at the simulators, with ``broken`` overriding one setting."""
    writer = broken.get("writer_command") or json.dumps(stack.config().writer.command)
    host = broken.get("host", stack.ollama.url)
    model = broken.get("model", "glm-4.6")
    (repo / "cockpit.toml").write_text(
        f"""
[composer]
base_url = "{stack.anthropic.url}"
api_key_env = "{SIM_KEY_ENV}"
[writer]
backend = "codex"
command = {writer}
[[reviewers]]
name = "correctness"
model = "{model}"
host = "{host}"
[[reviewers]]
name = "quality"
model = "glm-4.6"
host = "{host}"
""",
        encoding="utf-8",
    )


def run(repo: Path, journal: Path, *extra: str, env_drop: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != env_drop}
    argv = ["run", "--repo", str(repo), "--task", "Add a thing", "--headless", "--auto-approve"]
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *argv, "--journal", str(journal), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def snapshot(repo: Path, journal: Path) -> tuple[str, str, list[str]]:
    with Journal(journal) as j:
        sessions = [row.id for row in j.list_sessions()]
    return git("branch", "-a", cwd=repo), git("worktree", "list", cwd=repo), sessions


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.txt": "a\n"})


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    return path


def refused(repo: Path, journal: Path, env_drop: str = "") -> str:
    """Run, expect exit 2 with nothing changed; return what it said."""
    before = snapshot(repo, journal)
    done = run(repo, journal, env_drop=env_drop)
    assert done.returncode == 2, done.stdout + done.stderr
    assert snapshot(repo, journal) == before
    assert done.stdout == ""  # no session line, no summary: nothing started
    assert "nothing was started" in done.stderr
    return done.stderr


def test_key_variable_unset(repo: Path, journal: Path, stack: SimStack) -> None:
    write_config(repo, stack)
    said = refused(repo, journal, env_drop=SIM_KEY_ENV)
    assert f"cockpit: composer: {SIM_KEY_ENV} is not set: export {SIM_KEY_ENV}=..." in said
    assert len([ln for ln in said.splitlines() if ln.startswith("cockpit: ")]) == 2  # the problem + what now


def test_writer_command_not_on_path(repo: Path, journal: Path, stack: SimStack) -> None:
    write_config(repo, stack, writer_command='"no-such-codex-binary"')
    said = refused(repo, journal)
    assert (
        "cockpit: writer: 'no-such-codex-binary' is not on PATH: npm install -g @openai/codex, "
        "or set [writer] command"
    ) in said


def test_ollama_host_down(repo: Path, journal: Path, stack: SimStack) -> None:
    write_config(repo, stack, host="http://127.0.0.1:9")
    said = refused(repo, journal)
    line = next(ln for ln in said.splitlines() if "127.0.0.1:9" in ln)
    assert line.startswith(
        "cockpit: reviewers correctness, quality: ollama at http://127.0.0.1:9 is not reachable"
    )


def test_model_not_pulled(repo: Path, journal: Path, stack: SimStack) -> None:
    write_config(repo, stack, model="missing-model:7b")
    said = refused(repo, journal)
    assert (
        f"cockpit: reviewer correctness (missing-model:7b): model missing-model:7b is not on "
        f"{stack.ollama.url}: run `ollama pull missing-model:7b`"
    ) in said
    assert "quality" not in said  # the reviewer whose model is there is not blamed


def test_no_preflight_skips_the_checks(repo: Path, journal: Path, stack: SimStack) -> None:
    """With --no-preflight the session starts, and the missing key fails it at the composer."""
    write_config(repo, stack)
    done = run(repo, journal, "--no-preflight", env_drop=SIM_KEY_ENV)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nothing was started" not in done.stderr
    assert len(snapshot(repo, journal)[2]) == 1
