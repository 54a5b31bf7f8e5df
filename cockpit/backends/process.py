"""Subprocess handling shared by the CLI writers: own process group, streamed lines, clean stop.

A writer CLI starts children of its own (shells, test runners, git), and some of them outlive
their parent: the real Codex CLI leaves its running command orphaned on SIGTERM, and it starts
every command it runs in a session of its own (the sandbox's helpers and ``bwrap`` too), so a
command is not in the writer's process group at all. So every writer runs as the leader of a
new session with a marker in its environment (``COCKPIT_DISPATCH=<uuid>``, inherited by
everything it starts unless a program scrubs its children's environment), and stopping it means
stopping the group *and* every marked process: SIGINT (the CLI's own clean interrupt), then
SIGTERM, then SIGKILL, each after a grace period, until none of them lives. They are also
swept after a normal exit, so a command a writer left running in the background does not hold
our pipes (or the worktree) open.

Membership is read from ``/proc`` and zombies are ignored: PID 1 in a container does not always
reap orphans, and a zombie cannot be signalled anyway. Where there is no ``/proc`` only the
group is stopped.

When the cockpit itself dies (``kill -9``, a closed terminal) nothing above runs, so nothing of
a session may depend on it. A writer gets a parent-death signal (Linux ``PR_SET_PDEATHSIG``,
SIGKILL): it dies with the cockpit. What the writer started in sessions of its own does not, so
every process also carries ``COCKPIT_SESSION=<session>:<owner pid>`` and a watchdog process
(``cockpit.backends.watchdog``), which holds a pipe from the cockpit, kills every process
carrying that mark once the pipe closes, however the cockpit ended. ``sweep_orphans`` does the
same for a dead session from ``cockpit resume`` and ``cockpit clean``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import contextvars
import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRACE_S = 2.0  # per signal step when stopping a group
POLL_S = 0.02  # while stopping a group
EXIT_POLL_S = 0.05  # while a writer runs: how soon its exit is noticed
DRAIN_S = 0.5  # how long the pipes may stay open after the leader exits before the group is swept
READ_CHUNK = 64 * 1024
MAX_LINE_CHARS = 32 * 1024 * 1024  # a longer run without a newline is passed on as one line
PARTIAL_PIECE_CHARS = 1024 * 1024  # a reader that takes partial lines gets a long one in such pieces
MARKER_ENV = "COCKPIT_DISPATCH"  # no KEY/SECRET/TOKEN in the name: Codex's env filter keeps it
SESSION_ENV = "COCKPIT_SESSION"  # <session id>:<owner pid>, on every process a session starts
PROC = Path("/proc")
PR_SET_PDEATHSIG = 1

# The running session's mark, set by the engine for the tasks of one session (a contextvar, so
# two sessions in one process, as in tests, mark their own writers).
session_mark: contextvars.ContextVar[str] = contextvars.ContextVar("cockpit_session_mark", default="")


def mark_for(session_id: str, pid: int | None = None) -> str:
    return f"{session_id}:{os.getpid() if pid is None else pid}"


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A preexec function: the child gets SIGKILL when the process that started it dies.

    Runs in the forked child before exec. If the parent died between fork and prctl the signal
    would never come, so the child checks its parent and ends itself.
    """
    if _PRCTL is None:
        return None
    prctl = _PRCTL

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


LineSink = Callable[[str, bool], None]
"""Receives one line without its newline; the flag is True for a partial line flushed on a timer
(the next call on the same stream continues that line)."""


class SpawnError(OSError):
    """The program could not be started (missing, not executable)."""

    def __init__(self, argv0: str, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), argv0)
        self.argv0 = argv0
        self.cause = cause


def _stat_fields(entry: Path) -> list[str] | None:
    """``state ppid pgrp session ...`` of one /proc entry; None when it is gone or unreadable."""
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    return stat[stat.rfind(")") + 2 :].split()


def _live(fields: list[str] | None) -> bool:
    return fields is not None and bool(fields) and fields[0] not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    if not PROC.is_dir():  # not Linux: fall back to asking the kernel whether the group exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    out: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry)
        if _live(fields) and fields is not None and len(fields) >= 3 and fields[2] == str(pgid):
            out.append(int(entry.name))
    return out


def _carries(entry: Path, needle: bytes) -> bool:
    try:
        environ = (entry / "environ").read_bytes()
    except OSError:  # gone, or another user's
        return False
    return needle in environ.split(b"\0")


