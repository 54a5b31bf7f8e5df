"""Any command-line tool as a writer: claude code, aider, a script of your own.

The tool runs in the PR's worktree as its own process group and gets the brief on stdin, as an
argument, or in a file (``brief_via``); ``{brief}`` and ``{brief_file}`` in the command or its
args are replaced, otherwise the brief (or the file's path) goes last.

The brief is model output, so it never reaches a shell (docs/architecture.md, invariant 8): a string command
is split into words with shlex and placeholders are replaced inside single argv elements. Only
``shell = True`` runs the string through ``/bin/sh -c``, and then the brief must travel by stdin
or by file: ``{brief}`` in a shell command line is refused (``ValueError``; a config error).

Its stdout and stderr are streamed as they come, as "text" and "stderr" chunks that keep their
newlines (the engine joins chunks as they are); a line still unfinished after
``partial_after_s`` is passed on as it stands, so a tool drawing a progress bar is seen to
move. The final message is the last non-empty paragraph of stdout. Whether it committed is for
the engine's watcher to see.

Usage is reported as zero (unknown): a generic tool prints nothing this adapter could trust as
token counts.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from cockpit.backends.base import DispatchError, Output, OutputSink, WriteJob, WriteResult
from cockpit.backends.cli import StderrTail, exit_text, require_worktree, run_writer, writer_environ
from cockpit.backends.process import GRACE_S
from cockpit.events import Usage

BriefVia = Literal["stdin", "arg", "file"]
BRIEF = "{brief}"
BRIEF_FILE = "{brief_file}"
MAX_PARAGRAPH_CHARS = 64 * 1024


def _substitute(text: str, values: Mapping[str, str], quote: bool) -> str:
    for key, value in values.items():
        text = text.replace(key, shlex.quote(value) if quote else value)
    return text


def shell_problem(command: str | Sequence[str], args: Sequence[str], brief_via: str, shell: bool) -> str:
    """Why this command setting would put the brief on a shell's command line ("" if it does not)."""
    if not shell:
        return ""
    if not isinstance(command, str):
        return "shell = true needs the command as one string"
    words = [command, *args]
    if any(BRIEF in w for w in words):
        return "with shell = true the brief cannot be in the command line ({brief}); use {brief_file}"
    if brief_via == "arg":
        return 'with shell = true the brief goes by stdin or file: set brief_via = "stdin" or "file"'
    return ""


class _FinalMessage:
    """Keeps only the last non-empty paragraph of a stream of lines (bounded)."""

    def __init__(self) -> None:
        self.current: list[str] = []
        self.last: list[str] = []
        self.line = ""  # the unfinished line, while it arrives in partial pieces

    def feed(self, text: str, partial: bool) -> None:
        if partial:  # only the end of a huge unfinished line can matter: keep it bounded
            self.line = (self.line + text)[-MAX_PARAGRAPH_CHARS:]
            return
        line, self.line = (self.line + text)[-MAX_PARAGRAPH_CHARS:], ""
        if line.strip():
            self.current.append(line.rstrip())
            while len(self.current) > 1 and sum(map(len, self.current)) > MAX_PARAGRAPH_CHARS:
                self.current.pop(0)
        elif self.current:
            self.last, self.current = self.current, []

    def text(self) -> str:
        if self.line.strip():
            self.feed("", False)
        return "\n".join(self.current or self.last)


