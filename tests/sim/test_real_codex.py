"""The real Codex CLI (npm @openai/codex) against the Responses simulator, in a real git worktree.

These prove the simulator speaks the wire the CLI really acts on, and pin the CLI behaviours the
writer backend relies on: JSONL events, usage, commits from a linked worktree under the
workspace-write sandbox, failure, resume, SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from cockpit.demo.scenario import Scenario, parse_scenario
from tests.support.real_codex import (
    GitCheckout,
    blob_text,
    branch_tip,
    codex_bin,
    exec_args,
    make_codex_home,
    make_repo_with_worktree,
    parse_jsonl,
    run_codex,
    sim_server,
)
from tests.support.responses_sim import Fault, ResponsesSim

pytestmark = pytest.mark.codex

SCENARIO = parse_scenario(
    """
name = "real-codex"
[[pr]]
title = "Add greeting"
task = "Add a greeting module and mention it in the README."
[[pr.round]]
[pr.round.writer]
outcome = "commit"
message = "Added greet.py and a README line."
commit_message = "Add greeting module"
delete = ["OLD.txt"]
[[pr.round.writer.steps]]
think = "One small module and a README line."
[[pr.round.writer.steps]]
plan = ["Write greet.py", "Update README"]
[[pr.round.writer.steps]]
run = "ls"
[[pr.round.writer.steps]]
edit = "src/greet.py"
[[pr.round.writer.steps]]
edit = "README.md"
[pr.round.writer.files]
"src/greet.py" = "def greet(name: str) -> str:\\n    return f'hello {name}'\\n"
"README.md" = "# Test project\\n\\nIt greets.\\n"
[[pr.round]]
[pr.round.writer]
outcome = "commit"
message = "Greeting now ends with an exclamation mark."
commit_message = "Make the greeting enthusiastic"
[[pr.round.writer.steps]]
edit = "src/greet.py"
[pr.round.writer.files]
"src/greet.py" = "def greet(name: str) -> str:\\n    return f'hello {name}!'\\n"

[[pr]]
title = "Broken"
task = "The model fails."
[[pr.round]]
[pr.round.writer]
outcome = "fail"
error = "the model fell over"
[[pr.round.writer.steps]]
think = "Trying."

