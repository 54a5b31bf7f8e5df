"""``CodexWriter`` against the codex CLI simulator, and against the real Codex CLI, in real worktrees."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pygit2
import pytest

from cockpit.backends.base import DispatchError, Output, WriteJob, Writer
from cockpit.backends.codex import CodexWriter, provider_url, sandbox_dirs, worktree_git_dir
from cockpit.backends.process import MARKER_ENV
from cockpit.events import Usage
from tests.support.real_codex import (
    GitCheckout,
    branch_tip,
    codex_bin,
    make_codex_home,
    make_repo_with_worktree,
    sim_server,
)

SIM = [sys.executable, "-m", "cockpit.demo.sim.codex"]

SCENARIO = """
name = "writer"
[[pr]]
title = "Add greeting"
task = "Add a greeting module."
[[pr.round]]
[pr.round.writer]
message = "Added greet.py."
commit_message = "Add greeting module"
steps = [
  { think = "One small module." },
  { plan = ["Write greet.py"] },
  { run = "pytest -q", output = "no tests ran\\n", exit_code = 5 },
  { edit = "src/greet.py" },
]
usage = { input_tokens = 1000, output_tokens = 100 }
files = { "src/greet.py" = "def greet(name):\\n    return f'hello {name}'\\n" }
[[pr.round]]
[pr.round.writer]
message = "Louder."
commit_message = "Louder greeting"
steps = [{ edit = "src/greet.py" }]
usage = { input_tokens = 1500, output_tokens = 50 }
files = { "src/greet.py" = "def greet(name):\\n    return f'hello {name}!'\\n" }

[[pr]]
title = "Broken"
task = "fails"
[[pr.round]]
[pr.round.writer]
outcome = "fail"
error = "the model fell over"

[[pr]]
title = "Stuck"
task = "hangs"
[[pr.round]]
[pr.round.writer]
outcome = "hang"
steps = [{ edit = "wip.txt" }]
files = { "wip.txt" = "work in progress\\n" }

