"""cockpit doctor against the simulators: every check says exactly what is wrong, or that it is fine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from cockpit.config import ReviewerConfig, WriterConfig
from cockpit.demo import make_repo
from cockpit.demo.stack import SIM_KEY_ENV, SimStack, start_sims
from cockpit.doctor import run_doctor


@pytest.fixture
def stack() -> SimStack:
    s = start_sims("builtin:demo", speed=0)
    yield s  # type: ignore[misc]
    s.close()


def levels(checks: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {c.what: c.level for c in checks}


def test_all_good(tmp_path: Path, stack: SimStack) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    checks = run_doctor(stack.config(), repo)
    assert [c.level for c in checks] == ["ok"] * len(checks), checks
    text = "\n".join(c.what for c in checks)
    assert "codex-cli 0.0.0-sim" in text and "claude-sonnet-4-6 reachable" in text and "glm-4.6" in text


def test_each_problem_is_named(tmp_path: Path, stack: SimStack, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    (repo / "a.txt").write_text("changed\n")
    monkeypatch.delenv(SIM_KEY_ENV)
    cfg = msgspec.structs.replace(
        stack.config(),
        writer=WriterConfig(backend="codex", command="no-such-codex-binary"),
        reviewers=[
            ReviewerConfig(name="r1", model="missing-model:7b", host=stack.ollama.url),
            ReviewerConfig(name="r2", model="glm-4.6", host="http://127.0.0.1:9"),
            ReviewerConfig(name="r3", model="gpt-oss:20b", host=stack.ollama.url),
        ],
    )
    checks = run_doctor(cfg, repo)
    by_level = {c.level for c in checks}
    assert by_level == {"ok", "warn", "fail"}
    details = "\n".join(f"{c.level} {c.what} {c.detail}" for c in checks)
    assert (
        "writer: 'no-such-codex-binary' is not on PATH" in details
        and "npm install -g @openai/codex" in details
    )
    assert "ollama pull missing-model:7b" in details
    assert "127.0.0.1:9" in details
    assert f"{SIM_KEY_ENV} is not set" in details
    assert "1 uncommitted change" in details
    assert "'r3' (gpt-oss:20b) is of the writer's model family" in details
    assert "sk-ant" not in details  # no secret, ever


def test_not_a_repository(tmp_path: Path, stack: SimStack) -> None:
    checks = run_doctor(stack.config(), tmp_path)
    assert any(c.level == "fail" and "not inside a git repository" in c.detail for c in checks)


def test_cli_exit_codes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    (repo / "cockpit.toml").write_text('[writer]\ncommand = "no-such-codex-binary"\n')
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "doctor", "--repo", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "✗ writer: 'no-such-codex-binary' is not on PATH" in done.stdout
    assert "ANTHROPIC_API_KEY is not set" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[writer]\nsandbox = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "doctor", "--repo", str(repo), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "writer.sandbox" in done.stderr
