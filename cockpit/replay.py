"""Replay: feed a journaled session's events to a bus again, with their timing, faster.

The views cannot tell a replay from the live session: the same events reach the same reducer
and widgets (docs/architecture.md, invariant 1). Gaps between events are divided by ``speed`` and capped at
``max_gap_s``, so a session that waited an hour at a gate replays in seconds. ``follow`` keeps
reading while the session is still being written (another process may be running it).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path

from cockpit.bus import EventBus
from cockpit.events import Event, SessionFinished
from cockpit.journal import Journal

BATCH = 2000  # events read per query, so a long session starts at once


class ReplayDriver:
    def __init__(
        self,
        journal_path: Path,
        session: str,
        bus: EventBus,
        *,
        speed: float = 5.0,
        max_gap_s: float = 2.0,
        follow: bool = False,
        poll_s: float = 0.2,
    ) -> None:
        self.journal_path = journal_path
        self.session = session
        self.bus = bus
        self.speed = speed
        self.max_gap_s = max_gap_s
        self.follow = follow
        self.poll_s = poll_s
        self.published = 0
        self.finished = False
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._skip = asyncio.Event()

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    def skip_to_end(self) -> None:
        """Publish everything left at once (a view's "end" key)."""
        self.speed = math.inf
        self._skip.set()
        self._unpaused.set()

    def set_speed(self, speed: float) -> None:
        self.speed = speed

    def _gap(self, prev: float | None, now: float) -> float:
        if prev is None or self.speed <= 0 or math.isinf(self.speed):
            return 0.0
        return max(0.0, min((now - prev) / self.speed, self.max_gap_s))

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._skip.wait(), seconds)

    async def run(self) -> int:
        """Publish every event; return how many. Reads in batches so a long session starts at once."""
        journal = Journal(self.journal_path)
        try:
            next_seq = 0
            prev_t: float | None = None
            while True:
                batch: list[Event] = self._read(journal, next_seq, BATCH)
                for ev in batch:
                    await self._unpaused.wait()
                    await self._wait(self._gap(prev_t, ev.t))
                    prev_t = ev.t
                    self.bus.publish([ev])
                    self.published += 1
                    next_seq = ev.seq + 1
                    if isinstance(ev, SessionFinished):
                        self.finished = True
                if self.finished:
                    return self.published
                if len(batch) < BATCH:  # read to the end of what is journaled so far
                    if not self.follow or self._owner_gone(journal):
                        return self.published
                    await asyncio.sleep(self.poll_s)
        finally:
            journal.close()

    def _owner_gone(self, journal: Journal) -> bool:
        """A followed session whose process died without finishing will never write again."""
        return journal.get_session(self.session).status not in ("running",)

    def _read(self, journal: Journal, from_seq: int, limit: int) -> list[Event]:
        out: list[Event] = []
        for ev in journal.read_events(self.session, from_seq):
            out.append(ev)
            if len(out) >= limit:
                break
        return out
