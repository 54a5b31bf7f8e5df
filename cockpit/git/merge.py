"""Merging one reviewed commit into a base branch without losing anybody's work.

The base ref is locked (libgit2 transaction: ``refs/heads/<into>.lock``) for the whole operation, so
a concurrent ``git commit`` by the user either lands before we read the base tip (and is merged
with) or fails on the lock; it is never overwritten. When the base branch is checked out, its
working tree is updated with libgit2's SAFE checkout, which decides every file before writing any
and refuses when a file it must change has uncommitted changes, or an untracked or ignored file is
in the way; the user's unrelated staged and unstaged changes are left exactly as they were.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutNotify, CheckoutStrategy, DeltaStatus, FileMode, FileStatus, RepositoryState

from cockpit import faults
from cockpit.git.model import GitError, MergeRefused, MergeResult
from cockpit.git.objects import branch_tip, resolve_commit, signature

_TRACKED_CHANGE = (
    FileStatus.INDEX_NEW
    | FileStatus.INDEX_MODIFIED
    | FileStatus.INDEX_DELETED
    | FileStatus.INDEX_RENAMED
    | FileStatus.INDEX_TYPECHANGE
    | FileStatus.WT_MODIFIED
    | FileStatus.WT_DELETED
    | FileStatus.WT_TYPECHANGE
    | FileStatus.WT_RENAMED
    | FileStatus.CONFLICTED
)


@dataclass(frozen=True)
class Checkout:
    """A working tree (the main one or a linked worktree) and its admin dir."""

    workdir: Path
    admin: Path


def _head_of(admin: Path) -> str | None:
    """The ref a worktree's HEAD points to, read from its admin dir, or None when detached/unreadable."""
    try:
        text = (admin / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text[len("ref: ") :] if text.startswith("ref: ") else None


def _rebasing(admin: Path) -> str | None:
    for state in ("rebase-merge", "rebase-apply"):
        try:
            return (admin / state / "head-name").read_text(encoding="utf-8").strip()
        except OSError:
            continue
    return None


def checkouts(repo: pygit2.Repository, common_dir: Path) -> list[Checkout]:
    """Every live working tree of the repository: the main one first, then the linked ones."""
    found: list[Checkout] = []
    main = pygit2.Repository(str(common_dir))
    if main.workdir:
        found.append(Checkout(Path(main.workdir).resolve(), common_dir))
    for name in repo.list_worktrees():
        try:
            wt = repo.lookup_worktree(name)
        except (KeyError, pygit2.GitError):
            continue
        if wt.is_prunable:
            continue
        found.append(Checkout(Path(wt.path).resolve(), common_dir / "worktrees" / name))
    return found


def checkouts_of(repo: pygit2.Repository, common_dir: Path, branch: str) -> list[Checkout]:
    """The working trees that have ``branch`` checked out; refuses when one is rebasing it."""
    refname = f"refs/heads/{branch}"
    result = []
    for co in checkouts(repo, common_dir):
        if _rebasing(co.admin) == refname:
            raise MergeRefused(
                "dirty", [], f"{branch} is being rebased in {co.workdir}; finish or abort it, then merge"
            )
        if _head_of(co.admin) == refname:
            result.append(co)
    return result


class _Collect(pygit2.CheckoutCallbacks):
    def __init__(self) -> None:
        super().__init__()
        self.conflicts: list[str] = []

    def checkout_notify_flags(self) -> CheckoutNotify:
        return CheckoutNotify.CONFLICT

    def checkout_notify(
        self,
        why: CheckoutNotify,
        path: str,
        baseline: pygit2.DiffFile | None,
        target: pygit2.DiffFile | None,
        workdir: pygit2.DiffFile | None,
    ) -> None:
        self.conflicts.append(path)

    def checkout_progress(self, path: str, completed_steps: int, total_steps: int) -> None:
        if faults.FAULT_ENV in os.environ:  # crash tests: die halfway through writing the files
            faults.at_checkout(completed_steps)


def _refusal(wrepo: pygit2.Repository, workdir: Path, paths: list[str], what: str) -> MergeRefused:
    """Sort the paths in the way into uncommitted changes (dirty) and untracked or ignored files."""
    status = wrepo.status(untracked_files="all", ignored=True)
    dirty: list[str] = []
    untracked: list[str] = []
    for path in sorted(set(paths)):
        flags = [f for p, f in status.items() if p == path or p.startswith(path.rstrip("/") + "/")]
        if flags and not any(f & _TRACKED_CHANGE for f in flags):
            untracked.append(path)
        else:
            dirty.append(path)
    if dirty:
        listed = ", ".join(dirty + untracked)
        return MergeRefused(
            "dirty",
            dirty + untracked,
            f"{what} would overwrite uncommitted changes in {workdir}: {listed}. "
            "Nothing was changed; commit or stash them, then merge again.",
        )
    return MergeRefused(
        "untracked",
        untracked,
        f"{what} would overwrite untracked or ignored files in {workdir}: {', '.join(untracked)}. "
        "Nothing was changed; move them away, then merge again.",
    )


def update_checkout(co: Checkout, branch: str, target: pygit2.Commit, what: str) -> None:
    """Move ``co``'s working tree and index from its HEAD to ``target`` without losing anything."""
    wrepo = pygit2.Repository(str(co.workdir))
    if (co.admin / "index.lock").exists():
        # libgit2 writes the files first and the index last: a held index lock would leave the
        # merged files looking like the user's own edits. Refuse up front instead.
        raise GitError(
            f"another git process is using {co.workdir} ({co.admin / 'index.lock'} exists); try again. "
            "If no git process is running, delete that file."
        )
    if _head_of(co.admin) != f"refs/heads/{branch}":  # pragma: no cover - checked under the ref lock
        raise GitError(f"{co.workdir} switched branches during the merge; merge again")
    conflicts = wrepo.index.conflicts
    if conflicts is not None:
        paths = sorted({e.path for entry in conflicts for e in entry if e is not None})
        raise MergeRefused(
            "dirty",
            paths,
            f"{co.workdir} has unresolved conflicts in {', '.join(paths)}; resolve them, then merge again.",
        )
    state = wrepo.state()
    if state != RepositoryState.NONE:
        raise MergeRefused(
            "dirty",
            [],
            f"{co.workdir} has a {state.name.lower().replace('_', ' ')} in progress; "
            "finish or abort it, then merge again. Nothing was changed.",
        )
    collect = _Collect()
    try:
        wrepo.checkout_tree(  # type: ignore[no-untyped-call]
            wrepo[target.tree_id],
            strategy=CheckoutStrategy.SAFE | CheckoutStrategy.DONT_OVERWRITE_IGNORED,
            callbacks=collect,
        )
    except pygit2.GitError as exc:
        if collect.conflicts:
            raise _refusal(wrepo, co.workdir, collect.conflicts, what) from exc
        raise GitError(f"could not update the working tree at {co.workdir}: {exc}") from exc


def merge(
    repo: pygit2.Repository,
    common_dir: Path,
    branch: str,
    expected: str,
    into: str,
    message: str,
    expected_base: str | None = None,
) -> MergeResult:
    """Merge exactly commit ``expected`` (the tip of ``branch``) into branch ``into``.

    With ``expected_base``, ``into`` must be at that commit, read under its lock (the guard's
    recorded tip: a base branch moved by anyone but cockpit is never merged onto).
    """
    if branch == into:
        raise GitError(f"cannot merge {branch} into itself")
    tip = branch_tip(repo, branch)
    if tip is None:
        raise GitError(f"branch {branch} does not exist")
    reviewed = resolve_commit(repo, expected)
    if tip != reviewed.id:
        raise MergeRefused(
            "moved",
            [],
            f"{branch} moved after the review: its tip is {str(tip)[:10]}, the reviewed commit is "
            f"{str(reviewed.id)[:10]}. Nothing was merged; review the new tip first.",
        )
    refname = f"refs/heads/{into}"
    if branch_tip(repo, into) is None:
        raise GitError(f"base branch {into} does not exist")
    with repo.transaction() as txn:
        try:
            txn.lock_ref(refname)
        except pygit2.GitError as exc:
            raise GitError(
                f"{into} is locked by another git process ({exc}); try again. "
                f"If no git process is running, delete {common_dir / refname}.lock"
            ) from exc
        base = branch_tip(repo, into)  # read under the lock: this is the value we replace
        if base is None:  # pragma: no cover - deleted between the check and the lock
            raise GitError(f"base branch {into} was deleted")
        if expected_base is not None and str(base) != expected_base:
            raise MergeRefused(
                "base",
                [],
                f"{into} is at {str(base)[:10]}, not at {expected_base[:10]} where cockpit left it. "
                "Nothing was merged.",
            )
        sig = signature(repo, "cockpit", "cockpit@localhost")
        what = f"merging {branch} ({str(reviewed.id)[:10]}) into {into}"
        if base == reviewed.id or repo.descendant_of(base, reviewed.id):
            return MergeResult(str(reviewed.id), str(base), True)  # already merged: nothing to do
        if repo.descendant_of(reviewed.id, base):
            result_commit, fast_forward = reviewed, True
        else:
            index = repo.merge_commits(base, reviewed.id)
            if index.conflicts is not None:
                paths = sorted({e.path for entry in index.conflicts for e in entry if e is not None})
                raise MergeRefused(
                    "conflict",
                    paths,
                    f"{what} conflicts in {', '.join(paths)}. Nothing was changed; "
                    f"have the writer merge {into} into the branch, then review again.",
                )
            tree = index.write_tree(repo)
            sha = repo.create_commit(None, sig, sig, _clean(message), tree, [base, reviewed.id])
            result_commit, fast_forward = resolve_commit(repo, str(sha)), False
        targets = checkouts_of(repo, common_dir, into)
        if len(targets) > 1:
            places = ", ".join(str(co.workdir) for co in targets)
            raise GitError(f"{into} is checked out in several worktrees ({places}); keep one, then merge")
        for co in targets:
            update_checkout(co, into, result_commit, what)
        how = "fast-forward" if fast_forward else "merge commit"
        # signature=None: the identity from config; pygit2 1.21 cannot pass a Signature here (TypeError)
        txn.set_target(refname, result_commit.id, message=f"cockpit: merge {branch} ({how})")
    return MergeResult(str(reviewed.id), str(result_commit.id), fast_forward)


def _clean(message: str) -> str:
    text = message.strip()
    return (text or "Merge") + "\n"


# --- after a crash ------------------------------------------------------------------------------


def _blob_of(path: Path) -> str | None:
    """The blob id a file's content would have, or None when there is no file."""
    try:
        if path.is_symlink():
            return str(pygit2.hash(os.readlink(path).encode()))
        if not path.is_file():
            return None
        return str(pygit2.hash(path.read_bytes()))
    except OSError:
        return None


def _restore(repo: pygit2.Repository, root: Path, rel: str, blob_id: str | None, mode: int) -> None:
    path = root / rel
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or path.exists():
            path.unlink()
    if blob_id is None:
        parent = path.parent
        while parent != root and root in parent.parents:  # folders made for new files, if now empty
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return
    data = repo[blob_id].read_raw()
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == FileMode.LINK:
        os.symlink(data.decode(), path)
        return
    path.write_bytes(data)
    if mode == FileMode.BLOB_EXECUTABLE:
        path.chmod(0o755)


def _roll_back_checkout(co: Checkout, old: pygit2.Tree, new: pygit2.Tree, into: str, lock: Path) -> list[str]:
    """Put back, in one working tree, every file a half-done checkout from ``old`` to ``new`` wrote.

    A file is ours only when its content is exactly ``new``'s version; one that matches neither
    version is somebody's, and then nothing is touched and the error says what to do.
    """
    wrepo = pygit2.Repository(str(co.workdir))
    diff = old.diff_to_tree(new)
    ours: list[tuple[str, str | None, int, str | None]] = []  # path, old blob, old mode, new blob
    foreign: list[str] = []
    for delta in diff.deltas:
        path = delta.new_file.path if delta.status != DeltaStatus.DELETED else delta.old_file.path
        old_id = None if delta.status == DeltaStatus.ADDED else str(delta.old_file.id)
        new_id = None if delta.status == DeltaStatus.DELETED else str(delta.new_file.id)
        now = _blob_of(co.workdir / path)
        if now == old_id:
            continue
        if now == new_id:
            ours.append((path, old_id, int(delta.old_file.mode), new_id))
        else:
            foreign.append(path)
    if foreign:
        listed = ", ".join(foreign[:20]) + (" …" if len(foreign) > 20 else "")
        raise GitError(
            f"the interrupted merge into {into} left {len(foreign)} file(s) in {co.workdir} that match "
            f"neither {into} nor the merge: {listed}. Nothing was changed. Keep what you need of them, "
            f"then restore them with `git -C {co.workdir} checkout {into} -- <file>` (delete the ones "
            f"{into} does not have), delete {lock} if it is still there, and run `cockpit resume` again."
        )
    if not ours:
        return []
    for path, old_id, mode, _new in ours:
        _restore(wrepo, co.workdir, path, old_id, mode)
    index_lock = co.admin / "index.lock"
    notes = []
    if index_lock.exists():
        index_lock.unlink()
        notes.append(f"removed {index_lock} left by the interrupted merge")
    index = wrepo.index
    index.read()
    changed = False
    for path, old_id, mode, new_id in ours:
        entry = index[path] if path in index else None  # noqa: SIM401 - pygit2 Index has no get()
        if entry is not None and new_id is not None and str(entry.id) == new_id:
            if old_id is None:
                index.remove(path)
            else:
                index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=old_id), FileMode(mode)))
            changed = True
    if changed:
        index.write()
    notes.append(
        f"put back {len(ours)} file(s) in {co.workdir} that the interrupted merge had half checked out"
    )
    return notes


