"""The Codex CLI as a writer: ``codex exec --json`` in the PR's worktree, streamed as it runs.

Facts this adapter is built on (measured; see the project's codex-exec notes):

- stdin must be closed, or the CLI waits for it;
- ``--sandbox workspace-write`` makes git metadata read-only: the repository's git dirs go in as
  ``--add-dir``, or the commit fails while codex exits 0. Codex 0.171 also mounts the git dir a
  linked worktree's ``.git`` file points to read-only unless that directory is an ``--add-dir``
  itself, so the adapter adds it (read from the pointer) next to ``job.git_dirs``;
- options other than ``-m`` / ``--json`` / ``-o`` are refused after ``resume``, so every flag goes
  before the subcommand;
- ``turn.completed`` usage is the thread's running total: a round's share is the difference;
- SIGINT is the clean stop (SIGTERM orphans the running command);
- with nothing listening it retries forever, which the engine's timeout bounds.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from cockpit.backends.base import DispatchError, Output, OutputSink, WriteJob, WriteResult
from cockpit.backends.codex_events import CodexEventParser
from cockpit.backends.process import GRACE_S, SpawnError, run_streaming
from cockpit.events import Usage

STDIN_NOTICE = "Reading additional input from stdin..."
INSTALL_HINT = "install it with `npm install -g @openai/codex`, or set the writer's `command` setting"
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
STDERR_TAIL = 20


def command_argv(command: str | Sequence[str]) -> list[str]:
    """A command setting as argv: a list as is; a string that names a file as one word; else split."""
    if isinstance(command, str):
        if os.path.exists(command) or shutil.which(command):
            return [command]
        return shlex.split(command)
    return list(command)


def worktree_git_dir(worktree: Path) -> Path | None:
    """The git dir of a checkout: what a linked worktree's ``.git`` file points to, or ``.git``."""
    dotgit = worktree / ".git"
    if dotgit.is_dir():
        return dotgit.resolve()
    try:
        text = dotgit.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("gitdir:"):
            return (worktree / line.removeprefix("gitdir:").strip()).resolve()
    return None


def sandbox_dirs(job: WriteJob) -> list[Path]:
    """``--add-dir`` roots for workspace-write: the job's git dirs and the worktree's own git dir."""
    dirs: list[Path] = []
    own = worktree_git_dir(job.worktree)
    for d in (*job.git_dirs, *((own,) if own is not None else ())):
        if d not in dirs:
            dirs.append(d)
    return dirs


def failure_hint(text: str) -> str:
    if "Not inside a trusted directory" in text:
        return "the worktree is not a git repository codex recognises"
    if "Missing environment variable" in text:
        return "set that variable in the writer's `env` setting or the environment cockpit runs in"
    if "stream disconnected" in text or "high demand" in text or "Reconnecting" in text:
        return "the model service failed mid-turn; retry the round"
    if "config" in text.lower():
        return "check the codex config (CODEX_HOME/config.toml and any -c overrides in `args`)"
    return "see the writer's stderr; the worktree keeps whatever codex wrote"


