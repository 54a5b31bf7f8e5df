"""``CommandWriter`` with small scripts: how the brief arrives, streaming, failure, cancellation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from cockpit.backends.base import DispatchError, Output, WriteJob, Writer
from cockpit.backends.command import CommandWriter
from cockpit.events import Usage

PY = sys.executable
BRIEF = "PR 1: Add greeting\nRound 1\n\nWrite greet.py."


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """A real git worktree-like checkout: a repo with one commit (the writer only needs a directory)."""
    wt = tmp_path / "wt"
    wt.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=wt, check=True, env=env)
    subprocess.run(["git", "config", "user.name", "Test"], cwd=wt, check=True, env=env)
    subprocess.run(["git", "config", "user.email", "test@cockpit.invalid"], cwd=wt, check=True, env=env)
    return wt


def job(worktree: Path, prompt: str = BRIEF) -> WriteJob:
    return WriteJob(1, 1, "Add greeting", prompt, worktree, "pr-1", git_dirs=())


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def text_of(outs: list[Output], channel: str) -> str:
    return "".join(o.text for o in outs if o.channel == channel)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_is_a_writer() -> None:
    w = CommandWriter(["aider", "--yes"])
    assert isinstance(w, Writer) and w.backend == "command" and w.model == "aider"
    with pytest.raises(ValueError):
        CommandWriter("tool", brief_via="email")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CommandWriter("  ")


def test_command_lines() -> None:
    assert CommandWriter(["tool", "-p"]).argv("do it") == ["tool", "-p", "do it"]
    assert CommandWriter(["tool"], args=["--msg={brief}", "-y"]).argv("do it") == [
        "tool",
        "--msg=do it",
        "-y",
    ]
    assert CommandWriter(["tool"], brief_via="stdin").argv("do it") == ["tool"]
    assert CommandWriter(["tool"], brief_via="file").argv("b", "/tmp/f.md") == ["tool", "/tmp/f.md"]
    assert CommandWriter(["tool", "--file", "{brief_file}"], brief_via="file").argv("b", "/tmp/f.md") == [
        "tool",
        "--file",
        "/tmp/f.md",
    ]
    shell = CommandWriter("claude -p {brief} | tee log", args=["--x"]).argv("it's $HOME")
    assert shell == ["/bin/sh", "-c", "claude -p 'it'\"'\"'s $HOME' | tee log --x"]


async def test_brief_on_stdin_and_final_message(tmp_path: Path, worktree: Path) -> None:
    tool = script(
        tmp_path,
        "tool.py",
        """
        import sys
        brief = sys.stdin.read()
        print("read", len(brief.splitlines()), "lines")
        print()
        print("Summary:")
        print("  " + brief.splitlines()[0])
        print()
        print()
        """,
    )
    w = CommandWriter([PY, tool], brief_via="stdin")
    outs: list[Output] = []
    result = await w.write(job(worktree), outs.append)
    assert text_of(outs, "text") == "read 4 lines\n\nSummary:\n  PR 1: Add greeting\n\n\n"
    assert result.final_message == "Summary:\n  PR 1: Add greeting"
    assert result.usage == Usage() and result.thread_id == ""


async def test_brief_as_argument_runs_in_the_worktree_with_env(tmp_path: Path, worktree: Path) -> None:
    tool = script(
        tmp_path,
        "tool.py",
        """
        import os, sys
        print(os.getcwd())
        print(sys.argv[1:])
        print(os.environ["EXTRA"], os.environ["COCKPIT_PR"], os.environ["COCKPIT_BRANCH"])
        """,
    )
    w = CommandWriter([PY, tool], args=["--brief", "{brief}"], env={"EXTRA": "yes"})
    outs: list[Output] = []
    await w.write(job(worktree, "short brief"), outs.append)
    lines = text_of(outs, "text").splitlines()
    assert lines == [str(worktree), "['--brief', 'short brief']", "yes 1 pr-1"]


async def test_brief_in_a_file_that_is_removed_afterwards(tmp_path: Path, worktree: Path) -> None:
    tool = script(
        tmp_path,
        "tool.py",
        """
        import sys
        print(sys.argv[1])
        print(open(sys.argv[1]).read())
        """,
    )
    w = CommandWriter([PY, tool], brief_via="file")
    outs: list[Output] = []
    result = await w.write(job(worktree), outs.append)
    path = text_of(outs, "text").splitlines()[0]
    assert BRIEF in text_of(outs, "text")
    assert not os.path.exists(path)
    assert not Path(path).is_relative_to(worktree)  # the brief never lands in the checkout
    assert result.final_message == "Write greet.py."  # the brief's last paragraph, echoed


async def test_a_shell_string_command(worktree: Path) -> None:
    w = CommandWriter("tr a-z A-Z && echo done >&2", brief_via="stdin")
    outs: list[Output] = []
    result = await w.write(job(worktree, "make it loud\n"), outs.append)
    assert result.final_message == "MAKE IT LOUD"
    assert text_of(outs, "stderr") == "done\n"


async def test_lines_and_unfinished_lines_are_streamed_while_the_tool_runs(
    tmp_path: Path, worktree: Path
) -> None:
    go = tmp_path / "go"
    tool = script(
        tmp_path,
        "tool.py",
        f"""
        import os, sys, time
        def wait(name):
            while not os.path.exists({str(go)!r} + name):
                time.sleep(0.01)
        print("step 1", flush=True)
        wait("1")
        sys.stdout.write("progress ..."); sys.stdout.flush()
        wait("2")
        print(" done")
        """,
    )
    outs: list[Output] = []

    def sink(o: Output) -> None:
        outs.append(o)
        if o.text == "step 1\n":
            Path(f"{go}1").touch()  # the tool only goes on once its first line was seen here
        if o.text == "progress ...":
            Path(f"{go}2").touch()

    w = CommandWriter([PY, tool], partial_after_s=0.05)
    result = await w.write(job(worktree), sink)
    assert [o.text for o in outs if o.channel == "text"] == ["step 1\n", "progress ...", " done\n"]
    assert result.final_message == "step 1\nprogress ... done"


async def test_failure_carries_the_tail_of_stderr(tmp_path: Path, worktree: Path) -> None:
    tool = script(
        tmp_path,
        "tool.py",
        """
        import sys
        for n in range(10):
            print(f"log {n}", file=sys.stderr)
        print("error: the model refused", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(DispatchError) as caught:
        await CommandWriter([PY, tool]).write(job(worktree), lambda o: None)
    message = caught.value.message
    assert "exited with status 3" in message
    assert message.endswith("log 6\nlog 7\nlog 8\nlog 9\nerror: the model refused")
    assert "log 5" not in message


async def test_a_missing_program(worktree: Path, tmp_path: Path) -> None:
    with pytest.raises(DispatchError) as caught:
        await CommandWriter([str(tmp_path / "nope")]).write(job(worktree), lambda o: None)
    assert "command" in caught.value.hint


async def test_background_processes_left_behind_are_stopped(tmp_path: Path, worktree: Path) -> None:
    pidfile = tmp_path / "pid"
    w = CommandWriter(f"sleep 1000 & echo $! > {pidfile}; echo started", brief_via="stdin", grace_s=0.2)
    outs: list[Output] = []
    result = await w.write(job(worktree), outs.append)
    assert result.final_message == "started"
    assert not alive(int(pidfile.read_text()))
    assert any(o.meta.get("type") == "cleanup" for o in outs)


@pytest.mark.parametrize("stop", ["cancel", "timeout"])
async def test_cancellation_kills_the_whole_group_even_what_ignores_signals(
    tmp_path: Path, worktree: Path, stop: str
) -> None:
    pids = tmp_path / "pids"
    # a child that ignores SIGINT and SIGTERM, and a grandchild: only SIGKILL of the group ends both
    tool = script(
        tmp_path,
        "tool.sh",
        f"""
        trap '' INT TERM
        sh -c 'trap "" INT TERM; sleep 1000' &
        echo $$ $! > {pids}.tmp && mv {pids}.tmp {pids}
        echo half > wip.txt
        echo ready
        wait
        """,
    )
    w = CommandWriter(["/bin/sh", tool], grace_s=0.2)
    ready = asyncio.Event()

    def sink(o: Output) -> None:
        if o.text == "ready\n":
            ready.set()

    task = asyncio.create_task(w.write(job(worktree), sink))
    await asyncio.wait_for(ready.wait(), 30)
    started = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in started)
    if stop == "cancel":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await task
    assert not any(alive(p) for p in started)
    assert (worktree / "wip.txt").read_text() == "half\n"  # what it wrote stays