class CommandWriter:
    """A CLI writer. ``command`` is an argv list, or a string split into one with shlex (run by
    ``/bin/sh -c`` only with ``shell=True``, and then the brief goes by stdin or file).

    Cancellation (the engine's interrupt or timeout) stops the tool's whole process group
    (SIGINT, SIGTERM, SIGKILL), and whatever it started in a session of its own, and keeps
    whatever it left in the worktree. The environment is cockpit's without model API keys
    (``cli.writer_environ``) plus ``env``, and ``COCKPIT_PR``, ``COCKPIT_ROUND`` and
    ``COCKPIT_BRANCH`` for scripts that want them.
    """

    backend = "command"

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout_s: float = 1800.0,
        brief_via: BriefVia = "arg",
        model: str = "",
        partial_after_s: float = 0.5,
        grace_s: float = GRACE_S,
        drop_env: Iterable[str] = (),
        shell: bool = False,
    ) -> None:
        if brief_via not in ("stdin", "arg", "file"):
            raise ValueError(f"brief_via must be stdin, arg or file, not {brief_via!r}")
        if not command or (isinstance(command, str) and not command.strip()):
            raise ValueError("the writer command is empty")
        if problem := shell_problem(command, args, brief_via, shell):
            raise ValueError(problem)
        self.shell = shell
        if isinstance(command, str) and not shell:
            try:
                command = shlex.split(command)
            except ValueError as exc:  # an unclosed quote
                raise ValueError(f"the writer command cannot be split into words: {exc}") from exc
            if not command:
                raise ValueError("the writer command is empty")
        self.command: str | list[str] = command if isinstance(command, str) else list(command)
        self.args = list(args)
        self.env = dict(env or {})
        self.timeout_s = timeout_s
        self.brief_via: BriefVia = brief_via
        first = self.command.split()[0] if isinstance(self.command, str) else self.command[0]
        self.model = model or Path(first).name
        self.partial_after_s = partial_after_s
        self.grace_s = grace_s
        self.drop_env = tuple(drop_env)  # more key variables to keep from it (the composer's)

    def argv(self, brief: str, brief_file: str = "") -> list[str]:
        """The command line, with the brief (or its file) put where the settings ask."""
        values = {BRIEF: brief, BRIEF_FILE: brief_file}
        words = [self.command] if isinstance(self.command, str) else self.command
        placed = any(key in w for w in [*words, *self.args] for key in (BRIEF, BRIEF_FILE))
        extra: list[str] = []
        if not placed and self.brief_via == "arg":
            extra = [brief]
        elif not placed and self.brief_via == "file":
            extra = [brief_file]
        args = [_substitute(a, values, quote=False) for a in self.args] + extra
        if isinstance(self.command, str):  # shell = true: only {brief_file} (cockpit's own path) here
            script = " ".join([_substitute(self.command, values, quote=True), *map(shlex.quote, args)])
            return ["/bin/sh", "-c", script]
        return [_substitute(w, values, quote=False) for w in self.command] + args

    async def write(self, job: WriteJob, out: OutputSink) -> WriteResult:
        require_worktree(job)
        brief_file = ""
        if self.brief_via == "file":
            fd, brief_file = tempfile.mkstemp(prefix=f"cockpit-brief-pr{job.pr}-", suffix=".md")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(job.prompt)
        final = _FinalMessage()
        stderr_tail = StderrTail()

        def on_stdout(text: str, partial: bool) -> None:
            final.feed(text, partial)
            out(Output("text", text if partial else text + "\n"))

        def on_stderr(text: str, partial: bool) -> None:
            if not partial:
                stderr_tail.add(text)
            out(Output("stderr", text if partial else text + "\n"))

        env = writer_environ(self.env, drop=self.drop_env)
        env.update(COCKPIT_PR=str(job.pr), COCKPIT_ROUND=str(job.round), COCKPIT_BRANCH=job.branch)
        try:
            finished = await run_writer(
                self.model,
                self.argv(job.prompt, brief_file),
                cwd=job.worktree,
                env=env,
                out=out,
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                spawn_hint="check the writer's `command` setting (is the tool installed and on PATH?)",
                stdin_data=job.prompt.encode("utf-8") if self.brief_via == "stdin" else None,
                partial_after_s=self.partial_after_s,
                grace_s=self.grace_s,
            )
        finally:
            if brief_file:
                with contextlib.suppress(OSError):
                    os.unlink(brief_file)
        if finished.returncode != 0:
            raise DispatchError(
                exit_text(self.model, finished.returncode, stderr_tail.text()),
                hint="see the writer's stderr; the worktree keeps whatever the command wrote",
            )
        return WriteResult(final.text(), Usage())
