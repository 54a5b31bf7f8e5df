"""A PR worktree is opened exactly where it is: a directory that lost its ``.git`` never resolves
to the repository above it (leftovers would be committed into someone else's checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.git import GitError, Repo


def test_a_worktree_without_its_git_file_is_refused_not_found_above(repo: Repo, repo_dir: Path) -> None:
    inside = repo_dir / "pr-worktree-that-lost-its-git"
    inside.mkdir()
    (inside / "work.txt").write_text("a writer's change\n")
    tip = repo.tip(repo.current_branch())
    with pytest.raises(GitError, match="not a git working tree"):
        repo.dirty_files(inside)
    with pytest.raises(GitError, match="not a git working tree"):
        repo.commit_all(inside, "cockpit: keep the uncommitted work of an interrupted writer")
    assert repo.tip(repo.current_branch()) == tip  # nothing was committed in the repository above
