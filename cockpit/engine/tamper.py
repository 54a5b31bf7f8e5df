"""The engine side of the guard (``git/guard.py``): when to look, what to journal, what is pending.

The guard is armed around every writer dispatch: the shared git dir's state is recorded when
the first writer starts, and checked when each one ends and at every commit the watcher sees
while one runs. Whatever changed is restored at once (before the user's next git command can
run a planted hook) and journaled as a ``tamper`` event; the PR then owes a ``tamper`` gate,
which the pipeline opens (``take``). While no writer runs, the base branch and the rest belong
to the user again: a merge then takes their current state as the one to hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cockpit.engine.recorder import Recorder
from cockpit.events import Tamper
from cockpit.git.guard import Guard, Restored
from cockpit.git.model import GitError

QUARANTINE_DIR = "cockpit-quarantine"  # inside the shared git dir, one folder per session


class TamperWatch:
    def __init__(self, common_dir: Path, session: str, base_branch: str, recorder: Recorder) -> None:
        self.guard = Guard(common_dir, session, common_dir / QUARANTINE_DIR / session)
        self.base_ref = f"refs/heads/{base_branch}"
        self.recorder = recorder
        self.lock = asyncio.Lock()
        self.armed = 0  # writer dispatches in flight
        self._pending: dict[int | None, list[str]] = {}

    async def arm(self) -> None:
        """A writer starts: record the state to hold (unless another writer already holds one)."""
        async with self.lock:
            if self.armed == 0:
                await asyncio.to_thread(self.guard.record)
            self.armed += 1

    async def disarm(self, pr: int) -> None:
        """A writer ended: check, and restore what it changed."""
        try:
            await self.check(pr, "after the writer")
        finally:
            self.armed = max(0, self.armed - 1)

    async def check(self, pr: int | None, found: str) -> bool:
        """Compare with the recorded state while a writer runs; True when something was restored."""
        async with self.lock:
            if self.armed == 0:
                return False
            return await self._check(pr, found)

    async def _check(self, pr: int | None, found: str) -> bool:
        try:
            done = await asyncio.to_thread(self.guard.check_and_restore)
        except GitError as exc:
            done = Restored([], problems=[f"the guard could not read the git dir: {exc}"])
        if done is None:
            return False
        self._journal(pr, found, done)
        return True

    def _journal(self, pr: int | None, found: str, done: Restored) -> None:
        changes = [c.describe() for c in done.changes]
        self.recorder.emit(
            Tamper(
                pr=pr,
                found=found,
                changes=changes,
                quarantine_refs=done.quarantine_refs,
                quarantine_dir=done.quarantine_dir,
                restored=done.restored,
                problems=done.problems,
            )
        )
        self._pending.setdefault(pr, []).extend(changes + done.problems)

    def pending(self, pr: int) -> bool:
        return bool(self._pending.get(pr))

    def take(self, pr: int) -> list[str]:
        """What the PR's tamper gate must show (cleared)."""
        return self._pending.pop(pr, [])

    @contextlib.asynccontextmanager
    async def merging(self, pr: int) -> AsyncIterator[str | None]:
        """Hold the guard for a merge; yields the base tip the merge must find (None: unknown).

        While a writer runs, the state is checked first (a restore puts the base branch back,
        and the PR then owes a gate: the caller sees ``pending``); while none runs, the current
        state is the one to hold. Cockpit's own merge is recorded with ``accepted``.
        """
        async with self.lock:
            if self.armed:
                await self._check(pr, "before the merge")
            else:
                await asyncio.to_thread(self.guard.record)
            yield self.guard.base_tip(self.base_ref.removeprefix("refs/heads/"))

    def accepted(self, new_tip: str) -> None:
        """Cockpit moved the base branch itself (a merge): the guard holds the new tip."""
        self.guard.accept_ref(self.base_ref, new_tip)