def _marked(marker: str) -> list[tuple[int, int]]:
    """(pid, process group) of live processes whose environment holds the marker."""
    if not marker or not PROC.is_dir():
        return []
    needle = f"{MARKER_ENV}={marker}".encode()
    me = os.getpid()
    out: list[tuple[int, int]] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me or not _carries(entry, needle):
            continue
        fields = _stat_fields(entry)
        if _live(fields) and fields is not None and len(fields) >= 3:
            out.append((int(entry.name), int(fields[2])))
    return out


def _environ_value(entry: Path, name: bytes) -> bytes | None:
    try:
        environ = (entry / "environ").read_bytes()
    except OSError:
        return None
    prefix = name + b"="
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :]
    return None


def _cmdline(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120] or "?"


def _mark_of(value: bytes | None, session_id: str) -> str | None:
    """The owner pid part of a ``COCKPIT_SESSION`` value of ``session_id``, or None."""
    if value is None:
        return None
    sid, _, owner = value.decode("utf-8", "replace").rpartition(":")
    return owner if sid == session_id and owner.isdigit() else None


def session_processes(
    session_id: str, *, keep_owner: int | None = None, only_owner: int | None = None
) -> list[tuple[int, str]]:
    """Live processes marked as started by ``session_id``: (pid, command line). ``keep_owner``
    leaves out those started by that owner pid; ``only_owner`` keeps only those."""
    if not PROC.is_dir():
        return []
    me = os.getpid()
    out: list[tuple[int, str]] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        owner = _mark_of(_environ_value(entry, SESSION_ENV.encode()), session_id)
        if owner is None:
            continue
        if (keep_owner is not None and owner == str(keep_owner)) or (
            only_owner is not None and owner != str(only_owner)
        ):
            continue
        if _live(_stat_fields(entry)):
            out.append((int(entry.name), _cmdline(entry)))
    return out


def _kill_checked(pid: int, session_id: str) -> None:
    """SIGKILL ``pid`` through a pidfd, checked again once held (a reused pid is left alone)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return
    try:
        if _mark_of(_environ_value(PROC / str(pid), SESSION_ENV.encode()), session_id) is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def kill_session_processes(
    session_id: str, *, keep_owner: int | None = None, only_owner: int | None = None, within_s: float = 5.0
) -> dict[int, str]:
    """SIGKILL the marked processes of a session until none is left (or ``within_s`` passed)."""
    killed: dict[int, str] = {}
    deadline = time.monotonic() + within_s
    while True:
        found = session_processes(session_id, keep_owner=keep_owner, only_owner=only_owner)
        if not found or time.monotonic() > deadline:
            return killed
        for pid, cmd in found:
            killed.setdefault(pid, cmd)
            _kill_checked(pid, session_id)
        time.sleep(POLL_S)


def sweep_orphans(session_id: str) -> list[str]:
    """Kill every process a dead owner of ``session_id`` left running (writers, what they
    started); one line per process killed, for the user. Processes this process started for the
    session are kept. Used by ``cockpit resume`` and ``cockpit clean``."""
    killed = kill_session_processes(session_id, keep_owner=os.getpid())
    return [f"stopped pid {pid} left by session {session_id}: {cmd}" for pid, cmd in sorted(killed.items())]


class Watchdog:
    """A process that outlives the cockpit just long enough to kill what its session left.

    It reads a pipe from the cockpit; the pipe closes when the cockpit exits or dies, and then
    the watchdog kills every process carrying the session's mark. ``close`` ends it normally.
    """

    def __init__(self, mark: str) -> None:
        self.mark = mark
        env = {k: v for k, v in os.environ.items() if k not in (SESSION_ENV, MARKER_ENV)}
        self._proc: subprocess.Popen[bytes] | None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cockpit.backends.watchdog", mark],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a Ctrl-C to the terminal's group does not reach it
                close_fds=True,
            )
        except OSError:
            self._proc = None  # no watchdog: the parent-death signal still ends direct children

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self, timeout_s: float = 10.0) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment holds ``COCKPIT_DISPATCH=<marker>`` (none without /proc)."""
    return [pid for pid, _group in _marked(marker)]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_marked(marker: str, sig: signal.Signals, pgid: int) -> None:
    """Signal each marked process outside group ``pgid`` (``killpg`` reaches those), through a
    pidfd checked again once it is held, so a pid reused since the scan is left alone."""
    needle = f"{MARKER_ENV}={marker}".encode()
    for pid, group in _marked(marker):
        if group == pgid:
            continue
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # gone since the scan
        except OSError:  # no pidfds here (old kernel): the plain signal
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
            continue
        try:
            if _carries(PROC / str(pid), needle):
                signal.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)


def _leftovers(proc: asyncio.subprocess.Process, marker: str) -> bool:
    return proc.returncode is None or bool(group_members(proc.pid)) or bool(marked_processes(marker))