[[pr]]
title = "Nothing to do"
task = "no commit"
[[pr.round]]
[pr.round.writer]
outcome = "no_commit"
message = "Nothing needed changing."
"""


def prompt(n: int, title: str, round_no: int = 1) -> str:
    return f"PR {n}: {title}\nRound {round_no}\n\nDo the task, then commit."


def job(checkout: GitCheckout, n: int, title: str, round_no: int = 1, resume_thread: str = "") -> WriteJob:
    return WriteJob(
        pr=n,
        round=round_no,
        title=title,
        prompt=prompt(n, title, round_no),
        worktree=checkout.worktree,
        branch=checkout.branch,
        git_dirs=(checkout.common_dir,),
        resume_thread=resume_thread,
    )


def processes_in(path: Path) -> list[int]:
    """Live processes whose working directory is ``path`` (a writer and anything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == path.resolve():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone, or a zombie
    return found


@pytest.fixture
def checkout(tmp_path: Path) -> GitCheckout:
    return make_repo_with_worktree(tmp_path, branch="pr-1")


@pytest.fixture
def writer(tmp_path: Path, checkout: GitCheckout) -> CodexWriter:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    env = {**checkout.env, "COCKPIT_SIM_SCENARIO": str(scenario), "COCKPIT_SIM_SPEED": "0"}
    return CodexWriter(SIM, env=env, codex_home=tmp_path / "codex-home", grace_s=1.0)


def test_is_a_writer(writer: CodexWriter) -> None:
    assert isinstance(writer, Writer)
    assert writer.backend == "codex"


def test_command_line_shapes(checkout: GitCheckout) -> None:
    w = CodexWriter("/opt/codex/bin/codex", model="gpt-5.5", args=["-c", "model_reasoning_effort=high"])
    wt = str(checkout.worktree.resolve())
    fresh = w.argv(job(checkout, 1, "Add greeting"))
    assert fresh == [
        "/opt/codex/bin/codex", "exec", "--json", "--cd", wt, "--sandbox", "workspace-write",
        "--add-dir", str(checkout.common_dir), "--add-dir", str(checkout.worktree_git_dir),
        "-c", "shell_environment_policy.ignore_default_excludes=false",
        "-m", "gpt-5.5", "-c", "model_reasoning_effort=high",
        prompt(1, "Add greeting"),
    ]  # fmt: skip
    resumed = w.argv(job(checkout, 1, "Add greeting", 2), resume_thread="t-1")
    assert resumed[-3:] == ["resume", "t-1", prompt(1, "Add greeting", 2)]
    assert resumed[:-3] == fresh[:-1]  # every exec option goes before `resume`, which accepts almost none
    full = CodexWriter("codex --profile x", sandbox="danger-full-access").argv(job(checkout, 1, "A"))
    assert full[:3] == ["codex", "--profile", "x"] and "--add-dir" not in full
    with pytest.raises(ValueError, match="sandbox"):
        CodexWriter(sandbox="none")


def test_the_worktree_git_dir_is_read_from_its_pointer(checkout: GitCheckout, tmp_path: Path) -> None:
    assert worktree_git_dir(checkout.worktree) == checkout.worktree_git_dir
    assert worktree_git_dir(checkout.repo) == checkout.common_dir  # a main checkout: its .git
    assert worktree_git_dir(tmp_path) is None
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text("gitdir: ../somewhere/else\n", encoding="utf-8")
    assert worktree_git_dir(odd) == (tmp_path / "somewhere" / "else").resolve()
    both = job(checkout, 1, "A")
    assert sandbox_dirs(both) == [checkout.common_dir, checkout.worktree_git_dir]
    named = WriteJob(1, 1, "A", "p", checkout.worktree, "pr-1", git_dirs=(checkout.worktree_git_dir,))
    assert sandbox_dirs(named) == [checkout.worktree_git_dir]  # no duplicates


async def test_a_round_streams_outputs_and_commits(writer: CodexWriter, checkout: GitCheckout) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    outs: list[Output] = []
    result = await writer.write(job(checkout, 1, "Add greeting"), outs.append)

    assert result.final_message == "Added greet.py."
    assert result.usage == Usage(input_tokens=1000, output_tokens=100)
    assert result.thread_id and outs[0] == Output(
        "status", f"thread {result.thread_id}", {"type": "thread.started", "thread_id": result.thread_id}
    )
    channels = [o.channel for o in outs]
    for channel in ("reasoning", "plan", "command", "command_output", "file_change", "text"):
        assert channel in channels
    assert "stderr" not in channels  # the stdin notice is dropped
    run = next(o for o in outs if o.channel == "command" and o.text == "pytest -q")
    ran = next(o for o in outs if o.channel == "command_output" and o.meta["id"] == run.meta["id"])
    assert (ran.text, ran.meta["exit_code"], ran.meta["status"]) == ("no tests ran\n", 5, "failed")
    change = next(o for o in outs if o.channel == "file_change")
    assert change.meta["changes"] == [{"path": "src/greet.py", "kind": "add"}]

    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.parents[0].id == base and tip.message.strip() == "Add greeting module"
    assert pygit2.Repository(str(checkout.worktree)).status() == {}
    assert processes_in(checkout.worktree) == []


async def test_a_fix_round_resumes_the_thread_and_counts_only_its_own_usage(
    writer: CodexWriter, checkout: GitCheckout
) -> None:
    first = await writer.write(job(checkout, 1, "Add greeting"), lambda o: None)
    second = await writer.write(job(checkout, 1, "Add greeting", 2, first.thread_id), lambda o: None)
    assert second.thread_id == first.thread_id
    assert second.usage == Usage(input_tokens=1500, output_tokens=50)  # thread total 2500 minus 1000
    assert branch_tip(checkout.repo, "pr-1").message.strip() == "Louder greeting"


async def test_resume_off_starts_a_new_thread(
    tmp_path: Path, writer: CodexWriter, checkout: GitCheckout
) -> None:
    first = await writer.write(job(checkout, 1, "Add greeting"), lambda o: None)
    fresh = CodexWriter(SIM, env=writer.env, codex_home=tmp_path / "codex-home", resume=False)
    second = await fresh.write(job(checkout, 1, "Add greeting", 2, first.thread_id), lambda o: None)
    assert second.thread_id != first.thread_id
    assert second.usage == Usage(input_tokens=1500, output_tokens=50)


async def test_a_thread_that_cannot_be_resumed_falls_back_to_a_new_one(
    writer: CodexWriter, checkout: GitCheckout
) -> None:
    outs: list[Output] = []
    lost = "0199a213-81c0-7800-8aa1-bbab2a035a53"
    result = await writer.write(job(checkout, 1, "Add greeting", 2, lost), outs.append)
    assert result.thread_id and result.thread_id != lost
    assert any(o.meta.get("type") == "resume" and lost in o.text for o in outs)
    assert any(o.channel == "stderr" and "no rollout found" in o.text for o in outs)


async def test_no_commit_is_not_an_error(writer: CodexWriter, checkout: GitCheckout) -> None:
    base = branch_tip(checkout.repo, "pr-1").id
    result = await writer.write(job(checkout, 4, "Nothing to do"), lambda o: None)
    assert result.final_message == "Nothing needed changing."
    assert branch_tip(checkout.repo, "pr-1").id == base  # the engine's watcher sees no commit


async def test_a_failed_turn_is_a_dispatch_error(writer: CodexWriter, checkout: GitCheckout) -> None:
    with pytest.raises(DispatchError) as caught:
        await writer.write(job(checkout, 2, "Broken"), lambda o: None)
    assert caught.value.message == "stream disconnected before completion: the model fell over"
    assert caught.value.hint == "the model service failed mid-turn; retry the round"


async def test_without_the_git_dirs_the_read_only_commit_is_flagged(
    writer: CodexWriter, checkout: GitCheckout
) -> None:
    outs: list[Output] = []
    bare = WriteJob(1, 1, "Add greeting", prompt(1, "Add greeting"), checkout.worktree, "pr-1", git_dirs=())
    await writer.write(bare, outs.append)
    assert any(o.meta.get("type") == "sandbox" for o in outs)


async def hang_until_running(writer: CodexWriter, checkout: GitCheckout) -> asyncio.Task[object]:
    running = asyncio.Event()

    def sink(o: Output) -> None:
        if o.channel == "command" and o.text.startswith("sleep"):
            running.set()

    task: asyncio.Task[object] = asyncio.create_task(writer.write(job(checkout, 3, "Stuck"), sink))
    await asyncio.wait_for(running.wait(), 30)
    assert len(processes_in(checkout.worktree)) == 2  # the CLI and its command
    return task


async def test_cancelling_a_hung_writer_ends_its_process_group_and_keeps_the_worktree(
    writer: CodexWriter, checkout: GitCheckout
) -> None:
    task = await hang_until_running(writer, checkout)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert processes_in(checkout.worktree) == []
    assert (checkout.worktree / "wip.txt").read_text() == "work in progress\n"


async def test_a_timeout_ends_the_writer(writer: CodexWriter, checkout: GitCheckout) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.write(job(checkout, 3, "Stuck"), lambda o: None)
    assert processes_in(checkout.worktree) == []
    assert (checkout.worktree / "wip.txt").exists()


async def test_a_missing_binary_says_how_to_install(checkout: GitCheckout, tmp_path: Path) -> None:
    w = CodexWriter(str(tmp_path / "no-such-codex"))
    with pytest.raises(DispatchError) as caught:
        await w.write(job(checkout, 1, "Add greeting"), lambda o: None)
    assert "npm install -g @openai/codex" in caught.value.hint
    assert "no-such-codex" in caught.value.message


async def test_a_cli_error_on_stderr_becomes_the_error(tmp_path: Path, checkout: GitCheckout) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[pr]]\nnot valid = = toml\n", encoding="utf-8")
    w = CodexWriter(SIM, env={**checkout.env, "COCKPIT_SIM_SCENARIO": str(broken)}, codex_home=tmp_path / "h")
    outs: list[Output] = []
    with pytest.raises(DispatchError) as caught:
        await w.write(job(checkout, 1, "Add greeting"), outs.append)
    assert "Error loading scenario" in caught.value.message
    assert [o.channel for o in outs] == ["stderr"]


