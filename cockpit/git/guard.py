"""The guard: what a writer may not change in the shared git dir, and putting it back if it did.

A writer works in a linked worktree, but its git commands (and anything it runs) can reach the
repository's shared git dir: move the base branch with ``git update-ref``, plant a hook that runs
at the user's next ``git commit``, set ``core.fsmonitor`` or ``core.hooksPath`` so that
``git status`` runs a program of its choosing. So before each writer dispatch the guard records

- every branch and tag (loose or packed: ``packed-refs`` is read through libgit2) outside the
  session's own namespace ``refs/heads/cockpit/<session>/``, the base branch among them;
- every file under ``hooks/`` and ``info/``, and ``config`` / ``config.worktree``: type, mode
  and content;

and after it (and at every commit the engine sees meanwhile) compares. What changed is put back:
a moved or created ref is first kept reachable under ``refs/heads/cockpit/<session>/quarantine/``,
then reset (or deleted); a changed or planted file is moved aside into a quarantine folder (its
execute bits cleared, never deleted), then the recorded content is written back. Nothing here
decides what happens next: the engine journals a ``tamper`` event and opens a gate.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from cockpit.git.model import GitError

GUARDED_DIRS = ("hooks", "info")
GUARDED_FILES = ("config", "config.worktree")
REF_PREFIXES = ("refs/heads/", "refs/tags/")
MAX_KEPT_BYTES = 4 * 1024 * 1024  # a guarded file larger than this is compared by hash only


@dataclass(frozen=True)
class FileState:
    kind: str  # "file" | "link" | "other"
    mode: int
    digest: str
    content: bytes | None = None  # None: too large to keep (or not a regular file)

    def describe(self) -> str:
        return {"file": "file", "link": "symlink"}.get(self.kind, "special file")


@dataclass(frozen=True)
class Snapshot:
    refs: dict[str, str]  # refname -> target (a sha, or "ref: NAME" for a symbolic ref)
    files: dict[str, FileState]  # path relative to the common dir -> state


@dataclass(frozen=True)
class Change:
    """One difference from the recorded state, in words for the journal."""

    what: str  # "ref" | "hook" | "config" | "info"
    path: str  # refs/heads/main, hooks/post-commit, config, info/exclude
    before: str  # a sha, "absent", or a file description
    after: str

    def describe(self) -> str:
        if self.what == "ref":
            if self.before == "absent":
                return f"{self.path} created at {self.after[:12]}"
            if self.after == "absent":
                return f"{self.path} deleted (was {self.before[:12]})"
            return f"{self.path} moved {self.before[:12]} → {self.after[:12]}"
        if self.before == "absent":
            return f"{self.path} planted ({self.after})"
        if self.after == "absent":
            return f"{self.path} removed"
        return f"{self.path} changed"


@dataclass
class Restored:
    """What the guard found and what it did about it."""

    changes: list[Change]
    quarantine_refs: list[str] = field(default_factory=list)
    quarantine_dir: str = ""
    problems: list[str] = field(default_factory=list)  # what could not be put back

    @property
    def restored(self) -> bool:
        return not self.problems


def _category(rel: str) -> str:
    if rel == "hooks" or rel.startswith("hooks/"):
        return "hook"
    if rel == "info" or rel.startswith("info/"):
        return "info"
    return "config"


def _read_file(path: Path) -> FileState | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        return FileState("link", 0, hashlib.sha256(target.encode()).hexdigest(), target.encode())
    if not stat.S_ISREG(st.st_mode):
        return FileState("other", stat.S_IMODE(st.st_mode), f"{st.st_mode:o}")
    try:
        data = path.read_bytes()
    except OSError:
        return FileState("other", stat.S_IMODE(st.st_mode), "unreadable")
    digest = hashlib.sha256(data).hexdigest()
    return FileState("file", stat.S_IMODE(st.st_mode), digest, data if len(data) <= MAX_KEPT_BYTES else None)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip(".-") or "ref"


class Guard:
    """Records and restores the shared git dir's refs, hooks and config for one session.

    Thread-safe: every method takes one lock, and opens its own ``pygit2.Repository``.
    """

    def __init__(self, common_dir: Path, session: str, quarantine_root: Path) -> None:
        self.common_dir = common_dir
        self.session = session
        self.own_prefix = f"refs/heads/cockpit/{session}/"
        self.quarantine_prefix = f"{self.own_prefix}quarantine/"
        self.quarantine_root = quarantine_root
        self._lock = threading.RLock()
        self._recorded: Snapshot | None = None
        self._n = 0

    # --- recording ----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        try:
            repo = pygit2.Repository(str(self.common_dir))
        except (pygit2.GitError, KeyError, OSError) as exc:
            raise GitError(f"cannot open {self.common_dir}: {exc}") from exc
        refs: dict[str, str] = {}
        for name in repo.references:
            if not name.startswith(REF_PREFIXES) or name.startswith(self.own_prefix):
                continue
            try:
                target = repo.references[name].target
            except (KeyError, pygit2.GitError):
                continue
            refs[name] = f"ref: {target}" if isinstance(target, str) else str(target)
        files: dict[str, FileState] = {}
        for name in GUARDED_FILES:
            state = _read_file(self.common_dir / name)
            if state is not None:
                files[name] = state
        for d in GUARDED_DIRS:
            root = self.common_dir / d
            if not root.is_dir() or root.is_symlink():
                state = _read_file(root)
                if state is not None:  # a symlink (or file) where the folder should be
                    files[d] = state
                continue
            for dirpath, dirnames, filenames in os.walk(root):
                for fn in [*filenames, *(x for x in dirnames if (Path(dirpath) / x).is_symlink())]:
                    p = Path(dirpath) / fn
                    state = _read_file(p)
                    if state is not None:
                        files[p.relative_to(self.common_dir).as_posix()] = state
        return Snapshot(refs, files)

    def record(self) -> None:
        """Take the current state as the one to hold."""
        with self._lock:
            self._recorded = self.snapshot()

    @property
    def recorded(self) -> Snapshot | None:
        return self._recorded

    def base_tip(self, branch: str) -> str | None:
        """The recorded tip of ``branch`` (None before ``record`` or when it had none)."""
        rec = self._recorded
        return rec.refs.get(f"refs/heads/{branch}") if rec is not None else None

    def accept_ref(self, refname: str, target: str) -> None:
        """Cockpit itself moved ``refname`` (a merge into the base branch): hold the new tip."""
        with self._lock:
            if self._recorded is not None:
                self._recorded.refs[refname] = target

    # --- checking -----------------------------------------------------------------------------

    def changes(self) -> list[Change]:
        """What differs from the recorded state (nothing before ``record``)."""
        with self._lock:
            rec = self._recorded
            if rec is None:
                return []
            now = self.snapshot()
            out: list[Change] = []
            for name in sorted(set(rec.refs) | set(now.refs)):
                a, b = rec.refs.get(name, "absent"), now.refs.get(name, "absent")
                if a != b:
                    out.append(Change("ref", name, a, b))
            for rel in sorted(set(rec.files) | set(now.files)):
                fa, fb = rec.files.get(rel), now.files.get(rel)
                if fa == fb or (fa and fb and (fa.kind, fa.mode, fa.digest) == (fb.kind, fb.mode, fb.digest)):
                    continue
                out.append(
                    Change(
                        _category(rel),
                        rel,
                        fa.describe() if fa else "absent",
                        fb.describe() if fb else "absent",
                    )
                )
            return out

    def check_and_restore(self) -> Restored | None:
        """Compare with the recorded state and put back whatever changed; None when nothing did."""
        with self._lock:
            found = self.changes()
            if not found:
                return None
            return self._restore(found)

    # --- restoring ----------------------------------------------------------------------------

    def _restore(self, found: list[Change]) -> Restored:
        assert self._recorded is not None
        self._n += 1
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{self._n}"
        result = Restored(found)
        repo = pygit2.Repository(str(self.common_dir))
        folder = self.quarantine_root / stamp
        for ch in found:
            try:
                if ch.what == "ref":
                    self._restore_ref(repo, ch, stamp, result)
                else:
                    self._restore_file(ch, folder, result)
            except (OSError, pygit2.GitError, ValueError, KeyError) as exc:
                result.problems.append(f"{ch.path}: {exc}")
        if folder.is_dir():
            result.quarantine_dir = str(folder)
        return result

    def _restore_ref(self, repo: pygit2.Repository, ch: Change, stamp: str, result: Restored) -> None:
        if ch.after != "absent" and not ch.after.startswith("ref: "):
            keep = f"{self.quarantine_prefix}{stamp}-{_safe(ch.path.removeprefix('refs/'))}"
            obj = repo.get(ch.after)
            commit = obj.peel(pygit2.Commit) if obj is not None else None
            if commit is not None:
                repo.create_reference_direct(keep, commit.id, True, message=f"cockpit: kept {ch.path}")
                result.quarantine_refs.append(keep)
        if ch.before == "absent":
            repo.references.delete(ch.path)
        elif ch.before.startswith("ref: "):
            repo.references.create(ch.path, ch.before.removeprefix("ref: "), force=True)
        else:
            repo.create_reference_direct(
                ch.path, pygit2.Oid(hex=ch.before), True, message="cockpit: restored after tamper"
            )

    def _restore_file(self, ch: Change, folder: Path, result: Restored) -> None:
        assert self._recorded is not None
        path = self.common_dir / ch.path
        if path.is_symlink() or path.exists():
            aside = folder / ch.path
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, aside)  # kept, not deleted
            if not aside.is_symlink() and aside.is_file():
                aside.chmod(stat.S_IMODE(aside.stat().st_mode) & ~0o111)  # nothing runs it by accident
        before = self._recorded.files.get(ch.path)
        if before is None:
            return
        if before.content is None:
            result.problems.append(f"{ch.path}: too large to restore; the changed copy is in {folder}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if before.kind == "link":
            os.symlink(before.content.decode(), path)
            return
        tmp = path.with_name(path.name + ".cockpit-restore")
        tmp.write_bytes(before.content)
        tmp.chmod(before.mode)
        os.replace(tmp, path)
