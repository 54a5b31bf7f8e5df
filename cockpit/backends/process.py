"""Subprocess handling shared by the CLI writers: own process group, streamed lines, clean stop.

A writer CLI starts children of its own (shells, test runners, git), and some of them outlive
their parent: the real Codex CLI leaves its running command orphaned on SIGTERM. So every
writer runs as the leader of a new session, and stopping it means stopping the whole group:
SIGINT (the CLI's own clean interrupt), then SIGTERM, then SIGKILL, each after a grace period,
until no live process is left in the group. The group is also swept after a normal exit, so a
command a writer left running in the background does not hold our pipes (or the worktree) open.

Membership is read from ``/proc`` and zombies are ignored: PID 1 in a container does not always
reap orphans, and a zombie cannot be signalled anyway.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRACE_S = 2.0  # per signal step when stopping a group
POLL_S = 0.02  # while stopping a group
EXIT_POLL_S = 0.05  # while a writer runs: how soon its exit is noticed
DRAIN_S = 0.5  # how long the pipes may stay open after the leader exits before the group is swept
READ_CHUNK = 64 * 1024
MAX_LINE_CHARS = 32 * 1024 * 1024  # a longer run without a newline is passed on as one line

LineSink = Callable[[str, bool], None]
"""Receives one line without its newline; the flag is True for a partial line flushed on a timer
(the next call on the same stream continues that line)."""


class SpawnError(OSError):
    """The program could not be started (missing, not executable)."""

    def __init__(self, argv0: str, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), argv0)
        self.argv0 = argv0
        self.cause = cause


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: fall back to asking the kernel whether the group exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    out: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            out.append(int(entry.name))
    return out


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_gone(proc: asyncio.subprocess.Process, pgid: int, within_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        if proc.returncode is not None and not group_members(pgid):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The leader's exit status, as soon as it exits.

    Not ``proc.wait()``: asyncio's wait also waits until every pipe is closed, which never
    happens while a background child of the tool still holds stdout.
    """
    while proc.returncode is None:  # noqa: ASYNC110 - no public exit event; returncode is set at exit
        await asyncio.sleep(EXIT_POLL_S)
    return proc.returncode


async def stop_group(proc: asyncio.subprocess.Process, *, grace_s: float = GRACE_S) -> None:
    """SIGINT, SIGTERM, SIGKILL to the process group of ``proc`` until nothing in it lives."""
    pgid = proc.pid
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if proc.returncode is not None and not group_members(pgid):
            break
        _signal_group(pgid, sig)
        if await _wait_gone(proc, pgid, grace_s):
            break


async def _pump(stream: asyncio.StreamReader, sink: LineSink, partial_after_s: float | None) -> None:
    """Split a byte stream into lines as it arrives; flush a pending partial line on a timer."""
    loop = asyncio.get_running_loop()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    pending_since = 0.0
    while True:
        if pending and partial_after_s is not None:
            wait_s = pending_since + partial_after_s - loop.time()
            try:
                if wait_s <= 0:
                    raise TimeoutError
                chunk = await asyncio.wait_for(stream.read(READ_CHUNK), wait_s)
            except TimeoutError:
                sink(pending, True)
                pending = ""
                continue
        else:
            chunk = await stream.read(READ_CHUNK)
        if not chunk:
            pending += decoder.decode(b"", final=True)
            if pending:
                sink(pending, False)
            return
        text = decoder.decode(chunk)
        if not pending:
            pending_since = loop.time()
        pending += text
        *lines, pending = pending.split("\n")
        for line in lines:
            sink(line.removesuffix("\r"), False)
        if lines:
            pending_since = loop.time()
        if len(pending) > MAX_LINE_CHARS:
            sink(pending, False)
            pending = ""


@dataclass(frozen=True)
class Finished:
    returncode: int
    swept: bool  # processes were still alive in the group after the leader exited


async def run_streaming(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: LineSink,
    on_stderr: LineSink,
    stdin_data: bytes | None = None,
    partial_after_s: float | None = None,
    grace_s: float = GRACE_S,
) -> Finished:
    """Run ``argv`` as a new process group, stream its output, and always leave no process behind.

    stdin is /dev/null unless ``stdin_data`` is given (then it is written and closed). On any
    exception, cancellation included, the group is stopped (``stop_group``) before it propagates.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise SpawnError(argv[0], exc) from exc
    assert proc.stdout is not None and proc.stderr is not None
    tasks: list[asyncio.Future[None]] = [
        asyncio.create_task(_pump(proc.stdout, on_stdout, partial_after_s)),
        asyncio.create_task(_pump(proc.stderr, on_stderr, partial_after_s)),
    ]
    if stdin_data is not None:
        tasks.append(asyncio.create_task(_feed(proc, stdin_data)))
    waiter: asyncio.Future[int] = asyncio.ensure_future(exited(proc))
    try:
        watched: set[asyncio.Future[Any]] = {waiter, *tasks}
        while not waiter.done():
            done, watched = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter:
                    task.result()  # a sink's exception stops the run now, not at exit
        returncode = waiter.result()
        _done, unfinished = await asyncio.wait(tasks, timeout=DRAIN_S)
        swept = bool(group_members(proc.pid))
        if unfinished or swept:
            await stop_group(proc, grace_s=grace_s)
            _done, unfinished = await asyncio.wait(tasks, timeout=DRAIN_S)
            for task in unfinished:  # a process that escaped the group still holds a pipe
                task.cancel()
        for task in tasks:
            if not task.cancelled():
                task.result()
        return Finished(returncode, swept)
    except BaseException:
        waiter.cancel()
        stopper = asyncio.ensure_future(stop_group(proc, grace_s=grace_s))
        try:
            await asyncio.shield(stopper)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the program stopped reading: its own business
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()
