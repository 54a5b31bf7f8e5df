"""Repo: worktrees, diffs, commits and merges on real repositories (git CLI and pygit2)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest

from cockpit.events import FileStat
from cockpit.git import GitError, MergeRefused, Repo, branch_name, worktree_name

if TYPE_CHECKING:
    from conftest import GitKit


def make_pr(repo: Repo, wt_root: Path, n: int = 1, base: str = "main") -> tuple[str, Path]:
    branch = branch_name("s1", n, f"task {n}")
    path = repo.create_worktree(worktree_name("s1", n), wt_root / worktree_name("s1", n), branch, base)
    return branch, path


def status(kit: GitKit, cwd: Path) -> str:
    return kit.git("status", "--porcelain=v1", "--untracked-files=all", cwd=cwd)


# --- names -------------------------------------------------------------------------------------


def test_branch_name_is_a_valid_ref_with_a_short_ascii_slug() -> None:
    assert (
        branch_name("20240501-ab", 3, "Add the CLI: --verbose flag!")
        == "cockpit/20240501-ab/3-add-the-cli-verbose-flag"
    )
    assert branch_name("s", 1, "Ünïcödé café") == "cockpit/s/1-unicode-cafe"
    assert branch_name("s", 2, "!!!") == "cockpit/s/2-pr"
    long = branch_name("s", 4, "word " * 30)
    slug = long.split("/")[-1].removeprefix("4-")
    assert 0 < len(slug) <= 40 and not slug.endswith("-")
    weird = branch_name("my session/..x", 5, "t")
    assert pygit2.reference_is_valid_name(f"refs/heads/{weird}")
    assert weird.count("/") == 2


def test_worktree_name_is_one_path_component() -> None:
    assert worktree_name("s1", 7) == "s1-7"
    assert "/" not in worktree_name("a/b", 1)
    with pytest.raises(ValueError):
        worktree_name("///", 1)


# --- open ------------------------------------------------------------------------------------


def test_open_from_a_subdirectory(repo_dir: Path) -> None:
    repo = Repo.open(repo_dir / "src")
    assert repo.workdir == repo_dir.resolve()
    assert repo.common_dir == (repo_dir / ".git").resolve()
    assert repo.name == "proj"
    assert repo.current_branch() == "main"


def test_open_refuses_non_repositories_bare_and_empty(tmp_path: Path, kit: GitKit) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        Repo.open(plain)
    with pytest.raises(GitError, match="does not exist"):
        Repo.open(tmp_path / "missing")
    bare = tmp_path / "bare.git"
    kit.git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    with pytest.raises(GitError, match="bare repository"):
        Repo.open(bare)
    empty = tmp_path / "empty"
    kit.git("init", "-q", str(empty), cwd=tmp_path)
    with pytest.raises(GitError, match="no commits yet"):
        Repo.open(empty)


def test_current_branch_tip_and_detached_head(repo: Repo, repo_dir: Path, kit: GitKit) -> None:
    head = kit.git("rev-parse", "HEAD", cwd=repo_dir).strip()
    assert repo.tip("main") == head
    assert repo.branch_exists("main") and not repo.branch_exists("nope")
    with pytest.raises(GitError, match="nope"):
        repo.tip("nope")
    kit.git("checkout", "-q", "--detach", cwd=repo_dir)
    assert repo.current_branch() is None


def test_default_worktree_root_is_one_folder_per_repository(tmp_path: Path, kit: GitKit) -> None:
    a = Repo.open(kit.init_repo(tmp_path / "one" / "proj"))
    b = Repo.open(kit.init_repo(tmp_path / "two" / "proj"))
    data = tmp_path / "data"
    ra, rb = a.default_worktree_root(data), b.default_worktree_root(data)
    assert ra.parent == rb.parent == data / "worktrees"
    assert ra.name.startswith("proj-") and rb.name.startswith("proj-") and ra != rb
    assert a.default_worktree_root(data) == ra


# --- worktrees -------------------------------------------------------------------------------


def test_create_worktree_makes_branch_at_base_and_parent_dirs(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    base = kit.commit_file(repo_dir, "notes.txt", "n\n", "second")
    first = kit.git("rev-parse", "HEAD~1", cwd=repo_dir).strip()
    assert not wt_root.exists()
    path = repo.create_worktree("s1-1", wt_root / "deep" / "s1-1", "cockpit/s1/1-x", first)
    assert path == (wt_root / "deep" / "s1-1").resolve()
    assert (path / "src" / "app.py").is_file() and not (path / "notes.txt").exists()
    assert repo.tip("cockpit/s1/1-x") == first != base
    assert kit.git("rev-parse", "--abbrev-ref", "HEAD", cwd=path).strip() == "cockpit/s1/1-x"
    assert str(path) in kit.git("worktree", "list", cwd=repo_dir)
    assert status(kit, repo_dir) == "" and not (repo_dir / ".gitignore").exists()
    assert repo.worktrees() == {"s1-1": path}


def test_create_worktree_rejects_bad_names_and_existing_things(repo: Repo, wt_root: Path) -> None:
    for bad in ("a/b", "..", ".hidden", "", "x.lock"):
        with pytest.raises(GitError, match="worktree name"):
            repo.create_worktree(bad, wt_root / "w", "b1", "main")
    with pytest.raises(GitError, match="not a valid branch name"):
        repo.create_worktree("w", wt_root / "w", "bad..name", "main")
    with pytest.raises(GitError, match="unknown revision"):
        repo.create_worktree("w", wt_root / "w", "b1", "no-such-rev")
    wt_root.mkdir(parents=True)
    (wt_root / "taken").mkdir()
    with pytest.raises(GitError, match="already exists"):
        repo.create_worktree("taken", wt_root / "taken", "b1", "main")
    with pytest.raises(GitError, match="branch main already exists"):
        repo.create_worktree("w", wt_root / "w", "main", "main")
    assert not repo.branch_exists("b1") and not (wt_root / "w").exists()


def test_failed_creation_leaves_no_branch_or_directory(repo: Repo, tmp_path: Path) -> None:
    junk_admin = repo.common_dir / "worktrees" / "clash"
    junk_admin.mkdir(parents=True)  # libgit2 refuses to reuse an admin dir it did not list
    target = tmp_path / "made" / "for" / "clash"
    with pytest.raises(GitError, match="could not create worktree clash"):
        repo.create_worktree("clash", target, "cockpit/s/1-clash", "main")
    assert not repo.branch_exists("cockpit/s/1-clash")
    assert not (tmp_path / "made").exists()
    assert junk_admin.is_dir()  # not ours: left alone


def test_reuse_branch_checks_out_an_existing_branch(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    kit.git("branch", "resume-me", cwd=repo_dir)
    path = repo.create_worktree("r", wt_root / "r", "resume-me", "main", reuse_branch=True)
    assert kit.git("branch", "--show-current", cwd=path).strip() == "resume-me"
    with pytest.raises(GitError, match="could not create worktree"):  # checked out elsewhere
        repo.create_worktree("r2", wt_root / "r2", "main", "main", reuse_branch=True)
    assert not (wt_root / "r2").exists() and repo.branch_exists("main")


def test_remove_worktree_keeps_the_branch_and_tolerates_repeats(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root, 1)
    kit.write(path / "scratch.txt", "uncommitted\n")
    repo.remove_worktree("s1-1")
    assert not path.exists() and repo.branch_exists(branch)
    assert str(path) not in kit.git("worktree", "list", cwd=repo_dir)
    repo.remove_worktree("s1-1")
    repo.remove_worktree(path)
    branch2, path2 = make_pr(repo, wt_root, 2)
    repo.remove_worktree(path2)  # by path
    assert not path2.exists() and repo.worktrees() == {} and repo.branch_exists(branch2)
    _, path3 = make_pr(repo, wt_root, 3)
    kit.git("worktree", "remove", "--force", str(path3), cwd=repo_dir)  # a person removed it already
    repo.remove_worktree("s1-3")


def test_remove_worktree_leaves_foreign_folders_and_the_main_checkout_alone(
    repo: Repo, repo_dir: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "not-a-worktree"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(GitError, match="not a worktree"):
        repo.remove_worktree(foreign)
    assert (foreign / "keep.txt").read_text() == "mine"
    with pytest.raises(GitError):
        repo.remove_worktree(repo_dir)
    assert (repo_dir / "README.md").exists()


def test_git_dirs_for_names_only_what_a_commit_writes(
    repo: Repo, wt_root: Path, tmp_path: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root)
    c = repo.common_dir
    kit.git("pack-refs", "--all", cwd=repo.workdir)  # deletes refs/heads/cockpit/s1: it comes back
    assert not (c / "refs" / "heads" / "cockpit").exists()
    dirs = repo.git_dirs_for(path)
    admin = c / "worktrees" / worktree_name("s1", 1)
    assert branch.startswith("cockpit/s1/")
    assert dirs == (c / "objects", c / "refs/heads/cockpit/s1", c / "logs/refs/heads/cockpit/s1", admin)
    assert all(d.is_dir() for d in dirs) and (admin / "HEAD").is_file()
    assert not any(c / name in dirs for name in ("hooks", "config", "refs/heads", "refs", ""))
    kit.git("checkout", "-q", "--detach", cwd=path)
    assert repo.git_dirs_for(path) == (c / "objects", admin)  # a detached HEAD moves no branch
    assert repo.git_dirs_for(repo.workdir) == (c,)  # the main checkout writes all over it
    other = kit.init_repo(tmp_path / "other")
    with pytest.raises(GitError, match="belongs to"):
        repo.git_dirs_for(other)


# --- diffs and commits -----------------------------------------------------------------------


def test_diff_is_from_the_merge_base_with_renames_and_stats(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root)
    kit.git("mv", "src/util.py", "src/helpers.py", cwd=path)
    kit.write(path / "src" / "app.py", "def main():\n    return 2\n\n\ndef extra():\n    return 3\n")
    kit.write(path / "docs" / "new.md", "a\nb\n")
    kit.git("rm", "-q", "README.md", cwd=path)
    kit.git("add", "-A", cwd=path)
    kit.git("commit", "-q", "-m", "pr work", cwd=path)
    kit.commit_file(repo_dir, "main-only.txt", "x\n", "main moves on")  # not part of the PR
    diff = repo.diff("main", branch)
    by_path = {f.path: f for f in diff.files}
    assert by_path == {
        "README.md": FileStat("D", "README.md", 0, 1),
        "docs/new.md": FileStat("A", "docs/new.md", 2, 0),
        "src/app.py": FileStat("M", "src/app.py", 5, 1),
        "src/helpers.py": FileStat("R", "src/helpers.py", 0, 0),
    }
    assert (diff.insertions, diff.deletions) == (7, 2)
    assert "rename from src/util.py" in diff.text and "+    return 2" in diff.text
    assert "main-only" not in diff.text
    assert repo.diff("main", "main").text == ""


def test_commit_info_stats_against_first_parent(repo: Repo, repo_dir: Path, kit: GitKit) -> None:
    sha = kit.commit_file(repo_dir, "src/app.py", "def main():\n    return 42\n", "answer\n\nbody")
    info = repo.commit_info(sha)
    assert info.sha == sha and info.parents == [kit.git("rev-parse", "HEAD~1", cwd=repo_dir).strip()]
    assert info.message == "answer\n\nbody\n" and info.author == "Test User <test@example.com>"
    assert info.files == [FileStat("M", "src/app.py", 1, 1)] and (info.insertions, info.deletions) == (1, 1)
    root = kit.git("rev-list", "--max-parents=0", "HEAD", cwd=repo_dir).strip()
    root_info = repo.commit_info(root)
    assert root_info.parents == [] and root_info.insertions == 23 and len(root_info.files) == 3


def test_new_commits_order_amend_reset_and_rebase(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root)
    base = repo.tip("main")
    c1 = kit.commit_file(path, "a.txt", "1\n", "one")
    c2 = kit.commit_file(path, "b.txt", "2\n", "two")
    c3 = kit.commit_file(path, "c.txt", "3\n", "three")
    assert repo.new_commits(base, c3, "main") == ([c1, c2, c3], False)
    assert repo.new_commits(c1, c3, "main") == ([c2, c3], False)
    assert repo.new_commits(c3, c3, "main") == ([], False)
    kit.commit_file(repo_dir, "m.txt", "m\n", "main moves")
    assert repo.new_commits(None, c3, "main") == ([c1, c2, c3], False)  # main's commit is not the PR's
    kit.git("commit", "-q", "--amend", "-m", "three, amended", cwd=path)
    amended = repo.tip(branch)
    assert repo.new_commits(c3, amended, "main") == ([amended], True)
    kit.git("reset", "-q", "--hard", c1, cwd=path)
    assert repo.new_commits(amended, c1, "main") == ([], True)
    kit.git("rebase", "-q", "main", cwd=path)
    rebased = repo.tip(branch)
    shas, rewritten = repo.new_commits(c1, rebased, "main")
    assert shas == [rebased] and rewritten


def test_dirty_files_sees_changes_and_untracked_but_not_ignored(
    repo: Repo, wt_root: Path, kit: GitKit
) -> None:
    _, path = make_pr(repo, wt_root)
    assert repo.dirty_files(path) == []
    kit.write(path / ".gitignore", "build/\n")
    kit.write(path / "build" / "out.bin", "x")
    kit.write(path / "src" / "app.py", "changed\n")
    kit.write(path / "new" / "deep" / "file.txt", "n\n")
    (path / "README.md").unlink()
    kit.write(path / "staged.txt", "s\n")
    kit.git("add", "staged.txt", cwd=path)
    assert repo.dirty_files(path) == [
        ".gitignore",
        "README.md",
        "new/deep/file.txt",
        "src/app.py",
        "staged.txt",
    ]


def test_commit_all_stages_everything_with_the_configured_identity(
    repo: Repo, wt_root: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root)
    with pytest.raises(GitError, match="nothing to commit"):
        repo.commit_all(path, "empty")
    kit.write(path / ".gitignore", "*.log\n")
    kit.write(path / "debug.log", "noise")
    kit.write(path / "src" / "app.py", "def main():\n    return 5\n")
    kit.write(path / "added.txt", "a\n")
    (path / "README.md").unlink()
    sha = repo.commit_all(path, "writer left these")
    assert repo.tip(branch) == sha
    info = repo.commit_info(sha)
    assert {f.path: f.status for f in info.files} == {
        ".gitignore": "A",
        "README.md": "D",
        "added.txt": "A",
        "src/app.py": "M",
    }
    assert info.author == "Test User <test@example.com>" and info.message == "writer left these\n"
    assert repo.dirty_files(path) == []


def test_commit_all_falls_back_to_the_given_identity(tmp_path: Path, wt_root: Path, kit: GitKit) -> None:
    repo = Repo.open(kit.init_repo(tmp_path / "anon", identity=False))
    branch, path = make_pr(repo, wt_root)
    kit.write(path / "x.txt", "x\n")
    sha = repo.commit_all(path, "by cockpit")
    assert repo.commit_info(sha).author == "cockpit <cockpit@localhost>"
    user = ("-c", "user.name=U", "-c", "user.email=u@x")
    kit.git(*user, "commit", "-q", "--allow-empty", "-m", "u", cwd=repo.workdir)
    merged = repo.merge(branch, sha, "main", "merge without an identity")
    assert not merged.fast_forward
    assert repo.commit_info(merged.merge_sha).author == "cockpit <cockpit@localhost>"


async def test_repo_is_usable_from_worker_threads(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = make_pr(repo, wt_root)
    sha = kit.commit_file(path, "t.txt", "t\n", "t")
    diffs = asyncio.gather(*(asyncio.to_thread(repo.diff, "main", branch) for _ in range(8)))
    infos = asyncio.gather(*(asyncio.to_thread(repo.commit_info, sha) for _ in range(8)))
    got_diffs, got_infos = await asyncio.gather(diffs, infos)
    assert {d.insertions for d in got_diffs} == {1} and {i.sha for i in got_infos} == {sha}


# --- merge -----------------------------------------------------------------------------------


def pr_commit(
    repo: Repo, wt_root: Path, kit: GitKit, rel: str, text: str, n: int = 1
) -> tuple[str, Path, str]:
    branch, path = make_pr(repo, wt_root, n)
    sha = kit.commit_file(path, rel, text, f"pr {n}: {rel}")
    return branch, path, sha


def test_merge_fast_forwards_and_updates_the_users_checkout(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "feature\n")
    result = repo.merge(branch, sha, "main", "unused for a fast-forward")
    assert (result.sha_merged, result.merge_sha, result.fast_forward) == (sha, sha, True)
    assert repo.tip("main") == sha
    assert (repo_dir / "feature.txt").read_text() == "feature\n"
    assert status(kit, repo_dir) == ""
    assert "cockpit: merge" in kit.git("reflog", "-1", "main", cwd=repo_dir)
    again = repo.merge(branch, sha, "main", "again")  # already merged: nothing to do
    assert again.merge_sha == sha


def test_merge_makes_a_merge_commit_when_the_base_moved(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "feature\n")
    moved = kit.commit_file(repo_dir, "other.txt", "other\n", "user work")
    result = repo.merge(branch, sha, "main", "Merge PR 1: feature")
    assert not result.fast_forward and result.sha_merged == sha
    info = repo.commit_info(result.merge_sha)
    assert info.parents == [moved, sha] and info.message == "Merge PR 1: feature\n"
    assert info.author == "Test User <test@example.com>"
    assert repo.tip("main") == result.merge_sha
    assert (repo_dir / "feature.txt").exists() and (repo_dir / "other.txt").exists()
    assert status(kit, repo_dir) == ""


def test_merge_conflict_is_refused_with_nothing_written(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "src/app.py", "def main():\n    return 'pr'\n")
    user = kit.commit_file(repo_dir, "src/app.py", "def main():\n    return 'user'\n", "user edit")
    objects_before = kit.git("count-objects", "-v", cwd=repo_dir)
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "conflict" and refused.value.files == ["src/app.py"]
    assert "src/app.py" in str(refused.value)
    assert repo.tip("main") == user and status(kit, repo_dir) == ""
    assert "return 'user'" in (repo_dir / "src" / "app.py").read_text()
    assert not (repo.common_dir / "MERGE_HEAD").exists()
    assert kit.git("count-objects", "-v", cwd=repo_dir) == objects_before


def test_merge_refuses_to_overwrite_uncommitted_changes(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "src/app.py", "def main():\n    return 'pr'\n")
    base = repo.tip("main")
    kit.write(repo_dir / "src" / "app.py", "my unsaved work\n")
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "dirty" and refused.value.files == ["src/app.py"]
    assert "commit or stash" in str(refused.value)
    assert (repo_dir / "src" / "app.py").read_text() == "my unsaved work\n"
    assert repo.tip("main") == base
    kit.git("add", "src/app.py", cwd=repo_dir)  # staged is just as precious
    with pytest.raises(MergeRefused, match="uncommitted"):
        repo.merge(branch, sha, "main", "msg")
    assert kit.git("diff", "--cached", "--name-only", cwd=repo_dir) == "src/app.py\n"


def test_merge_refuses_to_overwrite_untracked_or_ignored_files(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "generated.txt", "from the PR\n")
    kit.write(repo_dir / "generated.txt", "the user's own\n")
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "untracked" and refused.value.files == ["generated.txt"]
    assert (repo_dir / "generated.txt").read_text() == "the user's own\n"
    (repo.common_dir / "info" / "exclude").write_text("generated.txt\n")
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "untracked"
    assert (repo_dir / "generated.txt").read_text() == "the user's own\n"


def test_merge_keeps_unrelated_staged_and_unstaged_changes_exactly(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path, _ = pr_commit(repo, wt_root, kit, "src/app.py", "def main():\n    return 'pr'\n")
    (path / "README.md").unlink()
    sha = repo.commit_all(path, "and drop the readme")
    kit.write(repo_dir / "src" / "util.py", "staged version\n")
    kit.git("add", "src/util.py", cwd=repo_dir)
    kit.write(repo_dir / "src" / "util.py", "unstaged on top\n")
    kit.write(repo_dir / "notes" / "todo.txt", "untracked\n")
    kit.write(repo_dir / "newfile.py", "staged new file\n")
    kit.git("add", "newfile.py", cwd=repo_dir)
    before_status = status(kit, repo_dir)
    before_cached = kit.git("diff", "--cached", cwd=repo_dir)
    before_worktree = kit.git("diff", cwd=repo_dir)
    repo.merge(branch, sha, "main", "msg")
    assert repo.tip("main") == sha
    assert status(kit, repo_dir) == before_status
    assert kit.git("diff", "--cached", cwd=repo_dir) == before_cached
    assert kit.git("diff", cwd=repo_dir) == before_worktree
    assert (repo_dir / "src" / "util.py").read_text() == "unstaged on top\n"
    assert (repo_dir / "notes" / "todo.txt").read_text() == "untracked\n"
    assert "return 'pr'" in (repo_dir / "src" / "app.py").read_text()
    assert not (repo_dir / "README.md").exists()


def test_merge_refuses_a_branch_that_moved_after_review(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path, reviewed = pr_commit(repo, wt_root, kit, "a.txt", "a\n")
    kit.commit_file(path, "b.txt", "b\n", "after the review")
    base = repo.tip("main")
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, reviewed, "main", "msg")
    assert refused.value.reason == "moved" and refused.value.files == []
    assert reviewed[:10] in str(refused.value)
    assert repo.tip("main") == base and not (repo_dir / "a.txt").exists()


def test_merge_into_a_base_not_checked_out_anywhere(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    kit.git("checkout", "-q", "-b", "elsewhere", cwd=repo_dir)
    kit.write(repo_dir / "feature.txt", "user's file on another branch\n")
    result = repo.merge(branch, sha, "main", "msg")
    assert result.fast_forward and repo.tip("main") == sha
    assert (repo_dir / "feature.txt").read_text() == "user's file on another branch\n"
    assert repo.current_branch() == "elsewhere"


def test_merge_updates_a_linked_worktree_that_has_the_base(
    repo: Repo, repo_dir: Path, wt_root: Path, tmp_path: Path, kit: GitKit
) -> None:
    kit.git("branch", "release", cwd=repo_dir)
    side = tmp_path / "release-wt"
    kit.git("worktree", "add", "-q", str(side), "release", cwd=repo_dir)
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    repo.merge(branch, sha, "release", "msg")
    assert (side / "feature.txt").read_text() == "f\n" and status(kit, side) == ""
    assert not (repo_dir / "feature.txt").exists() and repo.tip("main") != sha


def test_merge_refuses_while_another_git_process_holds_the_base(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    base = repo.tip("main")
    lock = repo.common_dir / "refs" / "heads" / "main.lock"
    lock.write_text("")  # what `git commit` holds while it updates main
    try:
        with pytest.raises(GitError, match="locked by another git process"):
            repo.merge(branch, sha, "main", "msg")
        assert repo.tip("main") == base and not (repo_dir / "feature.txt").exists()
    finally:
        lock.unlink()
    assert repo.merge(branch, sha, "main", "msg").merge_sha == sha


def test_merge_refuses_during_a_merge_in_progress(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    kit.git("checkout", "-q", "-b", "side", cwd=repo_dir)
    kit.commit_file(repo_dir, "src/app.py", "side\n", "side")
    kit.git("checkout", "-q", "main", cwd=repo_dir)
    kit.commit_file(repo_dir, "src/app.py", "main\n", "main")
    done = subprocess.run(["git", "merge", "-q", "side"], cwd=repo_dir, capture_output=True)
    assert done.returncode != 0
    with pytest.raises(MergeRefused) as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "dirty" and "src/app.py" in refused.value.files


def test_merge_refuses_while_git_holds_the_users_index(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    base = repo.tip("main")
    lock = repo.common_dir / "index.lock"
    lock.write_text("")
    try:
        with pytest.raises(GitError, match="another git process is using"):
            repo.merge(branch, sha, "main", "msg")
    finally:
        lock.unlink()
    assert repo.tip("main") == base and not (repo_dir / "feature.txt").exists()
    assert status(kit, repo_dir) == ""


def test_merge_refuses_while_the_base_is_being_rebased(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, _, sha = pr_commit(repo, wt_root, kit, "feature.txt", "f\n")
    kit.commit_file(repo_dir, "src/app.py", "one\n", "one")
    kit.commit_file(repo_dir, "src/app.py", "two\n", "two")
    base = repo.tip("main")
    kit.git("rebase", "-q", "--exec", "false", "HEAD~1", cwd=repo_dir, check=False)  # stops mid-way
    assert (repo.common_dir / "rebase-merge").is_dir()
    with pytest.raises(MergeRefused, match="being rebased") as refused:
        repo.merge(branch, sha, "main", "msg")
    assert refused.value.reason == "dirty"
    kit.git("rebase", "--abort", cwd=repo_dir)
    assert repo.tip("main") == base and not (repo_dir / "feature.txt").exists()
