"""``python -m cockpit.demo.sim.codex`` on its own: events, real edits and commits, resume, signals, stdin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

from cockpit.backends.process import MARKER_ENV, group_members, marked_processes
from tests.support.real_codex import (
    CodexRun,
    GitCheckout,
    branch_tip,
    make_repo_with_worktree,
    parse_jsonl,
    run_codex,
)

SIM = [sys.executable, "-m", "cockpit.demo.sim.codex"]

SCENARIO = """
name = "sim-cli"
[[pr]]
title = "Add greeting"
task = "Add a greeting module."
[[pr.round]]
[pr.round.writer]
outcome = "commit"
message = "Added greet.py."
commit_message = "Add greeting module"
delete = ["OLD.txt"]
steps = [
  { think = "One small module." },
  { plan = ["Write greet.py", "Commit"] },
  { run = "pytest -q", output = "1 failed\\n", exit_code = 1 },
  { say = "The test fails until greet.py exists." },
  { edit = "src/greet.py" },
  { plan = ["Write greet.py", "Commit"] },
]
usage = { input_tokens = 1000, output_tokens = 100, cached_input_tokens = 400 }
[pr.round.writer.files]
"src/greet.py" = "def greet(name):\\n    return f'hello {name}'\\n"
"README.md" = "# Test project\\n\\nIt greets.\\n"
[[pr.round]]
[pr.round.writer]
outcome = "commit"
message = "Greeting is louder."
commit_message = "Louder greeting"
steps = [{ edit = "src/greet.py" }]
usage = { input_tokens = 1500, output_tokens = 50 }
[pr.round.writer.files]
"src/greet.py" = "def greet(name):\\n    return f'hello {name}!'\\n"

[[pr]]
title = "Broken"
task = "fails"
[[pr.round]]
[pr.round.writer]
outcome = "fail"
error = "the model fell over"
steps = [{ edit = "half.txt" }]
files = { "half.txt" = "half done\\n" }

[[pr]]
title = "Stuck"
task = "hangs"
[[pr.round]]
[pr.round.writer]
outcome = "hang"
steps = [{ edit = "wip.txt" }, { say = "Running the slow suite." }]
files = { "wip.txt" = "work in progress\\n" }

[[pr]]
title = "Leave it dirty"
task = "dirty"
[[pr.round]]
[pr.round.writer]
outcome = "dirty"
files = { "dirty.txt" = "uncommitted\\n" }

