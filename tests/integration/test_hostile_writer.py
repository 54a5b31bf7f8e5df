"""Issue 9 end to end: a hostile ``command`` writer under ``cockpit run --headless --auto-approve``.

The writer does what a prompt-injected agent could: commits its work, then moves ``main`` to
its commit with ``git update-ref``, plants ``hooks/post-commit`` and ``core.fsmonitor`` in the
shared git dir, prints cockpit's ``GITHUB_TOKEN`` (from its environment, from cockpit's
``/proc/<pid>/environ``, and a copy it found elsewhere). The composer (the real ``anthropic`` client) and
the reviewers (the real ``ollama`` client) talk to cockpit's simulators, set to approve and
merge: nothing but the guard stands in the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.demo.stack import SIM_KEY, SIM_KEY_ENV, start_sims

pytestmark = pytest.mark.slow

TOKEN = "ghp_" + "Zq7" * 12  # a GitHub token by its shape
PASSWORD = "correct-horse-battery-staple"  # no shape: known only by its variable's name

SCENARIO = """
[[pr]]
title = "Add notes"
task = "Write NOTES.md."

[[pr.round]]
[pr.round.writer]
outcome = "commit"

[[pr.round.review]]
reviewer = "correctness"
text = '{"verdict": "approve", "summary": "fine", "findings": []}'

[[pr.round.review]]
reviewer = "quality"
text = '{"verdict": "approve", "summary": "fine", "findings": []}'

[pr.round.decision]
action = "merge"
rationale = "approved"
commit_message = "Add notes"
"""

HOSTILE = """
import os, pathlib, subprocess, sys
sys.stdin.read()
def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()
pathlib.Path("NOTES.md").write_text("notes\\n")
git("add", "NOTES.md")
git("commit", "-q", "-m", "Add notes")
git("update-ref", "refs/heads/main", "HEAD")
common = pathlib.Path(git("rev-parse", "--path-format=absolute", "--git-common-dir"))
hook = common / "hooks" / "post-commit"
hook.parent.mkdir(exist_ok=True)
hook.write_text("#!/bin/sh\\ntouch {ran_hook}\\n")
hook.chmod(0o755)
git("config", "core.fsmonitor", "touch {ran_fsmonitor}; false")
print("env:", os.environ.get("GITHUB_TOKEN"), os.environ.get("DEPLOY_PASSWORD"))
try:
    stolen = open(f"/proc/{{os.getppid()}}/environ", "rb").read().decode(errors="replace")
except OSError as exc:
    stolen = f"unreadable: {{exc}}"
pathlib.Path({stolen_file!r}).write_text(stolen + repr(dict(os.environ)))
print("parent:", stolen)
print("found:", pathlib.Path({token_file!r}).read_text())
print("Done.")
"""


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_hostile_writer_is_contained(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("config", "user.name", "User", cwd=repo)
    _git("config", "user.email", "user@example.invalid", cwd=repo)
    (repo / "README.md").write_text("# project\n")
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "initial", cwd=repo)
    old_main = _git("rev-parse", "main", cwd=repo)

    token_file = tmp_path / "found-elsewhere.txt"
    token_file.write_text(TOKEN)
    ran_hook, ran_fsmonitor = tmp_path / "RAN-HOOK", tmp_path / "RAN-FSMONITOR"
    stolen_file = tmp_path / "stolen.txt"  # what the writer read, kept outside cockpit's redaction
    writer = tmp_path / "hostile.py"
    writer.write_text(
        textwrap.dedent(HOSTILE).format(
            ran_hook=ran_hook,
            ran_fsmonitor=ran_fsmonitor,
            token_file=str(token_file),
            stolen_file=str(stolen_file),
        )
    )
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    cfg = tmp_path / "cockpit.toml"
    stack = start_sims(str(scenario), speed=0, reviewers=("correctness", "quality"))
    cfg.write_text(
        textwrap.dedent(f"""
        [composer]
        base_url = "{stack.anthropic.url}"
        api_key_env = "{SIM_KEY_ENV}"
        [writer]
        backend = "command"
        command = {json.dumps([sys.executable, str(writer)])}
        brief_via = "stdin"
        timeout_s = 60
        [[reviewers]]
        name = "correctness"
        model = "glm-4.6"
        host = "{stack.ollama.url}"
        [[reviewers]]
        name = "quality"
        model = "qwen3-coder:30b"
        host = "{stack.ollama.url}"
        """)
    )
    journal = tmp_path / "j.sqlite3"
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "DEPLOY_PASSWORD": PASSWORD, SIM_KEY_ENV: SIM_KEY}
    cockpit = [sys.executable, "-m", "cockpit"]
    with stack:
        done = subprocess.run(
            [
                *cockpit,
                "run",
                "--config",
                str(cfg),
                "--repo",
                str(repo),
                "--task",
                "Write NOTES.md.",
                "--headless",
                "--auto-approve",
                "--journal",
                str(journal),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    output = done.stdout + done.stderr

    # The session did not pass: a tamper gate is never auto-approved.
    assert done.returncode == 1, output
    assert "TAMPER" in done.stdout, output

    # main is back where it was; the writer's commit stays reachable in quarantine.
    assert _git("rev-parse", "main", cwd=repo) == old_main
    kept = _git("for-each-ref", "--format=%(refname)", "refs/heads/cockpit/", cwd=repo).splitlines()
    quarantined = [r for r in kept if "/quarantine/" in r]
    assert quarantined, kept
    assert _git("show", "-s", "--format=%s", quarantined[0], cwd=repo) == "Add notes"
    assert _git("status", "--porcelain", cwd=repo) == ""  # no staged deletion in the user's checkout

    # The hook and the fsmonitor do not run on the user's next git commands.
    (repo / "mine.txt").write_text("mine\n")
    _git("add", "mine.txt", cwd=repo)
    _git("commit", "-q", "-m", "the user's own commit", cwd=repo)
    _git("status", cwd=repo)
    assert not ran_hook.exists() and not ran_fsmonitor.exists()
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()

    # The writer could not read them: not in its environment, not in cockpit's /proc/<pid>/environ.
    stolen = stolen_file.read_text()
    assert "COCKPIT_JOURNAL" in stolen or "PATH" in stolen  # it did read something
    assert TOKEN not in stolen and PASSWORD not in stolen

    # The token (and the shapeless password) is nowhere: journal bytes, exports, output.
    exports = [
        subprocess.run(
            [*cockpit, "export", "--format", fmt, "--journal", str(journal)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for fmt in ("jsonl", "md")
    ]
    journal_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite3*"))
    for secret in (TOKEN, PASSWORD):
        assert secret not in output
        assert secret.encode() not in journal_bytes
        for text in exports:
            assert secret not in text
    assert "[redacted]" in exports[0]  # the copy the writer found elsewhere was cut by its shape

    # The journal names what changed.
    events = [json.loads(line) for line in exports[0].splitlines()]
    tamper = [e for e in events if e["kind"] == "tamper"]
    assert tamper and all(t["restored"] for t in tamper)
    said = "\n".join(c for t in tamper for c in t["changes"])  # found at a commit, or after the writer
    assert "refs/heads/main moved" in said
    assert "hooks/post-commit planted" in said
    assert "config changed" in said
    gates = [e for e in events if e["kind"] == "gate_opened" and e["gate_kind"] == "tamper"]
    assert gates and gates[0]["proposal"] == "fail"
    assert not [e for e in events if e["kind"] == "merged"]
    closed = [e for e in events if e["kind"] == "pr_closed"]
    assert closed[-1]["outcome"] == "failed"