def recover_merge(repo: pygit2.Repository, common_dir: Path, into: str, sha: str, onto: str) -> list[str]:
    """Put right what a merge of ``sha`` onto ``onto`` (the base tip it read) left when its
    process died in the middle; one line per thing done. The merge itself then runs again.

    The base ref moved: the merge (or someone's commit) finished; only a stale lock is left.
    The ref did not move: the working tree may hold some of the merge's files; each file that
    is exactly the merge's version is put back to the base's, and anything else stops the
    repair (GitError with instructions) before a single file is touched.
    """
    refname = f"refs/heads/{into}"
    lock = common_dir / f"{refname}.lock"
    notes: list[str] = []
    tip = branch_tip(repo, into)
    if tip is None:
        raise GitError(f"base branch {into} does not exist")
    if str(tip) == onto:
        base = resolve_commit(repo, onto)
        reviewed = resolve_commit(repo, sha)
        target: pygit2.Tree | None
        if repo.descendant_of(reviewed.id, base.id):
            target = reviewed.tree
        else:
            index = repo.merge_commits(base, reviewed.id)
            target = None if index.conflicts is not None else repo[index.write_tree(repo)].peel(pygit2.Tree)
        if target is not None:
            try:
                places = checkouts_of(repo, common_dir, into)
            except MergeRefused as exc:
                raise GitError(str(exc)) from exc
            for co in places:
                notes += _roll_back_checkout(co, base.tree, target, into, lock)
    if lock.exists():
        lock.unlink()
        notes.append(f"removed {lock} left by the interrupted merge")
    return notes
