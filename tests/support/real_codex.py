"""Run the real Codex CLI (npm ``@openai/codex``) offline, against ``tests.support.responses_sim``.

For tests of anything that drives ``codex exec``. Everything here is measured in
``docs/architecture.md`` (Codex CLI); the short version:

``codex_bin() -> Path``
    The binary: ``$COCKPIT_CODEX_BIN``, else ``$COCKPIT_NPM_CACHE`` (default
    ``~/.cache/cockpit-npm``) ``/node_modules/.bin/codex``, else ``codex`` on PATH. If none is
    there and npm is, it installs into the cache dir (what ``.ci/install-codex`` does) unless
    ``COCKPIT_CODEX_NO_INSTALL=1``. Only when that is impossible does it ``pytest.skip`` the test,
    with a loud reason. ``find_codex()`` is the same lookup without installing or skipping.

``make_codex_home(tmp, base_url, model="gpt-5.5", writable_tmp=True) -> (codex_home, env)``
    Writes ``tmp/codex-home/config.toml`` for a provider ``local`` at ``base_url`` (the
    simulator's ``base_url``, ending in ``/v1``): Responses wire API, 1 request retry and no
    stream retries (failures are fast), no plugins (no ``git ls-remote`` at start), no
    analytics, ``update_plan`` on (todo_list items). ``env`` is ``os.environ`` plus
    ``CODEX_HOME`` and ``LOCAL_API_KEY`` (the provider's ``env_key``, sent as the bearer token).
    ``writable_tmp=False`` takes /tmp and $TMPDIR out of the workspace-write sandbox's writable
    roots, so a repository made under pytest's tmp_path is sandboxed like one anywhere else.

``sim_server(scenario=None, speed=0) -> ContextManager[ResponsesSim]``
    A started simulator on a private event loop thread, so a blocking ``subprocess.run`` (or
    another event loop) can talk to it. Queue faults with ``sim.queue_fault(Fault(...))``.

``make_repo_with_worktree(tmp, branch="pr-1", files=None) -> GitCheckout``
    A git repository with one commit, and a linked worktree on a new ``branch`` (pygit2), with
    ``env`` for git (temp HOME, ``GIT_CONFIG_NOSYSTEM=1``, an author). Under ``--sandbox
    workspace-write`` codex must get *both* ``.git_dirs`` with ``--add-dir``: the main
    repository's ``.git`` (objects, refs) and the worktree's own git dir
    ``.git/worktrees/<name>`` (index, HEAD), which codex 0.171 mounts read-only as the
    worktree's ``.git`` unless it is added itself. Missing either, every ``git commit`` fails
    with "Read-only file system" while codex still exits 0. (cockpit itself passes less:
    ``Repo.git_dirs_for`` names only the objects, the branch's ref and reflog directories and
    the worktree's own git dir, so the writer cannot touch hooks, config or other branches.)

``branch_tip(repo, branch) -> Commit``, ``blob_text(commit, path) -> str``
    For checking what codex committed.

``exec_args(worktree, prompt, *, sandbox="workspace-write", add_dirs=(), resume=None) -> argv``
    ``codex exec --cd WORKTREE --sandbox MODE [--add-dir D] [resume THREAD_ID] --json PROMPT``.

``run_codex(argv, env, timeout=120) -> CodexRun``
    Runs it with stdin at /dev/null (an open stdin would be read to EOF and appended to the
    prompt), parses stdout as JSONL (a line that is not JSON raises ``ValueError`` naming it).
    ``CodexRun.events``, ``.of_type(t)``, ``.items(type)`` (completed items), ``.thread_id``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
import pytest

from cockpit.demo.scenario import Scenario
from cockpit.demo.sim.http import ServerThread
from tests.support.responses_sim import ResponsesSim

DEFAULT_MODEL = "gpt-5.5"
API_KEY = "sk-cockpit-sim"
ROOT = Path(__file__).resolve().parents[2]


def npm_cache_dir() -> Path:
    return Path(os.environ.get("COCKPIT_NPM_CACHE") or Path.home() / ".cache" / "cockpit-npm")


def find_codex() -> Path | None:
    """The Codex CLI binary, without installing anything."""
    explicit = os.environ.get("COCKPIT_CODEX_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    cached = npm_cache_dir() / "node_modules" / ".bin" / "codex"
    if cached.is_file():
        return cached
    on_path = shutil.which("codex")
    return Path(on_path) if on_path else None


def codex_bin() -> Path:
    """The binary, installing it with npm if needed; skips the calling test only if impossible."""
    found = find_codex()
    if found is not None:
        return found
    if os.environ.get("COCKPIT_CODEX_BIN"):
        pytest.skip(
            f"!!! REAL CODEX CLI NOT RUN: COCKPIT_CODEX_BIN={os.environ['COCKPIT_CODEX_BIN']} "
            "is not a file !!!"
        )
    if shutil.which("npm") is None:
        pytest.skip(
            "!!! REAL CODEX CLI NOT RUN: npm is not installed, so @openai/codex cannot be "
            "installed (install Node.js, then run .ci/install-codex) !!!"
        )
    if os.environ.get("COCKPIT_CODEX_NO_INSTALL") == "1":
        pytest.skip(
            "!!! REAL CODEX CLI NOT RUN: not installed and COCKPIT_CODEX_NO_INSTALL=1; "
            "run .ci/install-codex !!!"
        )
    proc = subprocess.run(
        [str(ROOT / ".ci" / "install-codex")], capture_output=True, text=True, timeout=600, check=False
    )
    found = find_codex()
    if proc.returncode != 0 or found is None:
        pytest.skip(
            f"!!! REAL CODEX CLI NOT RUN: .ci/install-codex failed (rc {proc.returncode}): "
            f"{proc.stderr.strip()[-500:]} !!!"
        )
    return found


def codex_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


CONFIG_TEMPLATE = """\
model = {model}
model_provider = "local"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[tools.update_plan]
enabled = true

