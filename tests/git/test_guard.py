"""The guard on real repositories: a writer's git commands in its worktree, seen and undone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cockpit.git import MergeRefused, Repo, branch_name, worktree_name
from cockpit.git.guard import Guard

if TYPE_CHECKING:
    from conftest import GitKit

SESSION = "s1"


def setup(repo: Repo, wt_root: Path) -> tuple[Guard, Path, str]:
    branch = branch_name(SESSION, 1, "task")
    wt = repo.create_worktree(worktree_name(SESSION, 1), wt_root / "pr1", branch, "main")
    guard = Guard(repo.common_dir, SESSION, repo.common_dir / "cockpit-quarantine" / SESSION)
    guard.record()
    return guard, wt, branch


def test_the_writers_own_commits_are_not_tamper(repo: Repo, wt_root: Path, kit: GitKit) -> None:
    guard, wt, _ = setup(repo, wt_root)
    kit.commit_file(wt, "new.txt", "x\n", "writer's work")
    kit.git("pack-refs", "--all", cwd=wt)  # what `git gc --auto` may do: packed-refs rewritten
    assert guard.changes() == []
    assert guard.check_and_restore() is None


def test_a_moved_base_branch_is_put_back_and_kept_reachable(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    guard, wt, _ = setup(repo, wt_root)
    old = repo.tip("main")
    evil = kit.commit_file(wt, "evil.txt", "x\n", "evil")
    kit.git("update-ref", "refs/heads/main", "HEAD", cwd=wt)
    kit.git("tag", "planted", cwd=wt)
    assert repo.tip("main") == evil
    done = guard.check_and_restore()
    assert done is not None and done.restored
    assert [c.describe() for c in done.changes] == [
        f"refs/heads/main moved {old[:12]} → {evil[:12]}",
        f"refs/tags/planted created at {evil[:12]}",
    ]
    assert repo.tip("main") == old
    assert kit.git("tag", "--list", cwd=repo_dir).strip() == ""
    assert len(done.quarantine_refs) == 2
    for ref in done.quarantine_refs:
        assert ref.startswith(f"refs/heads/cockpit/{SESSION}/quarantine/")
        assert kit.git("rev-parse", ref, cwd=repo_dir).strip() == evil
    assert kit.git("status", "--porcelain", cwd=repo_dir) == ""  # no staged deletion left behind


def test_a_packed_base_branch_moved_through_packed_refs(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    kit.git("pack-refs", "--all", cwd=repo_dir)
    guard, wt, _ = setup(repo, wt_root)
    old = repo.tip("main")
    evil = kit.commit_file(wt, "evil.txt", "x\n", "evil")
    packed = repo.common_dir / "packed-refs"
    packed.write_text(packed.read_text().replace(old, evil))
    assert repo.tip("main") == evil
    done = guard.check_and_restore()
    assert done is not None and repo.tip("main") == old


def test_planted_hooks_and_config_are_moved_aside_and_never_run(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, tmp_path: Path
) -> None:
    guard, wt, _ = setup(repo, wt_root)
    ran = tmp_path / "RAN"
    config_before = (repo.common_dir / "config").read_bytes()
    hook = repo.common_dir / "hooks" / "post-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\ntouch {ran}\n")
    hook.chmod(0o755)
    kit.git("config", "core.fsmonitor", f"touch {ran}; echo", cwd=wt)  # the shared config
    (repo.common_dir / "info").mkdir(exist_ok=True)
    (repo.common_dir / "info" / "exclude").write_text("*\n")
    done = guard.check_and_restore()
    assert done is not None and done.restored
    said = {c.path: c.describe() for c in done.changes}
    assert said["hooks/post-commit"] == "hooks/post-commit planted (file)"
    assert said["config"] == "config changed"
    assert "info/exclude" in said
    assert (repo.common_dir / "config").read_bytes() == config_before
    assert not hook.exists()
    aside = Path(done.quarantine_dir)
    assert (aside / "hooks" / "post-commit").read_text().endswith(f"touch {ran}\n")
    assert not os.access(aside / "hooks" / "post-commit", os.X_OK)
    assert "fsmonitor" in (aside / "config").read_text()
    kit.commit_file(repo_dir, "mine.txt", "mine\n", "the user's own commit")
    kit.git("status", cwd=repo_dir)
    assert not ran.exists()


def test_cockpits_own_merge_is_accepted(repo: Repo, wt_root: Path, kit: GitKit) -> None:
    guard, wt, branch = setup(repo, wt_root)
    head = kit.commit_file(wt, "ok.txt", "ok\n", "work")
    result = repo.merge(branch, head, "main", "merge")
    guard.accept_ref("refs/heads/main", result.merge_sha)
    assert guard.changes() == []


def test_a_hooks_folder_swapped_for_a_symlink(repo: Repo, wt_root: Path, tmp_path: Path) -> None:
    guard, _wt, _ = setup(repo, wt_root)
    hooks = repo.common_dir / "hooks"
    evil = tmp_path / "evil-hooks"
    evil.mkdir()
    (evil / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    if hooks.exists():
        subprocess.run(["rm", "-rf", str(hooks)], check=True)
    os.symlink(evil, hooks)
    done = guard.check_and_restore()
    assert done is not None and done.restored, done.problems
    assert not hooks.is_symlink()
    assert (evil / "pre-commit").exists()  # moved aside is the link, not what it points to


def test_a_merge_lands_only_on_the_base_tip_it_expects(repo: Repo, wt_root: Path, kit: GitKit) -> None:
    guard, wt, branch = setup(repo, wt_root)
    head = kit.commit_file(wt, "ok.txt", "ok\n", "work")
    expected = guard.base_tip("main")
    assert expected == repo.tip("main")
    kit.commit_file(repo.workdir, "other.txt", "x\n", "moved meanwhile")
    moved = repo.tip("main")
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, head, "main", "merge", expected_base=expected)
    assert refused.value.reason == "base" and repo.tip("main") == moved
    result = repo.merge(branch, head, "main", "merge", expected_base=moved)
    assert repo.tip("main") == result.merge_sha
