"""``python -m cockpit.demo.sim.codex``: a codex-compatible CLI that plays a scenario for real.

It takes the real CLI's command lines (``exec [flags] PROMPT``, ``exec [flags] resume THREAD
PROMPT``, ``--version``), behaves like it where a caller can tell (the stdin notice and read, the
git-repo check, flags the real parser rejects after ``resume``, JSONL events, a running usage
total per thread, SIGINT exits 1 at once and SIGTERM 143 leaving its command orphaned), and it
really edits files and really commits in ``--cd``. What the writer does comes from the scenario
round matched by the prompt's ``PR <n>: <title>`` and ``Round <r>`` lines (env
``COCKPIT_SIM_SCENARIO``: a path or ``builtin:NAME``; ``COCKPIT_SIM_SPEED`` divides the pacing,
0 = no pauses). It plays the same plan as the Responses simulator (``writer_plan``: the PR found
by exact title, else by number; an unknown PR gets a small notes file about the task, committed),
so the real CLI driven by that simulator and this one show the same files, commit and ending.

Writer outcomes: ``commit`` writes the round's files and commits them; ``dirty`` writes them and
does not commit; ``no_commit`` changes nothing on disk; ``fail`` writes them and ends with
``turn.failed``; ``hang`` writes them, then starts a real long-running command (in a session of
its own, as the real CLI runs commands) and waits for a signal. ``run`` steps report their
scripted output and are not executed; the commit is.

When a model provider with a ``base_url`` is configured (``$CODEX_HOME/config.toml`` or ``-c``)
and nothing accepts a connection there, it reports ``Reconnecting... waiting for network`` and
backs off forever, as the real CLI does; otherwise it never talks to the provider.

Sandbox, as the real one behaves: ``read-only`` writes nothing; ``workspace-write`` writes
under ``--cd`` and ``--add-dir`` roots, and git metadata only when the worktree's own git dir is
itself an ``--add-dir`` and the objects, the branch's ref directory and its reflog directory lie
under one (else the commit fails with "Read-only file system" and the run still exits 0);
``danger-full-access`` writes anything. Thread state lives in ``$CODEX_HOME/sessions`` (or a
temp directory) unless ``--ephemeral``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import msgspec

from cockpit.demo.scenario import Pacing, PatchError, Scenario, ScenarioError, builtin_scenario, load_scenario
from cockpit.demo.sim.codex_events import EventWriter, UsageMeter, usage_json, wrap_command
from cockpit.demo.sim.writer_plan import (
    Commit,
    Delete,
    Run,
    Say,
    Think,
    UpdatePlan,
    Write,
    WriterTurn,
    find_writer_turn,
)
from cockpit.events import Usage

VERSION = "codex-cli 0.0.0-sim"
DEFAULT_MODEL = "gpt-5.5"
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
KNOWN_MODEL = re.compile(r"^(gpt-|o\d|codex-)")
HANG_COMMAND = ["sleep", "86400"]
STDIN_NOTICE = "Reading additional input from stdin..."
STREAM_FAILED = "stream disconnected before completion: "
RECONNECT_WAITING = "Reconnecting... waiting for network (Connection failed: error sending request)"
NO_PACING_RETRY_S = 0.05  # between reconnect notices at speed 0

USAGE_TEXT = """\
Usage: codex exec [OPTIONS] [PROMPT]
       codex exec [OPTIONS] resume [SESSION_ID] [PROMPT]
