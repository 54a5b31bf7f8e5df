"""The Codex CLI as a writer: ``codex exec --json`` in the PR's worktree, streamed as it runs.

Facts this adapter is built on (measured; see docs/architecture.md, Codex CLI):

- stdin must be closed, or the CLI waits for it;
- ``--sandbox workspace-write`` makes git metadata read-only: the repository's git dirs go in as
  ``--add-dir``, or the commit fails while codex exits 0. Codex 0.171 also mounts the git dir a
  linked worktree's ``.git`` file points to read-only unless that directory is an ``--add-dir``
  itself, so the adapter adds it (read from the pointer) next to ``job.git_dirs``;
- options other than ``-m`` / ``--json`` / ``-o`` are refused after ``resume``, so every flag goes
  before the subcommand;
- ``turn.completed`` usage is the thread's running total: a round's share is the difference;
- SIGINT is the clean stop (SIGTERM orphans the running command), and the commands it runs sit
  in sessions of their own, outside its process group (``process`` finds them by a marker);
- with nothing listening it retries forever ("Reconnecting... waiting for network" at 0, 5,
  15, 35 s ...): after ``MAX_WAITING`` of those in a row the adapter stops it and says where
  it was trying to reach;
- its commands inherit its environment unless ``shell_environment_policy`` filters it
  (``ENV_FILTER``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cockpit.backends.base import DispatchError, Output, OutputSink, WriteJob, WriteResult
from cockpit.backends.cli import StderrTail, exit_text, require_worktree, run_writer, writer_environ
from cockpit.backends.codex_events import CodexEventParser
from cockpit.backends.process import GRACE_S
from cockpit.events import Usage

STDIN_NOTICE = "Reading additional input from stdin..."
INSTALL_HINT = "install it with `npm install -g @openai/codex`, or set the writer's `command` setting"
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
# Codex passes its whole environment on to the commands it runs unless told to drop the
# variables named like *KEY* / *SECRET* / *TOKEN* (measured with codex-cli 0.171: accepted, and
# `env` in a command then shows none of them): the keys codex itself needs stay with codex.
ENV_FILTER = ("-c", "shell_environment_policy.ignore_default_excludes=false")
WAITING_FOR_NETWORK = "waiting for network"
MAX_WAITING = 3  # consecutive "Reconnecting... waiting for network" errors before giving up
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "oss": "http://localhost:11434/v1"}


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


def _toml_value(text: str) -> Any:
    """A ``-c key=value`` value as codex reads it: TOML, else the raw text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def config_overrides(args: Sequence[str]) -> dict[str, Any]:
    """The ``-c key=value`` / ``--config key=value`` pairs in ``args``."""
    out: dict[str, Any] = {}
    words = iter(args)
    for word in words:
        if word in ("-c", "--config"):
            pair = next(words, "")
        elif word.startswith("--config="):
            pair = word.removeprefix("--config=")
        else:
            continue
        key, eq, value = pair.partition("=")
        if eq:
            out[key.strip()] = _toml_value(value)
    return out


def provider_url(codex_home: Path | None, args: Sequence[str], env: Mapping[str, str]) -> str:
    """Where codex sends model requests, as far as its config and ``-c`` overrides tell; "" if unknown."""
    home = codex_home or Path(env.get("CODEX_HOME") or Path.home() / ".codex")
    try:
        config: dict[str, Any] = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        config = {}
    overrides = config_overrides(args)
    provider = str(overrides.get("model_provider", config.get("model_provider", "openai")))
    url = overrides.get(f"model_providers.{provider}.base_url")
    if url is None:
        providers = config.get("model_providers")
        entry = providers.get(provider) if isinstance(providers, dict) else None
        url = entry.get("base_url") if isinstance(entry, dict) else None
    if url is None and provider == "openai":
        url = env.get("OPENAI_BASE_URL")
    return str(url or DEFAULT_BASE_URLS.get(provider, ""))


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
        drop_env: Iterable[str] = (),
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
        self.drop_env = tuple(drop_env)  # more key variables to keep from it (the composer's)
        self._thread_totals: dict[str, Usage] = {}  # thread id -> its usage total when we last saw it

    def argv(self, job: WriteJob, *, resume_thread: str = "") -> list[str]:
        """The command line for one round (flags first: ``resume`` accepts almost none after it)."""
        worktree = str(job.worktree.resolve())
        argv = [*self.command, "exec", "--json", "--cd", worktree, "--sandbox", self.sandbox]
        if self.sandbox == "workspace-write":
            for d in sandbox_dirs(job):
                argv += ["--add-dir", str(d)]
        argv += ENV_FILTER  # before `args`, so a setting of the user's own wins
        if self.model:
            argv += ["-m", self.model]
        argv += self.args
        if resume_thread:
            argv += ["resume", resume_thread]
        return [*argv, job.prompt]

    def _environ(self) -> dict[str, str]:
        env = writer_environ(self.env, drop=self.drop_env)
        if self.codex_home is not None:
            env["CODEX_HOME"] = str(self.codex_home)
        return env

    async def write(self, job: WriteJob, out: OutputSink) -> WriteResult:
        require_worktree(job)
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
        known = self._thread_totals.get(parser.thread_id)
        if known is None and thread and parser.thread_id == thread:
            known = job.thread_usage  # this process never saw the thread: the journal's figure
        usage = parser.usage_since(known)
        if parser.thread_id and parser.usage_total is not None:
            self._thread_totals[parser.thread_id] = parser.usage_total
        if rc != 0 or parser.failure:
            detail = parser.error_text or stderr_tail.text()
            text = detail if parser.error_text and rc >= 0 else exit_text("codex", rc, detail)
            raise DispatchError(text, hint=failure_hint(text), usage=usage)
        if not parser.turn_completed:
            raise DispatchError(
                "codex exited without finishing the turn", hint=failure_hint(parser.error_text), usage=usage
            )
        return WriteResult(parser.final_message, usage, parser.thread_id)

    async def _run(
        self, job: WriteJob, out: OutputSink, thread: str
    ) -> tuple[CodexEventParser, int, StderrTail]:
        parser = CodexEventParser(job.worktree)
        stderr_tail = StderrTail()
        warned_readonly = False
        waiting = 0  # "waiting for network" errors in a row
        env = self._environ()

        def on_stdout(line: str, _partial: bool) -> None:
            nonlocal warned_readonly, waiting
            for o in parser.feed(line):
                out(o)
                if o.meta.get("reconnecting") and WAITING_FOR_NETWORK in o.text:
                    waiting += 1
                    if waiting >= MAX_WAITING:
                        url = provider_url(self.codex_home, self.args, env) or "the model provider"
                        raise DispatchError(
                            f"nothing answers at {url}: codex kept waiting for the network",
                            hint="check the writer's model provider config (base_url, port) "
                            "and that the server is up",
                        )
                    continue
                waiting = 0
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
            stderr_tail.add(line)
            out(Output("stderr", line + "\n"))  # stream text: the engine joins chunks as they are

        try:
            finished = await run_writer(
                "codex",
                self.argv(job, resume_thread=thread),
                cwd=job.worktree,
                env=env,
                out=out,
                on_stdout=on_stdout,
                on_stderr=on_stderr,
                spawn_hint=INSTALL_HINT,
                grace_s=self.grace_s,
            )
        finally:
            for o in parser.finish():
                out(o)
        return parser, finished.returncode, stderr_tail
