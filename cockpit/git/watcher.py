"""Turns tip moves of tracked branches into callbacks, whoever moved them.

Events only wake the watcher up; what it reports comes from comparing each tracked branch's tip
(read with pygit2, which sees packed refs) with the tip it last reported. So a burst of commits
gives one callback listing them all, ``git gc`` / ``pack-refs`` give none, and a missed event is
made good by the next one, by a periodic rescan, or by ``rescan()``.

Watched (see docs/architecture.md, git worktrees and watchfiles): ``refs/heads`` (a commit
renames ``B.lock`` to ``B``), ``logs/refs/heads`` and ``worktrees/*/logs/HEAD`` (reflogs, which
survive ``pack-refs``, so a slash branch whose loose folder was just re-created is still seen).
A watch root that is deleted goes deaf, so the watch restarts whenever a root appears,
disappears or is replaced.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from cockpit.git.model import CommitInfo, GitError
from cockpit.git.repo import Repo

__all__ = ["CommitWatcher", "OnCommits", "commit_filter"]

log = logging.getLogger(__name__)

OnCommits = Callable[[str, list[CommitInfo], bool], Awaitable[None]]

_delivering: contextvars.ContextVar[bool] = contextvars.ContextVar("cockpit_git_delivering", default=False)


def commit_filter(common: Path) -> Callable[[Change, str], bool]:
    """Keep ref and reflog changes under ``common``; drop lock files and everything else."""

    def keep(change: Change, path: str) -> bool:
        if path.endswith(".lock"):
            return False
        try:
            rel = Path(path).relative_to(common).parts
        except ValueError:
            return False
        return (
            rel[:2] == ("refs", "heads")
            or rel[:3] == ("logs", "refs", "heads")
            or (len(rel) >= 3 and rel[0] == "worktrees" and rel[2:] in (("HEAD",), ("logs", "HEAD")))
        )

    return keep


@dataclass(eq=False)
class _Tracked:
    branch: str
    tip: str | None
    base: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CommitWatcher:
    """Watches one repository's branches; ``on_commits(branch, commits, rewritten)`` per tip move.

    Callbacks for one branch run in order and never concurrently. Do not call ``rescan()`` or
    ``stop()`` from inside ``on_commits`` (it raises RuntimeError rather than deadlocking).
    """

    def __init__(
        self,
        repo_path: Path | str,
        on_commits: OnCommits,
        debounce_ms: int = 10,
        step_ms: int = 5,
        rescan_ms: int = 2000,
    ) -> None:
        self.repo = Repo.open(repo_path)
        self._common = self.repo.common_dir
        self._on_commits = on_commits
        self._debounce = debounce_ms
        self._step = step_ms
        self._rescan_ms = rescan_ms
        self._followup_s = max(0.05, 4 * step_ms / 1000)
        self._tracked: dict[str, _Tracked] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._restart = asyncio.Event()
        self._armed = asyncio.Event()
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()
        self._followup: asyncio.Task[None] | None = None
        self.restarts = 0  # how often the watch was (re)armed; for tests and diagnostics

    # --- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start watching; returns once the filesystem watch is in place."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._closing = False
        self._armed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="cockpit-commit-watcher")
        armed = asyncio.create_task(self._armed.wait())
        await asyncio.wait({armed, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not armed.done():
            armed.cancel()
            task, self._task = self._task, None
            await task  # the watch failed to start: raise its error

    async def stop(self) -> None:
        """Stop watching; waits for a callback in progress to finish."""
        if _delivering.get():
            raise RuntimeError("CommitWatcher.stop() called from inside on_commits")
        self._closing = True
        self._restart.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        pending = list(self._background)
        for t in pending:
            if t is self._followup:
                t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def track(self, branch: str, tip: str | None, base: str) -> None:
        """Report ``branch``'s commits after ``tip`` (None: everything since it forked from ``base``)."""
        self._tracked[branch] = _Tracked(branch, tip, base)
        if self._task is not None and self._on_loop():
            self._spawn(self._check_all())

    def untrack(self, branch: str) -> None:
        self._tracked.pop(branch, None)

    def tracked(self) -> dict[str, str | None]:
        """Tracked branches and the last tip reported (or given) for each."""
        return {b: t.tip for b, t in self._tracked.items()}

    async def rescan(self) -> None:
        """Check every tracked branch now; returns after the callbacks that were due have run."""
        if _delivering.get():
            raise RuntimeError("CommitWatcher.rescan() called from inside on_commits")
        await self._check_all()

    def worktrees_changed(self) -> None:
        """Re-arm the watch (call after adding or removing a worktree); safe from any thread."""
        loop = self._loop
        if loop is None or self._task is None:
            return
        if self._on_loop():
            self._restart.set()
        else:
            loop.call_soon_threadsafe(self._restart.set)

    # --- checking -----------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._closing

    def _on_loop(self) -> bool:
        return self._loop_thread == threading.get_ident()

    def _spawn(self, coro: Awaitable[object]) -> asyncio.Task[None]:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _check_all(self) -> bool:
        """Check every tracked branch concurrently; True when any tip moved."""
        tracked = list(self._tracked.values())
        if not tracked:
            return False
        moved = await asyncio.gather(*(self._check(t) for t in tracked))
        return any(moved)

    async def _check(self, t: _Tracked) -> bool:
        async with t.lock:
            if self._tracked.get(t.branch) is not t:
                return False
            try:
                found = await asyncio.to_thread(self._scan, t.branch, t.tip, t.base)
            except GitError as exc:
                log.warning("commit watcher: cannot read %s: %s", t.branch, exc)
                return False
            except Exception:
                log.exception("commit watcher: reading %s failed", t.branch)
                return False
            if found is None or self._tracked.get(t.branch) is not t:
                return False
            tip, commits, rewritten = found
            t.tip = tip
            token = _delivering.set(True)
            try:
                await self._on_commits(t.branch, commits, rewritten)
            except Exception:
                log.exception("commit watcher: on_commits failed for %s", t.branch)
            finally:
                _delivering.reset(token)
            return True

    def _scan(self, branch: str, old: str | None, base: str) -> tuple[str, list[CommitInfo], bool] | None:
        """Runs in a worker thread: the new tip and its commits, or None when the tip has not moved."""
        if not self.repo.branch_exists(branch):
            return None
        tip = self.repo.tip(branch)
        if tip == old:
            return None
        shas, rewritten = self.repo.new_commits(old, tip, base)
        if not shas and rewritten:
            shas = [tip]  # moved back (a reset): report where the tip is now, the tip we compared
        return tip, [self.repo.commit_info(sha) for sha in shas], rewritten

    def _schedule_followup(self) -> None:
        """A reflog can change just before its ref does: look once more a little later."""
        if self._followup is not None and not self._followup.done():
            return

        async def later() -> None:
            await asyncio.sleep(self._followup_s)
            await self._check_all()

        self._followup = self._spawn(later())

    # --- watching -----------------------------------------------------------------------------

    def _roots(self) -> list[Path]:
        candidates = [self._common / "refs" / "heads", self._common / "logs" / "refs" / "heads"]
        candidates.append(self._common / "worktrees")
        return [p for p in candidates if p.is_dir()]

    def _signature(self) -> tuple[tuple[str, int], ...]:
        sig = []
        for root in (self._common / "refs" / "heads", self._common / "logs" / "refs" / "heads"):
            sig.append((str(root), _inode(root)))
        sig.append((str(self._common / "worktrees"), _inode(self._common / "worktrees")))
        return tuple(sig)

    def _armed_if_alive(self, first: asyncio.Future[set[tuple[Change, str]]]) -> None:
        """Runs right after awatch built its notifier: catch up on anything missed meanwhile.

        ``first`` is the watch's first ``__anext__``; its task ran one step before this callback
        (the loop runs callbacks in order), and that step creates the notifier before awaiting
        anything. If the step failed, the watch is not armed and ``_run`` handles the error.
        """
        if first.done() and (first.cancelled() or first.exception() is not None):
            return
        self.restarts += 1
        self._armed.set()
        if self._tracked:
            self._spawn(self._check_all())

    async def _watch_once(self) -> None:
        """One awatch over the current roots, until restarted or stopped."""
        self._restart = asyncio.Event()
        sig = self._signature()
        batches = awatch(
            *self._roots(),
            watch_filter=commit_filter(self._common),
            debounce=self._debounce,
            step=self._step,
            stop_event=self._restart,
            rust_timeout=self._rescan_ms,
            yield_on_timeout=True,
        )
        try:
            pending = asyncio.ensure_future(anext(batches))
            asyncio.get_running_loop().call_soon(self._armed_if_alive, pending)
            while True:
                try:
                    changes = await pending
                except StopAsyncIteration:
                    return
                moved = await self._check_all()
                if changes and not moved:
                    self._schedule_followup()
                if self._signature() != sig:
                    self._restart.set()
                pending = asyncio.ensure_future(anext(batches))
        finally:
            await batches.aclose()

    async def _run(self) -> None:
        while not self._stopping():
            try:
                await self._watch_once()
            except Exception:
                if self._stopping():
                    break
                if not self._armed.is_set():
                    raise  # never armed: start() reports it
                # e.g. a root vanished between listing and watching; the next round re-lists
                log.warning("commit watcher: watch failed; re-arming", exc_info=True)
                await asyncio.sleep(0.05)


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0