async def test_a_missing_worktree_is_refused(
    writer: CodexWriter, checkout: GitCheckout, tmp_path: Path
) -> None:
    gone = WriteJob(1, 1, "A", prompt(1, "A"), tmp_path / "gone", "pr-1", git_dirs=())
    with pytest.raises(DispatchError, match="does not exist"):
        await writer.write(gone, lambda o: None)


# --- the real Codex CLI, offline against cockpit's Responses simulator -------------------------


@pytest.mark.codex
async def test_real_codex_cli_writes_commits_and_resumes(tmp_path: Path, checkout: GitCheckout) -> None:
    from cockpit.demo.scenario import parse_scenario

    binary = codex_bin()  # installs it if npm can, else skips loudly
    with sim_server(parse_scenario(SCENARIO), speed=0) as sim:
        # /tmp out of the writable roots, so only the --add-dir roots the writer passes make git work
        home, env = make_codex_home(tmp_path, sim.base_url, writable_tmp=False)
        w = CodexWriter(str(binary), env={**env, **checkout.env}, codex_home=home)
        base = branch_tip(checkout.repo, "pr-1").id
        outs: list[Output] = []
        first = await w.write(job(checkout, 1, "Add greeting"), outs.append)
        outs2: list[Output] = []
        second = await w.write(job(checkout, 1, "Add greeting", 2, first.thread_id), outs2.append)

    tip = branch_tip(checkout.repo, "pr-1")
    assert tip.message.strip() == "Louder greeting"
    assert tip.parents[0].message.strip() == "Add greeting module" and tip.parents[0].parents[0].id == base
    assert first.final_message == "Added greet.py." and second.final_message == "Louder."
    assert second.thread_id == first.thread_id
    assert first.usage.input_tokens > 0 and second.usage.input_tokens > 0
    # the real CLI reports the thread's running total; each round gets only its own share
    total = next(o.meta["usage"] for o in outs2 if o.meta.get("type") == "turn.completed")
    assert total["input_tokens"] == first.usage.input_tokens + second.usage.input_tokens
    assert total["output_tokens"] == first.usage.output_tokens + second.usage.output_tokens
    assert all(o.meta.get("type") not in ("invalid_json", "unparsed") for o in outs + outs2)
    changes = [c for o in outs if o.channel == "file_change" for c in o.meta["changes"]]
    assert {"path": "src/greet.py", "kind": "add"} in changes
    assert any(o.channel == "command" and o.text == "pytest -q" for o in outs)
    assert processes_in(checkout.worktree) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nothing_answering_at_the_provider_ends_the_round(
    tmp_path: Path, writer: CodexWriter, checkout: GitCheckout
) -> None:
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    (home / "config.toml").write_text(
        f'model_provider = "local"\n[model_providers.local]\nbase_url = "{url}"\n', encoding="utf-8"
    )
    outs: list[Output] = []
    with pytest.raises(DispatchError) as caught:
        async with asyncio.timeout(60):  # the CLI alone would wait forever
            await writer.write(job(checkout, 1, "Add greeting"), outs.append)
    assert caught.value.message.startswith(f"nothing answers at {url}")
    assert "model provider config" in caught.value.hint
    assert sum(1 for o in outs if o.meta.get("reconnecting")) == 3  # stopped at the third notice
    assert processes_in(checkout.worktree) == []


