"""Whole sessions through the production adapters and the protocol simulators.

The composer is the real ``anthropic`` client over SSE, the reviewers the real ``ollama`` client
over NDJSON, the writer is driven like ``codex exec --json`` (the codex-compatible CLI, and in
one test the real Codex CLI against the Responses-API simulator).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from cockpit.config import WriterConfig
from cockpit.demo import make_repo
from cockpit.demo.scenario import parse_scenario
from cockpit.demo.stack import SIM_KEY_ENV, start_sims
from cockpit.events import CommitSeen, DispatchFinished, PrClosed, VerdictParsed, Warn
from cockpit.plan import PlanItem
from tests.support.sessions import config_session, git

pytestmark = pytest.mark.slow

SENTINEL = "SENTINEL-9d41c7-NEVER-IN-A-COMPOSER-PROMPT"

SCENARIO = f"""
[[pr]]
title = "Add the planets module"
task = "Add planets.py listing the planets, with a test."

[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "Add planets.py"
message = "Added planets.py and a test."
steps = [{{ think = "A tuple is enough." }}, {{ edit = "planets.py" }}, {{ edit = "test_planets.py" }},
         {{ run = "python -m pytest -q", output = "1 passed" }}]
[pr.round.writer.files]
"planets.py" = "PLANETS = ('Mercury', 'Venus', 'Earth')  # {SENTINEL}\\n"
"test_planets.py" = "from planets import PLANETS\\n\\n\\ndef test_earth() -> None:\\n    assert 'Earth' in PLANETS\\n"

[[pr.round.review]]
reviewer = "correctness"
text = '{{"verdict": "changes", "summary": "Five planets are missing.", "findings": [{{"severity": "major", "file": "planets.py", "line": 1, "text": "Only three of eight planets."}}]}}'

[[pr.round.review]]
reviewer = "quality"
text = "Fine by me.\\nVERDICT: APPROVE"

[pr.round.decision]
action = "fix"
rationale = "The list is incomplete."
brief = "List all eight planets."

[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "List all eight planets"
[pr.round.writer.files]
"planets.py" = "PLANETS = ('Mercury', 'Venus', 'Earth', 'Mars', 'Jupiter', 'Saturn', 'Uranus', 'Neptune')\\n"

[pr.round.decision]
action = "merge"
rationale = "Complete now."
commit_message = "Add planets.py with all eight planets"
"""


def _scenario_file(tmp: Path) -> Path:
    path = tmp / "scenario.toml"
    path.write_text(SCENARIO)
    parse_scenario(SCENARIO)  # fail early on a broken test scenario
    return path


def test_cockpit_run_against_simulators(tmp_path: Path) -> None:
    scen = _scenario_file(tmp_path)
    with start_sims(str(scen), speed=0) as stack:
        repo = make_repo(tmp_path / "repo", {"README.md": "# planets\n"})
        cfg = tmp_path / "cockpit.toml"
        cfg.write_text(f'''
[composer]
base_url = "{stack.anthropic.url}"
api_key_env = "{SIM_KEY_ENV}"
[writer]
command = {json.dumps([sys.executable, "-m", "cockpit.demo.sim.codex"])}
env = {{ COCKPIT_SIM_SCENARIO = "{scen}", COCKPIT_SIM_SPEED = "0" }}
[[reviewers]]
name = "correctness"
model = "glm-4.6"
host = "{stack.ollama.url}"
[[reviewers]]
name = "quality"
model = "qwen3-coder:30b"
host = "{stack.ollama.url}"
''')
        plan = tmp_path / "plan.toml"
        plan.write_text(
            '[[pr]]\ntitle = "Add the planets module"\ntask = "Add planets.py listing the planets."\n'
        )
        journal = tmp_path / "j.sqlite3"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cockpit",
                "run",
                "--config",
                str(cfg),
                "--repo",
                str(repo),
                "--plan",
                str(plan),
                "--headless",
                "--auto-approve",
                "--journal",
                str(journal),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        composer_bodies = stack.anthropic.message_bodies()
        reviewer_calls = stack.ollama.calls
    assert "Neptune" in git("show", "main:planets.py", cwd=repo)
    sessions = json.loads(
        subprocess.run(
            [sys.executable, "-m", "cockpit", "sessions", "--json", "--journal", str(journal)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    pr = sessions[0]["prs"][0]
    assert (pr["outcome"], pr["rounds"], pr["commits"]) == ("merged", 2, 2)
    usage = sessions[0]["usage"]
    assert usage["composer"]["input_tokens"] > 0 and usage["reviewer"]["input_tokens"] > 0
    assert usage["writer"]["input_tokens"] > 0
    assert len(composer_bodies) == 3  # brief, decide (fix), decide (merge)
    assert len(reviewer_calls) == 4  # two reviewers, two rounds
    assert "Round 1 of 3" in json.dumps(composer_bodies[1]) and "Round 2 of 3" in json.dumps(
        composer_bodies[2]
    )


async def test_the_composer_never_receives_a_diff(tmp_path: Path) -> None:
    scen = _scenario_file(tmp_path)
    stack = start_sims(str(scen), speed=0)
    try:
        cfg = stack.config()
        session, journal = config_session(
            tmp_path, cfg, [PlanItem("Add the planets module", "Add planets.py listing the planets.")]
        )
        result = await session.run()
        assert result.exit_code == 0
        bodies = stack.anthropic.message_bodies()
        reviews = [json.dumps(c.body) for c in stack.ollama.calls]
    finally:
        stack.close()
    # The sentinel sits in the writer's diff: every reviewer saw it, no composer request did.
    assert len(bodies) == 3 and all(SENTINEL not in json.dumps(b) for b in bodies)
    assert all("diff --git" not in json.dumps(b) for b in bodies)
    assert reviews and SENTINEL in reviews[0]
    # The composer's stable prefix is marked for prompt caching.
    assert bodies[0]["system"][-1]["cache_control"]["type"] == "ephemeral"
    events = list(journal.read_events(session.id))
    verdicts = [e for e in events if isinstance(e, VerdictParsed)]
    assert {(v.round, v.reviewer, v.verdict) for v in verdicts} >= {
        (1, "correctness", "changes"),
        (1, "quality", "approve"),
    }
    commits = [e for e in events if isinstance(e, CommitSeen)]
    assert [c.message.strip() for c in commits] == ["Add planets.py", "List all eight planets"]


async def test_cache_reads_are_recorded(tmp_path: Path) -> None:
    """A long session thread makes the composer's prefix cacheable; reads show up in usage."""
    scen = _scenario_file(tmp_path)
    stack = start_sims(str(scen), speed=0)
    try:
        goal = "Planets. " + "Keep every module small, typed and tested. " * 90  # a big stable prefix
        cfg = stack.config()
        session, journal = config_session(
            tmp_path,
            cfg,
            [PlanItem("Add the planets module", "Add planets.py listing the planets.")],
            goal=goal,
        )
        assert (await session.run()).exit_code == 0
    finally:
        stack.close()
    composer = [
        e for e in journal.read_events(session.id) if isinstance(e, DispatchFinished) and e.role == "composer"
    ]
    assert composer[0].usage.cache_write_tokens > 1000
    assert any(e.usage.cached_input_tokens > 1000 for e in composer[1:])
    assert all(
        e.usage.input_tokens >= e.usage.cached_input_tokens + e.usage.cache_write_tokens for e in composer
    )


async def test_unreachable_reviewer_host_is_a_visible_failure(tmp_path: Path) -> None:
    scen = _scenario_file(tmp_path)
    stack = start_sims(str(scen), speed=0)
    try:
        base = stack.config()
        dead = "http://127.0.0.1:9"  # nothing listens on the discard port
        cfg = msgspec.structs.replace(
            base, reviewers=[msgspec.structs.replace(r, host=dead) for r in base.reviewers]
        )
        session, journal = config_session(tmp_path, cfg, [PlanItem("Add the planets module", "x")])
        result = await session.run()
    finally:
        stack.close()
    fails = [
        e for e in journal.read_events(session.id) if isinstance(e, DispatchFinished) and e.role == "reviewer"
    ]
    assert fails and all(e.status == "failed" and "127.0.0.1:9" in e.error for e in fails)
    closed = [e for e in journal.read_events(session.id) if isinstance(e, PrClosed)]
    assert closed[0].outcome == "failed" and result.exit_code == 1


@pytest.mark.codex
async def test_real_codex_cli_writes_commits_and_the_pipeline_reviews(tmp_path: Path) -> None:
    from tests.support.real_codex import API_KEY, codex_bin, make_codex_home
    from tests.support.responses_sim import ResponsesSim

    binary = codex_bin()
    scenario = parse_scenario(SCENARIO)
    scen = _scenario_file(tmp_path)
    stack = start_sims(str(scen), speed=0)
    try:
        responses = ResponsesSim(scenario, speed=0, api_key=API_KEY)
        stack.thread.serve(responses.server)
        home, _env = make_codex_home(tmp_path, responses.base_url, writable_tmp=False)
        base = stack.config()
        cfg = msgspec.structs.replace(
            base,
            writer=WriterConfig(
                backend="codex",
                command=str(binary),
                model="gpt-5.5",
                sandbox="workspace-write",
                env={"CODEX_HOME": str(home), "LOCAL_API_KEY": API_KEY},
                timeout_s=120,
            ),
        )
        session, journal = config_session(
            tmp_path, cfg, [PlanItem("Add the planets module", "Add planets.py listing the planets.")]
        )
        result = await asyncio.wait_for(session.run(), 240)
    finally:
        stack.close()
    events = list(journal.read_events(session.id))
    writers = [e for e in events if isinstance(e, DispatchFinished) and e.role == "writer"]
    assert [w.status for w in writers] == ["ok", "ok"], [w.error for w in writers]
    assert writers[0].thread_id and writers[1].thread_id == writers[0].thread_id  # round 2 resumed the thread
    assert writers[0].usage.input_tokens > 1000  # the CLI's own prompt is large
    commits = [e for e in events if isinstance(e, CommitSeen)]
    assert len(commits) == 2, [type(e).__name__ for e in events]
    assert next(v.commit for v in events if isinstance(v, VerdictParsed) and v.round == 1) == commits[0].sha
    assert result.exit_code == 0
    assert "Neptune" in git("show", "main:planets.py", cwd=session.repo.workdir)
    assert not [e for e in events if isinstance(e, Warn) and e.code == "committed_for_writer"]


def test_the_composer_key_does_not_reach_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    from cockpit.backends.factory import build_backends
    from cockpit.config import ComposerConfig, Config, WriterConfig

    cfg = Config(
        composer=ComposerConfig(api_key_env="MY_COMPOSER_KEY"),
        writer=WriterConfig(backend="command", command="true"),
    )
    writer = build_backends(cfg).writer
    assert "MY_COMPOSER_KEY" in writer.drop_env  # type: ignore[attr-defined]
    codex = build_backends(msgspec.structs.replace(cfg, writer=WriterConfig())).writer
    assert "MY_COMPOSER_KEY" in codex.drop_env  # type: ignore[attr-defined]
