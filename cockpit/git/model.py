"""Values and errors of the git layer, kept apart so the merge and repo modules can share them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cockpit.events import FileStat

RefusalReason = Literal["conflict", "dirty", "moved", "untracked"]


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
    text: str
    files: list[FileStat]
    insertions: int
    deletions: int


@dataclass
class MergeResult:
    sha_merged: str  # the reviewed commit
    merge_sha: str  # the new tip of the base branch (== sha_merged after a fast-forward)
    fast_forward: bool