[[pr]]
title = "Nothing to do"
task = "no commit"
[[pr.round]]
[pr.round.writer]
outcome = "no_commit"
message = "Nothing needed changing."
steps = [{ edit = "never.txt" }]
files = { "never.txt" = "x\\n" }
"""

FILES = {"README.md": "# Test project\n", "OLD.txt": "remove me\n"}


def prompt(n: int, title: str, round_no: int = 1) -> str:
    return f"PR {n}: {title}\nRound {round_no}\n\nDo the task, then commit."


@pytest.fixture
def checkout(tmp_path: Path) -> GitCheckout:
    return make_repo_with_worktree(tmp_path, branch="pr-1", files=FILES)


@pytest.fixture
def env(tmp_path: Path, checkout: GitCheckout) -> dict[str, str]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return {
        **os.environ,
        **checkout.env,
        "CODEX_HOME": str(tmp_path / "codex-home"),
        "COCKPIT_SIM_SCENARIO": str(scenario),
        "COCKPIT_SIM_SPEED": "0",
    }


def exec_argv(checkout: GitCheckout, text: str, *extra: str, add_dirs: list[Path] | None = None) -> list[str]:
    argv = [*SIM, "exec", "--json", "--cd", str(checkout.worktree), "--sandbox", "workspace-write"]
    for d in checkout.git_dirs if add_dirs is None else add_dirs:
        argv += ["--add-dir", str(d)]
    return [*argv, *extra, text]


def items(run: CodexRun, phase: str, kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in run.of_type(f"item.{phase}") if e["item"]["type"] == kind]


def test_version() -> None:
    out = subprocess.run([*SIM, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "codex-cli 0.0.0-sim"


def test_a_commit_round_emits_the_real_events_and_commits(
    checkout: GitCheckout, env: dict[str, str], tmp_path: Path
) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    last = tmp_path / "last.txt"
    run = run_codex(exec_argv(checkout, prompt(1, "Add greeting"), "-o", str(last)), env)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "Reading additional input from stdin..."

    kinds = [e["type"] for e in run.events]
    assert kinds[:2] == ["thread.started", "turn.started"] and kinds[-1] == "turn.completed"
    ids = [
        e["item"]["id"] for e in run.events if e["type"] == "item.started" or e["type"] == "item.completed"
    ]
    assert ids[0] == "item_0" and set(ids) == {f"item_{n}" for n in range(len(set(ids)))}

    assert [r["text"] for r in run.items("reasoning")] == ["One small module."]
    assert [m["text"] for m in run.items("agent_message")] == [
        "The test fails until greet.py exists.",
        "Added greet.py.",
    ]
    started = items(run, "started", "command_execution")
    assert started[0] == {
        "id": started[0]["id"],
        "type": "command_execution",
        "command": "/bin/bash -lc 'pytest -q'",
        "aggregated_output": "",
        "exit_code": None,
        "status": "in_progress",
    }
    commands = run.items("command_execution")
    assert (commands[0]["aggregated_output"], commands[0]["exit_code"], commands[0]["status"]) == (
        "1 failed\n",
        1,
        "failed",
    )
    commit = commands[-1]
    # the command the Responses simulator has the real CLI run (writer_plan.Commit): quiet
    assert commit["command"].startswith("/bin/bash -lc 'git add -A && git commit -q -m ")
    assert commit["exit_code"] == 0 and commit["status"] == "completed"
    assert commit["aggregated_output"] == ""

    changes = [
        (Path(c["path"]).relative_to(checkout.worktree).as_posix(), c["kind"])
        for item in run.items("file_change")
        for c in item["changes"]
    ]
    assert changes == [("src/greet.py", "add"), ("README.md", "update"), ("OLD.txt", "delete")]

    plans = [e for e in run.events if e["type"].startswith("item.") and e["item"]["type"] == "todo_list"]
    assert [e["type"] for e in plans] == ["item.started", "item.updated", "item.completed"]
    assert [i["completed"] for i in plans[1]["item"]["items"]] == [True, False]
    assert plans[2]["item"]["items"] == plans[1]["item"]["items"]  # as it last stood, like the real CLI

    usage = run.of_type("turn.completed")[0]["usage"]
    assert usage == {
        "input_tokens": 1000,
        "cached_input_tokens": 400,
        "cache_write_input_tokens": 0,
        "output_tokens": 100,
        "reasoning_output_tokens": 0,
    }

    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.parents[0].id == base and tip.message.strip() == "Add greeting module"
    blob = tip.tree["src/greet.py"]
    assert isinstance(blob, pygit2.Blob)
    assert blob.data.decode() == "def greet(name):\n    return f'hello {name}'\n"
    assert "OLD.txt" not in tip.tree
    assert pygit2.Repository(str(checkout.worktree)).status() == {}
    assert branch_tip(checkout.repo, "main").id == base
    assert last.read_text() == "Added greet.py."


def test_estimated_usage_grows_with_each_request(checkout: GitCheckout, env: dict[str, str]) -> None:
    run = run_codex(exec_argv(checkout, prompt(5, "Leave it dirty")), env)  # no scripted usage
    usage = run.of_type("turn.completed")[0]["usage"]
    assert usage["input_tokens"] > usage["cached_input_tokens"] > 0
    assert usage["output_tokens"] > 0


@pytest.mark.parametrize(
    ("which", "says"),
    [
        ("none", "index.lock': Read-only file system"),
        ("common", "index.lock': Read-only file system"),  # codex 0.171: the worktree's own dir too
        ("own", "unable to create temporary file: Read-only file system"),
        ("no ref dir", "cannot lock ref 'HEAD': Unable to create"),
        ("no reflog dir", "unable to append to"),
    ],
)
def test_without_the_git_dirs_the_sandbox_blocks_the_commit_and_codex_still_exits_0(
    checkout: GitCheckout, env: dict[str, str], which: str, says: str
) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    c, own = checkout.common_dir, checkout.worktree_git_dir
    add = {
        "none": [],
        "common": [c],
        "own": [own],
        "no ref dir": [c / "objects", c / "logs/refs/heads", own],
        "no reflog dir": [c / "objects", c / "refs/heads", own],
    }[which]
    run = run_codex(exec_argv(checkout, prompt(1, "Add greeting"), add_dirs=add), env)
    assert run.returncode == 0
    commit = run.items("command_execution")[-1]
    assert commit["exit_code"] == 128 and says in commit["aggregated_output"]
    assert branch_tip(checkout.repo, "pr-1").id == base
    assert (checkout.worktree / "src" / "greet.py").exists()  # the edits are there, uncommitted


def test_the_narrow_git_dirs_are_enough_to_commit(checkout: GitCheckout, env: dict[str, str]) -> None:
    """What ``Repo.git_dirs_for`` names: objects, the branch's ref and reflog dirs, the admin dir."""
    base = branch_tip(checkout.repo, "pr-1").id
    c = checkout.common_dir
    narrow = [c / "objects", c / "refs/heads", c / "logs/refs/heads", checkout.worktree_git_dir]
    run = run_codex(exec_argv(checkout, prompt(1, "Add greeting"), add_dirs=narrow), env)
    assert run.returncode == 0
    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.parents[0].id == base and tip.message.strip() == "Add greeting module"


