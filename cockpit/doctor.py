"""``cockpit doctor``: check every configured backend and the repository, and say what is wrong.

Each check is a line: ok, warn or fail, with what to do about a failure. Nothing here changes
anything; secrets are never printed (a key is reported as set or missing, never shown).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cockpit import secret
from cockpit.config import Config
from cockpit.families import family_warnings
from cockpit.git.model import GitError
from cockpit.git.repo import Repo

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    level: Level
    what: str
    detail: str = ""


def _run_version(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            [*argv, "--version"],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        return False, "not found"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    text = (done.stdout or done.stderr).strip().splitlines()
    return done.returncode == 0, text[-1] if text else f"exit {done.returncode}"


def check_writer(cfg: Config) -> list[Check]:
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
    ok, version = _run_version(argv, w.env)
    if not ok:
        return [Check("fail", f"writer: {found} --version failed", version)]
    return [Check("ok", f"writer: {version} ({found}), sandbox {w.sandbox}")]


async def check_reviewers(cfg: Config) -> list[Check]:
    from cockpit.backends.ollama import check

    out: list[Check] = []
    by_host: dict[str, list[str]] = {}
    for r in cfg.reviewers:
        by_host.setdefault(r.effective_host(), []).append(r.model)
    for host, models in by_host.items():
        problems = await check(host, sorted(set(models)))
        if problems:
            out += [Check("fail", f"reviewers on {host}", p) for p in problems]
        else:
            out.append(Check("ok", f"reviewers: ollama at {host} has {', '.join(sorted(set(models)))}"))
    return out


async def check_composer(cfg: Config) -> list[Check]:
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
    problems = await composer.check()
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


def run_doctor(cfg: Config, repo_dir: Path) -> list[Check]:
    checks = [Check("ok", f"config: {cfg.source or 'defaults (no cockpit.toml)'}")]
    checks += check_repo(repo_dir, cfg)
    checks += check_writer(cfg)

    async def network() -> list[Check]:
        reviewers, composer = await asyncio.gather(check_reviewers(cfg), check_composer(cfg))
        return reviewers + composer

    checks += asyncio.run(network())
    checks += [Check("warn", "review diversity", w) for w in family_warnings(cfg)]
    return checks
