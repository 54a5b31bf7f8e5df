"""The user's repository as the engine sees it: PR worktrees, diffs, commits and merges.

Every method opens a fresh ``pygit2.Repository`` (about 0.06 ms here), so a ``Repo`` can be used
from worker threads: libgit2 objects are never shared between threads. Operations that change
refs or worktrees also take one lock per ``Repo`` so two threads never race each other on them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileStatus, SortMode

from cockpit.git import merge as _merge
from cockpit.git.model import CommitInfo, Diff, GitError, MergeResult
from cockpit.git.names import check_worktree_name
from cockpit.git.objects import branch_tip, commit_diff, file_stats, resolve_commit, signature

__all__ = ["Repo"]  # the package (cockpit.git) exports the rest


def _open(path: Path | str) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(path))
    except (pygit2.GitError, KeyError, OSError) as exc:
        raise GitError(f"{path} is not a git working tree: {exc}") from exc


def _open_worktree(path: Path | str) -> pygit2.Repository:
    """A PR worktree, exactly there: a directory that lost its ``.git`` must not resolve to a
    repository above it (a commit of "leftovers" would land in someone else's checkout)."""
    try:
        return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, KeyError, OSError) as exc:
        raise GitError(f"{path} is not a git working tree: {exc}") from exc


def _common_dir(repo: pygit2.Repository) -> Path:
    """The shared ``.git`` dir; a linked worktree's own git dir names it in its ``commondir`` file."""
    gitdir = Path(repo.path)
    try:
        pointer = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir.resolve()
    return (gitdir / pointer).resolve()


def _rmtree(path: Path) -> None:
    """Remove a directory tree, read-only files included (build caches often are)."""

    def retry(func: Callable[..., Any], failed: str, _exc: Any) -> None:
        os.chmod(failed, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        parent = os.path.dirname(failed)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWRITE)
        func(failed)

    shutil.rmtree(path, onerror=retry)


