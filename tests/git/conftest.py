"""Real repositories in temp dirs, isolated from the machine's git configuration.

The isolation itself (a temp HOME, ``GIT_CONFIG_NOSYSTEM``, libgit2's config search path) is
the root conftest's ``isolated_env``; this file adds the git helpers the git tests share.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cockpit.git.repo import Repo


def git(*args: str, cwd: Path, check: bool = True) -> str:
    """Run the git CLI, as a person would; fail the test with git's own message."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def commit_file(cwd: Path, rel: str, text: str, message: str) -> str:
    """Write one file and commit it with the git CLI; the new HEAD sha."""
    write(cwd / rel, text)
    git("add", "--", rel, cwd=cwd)
    git("commit", "-q", "-m", message, cwd=cwd)
    return git("rev-parse", "HEAD", cwd=cwd).strip()


def init_repo(path: Path, identity: bool = True) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    git("config", "user.name", "Test User", cwd=path)
    git("config", "user.email", "test@example.com", cwd=path)
    git("config", "gc.auto", "0", cwd=path)
    write(path / "README.md", "# demo\n")
    write(path / "src" / "app.py", "def main():\n    return 1\n")
    write(path / "src" / "util.py", "".join(f"line {i}\n" for i in range(20)))
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    if not identity:
        git("config", "--unset", "user.name", cwd=path)
        git("config", "--unset", "user.email", cwd=path)
    return path


class GitKit:
    """The helpers above, handed to tests as a fixture (test modules do not import conftest)."""

    git = staticmethod(git)
    write = staticmethod(write)
    commit_file = staticmethod(commit_file)
    init_repo = staticmethod(init_repo)


@pytest.fixture
def kit() -> GitKit:
    return GitKit()


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "proj")


@pytest.fixture
def repo(repo_dir: Path) -> Repo:
    return Repo.open(repo_dir)


@pytest.fixture
def wt_root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "worktrees"