class CodexWriter:
    """Runs ``codex exec --json`` for each round; a fix round resumes the previous round's thread.

    The engine bounds each call with ``timeout_s`` and cancels the task to interrupt it; the
    process group is then stopped with SIGINT, SIGTERM, SIGKILL (``process.stop_group``) and the
    worktree keeps whatever the CLI left in it.
    """

    backend = "codex"

    def __init__(
        self,
        command: str | Sequence[str] = "codex",
        *,
        model: str = "",
        sandbox: str = "workspace-write",
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout_s: float = 1800.0,
        resume: bool = True,
        codex_home: Path | None = None,
        grace_s: float = GRACE_S,
    ) -> None:
        if sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, not {sandbox!r}")
        self.command = command_argv(command)
        if not self.command:
            raise ValueError("the codex command is empty")
        self.model = model
        self.sandbox = sandbox
        self.args = list(args)
        self.env = dict(env or {})
        self.timeout_s = timeout_s
        self.resume = resume
        self.codex_home = codex_home
        self.grace_s = grace_s
        self._thread_totals: dict[str, Usage] = {}  # thread id -> its usage total when we last saw it

    def argv(self, job: WriteJob, *, resume_thread: str = "") -> list[str]:
        """The command line for one round (flags first: ``resume`` accepts almost none after it)."""
        worktree = str(job.worktree.resolve())
        argv = [*self.command, "exec", "--json", "--cd", worktree, "--sandbox", self.sandbox]
        if self.sandbox == "workspace-write":
            for d in sandbox_dirs(job):
                argv += ["--add-dir", str(d)]
        if self.model:
            argv += ["-m", self.model]
        argv += self.args
        if resume_thread:
            argv += ["resume", resume_thread]
        return [*argv, job.prompt]

    def _environ(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        if self.codex_home is not None:
            env["CODEX_HOME"] = str(self.codex_home)
        return env

    async def write(self, job: WriteJob, out: OutputSink) -> WriteResult:
        if not job.worktree.is_dir():
            raise DispatchError(
                f"the worktree {job.worktree} does not exist", hint="the PR's worktree is gone"
            )
        thread = job.resume_thread if self.resume else ""
        parser, rc, stderr_tail = await self._run(job, out, thread)
        if thread and rc != 0 and not parser.thread_id:
            # the thread could not be loaded (another CODEX_HOME, an ephemeral run): start afresh
            out(
                Output(
                    "status", f"could not resume thread {thread}; starting a new thread", {"type": "resume"}
                )
            )
            parser, rc, stderr_tail = await self._run(job, out, "")
        usage = parser.usage_since(self._thread_totals.get(parser.thread_id))
        if parser.thread_id and parser.usage_total is not None:
            self._thread_totals[parser.thread_id] = parser.usage_total
        if rc != 0 or parser.failure:
            text = parser.error_text or "\n".join(stderr_tail[-5:]) or f"codex exited with status {rc}"
            if rc < 0:
                text = f"codex was killed by signal {-rc}: {text}"
            raise DispatchError(text, hint=failure_hint(text), usage=usage)
        if not parser.turn_completed:
            raise DispatchError(
                "codex exited without finishing the turn", hint=failure_hint(parser.error_text), usage=usage
            )
        return WriteResult(parser.final_message, usage, parser.thread_id)

    async def _run(
        self, job: WriteJob, out: OutputSink, thread: str
    ) -> tuple[CodexEventParser, int, list[str]]:
        parser = CodexEventParser(job.worktree)
        stderr_tail: list[str] = []
        warned_readonly = False

        def on_stdout(line: str, _partial: bool) -> None:
            nonlocal warned_readonly
            for o in parser.feed(line):
                out(o)
                if (
                    not warned_readonly
                    and o.channel == "command_output"
                    and "git" in str(o.meta.get("command", ""))
                    and "Read-only file system" in o.text
                ):
                    warned_readonly = True
                    out(
                        Output(
                            "status",
                            "git metadata is read-only in the sandbox, so git failed: every directory "
                            "git writes to must be in the job's git_dirs (passed with --add-dir)",
                            {"type": "sandbox", "level": "warning"},
                        )
                    )

        def on_stderr(line: str, _partial: bool) -> None:
            if not line.strip() or line.strip() == STDIN_NOTICE:
                return
            stderr_tail.append(line)
            del stderr_tail[:-STDERR_TAIL]
            out(Output("stderr", line + "\n"))  # stream text: the engine joins chunks as they are

        argv = self.argv(job, resume_thread=thread)
        try:
            finished = await run_streaming(
                argv,
                cwd=job.worktree,
                env=self._environ(),
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                grace_s=self.grace_s,
            )
        except SpawnError as exc:
            raise DispatchError(
                f"cannot run {exc.argv0}: {exc.cause.strerror or exc.cause}", hint=INSTALL_HINT
            ) from exc
        finally:
            for o in parser.finish():
                out(o)
        if finished.swept:
            out(Output("status", "stopped processes codex left running", {"type": "cleanup"}))
        return parser, finished.returncode, stderr_tail