class Repo:
    """One repository, addressed by its working tree; cheap to share between threads."""

    def __init__(self, workdir: Path, common_dir: Path) -> None:
        self.workdir = workdir
        self.common_dir = common_dir
        self.name = workdir.name
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str) -> Repo:
        where = Path(path).expanduser()
        if not where.exists():
            raise GitError(f"{where} does not exist")
        try:
            found = pygit2.discover_repository(str(where))
        except pygit2.GitError:
            found = None
        if found is None:
            raise GitError(
                f"{where} is not inside a git repository; run `git init` there or pick a repository"
            )
        repo = pygit2.Repository(found)
        if repo.is_bare or not repo.workdir:
            raise GitError(f"{found} is a bare repository; cockpit needs a checkout with a working tree")
        if repo.head_is_unborn:
            raise GitError(f"{repo.workdir} has no commits yet; make a first commit, then start cockpit")
        return cls(Path(repo.workdir).resolve(), _common_dir(repo))

    def _repo(self) -> pygit2.Repository:
        return _open(self.workdir)

    # --- branches ---------------------------------------------------------------------------

    def current_branch(self) -> str | None:
        """The branch checked out in the user's checkout, or None when HEAD is detached."""
        repo = self._repo()
        if repo.head_is_detached:
            return None
        head = repo.references["HEAD"].target
        assert isinstance(head, str)
        return head.removeprefix("refs/heads/")

    def branch_exists(self, branch: str) -> bool:
        return branch_tip(self._repo(), branch) is not None

    def tip(self, branch: str) -> str:
        target = branch_tip(self._repo(), branch)
        if target is None:
            raise GitError(f"branch {branch} does not exist in {self.workdir}")
        return str(target)

    def delete_branch(self, branch: str, expected: str | None = None) -> bool:
        """Delete a local branch: False when it is already gone. Refused (GitError) while it is
        checked out in any worktree, or when it no longer points at ``expected``."""
        with self._lock:
            ref = self._repo().branches.local.get(branch)
            if ref is None:
                return False
            if expected is not None and str(ref.target) != expected:
                raise GitError(f"branch {branch} moved to {str(ref.target)[:8]}; leaving it alone")
            if ref.is_checked_out():
                raise GitError(f"branch {branch} is checked out in a worktree; leaving it alone")
            ref.delete()
            return True

    # --- worktrees --------------------------------------------------------------------------

    def default_worktree_root(self, data_dir: Path) -> Path:
        """One folder per repository, outside it, so the user's own tools never see the worktrees."""
        digest = hashlib.sha256(str(self.workdir).encode("utf-8")).hexdigest()[:10]
        return data_dir / "worktrees" / f"{self.name}-{digest}"

    def worktrees(self) -> dict[str, Path]:
        """Linked worktrees by name (the user's own included), live or not."""
        repo = self._repo()
        found: dict[str, Path] = {}
        for name in repo.list_worktrees():
            try:
                found[name] = Path(repo.lookup_worktree(name).path)
            except (KeyError, pygit2.GitError):
                continue
        return found

    def create_worktree(
        self, name: str, path: Path, branch: str, base: str, *, reuse_branch: bool = False
    ) -> Path:
        """Create ``branch`` at ``base`` and check it out in a new worktree at ``path``.

        With ``reuse_branch`` an existing branch is checked out as it is (resuming a session).
        On failure nothing is left behind: no branch, no directory, no admin entry.
        """
        try:
            check_worktree_name(name)
        except ValueError as exc:
            raise GitError(str(exc)) from exc
        if not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
            raise GitError(f"{branch!r} is not a valid branch name")
        target = Path(path).expanduser().resolve()
        if target.exists() or target.is_symlink():
            raise GitError(f"{target} already exists; remove it or choose another worktree folder")
        with self._lock:
            repo = self._repo()
            admin = self.common_dir / "worktrees" / name
            if name in repo.list_worktrees():
                old = repo.lookup_worktree(name)
                if not old.is_prunable:
                    raise GitError(f"a worktree named {name} already exists at {old.path}")
                old.prune(True)
            start = resolve_commit(repo, base)
            existing = branch_tip(repo, branch)
            if existing is not None and not reuse_branch:
                raise GitError(f"branch {branch} already exists; delete it or pick another PR branch name")
            missing_dirs = [p for p in reversed(target.parents) if not p.exists()]
            stray_admin = None if admin.exists() else admin  # never delete an admin dir we did not make
            made_branch = False
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if existing is None:
                    ref = repo.branches.local.create(branch, start).resolve()
                    made_branch = True
                else:
                    ref = repo.references[f"refs/heads/{branch}"]
                repo.add_worktree(name, str(target), ref)
            except (OSError, ValueError, pygit2.GitError) as exc:
                self._undo_create(repo, stray_admin, target, branch if made_branch else None, missing_dirs)
                raise GitError(f"could not create worktree {name} at {target}: {exc}") from exc
        return target

    def _undo_create(
        self,
        repo: pygit2.Repository,
        admin: Path | None,
        target: Path,
        branch: str | None,
        missing_dirs: list[Path],
    ) -> None:
        if target.exists():
            _rmtree(target)
        if admin is not None and admin.exists():
            shutil.rmtree(admin, ignore_errors=True)
        if branch is not None:
            ref = repo.references.get(f"refs/heads/{branch}")
            if ref is not None:
                ref.delete()
        for made in reversed(missing_dirs):  # deepest first; only the ones we made, only if empty
            try:
                made.rmdir()
            except OSError:
                break

    def _find_worktree(
        self, repo: pygit2.Repository, name_or_path: str | Path
    ) -> tuple[str | None, Path | None]:
        names = repo.list_worktrees()
        if isinstance(name_or_path, str) and name_or_path in names:
            return name_or_path, Path(repo.lookup_worktree(name_or_path).path)
        where = Path(name_or_path).expanduser().resolve()
        for name in names:
            try:
                if Path(repo.lookup_worktree(name).path).resolve() == where:
                    return name, where
            except (KeyError, pygit2.GitError):
                continue
        if not where.exists():
            return None, None
        try:
            pointer = (where / ".git").read_text(encoding="utf-8").strip()
        except OSError:
            pointer = ""
        admin = Path(pointer.removeprefix("gitdir:").strip()) if pointer.startswith("gitdir:") else None
        if admin is None or admin.resolve().parent != self.common_dir / "worktrees":
            raise GitError(f"{where} is not a worktree of {self.workdir}; leaving it alone")
        return None, where

    def remove_worktree(self, name_or_path: str | Path) -> None:
        """Delete a PR's worktree folder and its admin entry; the branch is kept."""
        with self._lock:
            repo = self._repo()
            name, where = self._find_worktree(repo, name_or_path)
            if where is not None and where.resolve() == self.workdir:
                raise GitError(f"{where} is the main checkout; refusing to remove it")
            if where is not None and where.exists():
                _rmtree(where)
            if name is not None:
                try:
                    repo.lookup_worktree(name).prune(True)
                except (KeyError, pygit2.GitError):
                    shutil.rmtree(self.common_dir / "worktrees" / name, ignore_errors=True)

    def git_dirs_for(self, worktree_path: Path) -> tuple[Path, ...]:
        """The directories a commit in that linked worktree writes to, and no others.

        The shared objects, the directory holding its branch's loose ref, that directory's twin
        under ``logs/`` (the reflog) and the worktree's own admin dir (index, HEAD; codex 0.171
        mounts it read-only unless it is named itself, even below another named dir). A sandboxed
        writer given these can commit on its branch, but not write hooks or config (code that
        would run outside the sandbox at the user's next git command) nor move other branches
        (measured with codex-cli 0.171: the commit succeeds, those writes are refused). With a
        flat branch name the ref directory is ``refs/heads`` itself, shared with ``main``:
        cockpit's own ``cockpit/<session>/...`` names keep it to the session. Missing
        directories are created: ``pack-refs`` deletes emptied ones. The main checkout (not a
        linked worktree) writes all over the git dir, so it gets the git dir.
        """
        wrepo = _open(worktree_path)
        common = _common_dir(wrepo)
        if common != self.common_dir:
            raise GitError(f"{worktree_path} belongs to {common}, not to {self.common_dir}")
        own = Path(wrepo.path).resolve()
        if own == self.common_dir:
            return (self.common_dir,)
        dirs = [common / "objects"]
        head = wrepo.references.get("HEAD")
        target = head.target if head is not None else None
        if isinstance(target, str) and target.startswith("refs/"):  # on a branch (not detached)
            ref_dir = Path(target).parent
            dirs += [common / ref_dir, common / "logs" / ref_dir]
        dirs.append(own)
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        return tuple(dirs)

    # --- commits and diffs ------------------------------------------------------------------

    def diff(self, base: str, head: str) -> Diff:
        """What ``head`` changes since it forked from ``base`` (the PR view), renames detected."""
        repo = self._repo()
        b, h = resolve_commit(repo, base), resolve_commit(repo, head)
        fork = repo.merge_base(b.id, h.id)
        if fork is None:
            raise GitError(f"{base} and {head} share no history")
        diff = repo.diff(resolve_commit(repo, str(fork)), h)
        files, insertions, deletions = file_stats(diff)
        return Diff(diff.patch or "", files, insertions, deletions)

    def commit_info(self, sha: str) -> CommitInfo:
        repo = self._repo()
        commit = resolve_commit(repo, sha)
        files, insertions, deletions = file_stats(commit_diff(repo, commit))
        return CommitInfo(
            sha=str(commit.id),
            parents=[str(p) for p in commit.parent_ids],
            message=commit.message,
            author=f"{commit.author.name} <{commit.author.email}>",
            files=files,
            insertions=insertions,
            deletions=deletions,
        )

    def new_commits(self, old: str | None, new: str, base: str) -> tuple[list[str], bool]:
        """Commits on ``new`` that are neither on ``old`` nor on ``base``, oldest first.

        ``rewritten`` is True when ``new`` does not descend from ``old`` (amend, rebase, reset).
        Hiding ``base`` keeps the base branch's own commits out when a PR is rebased onto it.
        """
        repo = self._repo()
        head = resolve_commit(repo, new)
        walker = repo.walk(head.id, SortMode.TOPOLOGICAL | SortMode.REVERSE)
        rewritten = False
        if old is not None:
            try:
                previous = resolve_commit(repo, old)
            except GitError:  # the old tip was garbage-collected after a rewrite
                rewritten = True
            else:
                if previous.id == head.id:
                    return [], False
                walker.hide(previous.id)
                rewritten = not repo.descendant_of(head.id, previous.id)
        walker.hide(resolve_commit(repo, base).id)
        return [str(c.id) for c in walker], rewritten

    def dirty_files(self, worktree_path: Path) -> list[str]:
        """Paths with uncommitted changes, untracked files included, ignored files excluded."""
        status = _open_worktree(worktree_path).status(untracked_files="all", ignored=False)
        return sorted(
            p for p, flags in status.items() if flags not in (FileStatus.CURRENT, FileStatus.IGNORED)
        )

    def untracked_files(self, worktree_path: Path) -> list[str]:
        """Paths git does not track yet (ignored files excluded)."""
        status = _open_worktree(worktree_path).status(untracked_files="all", ignored=False)
        return sorted(p for p, flags in status.items() if flags == FileStatus.WT_NEW)

    def commit_all(
        self,
        worktree_path: Path,
        message: str,
        author_name: str = "cockpit",
        author_email: str = "cockpit@localhost",
    ) -> str:
        """Stage everything (ignored files excluded) and commit it on the worktree's branch."""
        with self._lock:
            wrepo = _open_worktree(worktree_path)
            if wrepo.head_is_detached:
                raise GitError(f"{worktree_path} is on a detached HEAD; check out its PR branch first")
            parent = wrepo.head.peel(pygit2.Commit)
            index = wrepo.index
            index.read()
            index.add_all()
            index.write()
            tree = index.write_tree()
            if tree == parent.tree_id:
                raise GitError(f"nothing to commit in {worktree_path}")
            sig = signature(wrepo, author_name, author_email)
            text = message.strip() or "Commit uncommitted changes"
            sha = wrepo.create_commit("HEAD", sig, sig, text + "\n", tree, [parent.id])
            return str(sha)

    # --- merge ------------------------------------------------------------------------------

    def recover_merge(self, into: str, sha: str, onto: str) -> list[str]:
        """Repair what an interrupted merge of ``sha`` onto ``onto`` left (see merge.recover_merge)."""
        with self._lock:
            return _merge.recover_merge(self._repo(), self.common_dir, into, sha, onto)

    def merge(
        self, branch: str, expected: str, into: str, message: str, expected_base: str | None = None
    ) -> MergeResult:
        """Merge exactly ``expected`` (which must still be ``branch``'s tip) into ``into``.

        Fast-forward when possible, else a merge commit with ``message``. Raises MergeRefused
        ("moved", "conflict", "dirty", "untracked", "base": ``into`` is not at ``expected_base``)
        with nothing changed.
        """
        with self._lock:
            return _merge.merge(self._repo(), self.common_dir, branch, expected, into, message, expected_base)
