"""``CommandWriter`` with small scripts: how the brief arrives, streaming, failure, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cockpit.backends.base import DispatchError, Output, WriteJob, Writer
from cockpit.backends.cli import writer_environ
from cockpit.backends.command import CommandWriter
from cockpit.backends.process import MARKER_ENV, PARTIAL_PIECE_CHARS, READ_CHUNK, _pump, marked_processes
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
    # A string is split into words; the brief is one argv element, never shell text.
    split = CommandWriter("claude -p '{brief}' --x", args=["--y"]).argv("it's $HOME `id` $(id)")
    assert split == ["claude", "-p", "it's $HOME `id` $(id)", "--x", "--y"]
    shell = CommandWriter("tool --in {brief_file} | tee log", brief_via="file", shell=True, args=["--x"])
    assert shell.argv("b", "/tmp/f 1.md") == ["/bin/sh", "-c", "tool --in '/tmp/f 1.md' | tee log --x"]


@pytest.mark.parametrize(
    ("command", "kwargs", "problem"),
    [
        ("claude -p {brief} | tee log", {"brief_via": "stdin"}, "{brief}"),
        ("tool | tee log", {"args": ["--msg={brief}"], "brief_via": "file"}, "{brief}"),
        ("tool | tee log", {}, "stdin or file"),
        (["sh", "-c", "tool"], {"brief_via": "stdin"}, "one string"),
    ],
)
def test_a_shell_never_gets_the_brief_in_its_command_line(
    command: str | list[str], kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        CommandWriter(command, shell=True, **kwargs)


async def test_a_brief_with_shell_syntax_never_executes(tmp_path: Path, worktree: Path) -> None:
    """Issue 9: the brief is model output; $(...), backticks and ; in it stay text."""
    marker = tmp_path / "PWNED"
    brief = f'$(touch {marker}) `touch {marker}` "; touch {marker}; echo " \'; touch {marker} #'
    sink = tmp_path / "b.txt"
    for command, via in (
        (f'printf "%s" "{{brief}}" {sink}', "arg"),  # the string command, split with shlex
        (["printf", "%s", "{brief}"], "arg"),
        (f"cat > {sink}", "stdin"),  # the shell string with shell = true only reads the brief
    ):
        w = CommandWriter(command, brief_via=via, shell=via == "stdin")  # type: ignore[arg-type]
        outs: list[Output] = []
        with contextlib.suppress(DispatchError):
            await w.write(job(worktree, brief), outs.append)
        assert not marker.exists(), command
    assert brief in sink.read_text()


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
    w = CommandWriter("tr a-z A-Z && echo done >&2", brief_via="stdin", shell=True)
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
    w = CommandWriter(
        f"sleep 1000 & echo $! > {pidfile}; echo started", brief_via="stdin", grace_s=0.2, shell=True
    )
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


# --- the writer's environment, detached leftovers, a second cancel, long lines ----------------


async def test_model_keys_stay_out_of_the_writers_environment(
    tmp_path: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-leak-me-not")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-leak-me-not")
    monkeypatch.setenv("COMPOSER_KEY", "composer-leak-me-not")  # the composer's api_key_env
    monkeypatch.setenv("PASSED_THROUGH", "asked-for")
    monkeypatch.setenv("PLAIN", "plain")
    env_setting = {
        "CODEX_API_KEY": "set-by-the-writer-env",
        "MINE": "${PASSED_THROUGH}",
        "GONE": "${NOT_SET}",
    }
    w = CommandWriter(["env"], env=env_setting, drop_env=["COMPOSER_KEY"], brief_via="stdin")
    outs: list[Output] = []
    await w.write(job(worktree), outs.append)
    seen = dict(line.split("=", 1) for line in text_of(outs, "text").splitlines() if "=" in line)
    assert "leak-me-not" not in text_of(outs, "text")
    assert seen["CODEX_API_KEY"] == "set-by-the-writer-env"  # the writer's own env setting wins
    assert seen["MINE"] == "asked-for" and "GONE" not in seen
    assert seen["PLAIN"] == "plain" and seen["COCKPIT_PR"] == "1"
    assert len(seen[MARKER_ENV]) == 32  # the marker every process it starts inherits


def test_writer_environ_drops_secrets_by_name_shape_and_config() -> None:
    base = {
        "ANTHROPIC_AUTH_TOKEN": "t",
        "GEMINI_API_KEY": "g",
        "X_KEY": "x",
        "DB_PASSWORD": "p",
        "MY_CREDENTIALS": "c",
        "CLIENT_SECRET": "s",
        "INNOCENT": "ghp_" + "a" * 36,  # a GitHub token by its shape, whatever the name
        "COMPOSER": "sk-ant-nope",
        "PATH": "/bin",
        "HOME": "/h",
    }
    assert writer_environ({}, base=base) == {"COMPOSER": "sk-ant-nope", "PATH": "/bin", "HOME": "/h"}
    assert writer_environ({"HOME": "/w"}, drop=["COMPOSER"], base=base) == {"PATH": "/bin", "HOME": "/w"}
    assert writer_environ({"GEMINI_API_KEY": "${GEMINI_API_KEY}"}, base=base)["GEMINI_API_KEY"] == "g"
    assert writer_environ({"A": "x${PATH}"}, base=base)["A"] == "x${PATH}"  # only a whole-value reference


async def test_a_detached_leftover_is_stopped_after_a_normal_exit(tmp_path: Path, worktree: Path) -> None:
    pidfile = tmp_path / "pid"
    # setsid: a session of its own, out of the writer's process group, as Codex runs its commands
    tool = f"setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {pidfile}; echo started"
    w = CommandWriter(tool, brief_via="stdin", grace_s=0.2, shell=True)
    outs: list[Output] = []
    await w.write(job(worktree), outs.append)
    pid = int(pidfile.read_text())
    try:
        assert not alive(pid)
        assert any(o.meta.get("type") == "cleanup" and "left running" in o.text for o in outs)
    finally:
        if alive(pid):
            os.kill(pid, 9)


def marked_in(outs: list[Output]) -> str:
    return next(ln.split("=", 1)[1] for ln in text_of(outs, "text").splitlines() if ln.startswith(MARKER_ENV))


async def test_no_marked_process_survives_a_cancelled_writer(tmp_path: Path, worktree: Path) -> None:
    tool = script(
        tmp_path,
        "tool.sh",
        f"""
        echo {MARKER_ENV}=${MARKER_ENV}
        setsid sh -c 'trap "" INT; sleep 1000' </dev/null >/dev/null 2>&1 &
        sleep 1000 &
        echo ready
        wait
        """,
    )
    outs: list[Output] = []
    ready = asyncio.Event()

    def sink(o: Output) -> None:
        outs.append(o)
        if o.text == "ready\n":
            ready.set()

    task = asyncio.create_task(CommandWriter(["/bin/sh", tool], grace_s=0.3).write(job(worktree), sink))
    await asyncio.wait_for(ready.wait(), 30)
    marker = marked_in(outs)
    await wait_for(lambda: len(marked_processes(marker)) >= 4, "the detached sleep to start")
    task.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await task
        assert marked_processes(marker) == []
    finally:
        for pid in marked_processes(marker):
            os.kill(pid, 9)


async def test_a_second_cancel_does_not_cut_the_stop_short(tmp_path: Path, worktree: Path) -> None:
    interrupted = tmp_path / "interrupted"
    tool = script(
        tmp_path,
        "tool.sh",
        f"""
        trap 'echo int >> {interrupted}' INT
        echo $$ > {tmp_path / "pid"}
        echo ready
        while true; do sleep 0.05; done
        """,
    )
    ready = asyncio.Event()

    def sink(o: Output) -> None:
        if o.text == "ready\n":
            ready.set()

    # SIGINT is survived, so the stop waits out its grace period, then SIGTERM ends the tool
    task = asyncio.create_task(CommandWriter(["/bin/sh", tool], grace_s=1.0).write(job(worktree), sink))
    await asyncio.wait_for(ready.wait(), 30)
    pid = int((tmp_path / "pid").read_text())
    task.cancel()
    await wait_for(interrupted.exists, "the tool to get SIGINT")
    task.cancel()  # e.g. the engine's timeout firing while the interrupt is being handled
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(pid)


async def test_a_long_line_costs_no_more_than_many_short_ones() -> None:
    """A line is scanned once, not once per chunk: 16 MB in one line is about as cheap as in
    16,000 lines (scanning it again per chunk made it ~40x dearer). CPU time of this process,
    compared with itself, so a busy machine slows both sides alike."""

    async def cpu_to_pump(data: bytes) -> tuple[float, list[int]]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        lengths: list[int] = []
        start = time.process_time()
        await _pump(reader, lambda line, _partial: lengths.append(len(line)), None)
        return time.process_time() - start, lengths

    size = 16_000_000
    short, short_lines = await cpu_to_pump((b"x" * 999 + b"\n") * (size // 1000))
    long, long_lines = await cpu_to_pump(b"x" * size + b"\nend")
    assert short_lines == [999] * (size // 1000) and long_lines == [size, 3]
    assert long < 10 * short + 0.05


async def test_a_reader_of_partial_lines_gets_a_huge_line_in_bounded_pieces() -> None:
    """Issue 9: a 5 MB line reaches a partial-line reader (the command writer) in pieces of at
    most PARTIAL_PIECE_CHARS, flagged partial, so nothing holds the whole line."""
    reader = asyncio.StreamReader()
    reader.feed_data(b"x" * 5_000_000 + b"\nend\n")
    reader.feed_eof()
    pieces: list[tuple[int, bool]] = []
    await _pump(reader, lambda line, partial: pieces.append((len(line), partial)), 10.0)
    assert all(n <= PARTIAL_PIECE_CHARS + READ_CHUNK for n, _ in pieces)
    assert sum(n for n, _ in pieces[:-1]) == 5_000_000 and pieces[-1] == (3, False)
    assert [p for _, p in pieces[:-2]] == [True] * (len(pieces) - 2)


async def test_the_final_message_of_a_huge_line_is_bounded(tmp_path: Path, worktree: Path) -> None:
    tool = script(tmp_path, "tool.py", "import sys\nsys.stdout.write('x' * 3_000_000)\n")
    outs: list[Output] = []
    result = await CommandWriter([PY, tool], brief_via="stdin").write(job(worktree), outs.append)
    assert len(result.final_message) <= 64 * 1024
    assert sum(len(o.text) for o in outs if o.channel == "text") == 3_000_001  # + the newline at EOF