[model_providers.local]
name = "local"
base_url = {base_url}
wire_api = "responses"
env_key = "LOCAL_API_KEY"
request_max_retries = 1
stream_max_retries = 0
stream_idle_timeout_ms = 20000
"""


NO_TMP = """
[sandbox_workspace_write]
exclude_slash_tmp = true
exclude_tmpdir_env_var = true
"""


def make_codex_home(
    tmp: Path, base_url: str, model: str = DEFAULT_MODEL, writable_tmp: bool = True
) -> tuple[Path, dict[str, str]]:
    """A ``CODEX_HOME`` pointing the CLI at ``base_url`` with no login, and the env to run it in."""
    home = tmp / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    # json.dumps gives a valid TOML basic string for any text.
    config = CONFIG_TEMPLATE.format(model=json.dumps(model), base_url=json.dumps(base_url))
    (home / "config.toml").write_text(config + ("" if writable_tmp else NO_TMP), encoding="utf-8")
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    env.update(CODEX_HOME=str(home), LOCAL_API_KEY=API_KEY)
    return home, env


@contextmanager
def sim_server(scenario: Scenario | None = None, speed: float = 0.0) -> Iterator[ResponsesSim]:
    """A running Responses simulator on its own loop thread."""
    sim = ResponsesSim(scenario or Scenario(), speed=speed, api_key=API_KEY)
    with ServerThread() as thread:
        thread.serve(sim.server)
        yield sim


@dataclass
class GitCheckout:
    repo: Path  # the main repository's work tree
    worktree: Path  # the linked worktree codex writes in
    branch: str
    common_dir: Path  # the main repository's .git (objects, refs)
    worktree_git_dir: Path  # <common_dir>/worktrees/<name> (the worktree's index and HEAD)
    env: dict[str, str]  # git identity and isolation; merge into codex's env

    @property
    def git_dirs(self) -> list[Path]:
        """What ``--add-dir`` needs under workspace-write for commits from the worktree to work."""
        return [self.common_dir, self.worktree_git_dir]


def git_env(home: Path) -> dict[str, str]:
    """Git that reads no user or system config and commits as a fixed test author."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Cockpit Test",
        "GIT_AUTHOR_EMAIL": "test@cockpit.invalid",
        "GIT_COMMITTER_NAME": "Cockpit Test",
        "GIT_COMMITTER_EMAIL": "test@cockpit.invalid",
    }