def test_the_provider_url_comes_from_config_and_overrides(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'model_provider = "a"\n[model_providers.a]\nbase_url = "http://a:1/v1"\n'
        '[model_providers.b]\nbase_url = "http://b:2/v1"\n',
        encoding="utf-8",
    )
    assert provider_url(home, [], {}) == "http://a:1/v1"
    assert provider_url(home, ["-c", 'model_provider="b"'], {}) == "http://b:2/v1"
    assert provider_url(home, ["--config=model_providers.a.base_url='http://c:3'"], {}) == "http://c:3"
    assert provider_url(tmp_path / "none", [], {}) == "https://api.openai.com/v1"
    assert provider_url(tmp_path / "none", [], {"OPENAI_BASE_URL": "http://proxy/v1"}) == "http://proxy/v1"
    assert provider_url(tmp_path / "none", ["-c", "model_provider=odd"], {}) == ""


ENV_SCENARIO = """
[[pr]]
title = "Show the environment"
task = "env"
[[pr.round]]
[pr.round.writer]
outcome = "no_commit"
message = "Shown."
steps = [{ run = "env" }]

[[pr]]
title = "Start a server"
task = "a dev server that detaches, then a model that never answers again"
[[pr.round]]
[pr.round.writer]
outcome = "hang"
steps = [
  { run = "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo started" },
  { say = "The server runs." },
]
"""


