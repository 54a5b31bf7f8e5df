"""Small pygit2 helpers shared by the repo and merge modules: resolving, signatures, diff stats."""

from __future__ import annotations

import pygit2
from pygit2.enums import DiffFind

from cockpit.events import FileStat
from cockpit.git.model import GitError


def resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    """The commit a revision (sha, branch, ``HEAD~1`` …) names, or a GitError naming it."""
    try:
        obj = repo.revparse_single(rev)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise GitError(f"unknown revision {rev!r} in {repo.workdir or repo.path}") from exc
    assert isinstance(commit, pygit2.Commit)
    return commit


def branch_tip(repo: pygit2.Repository, branch: str) -> pygit2.Oid | None:
    """The tip of local branch ``branch`` (loose or packed), or None when it does not exist."""
    try:
        ref = repo.references.get(f"refs/heads/{branch}")
    except (ValueError, pygit2.InvalidSpecError):
        return None
    if ref is None:
        return None
    target = ref.resolve().target
    return target if isinstance(target, pygit2.Oid) else None


def signature(repo: pygit2.Repository, name: str, email: str) -> pygit2.Signature:
    """The repository's configured identity (user.name / user.email) when set, else the given one."""
    try:
        sig = repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature(name, email)
    assert isinstance(sig, pygit2.Signature)
    return sig


def file_stats(diff: pygit2.Diff) -> tuple[list[FileStat], int, int]:
    """Per-file status and line counts, renames detected, and the totals."""
    diff.find_similar(flags=DiffFind.FIND_RENAMES)
    files: list[FileStat] = []
    insertions = deletions = 0
    for patch in diff:
        if patch is None:  # pragma: no cover - libgit2 yields None only for unchanged entries
            continue
        _, added, removed = patch.line_stats
        delta = patch.delta
        files.append(FileStat(delta.status_char(), delta.new_file.path, added, removed))
        insertions += added
        deletions += removed
    return files, insertions, deletions


def commit_diff(repo: pygit2.Repository, commit: pygit2.Commit) -> pygit2.Diff:
    """A commit's own changes: against its first parent, or against nothing for a root commit."""
    if commit.parents:
        return repo.diff(commit.parents[0], commit)
    return commit.tree.diff_to_tree(swap=True)
