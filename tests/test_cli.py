"""The command line as a user meets it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from cockpit.demo import make_repo
from cockpit.demo.scenario import project_files
from tests.support.sessions import git
from tests.support.simconfig import WriteConfig

pytestmark = pytest.mark.slow


def cockpit(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_demo_headless_then_sessions_json(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    done = cockpit(
        "demo", "--headless", "--speed", "0", "--journal", str(journal), "--workdir", str(tmp_path / "w")
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "session completed" in out
    assert "merged" in out and "abandoned" in out and "composer tokens per PR" in out
    assert "\x1b[" not in out  # no colour when not a terminal
    repo = tmp_path / "w" / "textkit"
    assert "Add slugify() with tests" in git("log", "--oneline", "main", cwd=repo)
    # What the session merged is a working project: its own tests pass.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    listed = cockpit("sessions", "--json", "--journal", str(journal))
    data = json.loads(listed.stdout)
    assert len(data) == 1
    s = data[0]
    assert set(s) == {
        "id",
        "repo",
        "started_at",
        "finished_at",
        "status",
        "prs",
        "usage",
        "wall_s",
        "events",
        "cost",
    }
    assert s["status"] == "completed" and s["repo"] == str(repo)
    assert [p["outcome"] for p in s["prs"]] == ["merged", "merged", "abandoned", "merged"]
    assert set(s["prs"][0]) == {"id", "title", "branch", "outcome", "rounds", "commits"}
    assert s["prs"][1]["rounds"] == 2 and s["prs"][1]["commits"] == 2
    assert set(s["usage"]) == {"composer", "writer", "reviewer"}
    assert set(s["usage"]["writer"]) == {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
    }
    text = cockpit("sessions", "--journal", str(journal)).stdout
    assert s["id"] in text and "3 merged" in text


def test_sessions_table_costs_and_limit(tmp_path: Path) -> None:
    from bench.longsession import write_session

    journal = tmp_path / "j.sqlite3"
    write_session(journal, 400, 2, session="s-one")
    write_session(journal, 400, 2, session="s-two")
    lines = cockpit("sessions", "--journal", str(journal)).stdout.splitlines()
    assert lines[0].split()[:7] == ["SESSION", "STARTED", "STATUS", "WALL", "TOKENS", "COST", "PRS"]
    assert len(lines) == 3 and all("unpriced" in ln for ln in lines[1:])  # no [pricing]: never $0
    data = json.loads(cockpit("sessions", "--json", "--journal", str(journal)).stdout)
    assert data[0]["cost"] == {
        "usd": None,
        "unpriced": ["claude-sonnet-4-6", "glm-4.6", "gpt-5-codex"],
        "text": "unpriced",
    }
    priced = tmp_path / "prices.toml"
    priced.write_text('[pricing."claude-sonnet-4-6"]\ninput = 3.0\noutput = 15.0\n', encoding="utf-8")
    data = json.loads(
        cockpit("sessions", "--json", "--config", str(priced), "--journal", str(journal)).stdout
    )
    # Two PRs of (1,200 + 1,500) input and (300 + 200) output composer tokens.
    assert data[0]["cost"]["usd"] == pytest.approx((5400 * 3 + 1000 * 15) / 1e6)
    assert data[0]["cost"]["text"].endswith("+ unpriced")
    assert (
        len(json.loads(cockpit("sessions", "--json", "--limit", "1", "--journal", str(journal)).stdout)) == 1
    )
    for bad in ("0", "-1"):
        refused = cockpit("sessions", "--limit", bad, "--journal", str(journal))
        assert refused.returncode == 2 and "--limit must be at least 1" in refused.stderr


def test_demo_cleans_up_its_scratch_repository(tmp_path: Path) -> None:
    env_tmp = tmp_path / "tmp"
    env_tmp.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "demo", "--headless", "--speed", "0", "--prs", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(env_tmp)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert list(env_tmp.iterdir()) == []


SOMETHING_NEW = """
[[pr]]
title = "Something new"
task = "notes"
[[pr.round]]
[pr.round.writer]
steps = [{ edit = "notes/something-new.md" }]
files = { "notes/something-new.md" = "# Something new\\n" }
"""


def builtin_scenario_text(name: str) -> str:
    return (resources.files("cockpit.demo") / "data" / "scenarios" / f"{name}.toml").read_text()


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", project_files("textkit"))


def test_run_with_a_plan_and_a_config(tmp_path: Path, sim_config: WriteConfig) -> None:
    repo = _repo(tmp_path)
    cfg = tmp_path / "cockpit.toml"
    # The demo's first PR, then one the demo does not have, scripted to write a note.
    demo = builtin_scenario_text("demo")
    first = demo[: demo.index("\n[[pr]]", demo.index("\n[[pr]]") + 1)]
    scen = tmp_path / "scenario.toml"
    scen.write_text(first + SOMETHING_NEW)
    sim_config(cfg, scen)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[pr]]\ntitle = "Add slugify()"\ntask = "slugs"\n[[pr]]\ntitle = "Something new"\ntask = "notes"\n'
    )
    done = cockpit(
        "run",
        "--repo",
        str(repo),
        "--plan",
        str(plan),
        "--config",
        str(cfg),
        "--headless",
        "--auto-approve",
        "--journal",
        str(tmp_path / "j.sqlite3"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    files = git("ls-tree", "-r", "--name-only", "main", cwd=repo)
    assert "textkit/slug.py" in files and "notes/something-new.md" in files


def test_a_failed_pr_exits_1(tmp_path: Path, sim_config: WriteConfig) -> None:
    repo = _repo(tmp_path)
    scen = tmp_path / "fail.toml"
    scen.write_text(
        '[[pr]]\ntitle = "Broken"\ntask = "x"\n[[pr.round]]\n[pr.round.writer]\noutcome = "fail"\nerror = "boom"\n'
    )
    cfg = tmp_path / "cockpit.toml"
    sim_config(cfg, scen)
    done = cockpit(
        "run",
        "--repo",
        str(repo),
        "--task",
        "Broken",
        "--config",
        str(cfg),
        "--headless",
        "--auto-approve",
        "--journal",
        str(tmp_path / "j.sqlite3"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "boom" in done.stdout and "failed" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--repo", "{tmp}", "--task", "x"], "not inside a git repository"),
        (["run", "--repo", "{repo}"], "give either --task"),
        (["run", "--repo", "{repo}", "--task", "x", "--plan", "{tmp}/p.toml"], "give either --task"),
        (
            ["run", "--repo", "{repo}", "--task", "x", "--config", "{tmp}/bad.toml"],
            "bad.toml:2: session.max_rounds",
        ),
        (["run", "--repo", "{repo}", "--plan", "{tmp}/missing.toml"], "cannot read plan"),
        (["run", "--repo", "{repo}", "--task", "x", "--headless"], "gates need a terminal"),
        (["run", "--repo", "{tmp}/nope", "--task", "x"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, args: list[str], message: str, sim_config: WriteConfig
) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "bad.toml").write_text("[session]\nmax_rounds = 0\n")
    cfg = tmp_path / "cockpit.toml"
    sim_config(cfg, "builtin:demo")
    argv = [a.format(tmp=tmp_path, repo=repo) for a in args]
    if "--config" not in argv and argv[0] == "run" and "{repo}" in " ".join(args):
        argv += ["--config", str(cfg)]
    done = cockpit(*argv, "--journal", str(tmp_path / "j.sqlite3"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 or "Usage:" in done.stderr


def test_detached_head_is_a_usage_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    git("checkout", "-q", "--detach", cwd=repo)
    done = cockpit("run", "--repo", str(repo), "--task", "x", "--auto-approve", "--headless")
    assert done.returncode == 2 and "HEAD is detached" in done.stderr


def test_ctrl_c_interrupts_with_130(tmp_path: Path, sim_config: WriteConfig) -> None:
    repo = _repo(tmp_path)
    scen = tmp_path / "hang.toml"
    scen.write_text('[[pr]]\ntitle = "Slow"\ntask = "x"\n[[pr.round]]\n[pr.round.writer]\noutcome = "hang"\n')
    cfg = tmp_path / "cockpit.toml"
    sim_config(cfg, scen)
    journal = tmp_path / "j.sqlite3"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "run",
            "--repo",
            str(repo),
            "--task",
            "Slow",
            "--config",
            str(cfg),
            "--headless",
            "--auto-approve",
            "--journal",
            str(journal),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    seen = ""
    assert proc.stdout is not None
    while "writing" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + out + err
    listed = json.loads(cockpit("sessions", "--json", "--journal", str(journal)).stdout)
    assert listed[0]["status"] == "interrupted" and listed[0]["prs"][0]["outcome"] == "interrupted"


def test_init_writes_a_config_once(tmp_path: Path) -> None:
    assert cockpit("init", "--repo", str(tmp_path)).returncode == 0
    assert (tmp_path / "cockpit.toml").read_text().startswith("# cockpit.toml")
    again = cockpit("init", "--repo", str(tmp_path))
    assert again.returncode == 2 and "exists" in again.stderr
