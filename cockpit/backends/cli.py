"""What the command-line writers share: the environment they get, and how a run becomes a result.

The environment is cockpit's own minus every secret (``cockpit.secret``: by name, by token shape,
and the composer's key variable): a writer runs whatever commands it likes (``env``,
``printenv``, a test that dumps its environment), their output is streamed and journaled, and a
key that is not there cannot leak. A writer that needs one gets it through its ``env`` setting:
a literal value, or ``"${NAME}"`` to pass cockpit's own ``NAME`` through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.backends.base import DispatchError, Output, OutputSink, WriteJob
from cockpit.backends.process import GRACE_S, Finished, LineSink, SpawnError, run_streaming
from cockpit.secret import environ_with_secrets, secret_names

STDERR_TAIL = 5  # stderr lines quoted in a failure message
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def writer_environ(
    setting: Mapping[str, str],
    *,
    drop: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``base`` (default: cockpit's environment) without its secrets, then the writer's ``env``
    ``setting`` on top.

    A secret is a variable whose name says so (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL), whose
    value has a known token shape, or whose name is in ``drop`` (the composer's ``api_key_env``).
    A setting whose whole value is ``${NAME}`` passes ``NAME`` on from ``base`` (secrets included:
    that is how a config hands a writer a key on purpose); absent there, the variable is left out.
    """
    source = environ_with_secrets() if base is None else base
    hidden = secret_names(source, drop)
    env = {k: v for k, v in source.items() if k not in hidden}
    for key, value in setting.items():
        ref = _REFERENCE.fullmatch(value)
        if ref is None:
            env[key] = value
        elif ref.group(1) in source:
            env[key] = source[ref.group(1)]
        else:
            env.pop(key, None)
    return env


def require_worktree(job: WriteJob) -> None:
    if not job.worktree.is_dir():
        raise DispatchError(f"the worktree {job.worktree} does not exist", hint="the PR's worktree is gone")


@dataclass
class StderrTail:
    """The last non-blank stderr lines, for a failure message."""

    size: int = STDERR_TAIL
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line.strip():
            self.lines.append(line)
            del self.lines[: -self.size]

    def text(self) -> str:
        return "\n".join(self.lines)


def exit_text(name: str, returncode: int, detail: str = "") -> str:
    """``<name> exited with status 3: <detail>`` / ``<name> was killed by signal 9: ...``."""
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
    return f"{name} {how}" + (f": {detail}" if detail else "")


async def run_writer(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    out: OutputSink,
    on_stdout: LineSink,
    on_stderr: LineSink,
    spawn_hint: str,
    stdin_data: bytes | None = None,
    partial_after_s: float | None = None,
    grace_s: float = GRACE_S,
) -> Finished:
    """``process.run_streaming`` for a writer named ``name``: a program that cannot start is a
    ``DispatchError`` with ``spawn_hint``, and processes it left running are reported."""
    try:
        finished = await run_streaming(
            argv,
            cwd=cwd,
            env=env,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            stdin_data=stdin_data,
            partial_after_s=partial_after_s,
            grace_s=grace_s,
        )
    except SpawnError as exc:
        raise DispatchError(
            f"cannot run {exc.argv0}: {exc.cause.strerror or exc.cause}", hint=spawn_hint
        ) from exc
    if finished.swept:
        out(Output("status", f"stopped processes {name} left running", {"type": "cleanup"}))
    return finished