def test_read_only_sandbox_writes_nothing(checkout: GitCheckout, env: dict[str, str]) -> None:
    argv = [
        *SIM,
        "exec",
        "--json",
        "--cd",
        str(checkout.worktree),
        "--sandbox",
        "read-only",
        prompt(1, "Add greeting"),
    ]
    run = run_codex(argv, env)
    assert run.returncode == 0
    assert {item["status"] for item in run.items("file_change")} == {"failed"}
    assert not (checkout.worktree / "src" / "greet.py").exists()


def test_resume_continues_the_thread_with_cumulative_usage(
    checkout: GitCheckout, env: dict[str, str]
) -> None:
    first = run_codex(exec_argv(checkout, prompt(1, "Add greeting")), env)
    thread = first.thread_id
    argv = exec_argv(checkout, prompt(1, "Add greeting", 2), "resume", thread)
    second = run_codex(argv, env)
    assert second.returncode == 0, second.stderr
    assert second.thread_id == thread
    assert second.events[2]["item"]["id"] == "item_0"  # ids restart on resume
    usage = second.of_type("turn.completed")[0]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cached_input_tokens"]) == (2500, 150, 400)
    tip = branch_tip(checkout.repo, "pr-1")
    assert (
        tip.message.strip() == "Louder greeting" and tip.parents[0].message.strip() == "Add greeting module"
    )
    assert [c["kind"] for i in second.items("file_change") for c in i["changes"]] == ["update"]


def test_resume_estimates_include_the_whole_thread(checkout: GitCheckout, env: dict[str, str]) -> None:
    first = run_codex(exec_argv(checkout, prompt(5, "Leave it dirty")), env)
    argv = [
        *SIM,
        "exec",
        "--json",
        "--cd",
        str(checkout.worktree),
        "resume",
        first.thread_id,
        prompt(5, "Leave it dirty", 2),
    ]
    second = run_codex(argv, env)
    u1 = first.of_type("turn.completed")[0]["usage"]
    u2 = second.of_type("turn.completed")[0]["usage"]
    # the second total holds the first turn, and its own requests re-send the longer history
    assert u2["input_tokens"] - u1["input_tokens"] > u1["input_tokens"]