@pytest.mark.codex
async def test_real_codex_commands_see_no_keys_but_the_marker(
    tmp_path: Path, checkout: GitCheckout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit.demo.scenario import parse_scenario

    binary = codex_bin()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-leak-me-not")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "token-leak-me-not")  # codex's own filter drops this one
    with sim_server(parse_scenario(ENV_SCENARIO), speed=0) as sim:
        home, env = make_codex_home(tmp_path, sim.base_url, writable_tmp=False)
        # codex itself needs its provider key, so it stays in codex's environment
        w = CodexWriter(str(binary), env={**env, **checkout.env}, codex_home=home)
        outs: list[Output] = []
        result = await w.write(job(checkout, 1, "Show the environment"), outs.append)
    assert result.final_message == "Shown."
    shown = next(o.text for o in outs if o.channel == "command_output" and o.meta["command"] == "env")
    names = {line.split("=", 1)[0] for line in shown.splitlines() if "=" in line}
    assert MARKER_ENV in names  # inherited inside bubblewrap: the sweep can find the commands
    assert "leak-me-not" not in shown
    assert "LOCAL_API_KEY" not in names and env["LOCAL_API_KEY"] not in shown
    assert "CODEX_HOME" in names


@pytest.mark.codex
async def test_real_codex_cancelled_leaves_no_detached_command_running(
    tmp_path: Path, checkout: GitCheckout
) -> None:
    from cockpit.demo.scenario import parse_scenario

    binary = codex_bin()
    with sim_server(parse_scenario(ENV_SCENARIO), speed=0) as sim:
        home, env = make_codex_home(tmp_path, sim.base_url, writable_tmp=False)
        # without a sandbox the command's detached child outlives the CLI (bubblewrap kills it)
        w = CodexWriter(
            str(binary), env={**env, **checkout.env}, codex_home=home, sandbox="danger-full-access"
        )
        said = asyncio.Event()

        def sink(o: Output) -> None:
            if o.channel == "text":
                said.set()

        task = asyncio.create_task(w.write(job(checkout, 2, "Start a server"), sink))
        await asyncio.wait_for(said.wait(), 60)
        detached = [p for p in processes_in(checkout.worktree) if comm(p) == "sleep"]
        assert len(detached) == 1 and os.getpgid(detached[0]) == detached[0]  # a session of its own
        task.cancel()
        try:
            with pytest.raises(asyncio.CancelledError):
                await task
            assert processes_in(checkout.worktree) == []
        finally:
            for pid in processes_in(checkout.worktree):
                os.kill(pid, 9)


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


GUARD_SCENARIO = """
[[pr]]
title = "Stay in the sandbox"
task = "commit, and try to reach outside the branch"
[[pr.round]]
[pr.round.writer]
message = "Committed."
commit_message = "Guarded commit"
steps = [
  { edit = "guard.txt" },
  { run = "echo 'echo pwned' > \\"$(git rev-parse --git-common-dir)/hooks/post-checkout\\"" },
  { run = "git config core.hooksPath /tmp/elsewhere" },
  { run = "git update-ref refs/heads/main HEAD" },
]
files = { "guard.txt" = "inside\\n" }
"""


@pytest.mark.codex
async def test_real_codex_commits_with_the_narrow_git_dirs_and_cannot_touch_hooks_config_or_main(
    tmp_path: Path, checkout: GitCheckout
) -> None:
    from cockpit.demo.scenario import parse_scenario
    from cockpit.git import Repo, branch_name

    binary = codex_bin()
    repo = Repo.open(checkout.repo)
    branch = branch_name("s1", 1, "Stay in the sandbox")
    path = repo.create_worktree("s1-1", tmp_path / "wt" / "s1-1", branch, "main")
    common = repo.common_dir
    config_before = (common / "config").read_text()
    main_before = branch_tip(checkout.repo, "main").id
    guarded = WriteJob(
        1, 1, "Stay in the sandbox", prompt(1, "Stay in the sandbox"), path, branch, repo.git_dirs_for(path)
    )
    assert common not in guarded.git_dirs
    with sim_server(parse_scenario(GUARD_SCENARIO), speed=0) as sim:
        home, env = make_codex_home(tmp_path, sim.base_url, writable_tmp=False)
        w = CodexWriter(str(binary), env={**env, **checkout.env}, codex_home=home)
        outs: list[Output] = []
        result = await w.write(guarded, outs.append)

    assert result.final_message == "Committed."
    tip = branch_tip(checkout.repo, branch)
    assert tip.message.strip() == "Guarded commit" and tip.parents[0].id == main_before
    assert not (common / "hooks" / "post-checkout").exists()
    assert (common / "config").read_text() == config_before
    assert branch_tip(checkout.repo, "main").id == main_before
    # the model is told of each refusal; whether --json shows the refused command depends on the
    # machine (0.171 hid it on one, reports it as failed on another), and when shown it must fail
    told = [
        str(item["output"])
        for item in sim.server.log[-1].json()["input"]
        if item.get("type") == "function_call_output"
    ]
    refused = [t for t in told if "Read-only file system" in t]
    assert len(refused) == 3, told
    assert any("hooks/post-checkout" in t for t in refused) and any("config" in t for t in refused)
    assert any("refs/heads/main.lock" in t for t in refused)
    shown = [o for o in outs if o.channel == "command_output" and "hooks" in str(o.meta.get("command"))]
    assert all(o.meta.get("status") == "failed" and o.meta.get("exit_code") != 0 for o in shown), shown