async def _wait_gone(proc: asyncio.subprocess.Process, marker: str, within_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        if not _leftovers(proc, marker):
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


async def stop_group(proc: asyncio.subprocess.Process, *, marker: str = "", grace_s: float = GRACE_S) -> None:
    """SIGINT, SIGTERM, SIGKILL to the process group of ``proc`` and to every process carrying
    ``marker``, until none of them lives."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if not _leftovers(proc, marker):
            break
        _signal_group(proc.pid, sig)
        if marker:
            _signal_marked(marker, sig, proc.pid)
        if await _wait_gone(proc, marker, grace_s):
            break


async def _despite_cancel(aw: Awaitable[Any]) -> bool:
    """Await ``aw`` to its end even if this task is cancelled meanwhile; True if it was.

    ``aw`` must be bounded (the stop sequence is, by its grace periods): a second cancel must
    not cut the stop short and leave processes running.
    """
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    future = asyncio.ensure_future(aw)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(future)
    if not future.cancelled():
        future.exception()  # retrieved: a failed stop must not hide why the run ended
    return task is not None and task.cancelling() > before


class _Lines:
    """Splits decoded text into lines, scanning each piece of text once (a long line is not re-split)."""

    def __init__(self) -> None:
        self.parts: list[str] = []  # the unfinished line, in pieces
        self.size = 0

    def feed(self, text: str) -> list[str]:
        *done, rest = text.split("\n")
        lines: list[str] = []
        if done:
            first = "".join([*self.parts, done[0]])
            lines = [line.removesuffix("\r") for line in (first, *done[1:])]
            self.parts, self.size = [], 0
        if rest:
            self.parts.append(rest)
            self.size += len(rest)
        return lines

    def take(self) -> str:
        """The unfinished line so far, which is then forgotten."""
        text = "".join(self.parts)
        self.parts, self.size = [], 0
        return text


async def _pump(stream: asyncio.StreamReader, sink: LineSink, partial_after_s: float | None) -> None:
    """Split a byte stream into lines as it arrives; flush a pending partial line on a timer."""
    loop = asyncio.get_running_loop()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = _Lines()
    pending_since = 0.0
    while True:
        if pending.size and partial_after_s is not None:
            wait_s = pending_since + partial_after_s - loop.time()
            try:
                if wait_s <= 0:
                    raise TimeoutError
                chunk = await asyncio.wait_for(stream.read(READ_CHUNK), wait_s)
            except TimeoutError:
                sink(pending.take(), True)
                continue
        else:
            chunk = await stream.read(READ_CHUNK)
        if not chunk:
            for line in pending.feed(decoder.decode(b"", final=True)):
                sink(line, False)
            if pending.size:
                sink(pending.take(), False)
            return
        had_pending = pending.size > 0
        lines = pending.feed(decoder.decode(chunk))
        for line in lines:
            sink(line, False)
        if lines or not had_pending:
            pending_since = loop.time()
        if partial_after_s is not None and pending.size > PARTIAL_PIECE_CHARS:
            sink(pending.take(), True)  # bounded memory for a 50 MB line (issue 9)
            pending_since = loop.time()
        elif pending.size > MAX_LINE_CHARS:
            sink(pending.take(), False)


@dataclass(frozen=True)
class Finished:
    returncode: int
    swept: bool  # processes were still alive (in the group, or marked) after the leader exited


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

    stdin is /dev/null unless ``stdin_data`` is given (then it is written and closed). The
    environment gets a fresh ``COCKPIT_DISPATCH`` marker. On any exception, cancellation
    included, the group and the marked processes are stopped (``stop_group``) before it
    propagates; a cancel that arrives during the stop is held until the stop is done.
    """
    marker = uuid.uuid4().hex
    marks = {MARKER_ENV: marker}
    if session_mark.get():
        marks[SESSION_ENV] = session_mark.get()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**env, **marks},
            stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
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
        swept = bool(group_members(proc.pid) or marked_processes(marker))
        if unfinished or swept:
            await stop_group(proc, marker=marker, grace_s=grace_s)
            _done, unfinished = await asyncio.wait(tasks, timeout=DRAIN_S)
            for task in unfinished:  # a process that escaped the group still holds a pipe
                task.cancel()
        for task in tasks:
            if not task.cancelled():
                task.result()
        return Finished(returncode, swept)
    except BaseException as exc:
        waiter.cancel()
        cancelled = await _despite_cancel(stop_group(proc, marker=marker, grace_s=grace_s))
        for task in tasks:
            task.cancel()
        cancelled |= await _despite_cancel(asyncio.gather(*tasks, return_exceptions=True))
        if cancelled and not isinstance(exc, asyncio.CancelledError):
            raise asyncio.CancelledError() from exc
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