def make_repo_with_worktree(
    tmp: Path, branch: str = "pr-1", files: Mapping[str, str] | None = None
) -> GitCheckout:
    env = git_env(tmp / "home")
    (tmp / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Cockpit Test\n\temail = test@cockpit.invalid\n", encoding="utf-8"
    )
    repo_dir = tmp / "repo"
    repo = pygit2.init_repository(str(repo_dir), initial_head="main")
    for rel, text in (files or {"README.md": "# Test project\n"}).items():
        path = repo_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("Cockpit Test", "test@cockpit.invalid")
    tree = repo.index.write_tree()
    head = repo.create_commit("refs/heads/main", sig, sig, "Initial commit", tree, [])
    commit = repo[head].peel(pygit2.Commit)
    ref = repo.branches.local.create(branch, commit)
    worktree_dir = tmp / "worktrees" / branch
    worktree_dir.parent.mkdir(parents=True, exist_ok=True)
    repo.add_worktree(branch, str(worktree_dir), ref)
    private = Path(pygit2.Repository(str(worktree_dir)).path).resolve()
    return GitCheckout(repo_dir, worktree_dir, branch, (repo_dir / ".git").resolve(), private, env)


def branch_tip(repo: Path, branch: str) -> pygit2.Commit:
    r = pygit2.Repository(str(repo))
    return r.branches.local[branch].peel(pygit2.Commit)


def blob_text(commit: pygit2.Commit, path: str) -> str:
    """The text of ``path`` in ``commit``; KeyError if absent, TypeError if a directory."""
    obj = commit.tree[path]
    if not isinstance(obj, pygit2.Blob):
        raise TypeError(f"{path} is not a file in {commit.id}")
    return obj.data.decode("utf-8")


def exec_args(
    worktree: Path,
    prompt: str,
    *,
    binary: Path | None = None,
    sandbox: str = "workspace-write",
    add_dirs: Sequence[Path] = (),
    resume: str | None = None,
) -> list[str]:
    """``codex exec`` options, then ``resume THREAD_ID`` if given (it has no --cd/--sandbox of its own)."""
    argv = [str(binary or codex_bin()), "exec", "--cd", str(worktree), "--sandbox", sandbox]
    for d in add_dirs:
        argv += ["--add-dir", str(d)]
    if resume is not None:
        argv += ["resume", resume]
    return [*argv, "--json", prompt]


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def items(self, item_type: str) -> list[dict[str, Any]]:
        """Completed items of ``item_type``."""
        return [e["item"] for e in self.of_type("item.completed") if e["item"].get("type") == item_type]

    @property
    def thread_id(self) -> str:
        started = self.of_type("thread.started")
        if not started:
            raise AssertionError(f"no thread.started in codex output:\n{self.stdout}\n{self.stderr}")
        return str(started[0]["thread_id"])


def parse_jsonl(stdout: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n, line in enumerate(stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"codex stdout line {n} is not JSON ({exc}): {line[:200]!r}") from exc
        if not isinstance(event, dict):
            raise ValueError(f"codex stdout line {n} is not a JSON object: {line[:200]!r}")
        events.append(event)
    return events


def run_codex(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = 120, cwd: Path | None = None
) -> CodexRun:
    proc = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    return CodexRun(proc.returncode, proc.stdout, proc.stderr, parse_jsonl(proc.stdout))
