"""Values and errors of the git layer, kept apart so the merge and repo modules can share them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import pygit2

from cockpit.events import FileStat

RefusalReason = Literal["conflict", "dirty", "moved", "untracked", "base"]  # base: not the tip expected


class GitError(Exception):
    """A git operation failed; the message says what to do about it."""


class MergeRefused(GitError):
    """A merge was refused before anything was written; ``files`` names the paths in the way."""

    def __init__(self, reason: RefusalReason, files: list[str], message: str) -> None:
        super().__init__(message)
        self.reason: RefusalReason = reason
        self.files: list[str] = files


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: list[str]
    message: str
    author: str
    files: list[FileStat] = field(default_factory=list)
    insertions: int = 0
    deletions: int = 0


@dataclass
class Diff:
    text: str  # the whole unified diff
    files: list[FileStat]
    insertions: int
    deletions: int

    @cached_property
    def patches(self) -> dict[str, str]:
        """Each file's own part of ``text``, by its (new) path as in ``files``.

        libgit2 splits it, not a pattern over the text: it reads the quoted headers git writes
        for non-ASCII and other unusual paths (``diff --git "a/\\303\\251.txt" …``). Parsed on
        first use only (the engine never needs it); a malformed text raises ``GitError``.
        """
        if not self.text.strip():
            return {}
        try:
            parsed = pygit2.Diff.parse_diff(self.text)
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(f"cannot split the diff into files: {exc}") from exc
        return {p.delta.new_file.path: p.text or "" for p in parsed if p is not None}


@dataclass
class MergeResult:
    sha_merged: str  # the reviewed commit
    merge_sha: str  # the new tip of the base branch (== sha_merged after a fast-forward)
    fast_forward: bool