[[pr]]
title = "Stuck"
task = "The model hangs."
[[pr.round]]
[pr.round.writer]
outcome = "hang"
[[pr.round.writer.steps]]
run = "echo looking around"
[[pr.round.writer.steps]]
say = "Still thinking about it."
"""
)

FILES = {"README.md": "# Test project\n", "OLD.txt": "remove me\n"}


@pytest.fixture(scope="module")
def codex() -> Path:
    return codex_bin()


@pytest.fixture
def sim() -> Iterator[ResponsesSim]:
    with sim_server(SCENARIO, speed=0) as s:
        yield s


@pytest.fixture
def checkout(tmp_path: Path) -> GitCheckout:
    return make_repo_with_worktree(tmp_path, branch="pr-1", files=FILES)


@pytest.fixture
def env(tmp_path: Path, sim: ResponsesSim, checkout: GitCheckout) -> dict[str, str]:
    # /tmp out of the writable roots: tmp_path is under /tmp, and the sandbox must treat this
    # repository like one anywhere else (otherwise /tmp being writable hides a missing --add-dir).
    _home, codex_env = make_codex_home(tmp_path, sim.base_url, writable_tmp=False)
    return {**codex_env, **checkout.env}


def prompt(n: int, title: str, round_no: int = 1) -> str:
    return f"PR {n}: {title}\nRound {round_no}\n\nDo the task, then commit."


def test_writes_runs_and_commits_in_a_linked_worktree(
    codex: Path, sim: ResponsesSim, checkout: GitCheckout, env: dict[str, str]
) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    argv = exec_args(checkout.worktree, prompt(1, "Add greeting"), binary=codex, add_dirs=checkout.git_dirs)
    run = run_codex(argv, env)
    assert run.returncode == 0, run.stderr

    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.id != base and tip.parents[0].id == base
    assert tip.message.strip() == "Add greeting module"
    assert blob_text(tip, "src/greet.py") == SCENARIO.pr[0].round[0].writer.files["src/greet.py"]
    assert blob_text(tip, "README.md") == "# Test project\n\nIt greets.\n"
    assert "OLD.txt" not in tip.tree
    assert pygit2.Repository(str(checkout.worktree)).status() == {}  # everything committed
    main = branch_tip(checkout.repo, "main")
    assert main.id == base  # the user's branch is untouched

    kinds = [e["type"] for e in run.events]
    assert kinds[:2] == ["thread.started", "turn.started"] and kinds[-1] == "turn.completed"
    changes = [c for item in run.items("file_change") for c in item["changes"]]
    assert [(Path(c["path"]).relative_to(checkout.worktree).as_posix(), c["kind"]) for c in changes] == [
        ("src/greet.py", "add"),
        ("README.md", "update"),
        ("OLD.txt", "delete"),
    ]
    commands = run.items("command_execution")
    assert any(c["command"].endswith("-lc ls") and "README.md" in c["aggregated_output"] for c in commands)
    commit = [c for c in commands if "git commit" in c["command"]]
    assert len(commit) == 1 and commit[0]["exit_code"] == 0 and commit[0]["status"] == "completed"
    assert [m["text"] for m in run.items("agent_message")] == ["Added greet.py and a README line."]
    assert [r["text"] for r in run.items("reasoning")] == ["One small module and a README line."]
    todo = run.items("todo_list")
    assert todo and [i["text"] for i in todo[0]["items"]] == ["Write greet.py", "Update README"]

    usage = run.of_type("turn.completed")[0]["usage"]
    requests = [r for r in sim.server.log if r.path == "/v1/responses"]
    assert usage["input_tokens"] > 1000 * len(requests)  # the CLI's own prompt is re-sent every request
    assert 0 < usage["cached_input_tokens"] < usage["input_tokens"]
    assert usage["output_tokens"] > 0
    assert all(r.headers["authorization"] == f"Bearer {env['LOCAL_API_KEY']}" for r in requests)


def test_commit_fails_silently_without_the_worktree_git_dir(
    codex: Path, sim: ResponsesSim, checkout: GitCheckout, env: dict[str, str]
) -> None:
    """Pins a sandbox fact: the main .git alone is not enough for a linked worktree (codex 0.171)."""
    base = branch_tip(checkout.repo, "pr-1").id
    argv = exec_args(
        checkout.worktree, prompt(1, "Add greeting"), binary=codex, add_dirs=[checkout.common_dir]
    )
    run = run_codex(argv, env)
    assert run.returncode == 0  # codex reports success...
    assert branch_tip(checkout.repo, "pr-1").id == base  # ...but nothing was committed
    last = sim.server.log[-1].json()["input"][-1]
    assert last["type"] == "function_call_output" and "Read-only file system" in last["output"]
    assert str(checkout.worktree_git_dir) in last["output"]
    # --json either hides the denied command (0.171 on one machine) or reports it failed (on another)
    done = [e["item"] for e in run.events if e["type"] == "item.completed" and "git commit" in str(e["item"])]
    assert all(i.get("status") == "failed" and i.get("exit_code") not in (0, None) for i in done), done


def test_fail_outcome_is_turn_failed_and_rc_1(
    codex: Path, checkout: GitCheckout, env: dict[str, str]
) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    run = run_codex(exec_args(checkout.worktree, prompt(2, "Broken"), binary=codex), env)
    assert run.returncode == 1
    failed = run.of_type("turn.failed")
    assert len(failed) == 1 and "the model fell over" in failed[0]["error"]["message"]
    assert not run.of_type("turn.completed")
    assert branch_tip(checkout.repo, "pr-1").id == base


@pytest.mark.parametrize(
    ("fault", "message", "requests"),
    [
        (Fault("status", status=500), "high demand", 2),  # request_max_retries = 1: tried twice
        (Fault("status", status=400, body={"error": {"message": "bad thing"}}), '"bad thing"', 1),
        (Fault("truncate", after=2), "stream closed before response.completed", 1),
        (Fault("drop", after=2), "stream disconnected before completion", 1),
    ],
    ids=["500", "400", "truncate", "drop"],
)
def test_wire_faults_end_in_turn_failed(
    codex: Path,
    sim: ResponsesSim,
    checkout: GitCheckout,
    env: dict[str, str],
    fault: Fault,
    message: str,
    requests: int,
) -> None:
    sim.queue_fault(fault, fault)
    run = run_codex(exec_args(checkout.worktree, prompt(1, "Add greeting"), binary=codex), env)
    assert run.returncode == 1
    failed = run.of_type("turn.failed")
    assert len(failed) == 1 and message in failed[0]["error"]["message"]
    assert len(sim.server.log) == requests


def test_resume_continues_the_same_thread(codex: Path, checkout: GitCheckout, env: dict[str, str]) -> None:
    add = checkout.git_dirs
    first = run_codex(
        exec_args(checkout.worktree, prompt(1, "Add greeting"), binary=codex, add_dirs=add), env
    )
    assert first.returncode == 0, first.stderr
    thread = first.thread_id
    argv = exec_args(
        checkout.worktree, prompt(1, "Add greeting", 2), binary=codex, add_dirs=add, resume=thread
    )
    second = run_codex(argv, env)
    assert second.returncode == 0, second.stderr
    assert second.thread_id == thread

    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.message.strip() == "Make the greeting enthusiastic"
    assert tip.parents[0].message.strip() == "Add greeting module"
    assert "hello {name}!" in blob_text(tip, "src/greet.py")
    changes = [c["kind"] for item in second.items("file_change") for c in item["changes"]]
    assert changes == ["update"]  # the file round 1 added is read and updated
    # usage after resume is the thread's running total
    u1 = first.of_type("turn.completed")[0]["usage"]
    u2 = second.of_type("turn.completed")[0]["usage"]
    assert u2["input_tokens"] > u1["input_tokens"]


def test_sigint_during_a_hang_exits_promptly(codex: Path, checkout: GitCheckout, env: dict[str, str]) -> None:
    argv = exec_args(checkout.worktree, prompt(3, "Stuck"), binary=codex)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # read until the model has spoken and then gone quiet
            seen.append(line)
            event = json.loads(line)
            if event["type"] == "item.completed" and event["item"]["type"] == "agent_message":
                break
        else:
            pytest.fail(f"codex ended before the hang: {''.join(seen)}")
        proc.send_signal(signal.SIGINT)
        # far below the 20 s stream idle timeout, after which it would fail on its own
        rest, _err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1
    events = parse_jsonl("".join(seen) + rest)
    assert not [e for e in events if e["type"] in ("turn.completed", "turn.failed")]
    cmds = [
        e["item"]
        for e in events
        if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"
    ]
    assert [c["aggregated_output"].strip().splitlines()[-1] for c in cmds] == ["looking around"]


def test_unknown_pr_gets_a_generic_committed_change(
    codex: Path, checkout: GitCheckout, env: dict[str, str], tmp_path: Path
) -> None:
    with sim_server(Scenario(), speed=0) as plain:
        _home, codex_env = make_codex_home(tmp_path / "other", plain.base_url, writable_tmp=False)
        argv = exec_args(
            checkout.worktree, prompt(7, "Write the changelog"), binary=codex, add_dirs=checkout.git_dirs
        )
        run = run_codex(argv, {**codex_env, **checkout.env})
    assert run.returncode == 0, run.stderr
    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.message.strip() == "Write the changelog: task notes (round 1)"
    assert "Do the task, then commit." in blob_text(tip, "NOTES/write-the-changelog.md")