def test_resume_last_picks_the_newest_thread_of_this_directory(
    checkout: GitCheckout, env: dict[str, str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = run_codex(exec_argv(checkout, prompt(6, "Nothing to do")), env)
    other = [
        *SIM,
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--cd",
        str(elsewhere),
        prompt(6, "Nothing to do"),
    ]
    newest = run_codex(other, env)  # newer, but in another directory
    here = run_codex(exec_argv(checkout, prompt(6, "Nothing to do", 2), "resume", "--last"), env)
    assert here.thread_id == first.thread_id != newest.thread_id
    latest = run_codex(other, env)  # a thread in the other directory is the newest again
    anywhere = run_codex(exec_argv(checkout, "x", "resume", "--last", "--all"), env)
    assert anywhere.thread_id == latest.thread_id


def test_resume_of_an_unknown_thread_fails(checkout: GitCheckout, env: dict[str, str]) -> None:
    argv = [
        *SIM,
        "exec",
        "--json",
        "--cd",
        str(checkout.worktree),
        "resume",
        "0199a213-81c0-7800-8aa1-bbab2a035a53",
        "hi",
    ]
    run = run_codex(argv, env)
    assert run.returncode == 1 and run.events == []
    assert "no rollout found" in run.stderr


def test_ephemeral_writes_no_thread_state(checkout: GitCheckout, env: dict[str, str], tmp_path: Path) -> None:
    run = run_codex(exec_argv(checkout, prompt(6, "Nothing to do"), "--ephemeral"), env)
    assert run.returncode == 0 and run.thread_id
    assert not (tmp_path / "codex-home" / "sessions").exists()
    again = run_codex(
        [*SIM, "exec", "--json", "--cd", str(checkout.worktree), "resume", run.thread_id, "x"], env
    )
    assert again.returncode == 1


def test_exec_options_after_resume_are_rejected_like_the_real_parser(
    checkout: GitCheckout, env: dict[str, str]
) -> None:
    argv = [*SIM, "exec", "--json", "resume", "some-thread", "--cd", str(checkout.worktree), "hi"]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    assert run.returncode == 2
    assert "unexpected argument '--cd'" in run.stderr
    bad = subprocess.run(
        [*SIM, "exec", "--sandbox", "yolo", "hi"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert bad.returncode == 2 and "possible values" in bad.stderr


def test_refuses_outside_a_git_repo_unless_told(env: dict[str, str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    argv = [
        *SIM,
        "exec",
        "--json",
        "--cd",
        str(plain),
        "--sandbox",
        "workspace-write",
        prompt(6, "Nothing to do"),
    ]
    refused = run_codex(argv, env)
    assert refused.returncode == 1 and refused.events == []
    assert "Not inside a trusted directory and --skip-git-repo-check was not specified." in refused.stderr
    allowed = run_codex([*argv[:-1], "--skip-git-repo-check", argv[-1]], env)
    assert allowed.returncode == 0 and allowed.of_type("turn.completed")


def test_piped_stdin_is_read_to_eof_and_appended(checkout: GitCheckout, env: dict[str, str]) -> None:
    argv = exec_argv(checkout, "PR 9: Write the changelog\nRound 1\n\nKeep it short.")
    proc = subprocess.run(
        argv, env=env, input="extra context from the pipe\n", capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Reading additional input from stdin..." in proc.stderr
    note = (checkout.worktree / "NOTES" / "write-the-changelog.md").read_text()
    assert "<stdin>\nextra context from the pipe\n</stdin>" in note
    assert branch_tip(checkout.repo, "pr-1").message.strip() == "Write the changelog: task notes (round 1)"


def test_fail_outcome(checkout: GitCheckout, env: dict[str, str]) -> None:
    run = run_codex(exec_argv(checkout, prompt(2, "Broken")), env)
    assert run.returncode == 1
    assert [e["type"] for e in run.events][-2:] == ["error", "turn.failed"]
    # the real CLI's words for a response.failed carrying the scenario's error
    failed = run.of_type("turn.failed")[0]["error"]["message"]
    assert failed == "stream disconnected before completion: the model fell over"
    assert (checkout.worktree / "half.txt").read_text() == "half done\n"  # edits before the failure stay


def test_dirty_and_no_commit_outcomes(checkout: GitCheckout, env: dict[str, str]) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    dirty = run_codex(exec_argv(checkout, prompt(4, "Leave it dirty")), env)
    assert dirty.returncode == 0 and branch_tip(checkout.repo, "pr-1").id == base
    assert (checkout.worktree / "dirty.txt").exists()
    (checkout.worktree / "dirty.txt").unlink()
    nothing = run_codex(exec_argv(checkout, prompt(6, "Nothing to do")), env)
    assert nothing.returncode == 0 and nothing.items("file_change") == []
    assert pygit2.Repository(str(checkout.worktree)).status() == {}
    assert [m["text"] for m in nothing.items("agent_message")] == ["Nothing needed changing."]


def test_unknown_model_adds_an_error_item(checkout: GitCheckout, env: dict[str, str]) -> None:
    run = run_codex(exec_argv(checkout, prompt(6, "Nothing to do"), "-m", "my-own-model"), env)
    assert run.returncode == 0
    assert "my-own-model" in run.items("error")[0]["message"]


def test_without_json_the_final_message_is_on_stdout(checkout: GitCheckout, env: dict[str, str]) -> None:
    argv = [*SIM, "exec", "--cd", str(checkout.worktree), prompt(6, "Nothing to do")]
    proc = subprocess.run(
        argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout == "Nothing needed changing.\n"


Hanging = tuple[subprocess.Popen[str], list[str], str]


@pytest.fixture
def hanging(checkout: GitCheckout, env: dict[str, str]) -> Iterator[Hanging]:
    """The sim hanging in a command; its processes carry a marker in their environment."""
    marker = f"hang-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        exec_argv(checkout, prompt(3, "Stuck")),
        env={**env, MARKER_ENV: marker},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            event = json.loads(line)
            if event["type"] == "item.started" and event["item"]["type"] == "command_execution":
                break
        yield proc, seen, marker
    finally:
        for pid in marked_processes(marker):
            os.kill(pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate: Any, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigint_exits_1_with_no_final_event_and_kills_its_command(
    hanging: Hanging, checkout: GitCheckout
) -> None:
    proc, seen, marker = hanging
    # the sim and the command it is running, which has a session of its own (as with the real CLI)
    assert group_members(proc.pid) == [proc.pid] and len(marked_processes(marker)) == 2
    proc.send_signal(signal.SIGINT)  # to the sim alone, not the group
    rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == 1
    kinds = [e["type"] for e in parse_jsonl("".join(seen) + rest)]
    assert "turn.completed" not in kinds and "turn.failed" not in kinds
    wait_for(lambda: not marked_processes(marker), "the command to die")
    assert (checkout.worktree / "wip.txt").read_text() == "work in progress\n"


def test_sigterm_exits_143_and_orphans_its_command(hanging: Hanging) -> None:
    proc, _seen, marker = hanging
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert proc.returncode == 143
    # the running command outlived it, as with the real CLI, and outside its group
    assert not group_members(proc.pid) and len(marked_processes(marker)) == 1