(cockpit's simulator of the Codex CLI: see `python -m cockpit.demo.sim.codex` docs)"""

# --- command line -----------------------------------------------------------------------------

# Options of `exec` itself; the real parser refuses them after `resume`.
PARENT_VALUE = {
    "--cd": "cd",
    "-C": "cd",
    "--sandbox": "sandbox",
    "-s": "sandbox",
    "--add-dir": "add_dir",
    "--color": "",
    "--output-schema": "",
    "--profile": "",
    "-p": "",
    "--local-provider": "",
}
PARENT_FLAG = {"--oss": ""}
# Options marked global in the real CLI: accepted before and after `resume`.
GLOBAL_VALUE = {
    "--model": "model",
    "-m": "model",
    "--output-last-message": "output_last",
    "-o": "output_last",
    "--config": "config",
    "-c": "config",
    "--image": "",
    "-i": "",
}
GLOBAL_FLAG = {
    "--json": "json",
    "--experimental-json": "json",
    "--skip-git-repo-check": "skip_git",
    "--ephemeral": "ephemeral",
    "--dangerously-bypass-approvals-and-sandbox": "bypass",
    "--ignore-user-config": "",
    "--ignore-rules": "",
    "--full-auto": "full_auto",
}
RESUME_FLAG = {"--last": "last", "--all": "all_cwds"}


class UsageError(Exception):
    pass


@dataclass
class Args:
    version: bool = False
    help: bool = False
    json: bool = False
    cd: str = ""
    sandbox: str = ""
    add_dir: list[str] = field(default_factory=list)
    model: str = ""
    output_last: str = ""
    config: list[str] = field(default_factory=list)
    skip_git: bool = False
    ephemeral: bool = False
    bypass: bool = False
    full_auto: bool = False
    resume: bool = False
    last: bool = False
    all_cwds: bool = False
    session_id: str | None = None
    prompt: str | None = None


def _set(args: Args, dest: str, value: str | bool) -> None:
    if not dest:
        return
    current = getattr(args, dest)
    if isinstance(current, list):
        current.append(value)
    else:
        setattr(args, dest, value)


def parse_args(argv: list[str]) -> Args:
    """The real CLI's shapes, parsed strictly enough that a wrong command line fails here too."""
    args = Args()
    i = 0
    # top level: `codex [-c k=v] [--version] exec ...`
    while i < len(argv) and argv[i].startswith("-"):
        opt, eq, inline = argv[i].partition("=")
        if opt in ("--version", "-V"):
            args.version = True
            return args
        if opt in ("--help", "-h"):
            args.help = True
            return args
        if opt in ("-c", "--config"):
            if eq:
                args.config.append(inline)
                i += 1
            elif i + 1 < len(argv):
                args.config.append(argv[i + 1])
                i += 2
            else:
                raise UsageError(f"a value is required for '{opt}'")
            continue
        raise UsageError(f"unexpected argument '{argv[i]}' found")
    if i >= len(argv):
        args.help = True
        return args
    if argv[i] not in ("exec", "e"):
        raise UsageError(f"the simulator only implements `exec`, not {argv[i]!r}")
    i += 1
    positionals: list[str] = []
    only_positionals = False
    while i < len(argv):
        token = argv[i]
        i += 1
        if only_positionals or not token.startswith("-") or token == "-":
            if not args.resume and not positionals and token == "resume":
                args.resume = True
                continue
            if not args.resume and not positionals and token == "review":
                raise UsageError("the simulator does not implement `exec review`")
            positionals.append(token)
            continue
        if token == "--":
            only_positionals = True
            continue
        opt, eq, inline = token.partition("=")
        if opt in ("--help", "-h"):
            args.help = True
            return args
        value_opts = dict(GLOBAL_VALUE)
        flag_opts = dict(GLOBAL_FLAG)
        if args.resume:
            flag_opts.update(RESUME_FLAG)
        else:
            value_opts.update(PARENT_VALUE)
            flag_opts.update(PARENT_FLAG)
        if opt in value_opts:
            if eq:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise UsageError(f"a value is required for '{opt} <VALUE>' but none was supplied")
            _set(args, value_opts[opt], value)
        elif opt in flag_opts and not eq:
            _set(args, flag_opts[opt], True)
        else:
            raise UsageError(f"unexpected argument '{token}' found")
    if args.resume:
        if args.last and len(positionals) == 1:
            args.prompt = positionals[0]
        elif len(positionals) > 2:
            raise UsageError(f"unexpected argument '{positionals[2]}' found")
        else:
            args.session_id = positionals[0] if positionals else None
            args.prompt = positionals[1] if len(positionals) > 1 else None
    elif len(positionals) > 1:
        raise UsageError(f"unexpected argument '{positionals[1]}' found")
    elif positionals:
        args.prompt = positionals[0]
    if args.sandbox and args.sandbox not in SANDBOXES:
        raise UsageError(
            f"invalid value '{args.sandbox}' for '--sandbox <SANDBOX_MODE>' "
            f"[possible values: {', '.join(SANDBOXES)}]"
        )
    return args


def config_overrides(pairs: list[str]) -> dict[str, str]:
    """``-c key=value`` pairs; values are TOML in the real CLI, here read as strings."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"Error parsing -c overrides: Invalid override (missing '='): {pair}")
        out[key.strip()] = value.strip().strip("'\"")
    return out


def provider_base_url(overrides: dict[str, str]) -> str:
    """The model provider's ``base_url`` from ``$CODEX_HOME/config.toml`` and ``-c`` overrides; "" if none."""
    home = os.environ.get("CODEX_HOME")
    config: dict[str, Any] = {}
    if home:
        try:
            config = tomllib.loads((Path(home) / "config.toml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            config = {}
    provider = overrides.get("model_provider") or str(config.get("model_provider", ""))
    if not provider:
        return ""
    url = overrides.get(f"model_providers.{provider}.base_url")
    if url is None:
        providers = config.get("model_providers")
        entry = providers.get(provider) if isinstance(providers, dict) else None
        url = entry.get("base_url") if isinstance(entry, dict) else None
    return str(url or "")


def answers(base_url: str) -> bool:
    """Whether anything accepts a connection at ``base_url``'s host and port."""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def wait_for_network(out: EventWriter, base_url: str, speed: float) -> None:
    """As the real CLI does when nothing listens: report it, back off (0, 5, 15, 35 s ...), forever."""
    backoff = 5.0
    while not answers(base_url):
        out.emit({"type": "error", "message": RECONNECT_WAITING})
        time.sleep(Pacing.scaled(backoff, speed) or NO_PACING_RETRY_S)
        backoff *= 2


# --- signals ----------------------------------------------------------------------------------

_running: list[subprocess.Popen[bytes]] = []  # the command the simulated agent is running


def _on_sigint(_sig: int, _frame: FrameType | None) -> None:
    for child in _running:  # like the real CLI: the running command (its group) dies with the turn
        try:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
    os._exit(1)


def _on_sigterm(_sig: int, _frame: FrameType | None) -> None:
    os._exit(143)  # leaves the running command orphaned, as the real CLI does


# --- thread state -----------------------------------------------------------------------------


class ThreadState(msgspec.Struct):
    thread_id: str
    cwd: str
    model: str
    usage: Usage = Usage()
    history: int = 0  # tokens of the conversation so far
    last_sent: int = 0  # tokens the last model request sent
    turns: int = 0
    updated: float = 0.0


def state_dir() -> Path:
    home = os.environ.get("CODEX_HOME")
    if home:
        return Path(home) / "sessions"
    return Path(tempfile.gettempdir()) / "cockpit-sim-codex" / "sessions"


def _state_path(thread_id: str) -> Path:
    return state_dir() / f"sim-{thread_id}.json"


def load_thread(thread_id: str) -> ThreadState | None:
    if not re.fullmatch(r"[A-Za-z0-9-]+", thread_id):
        return None
    try:
        return msgspec.json.decode(_state_path(thread_id).read_bytes(), type=ThreadState)
    except (OSError, msgspec.DecodeError):
        return None


def last_thread(cwd: Path, any_cwd: bool) -> ThreadState | None:
    best: ThreadState | None = None
    for path in state_dir().glob("sim-*.json"):
        try:
            state = msgspec.json.decode(path.read_bytes(), type=ThreadState)
        except (OSError, msgspec.DecodeError):
            continue
        if (any_cwd or state.cwd == str(cwd)) and (best is None or state.updated > best.updated):
            best = state
    return best


def save_thread(state: ThreadState) -> None:
    path = _state_path(state.thread_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(state))
    tmp.replace(path)


# --- git and sandbox --------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def in_git_repo(cwd: Path) -> bool:
    r = _git(cwd, "rev-parse", "--show-toplevel")
    return r.returncode == 0 and bool(r.stdout.strip())


def git_dirs(cwd: Path) -> list[Path]:
    r = _git(cwd, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir")
    return [Path(line).resolve() for line in r.stdout.splitlines() if line.strip()]


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


@dataclass
class Sandbox:
    mode: str
    cwd: Path
    add_dirs: list[Path]

    def can_write(self, path: Path) -> bool:
        if self.mode == "danger-full-access":
            return True
        if self.mode == "read-only":
            return False
        roots = [self.cwd, *self.add_dirs, Path(tempfile.gettempdir()).resolve()]
        inside = [root for root in roots if path == root or path.is_relative_to(root)]
        # `.git` below a writable root stays read-only, as in the real sandbox
        return any(".git" not in path.relative_to(root).parts for root in inside)

    def git_block(self) -> tuple[Path, str] | None:
        """Where the sandbox stops a commit and what git then says; None when it can write.

        As codex 0.171 does: the worktree's own git dir (what ``.git`` points to) is read-only
        unless it is itself an ``--add-dir``; the shared objects, the directory of the branch's
        loose ref and its reflog directory must each lie under one (nothing else of the common
        dir is needed: ``Repo.git_dirs_for`` names just these).
        """
        if self.mode == "danger-full-access":
            return None
        dirs = git_dirs(self.cwd)
        if len(dirs) != 2:
            return None  # not a repository: git reports that itself
        own, common = dirs
        if self.mode == "read-only" or own not in self.add_dirs:
            return own, f"fatal: Unable to create '{own}/index.lock': Read-only file system\n"
        objects = common / "objects"
        if not _under(objects, self.add_dirs):
            return (
                objects,
                "error: unable to create temporary file: Read-only file system\nfatal: adding files failed\n",
            )
        ref = _git(self.cwd, "symbolic-ref", "-q", "HEAD").stdout.strip()
        if not ref:
            return None  # detached: only the worktree's own HEAD moves
        lock = common / f"{ref}.lock"
        if not _under(lock.parent, self.add_dirs):
            return (
                lock.parent,
                f"fatal: cannot lock ref 'HEAD': Unable to create '{lock}': Read-only file system\n",
            )
        log = common / "logs" / ref
        if not _under(log.parent, self.add_dirs):
            return (
                log.parent,
                f"fatal: cannot update the ref 'HEAD': unable to append to '{log}': Read-only file system\n",
            )
        return None


# --- the turn ---------------------------------------------------------------------------------


class Turn:
    """Plays one writer round as the real CLI would report it, changing files for real."""

    def __init__(
        self,
        out: EventWriter,
        meter: UsageMeter,
        sandbox: Sandbox,
        pacing: Pacing,
        speed: float,
    ) -> None:
        self.out = out
        self.meter = meter
        self.sandbox = sandbox
        self.pacing = pacing
        self.speed = speed
        self.last_message = ""
        self.plan_id = ""
        self.plan: list[dict[str, Any]] = []

    def pause(self, seconds: float) -> None:
        if wait := Pacing.scaled(seconds, self.speed):
            time.sleep(wait)

    def say(self, text: str) -> None:
        self.meter.produce(text)
        self.out.completed_item("agent_message", text=text)
        self.last_message = text

    def think(self, text: str) -> None:
        self.meter.produce(text, reasoning=True)
        self.out.completed_item("reasoning", text=text)

    def run(self, script: str, output: str, exit_code: int) -> None:
        item_id, command = self._command_started(script)
        self.pause(self.pacing.step_s)
        self._command_completed(item_id, command, output, exit_code)

    def _command_started(self, script: str) -> tuple[str, str]:
        """The ``item.started`` of a command_execution, as the CLI reports it; (item id, command)."""
        item_id = self.out.new_item_id()
        command = wrap_command(script)
        self.meter.produce(script)
        self.out.item(
            "started",
            item_id,
            "command_execution",
            command=command,
            aggregated_output="",
            exit_code=None,
            status="in_progress",
        )
        return item_id, command

    def _command_completed(self, item_id: str, command: str, output: str, exit_code: int) -> None:
        self.meter.tool_result(output)
        self.out.item(
            "completed",
            item_id,
            "command_execution",
            command=command,
            aggregated_output=output,
            exit_code=exit_code,
            status="completed" if exit_code == 0 else "failed",
        )

    def update_plan(self, step: UpdatePlan) -> None:
        """The round's nth plan step (from 0) marks the items before the nth done, as the
        Responses simulator does (``plan_arguments``), so both paths show the same progress."""
        self.meter.produce("\n".join(step.items))
        self.meter.tool_result("Plan updated")
        self.plan = [{"text": text, "completed": i < step.nth} for i, text in enumerate(step.items)]
        if self.plan_id:
            self.out.item("updated", self.plan_id, "todo_list", items=self.plan)
        else:
            self.plan_id = self.out.new_item_id()
            self.out.item("started", self.plan_id, "todo_list", items=self.plan)

    def change_files(self, changes: list[tuple[str, str | None]]) -> None:
        """One apply_patch call: write (content) or delete (None) each path; report one item."""
        if not changes:
            return
        self.meter.produce("\n".join(c or "" for _, c in changes) or "patch")
        reported: list[dict[str, str]] = []
        ok = True
        for rel, content in changes:
            target = (self.sandbox.cwd / rel).resolve()
            exists = target.exists()
            kind = "delete" if content is None else ("update" if exists else "add")
            reported.append({"path": str(target), "kind": kind})
            if Path(rel).is_absolute() or not self.sandbox.can_write(target):
                ok = False
                continue
            try:
                if content is None:
                    if exists:
                        target.unlink()
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(content, encoding="utf-8")
            except OSError:
                ok = False
        self.meter.tool_result("Success." if ok else "apply_patch failed: Read-only file system")
        self.out.completed_item("file_change", changes=reported, status="completed" if ok else "failed")

    def write(self, action: Write) -> None:
        """Write one file as the plan says, from what it holds now; a patch that does not fit
        leaves it alone (as on the real CLI's path, where the model reads the file and moves on)."""
        target = self.sandbox.cwd / action.path
        try:
            current: str | None = target.read_text(encoding="utf-8") if target.is_file() else None
        except (OSError, UnicodeDecodeError):
            current = None
        try:
            content = action.content(current)
        except PatchError:
            return
        self.change_files([(action.path, content)])

    def commit(self, script: str) -> None:
        item_id, command = self._command_started(script)
        blocked = self.sandbox.git_block()
        if blocked is not None:
            output, code = blocked[1], 128
        else:
            proc = subprocess.run(
                ["/bin/bash", "-c", script],
                cwd=self.sandbox.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                check=False,
            )
            output, code = proc.stdout.decode("utf-8", "replace"), proc.returncode
        self._command_completed(item_id, command, output, code)

    def hang(self) -> NoReturn:
        """Start a command that never ends and wait with it, until a signal ends the run.

        The command gets a session of its own, as the real CLI's commands do: it is not in the
        CLI's process group, so stopping that group alone leaves it running.
        """
        child = subprocess.Popen(
            HANG_COMMAND,
            cwd=self.sandbox.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _running.append(child)
        self._command_started(shlex.join(HANG_COMMAND))
        while True:
            time.sleep(3600)

    def play(self, turn: WriterTurn) -> bool:
        """Play the round's plan; True when the turn completes, False when it fails."""
        self.pause(self.pacing.think_s)
        for n, action in enumerate(turn.actions):
            if n:
                self.pause(self.pacing.step_s)
            if isinstance(action, Think):
                self.think(action.text)
            elif isinstance(action, Say):
                self.say(action.text)
            elif isinstance(action, Run):
                self.run(action.command, action.output, action.exit_code)
            elif isinstance(action, UpdatePlan):
                self.update_plan(action)
            elif isinstance(action, Write):
                self.write(action)
            elif isinstance(action, Delete):
                self.change_files([(path, None) for path in action.paths])
            elif isinstance(action, Commit):
                self.commit(action.command)
        if turn.ending == "failed":  # the real CLI's words for a response.failed
            message = f"{STREAM_FAILED}{turn.final_text}"
            self.out.emit({"type": "error", "message": message})
            self.out.emit({"type": "turn.failed", "error": {"message": message}})
            return False
        if turn.ending == "hang":
            self.hang()
        self.say(turn.final_text)
        if self.plan_id:  # as it last stood: the real CLI does not tick the rest off at the end
            self.out.item("completed", self.plan_id, "todo_list", items=self.plan)
        return True


# --- main -------------------------------------------------------------------------------------


def load_writer_scenario() -> Scenario:
    source = os.environ.get("COCKPIT_SIM_SCENARIO", "")
    if source.startswith("builtin:"):
        return builtin_scenario(source.removeprefix("builtin:"))
    if source:
        return load_scenario(Path(source))
    try:
        return builtin_scenario("demo")
    except (FileNotFoundError, ModuleNotFoundError):
        return Scenario()


def read_prompt(args: Args) -> str:
    """The prompt as the real CLI builds it: the argument, plus piped stdin as a <stdin> block."""
    piped = not sys.stdin.isatty() if sys.stdin is not None else False
    if piped:
        print(STDIN_NOTICE, file=sys.stderr, flush=True)
    extra = sys.stdin.buffer.read().decode("utf-8", "replace") if piped else ""
    if args.prompt is None or args.prompt == "-":
        return extra
    if extra.strip():
        return f"{args.prompt}\n\n<stdin>\n{extra.rstrip()}\n</stdin>"
    return args.prompt


def run(args: Args) -> int:
    try:
        overrides = config_overrides(args.config)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    sandbox_mode = args.sandbox or overrides.get("sandbox_mode", "read-only")
    if args.full_auto:
        sandbox_mode = "workspace-write"
    if args.bypass:
        sandbox_mode = "danger-full-access"
    if sandbox_mode not in SANDBOXES:
        print(f"Error loading config.toml: unknown variant `{sandbox_mode}`", file=sys.stderr)
        return 1
    model = args.model or overrides.get("model", DEFAULT_MODEL)
    cwd = Path(args.cd or ".").resolve()
    if not cwd.is_dir():
        print(f"Error: No such file or directory (os error 2): {cwd}", file=sys.stderr)
        return 1
    prompt = read_prompt(args)
    if not prompt.strip():
        print(
            "No prompt provided. Either specify one as an argument or pipe the prompt into stdin.",
            file=sys.stderr,
        )
        return 1
    if not args.skip_git and not args.bypass and not in_git_repo(cwd):
        print("Not inside a trusted directory and --skip-git-repo-check was not specified.", file=sys.stderr)
        return 1
    try:
        scenario = load_writer_scenario()
    except (ScenarioError, OSError) as exc:
        print(f"Error loading scenario: {exc}", file=sys.stderr)
        return 1

    found: ThreadState | None = None
    if args.resume:
        if args.last:
            found = last_thread(cwd, any_cwd=args.all_cwds)
        elif args.session_id:
            found = load_thread(args.session_id)
            if found is None:
                print(
                    f"Error: thread/resume: no rollout found for thread id {args.session_id}", file=sys.stderr
                )
                return 1
    state = found or ThreadState(thread_id=str(uuid.uuid4()), cwd=str(cwd), model=model)

    out = EventWriter(args.json)
    meter = UsageMeter(state.history, state.last_sent)
    sandbox = Sandbox(sandbox_mode, cwd, [Path(d).resolve() for d in args.add_dir])
    speed_text = os.environ.get("COCKPIT_SIM_SPEED", "1")
    try:
        speed = max(0.0, float(speed_text))
    except ValueError:
        speed = 1.0
    turn = Turn(out, meter, sandbox, scenario.pacing, speed)

    out.emit({"type": "thread.started", "thread_id": state.thread_id})
    out.emit({"type": "turn.started"})
    base_url = provider_base_url(overrides)
    if base_url:
        wait_for_network(out, base_url, speed)
    if not KNOWN_MODEL.match(model):
        out.completed_item(
            "error",
            message=f"Model metadata for `{model}` not found. Defaulting to fallback metadata; "
            "this can degrade performance and cause issues.",
        )
    meter.prompt(prompt)
    writer = find_writer_turn(scenario, prompt)
    ok = turn.play(writer)
    scripted = writer.script.usage
    state.usage = state.usage + (scripted if scripted != Usage() else meter.usage)
    state.history, state.last_sent = meter.history, meter.last_sent
    state.turns += 1
    state.updated = time.time()
    state.cwd, state.model = str(cwd), model
    if not args.ephemeral:
        save_thread(state)
    if ok:
        out.emit({"type": "turn.completed", "usage": usage_json(state.usage)})
    if args.output_last and turn.last_message:
        Path(args.output_last).write_text(turn.last_message, encoding="utf-8")
    if not args.json and ok:
        print(turn.last_message, flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"error: {exc}\n\n{USAGE_TEXT}", file=sys.stderr)
        return 2
    if args.version:
        print(VERSION)
        return 0
    if args.help:
        print(USAGE_TEXT)
        return 0
    try:
        return run(args)
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
