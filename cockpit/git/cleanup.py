"""What sessions leave in a repository, seen from git: PR branches, their worktrees, unique commits.

``cockpit clean`` decides from the journal which of these belong to finished work; this module
only says what is there and whether taking it away could lose anything: uncommitted files in a
worktree, or commits that no remaining branch holds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from cockpit.git.model import GitError
from cockpit.git.repo import Repo, _open

PR_BRANCH_PREFIX = "cockpit/"


@dataclass(frozen=True)
class Worktree:
    """A linked worktree: its admin name, folder, the branch checked out there (if any)."""

    name: str
    path: Path
    branch: str | None
    exists: bool
    dirty: tuple[str, ...] = ()  # uncommitted paths (untracked included); () when missing


@dataclass(frozen=True)
class PrBranch:
    """A ``cockpit/...`` branch, where it is checked out, and its session id (the second part)."""

    name: str
    tip: str
    session: str
    worktrees: tuple[Worktree, ...] = field(default=())
    in_main_checkout: bool = False


def session_of(branch: str) -> str:
    """``cockpit/<session>/<n>-<slug>`` → ``<session>``; "" for a branch not named that way."""
    parts = branch.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "cockpit" else ""


def linked_worktrees(repo: Repo) -> list[Worktree]:
    """Every linked worktree, with its branch and uncommitted files (missing folders included)."""
    r = _open(repo.workdir)
    found: list[Worktree] = []
    for name in r.list_worktrees():
        try:
            path = Path(r.lookup_worktree(name).path)
        except (KeyError, pygit2.GitError):
            continue
        if not path.is_dir():
            found.append(Worktree(name, path, _admin_branch(repo.common_dir / "worktrees" / name), False))
            continue
        try:
            w = _open(path)
            branch = None if w.head_is_detached else str(w.references["HEAD"].target)
        except (GitError, KeyError, pygit2.GitError):
            branch = _admin_branch(repo.common_dir / "worktrees" / name)
            found.append(Worktree(name, path, branch, True, ("(not readable as a git checkout)",)))
            continue
        branch = branch.removeprefix("refs/heads/") if branch else None
        found.append(Worktree(name, path, branch, True, tuple(repo.dirty_files(path))))
    return found


def _admin_branch(admin: Path) -> str | None:
    """The branch a worktree's admin HEAD names, read from the file (works with the folder gone)."""
    try:
        head = (admin / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None


def pr_branches(repo: Repo, prefix: str = PR_BRANCH_PREFIX) -> list[PrBranch]:
    """The ``cockpit/...`` branches, each with the linked worktrees that have it checked out."""
    r = _open(repo.workdir)
    main_branch = repo.current_branch()
    worktrees = linked_worktrees(repo)
    out: list[PrBranch] = []
    for name in sorted(r.branches.local):
        if not name.startswith(prefix):
            continue
        target = r.branches.local[name].target
        out.append(
            PrBranch(
                name=name,
                tip=str(target),
                session=session_of(name),
                worktrees=tuple(w for w in worktrees if w.branch == name),
                in_main_checkout=name == main_branch,
            )
        )
    return out


def unique_commits(repo: Repo, branch: str, leaving: Collection[str]) -> int:
    """How many commits of ``branch`` no remaining branch holds (local or remote-tracking).

    ``leaving`` names the branches about to go: their commits do not count as kept, so two
    doomed branches can never vouch for each other.
    """
    r = _open(repo.workdir)
    tip = r.branches.local[branch].target
    walker = r.walk(tip, pygit2.enums.SortMode.NONE)
    for other in r.branches.local:
        if other != branch and other not in leaving:
            walker.hide(r.branches.local[other].target)
    for other in r.branches.remote:
        ref = r.branches.remote[other]
        if ref.type == pygit2.enums.ReferenceType.DIRECT:
            walker.hide(ref.target)
    return sum(1 for _ in walker)
