"""``cockpit doctor``: check every configured backend and the repository, and say what is wrong.

Each check is a line: ok, warn or fail, with what to do about a failure. Nothing here changes
anything; secrets are never printed (a key is reported as set or missing, never shown).
``cockpit run`` calls :func:`preflight` (the same backend checks, run at once with short
timeouts) before it creates a branch or sends a token.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cockpit import secret
from cockpit.config import Config
from cockpit.families import family_warnings
from cockpit.git.model import GitError
from cockpit.git.repo import Repo

Level = Literal["ok", "warn", "fail"]


DOCTOR_TIMEOUT_S = 20.0  # doctor has time: a slow answer is worth waiting for
PREFLIGHT_TIMEOUT_S = 5.0  # run's preflight: a backend this slow to say hello is a problem anyway


@dataclass(frozen=True)
class Check:
    level: Level
    what: str
    detail: str = ""

    def line(self) -> str:
        """The check as one line: what is wrong (naming the role), then how to fix it."""
        return f"{self.what}: {self.detail}" if self.detail else self.what


def _run_version(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = DOCTOR_TIMEOUT_S
) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            [*argv, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        return False, "not found"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    text = (done.stdout or done.stderr).strip().splitlines()
    return done.returncode == 0, text[-1] if text else f"exit {done.returncode}"


def check_writer(cfg: Config, timeout_s: float = DOCTOR_TIMEOUT_S) -> list[Check]:
    w = cfg.writer
    from cockpit.backends.codex import command_argv

    argv = command_argv(w.command)  # exactly as the writer backend will run it
    if not argv:
        return [Check("fail", "writer: no command configured", "set [writer] command")]
    exe = argv[0]
    found = shutil.which(exe) or (exe if Path(exe).is_file() and os.access(exe, os.X_OK) else None)
    if found is None:
        hint = (
            "npm install -g @openai/codex, or set [writer] command"
            if w.backend == "codex"
            else "set [writer] command to an installed program"
        )
        return [Check("fail", f"writer: {exe!r} is not on PATH", hint)]
    if w.backend != "codex":
        return [Check("ok", f"writer: command {found}")]
    ok, version = _run_version(argv, w.env, timeout_s)
    if not ok:
        return [Check("fail", f"writer: {found} --version failed", version)]
    return [Check("ok", f"writer: {version} ({found}), sandbox {w.sandbox}")]


async def check_reviewers(cfg: Config, timeout_s: float = DOCTOR_TIMEOUT_S) -> list[Check]:
    """Each ollama host once, for all its models at once; a problem names the reviewers it concerns."""
    from cockpit.backends.ollama import check

    out: list[Check] = []
    by_host: dict[str, dict[str, list[str]]] = {}  # host -> model -> reviewer names
    for r in cfg.reviewers:
        by_host.setdefault(r.effective_host(), {}).setdefault(r.model, []).append(r.name)

    async def one_host(host: str, models: dict[str, list[str]]) -> list[Check]:
        found: list[Check] = []
        for problem in await check(host, list(models), timeout_s):
            model = _model_named(problem, models)
            names = models[model] if model else [n for group in models.values() for n in group]
            found.append(Check("fail", _reviewers(names) + (f" ({model})" if model else ""), problem))
        if not found:
            found.append(Check("ok", f"reviewers: ollama at {host} has {', '.join(sorted(models))}"))
        return found

    for checks in await asyncio.gather(*(one_host(h, m) for h, m in by_host.items())):
        out += checks
    return out


def _model_named(problem: str, models: Iterable[str]) -> str | None:
    """The model a reviewer-check problem is about (the longest named), or None for the host."""
    named = [m for m in models if f"model {m} " in problem or f"model {m}:" in problem]
    named += [m for m in models if f"checking {m}:" in problem]
    return max(named, key=len) if named else None


def _reviewers(names: Sequence[str]) -> str:
    return ("reviewer " if len(names) == 1 else "reviewers ") + ", ".join(names)


async def check_composer(cfg: Config, timeout_s: float = DOCTOR_TIMEOUT_S) -> list[Check]:
    c = cfg.composer
    from cockpit.backends.anthropic import AnthropicComposer

    if not secret.getenv(c.api_key_env):
        return [
            Check(
                "fail",
                f"composer: {c.api_key_env} is not set",
                f"export {c.api_key_env}=... (or set [composer] api_key_env)",
            )
        ]
    composer = AnthropicComposer(c.model, api_key_env=c.api_key_env, base_url=c.base_url or None)
    problems = await composer.check(timeout_s)
    if problems:
        return [Check("fail", "composer", p) for p in problems]
    return [Check("ok", f"composer: {c.model} reachable at {composer.where}, {c.api_key_env} set")]


def check_repo(repo_dir: Path, cfg: Config) -> list[Check]:
    try:
        repo = Repo.open(repo_dir)
    except GitError as exc:
        return [Check("fail", "repository", str(exc))]
    out: list[Check] = []
    base = cfg.session.base_branch or repo.current_branch()
    if not base:
        out.append(
            Check("fail", "repository: HEAD is detached", "check out a branch or set [session] base_branch")
        )
    elif not repo.branch_exists(base):
        out.append(Check("fail", f"repository: base branch {base!r} does not exist"))
    else:
        out.append(Check("ok", f"repository: {repo.workdir} on {base} @ {repo.tip(base)[:8]}"))
    dirty = repo.dirty_files(repo.workdir)
    if dirty:
        listed = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        out.append(
            Check(
                "warn",
                f"repository: {len(dirty)} uncommitted change(s) in your checkout",
                f"a merge that touches them will be refused: {listed}",
            )
        )
    c = repo.common_dir  # only where git leaves locks: walking objects/ is slow on a big repository
    candidates = [c / "index.lock", c / "HEAD.lock", c / "config.lock", c / "packed-refs.lock"]
    candidates += list((c / "refs").rglob("*.lock")) + list(c.glob("worktrees/*/*.lock"))
    locks = sorted(p for p in candidates if p.is_file())
    if locks:
        out.append(
            Check(
                "warn",
                "repository: leftover git lock files",
                "if no git command is running, remove: " + ", ".join(str(p) for p in locks[:5]),
            )
        )
    root = Path(cfg.session.worktree_root).expanduser() if cfg.session.worktree_root else None
    if root is not None:
        probe = root if root.exists() else root.parent
        if not os.access(probe, os.W_OK):
            out.append(Check("fail", f"worktree_root {root} is not writable"))
    return out


async def check_backends(cfg: Config, timeout_s: float = DOCTOR_TIMEOUT_S) -> list[Check]:
    """Writer, reviewers and composer, all at once: the one source of truth for doctor and run."""
    writer, reviewers, composer = await asyncio.gather(
        asyncio.to_thread(check_writer, cfg, timeout_s),
        check_reviewers(cfg, timeout_s),
        check_composer(cfg, timeout_s),
    )
    return writer + reviewers + composer


def preflight(cfg: Config, repo_dir: Path, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> list[Check]:
    """What would make ``cockpit run`` fail for want of a backend or a base: the failed checks.

    Nothing is created and no token is sent (the composer check looks a model up, it does not
    call it), so a problem found here leaves the repository and the journal untouched.
    """

    async def all_checks() -> list[Check]:
        repo, backends = await asyncio.gather(
            asyncio.to_thread(check_repo, repo_dir, cfg), check_backends(cfg, timeout_s)
        )
        return repo + backends

    return [c for c in asyncio.run(all_checks()) if c.level == "fail"]


def run_doctor(cfg: Config, repo_dir: Path) -> list[Check]:
    checks = [Check("ok", f"config: {cfg.source or 'defaults (no cockpit.toml)'}")]
    checks += check_repo(repo_dir, cfg)
    checks += asyncio.run(check_backends(cfg))
    checks += [Check("warn", "review diversity", w) for w in family_warnings(cfg)]
    return checks
