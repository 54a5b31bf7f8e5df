"""Git layer: PR worktrees, diffs and merges (pygit2), and the commit watcher (watchfiles).

Imports only the standard library, pygit2, watchfiles and ``cockpit.events``.
"""

from cockpit.git.model import CommitInfo, Diff, GitError, MergeRefused, MergeResult
from cockpit.git.names import branch_name, worktree_name
from cockpit.git.repo import Repo
from cockpit.git.watcher import CommitWatcher

__all__ = [
    "CommitInfo",
    "CommitWatcher",
    "Diff",
    "GitError",
    "MergeRefused",
    "MergeResult",
    "Repo",
    "branch_name",
    "worktree_name",
]
