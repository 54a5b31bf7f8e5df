"""Replay: a player for a journaled session. It feeds the session's events to a bus again, with
their timing, and lets a viewer pause, step, seek, jump between milestones and change speed.

The views cannot tell a replay from the live session: the same events reach the same reducer
and widgets (docs/architecture.md, invariant 1). A seek does not fold the session from its start: it asks the
journal for the nearest reduced-state checkpoint at or before the target, hands that state to
the views (``on_reset``), and publishes only the events between the checkpoint and the target.

Publishing never starves the screen: whatever the speed, the driver gives the event loop back
at least ``1 / SLICE_S`` times a second. ``follow`` reads a session another process is still
writing, and ends only after its ``session_finished`` event, or once its owner is gone and
everything it wrote has been shown.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import gc
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.bus import EventBus
from cockpit.checkpoints import Milestone
from cockpit.events import Event, SessionFinished
from cockpit.journal import Journal
from cockpit.state import SessionState

BATCH = 2000  # events read per query, so a long session starts at once
SLICE_S = 1 / 60  # the longest the driver publishes before it gives the loop back (>= 30 Hz)
MIN_WAIT_S = 0.002  # shorter waits add up instead (a timer per event would be the bottleneck)
LAG_S = 0.25  # a player that fell behind (a slow frame) does not burst to catch up more than this
IDLE_S = 2.0  # with skip-idle on, a longer gap of session time plays as this long
CONTEXT_EVENTS = 600  # a seek folds at least this many events before its target (the panes' tails)
SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
MILESTONE_KINDS: tuple[str, ...] = (
    "commit_seen",
    "verdict_parsed",
    "decision_proposed",
    "human_decision",
    "merged",
    "error",
)

Reset = Callable[[SessionState], None]


class ReplayDriver:
    def __init__(
        self,
        journal_path: Path,
        session: str,
        bus: EventBus,
        *,
        speed: float = 5.0,
        skip_idle: bool = True,
        max_gap_s: float | None = None,
        follow: bool = False,
        hold: bool = False,
        poll_s: float = 0.2,
        skip_kinds: tuple[str, ...] = (),
        skip_channels: tuple[str, ...] = (),
    ) -> None:
        self.journal_path = journal_path
        self.session = session
        self.bus = bus
        self.speed = math.inf if speed <= 0 else speed
        self.skip_idle = skip_idle
        self.max_gap_s = max_gap_s  # a cap on any wait, in wall seconds (tests)
        self.follow = follow
        self.hold = hold  # at the end, wait for a seek instead of returning (an interactive player)
        self.poll_s = poll_s
        self.skip_kinds = skip_kinds  # kinds no subscriber needs
        self.skip_channels = skip_channels  # output channels no subscriber shows (headless, quiet)
        self.position = 0  # the seq of the next event to publish: events [0, position) are shown
        self.published = 0
        self.finished = False  # session_finished has been published
        self.at_end = False
        self.on_reset: Reset | None = None  # a seek hands the views a new state here
        # At the end of a session whose owner died without finishing it, the views are told so
        # (the journal holds no end to fold: the dead process wrote none).
        self.on_owner_gone: Callable[[], None] | None = None
        self.last_t = 0.0  # the time of the last event shown
        self._journal: Journal | None = None
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._wake = asyncio.Event()  # a seek, a pause or a speed change cuts a wait short
        self._gen = 0  # bumped by every seek, so the loop re-reads from the new position
        self._milestones: list[Milestone] | None = None
        self._summary: dict[str, Any] | None = None
        self._total = 0
        self._start_t: float | None = None
        self._end_t: float | None = None

    # --- the journal ----------------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.journal_path)
        return self._journal

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    @property
    def total(self) -> int:
        """Events journaled so far (grows while a followed session is written)."""
        if not self._total or self.follow:
            self._total = self.journal.get_session(self.session).last_seq + 1
        return self._total

    def span(self) -> tuple[float, float]:
        """The session clock's start and end (the first and last journaled event times)."""
        if self._start_t is None or self._end_t is None or self.follow:
            self._start_t, self._end_t = self.journal.time_span(self.session)
        return self._start_t, self._end_t

    def milestones(self) -> list[Milestone]:
        """Commits, verdicts, decisions, human answers, merges and errors, in order."""
        if self._milestones is None or self.follow:
            self._milestones = [
                Milestone(seq, t, kind, pr)
                for seq, t, kind, pr in self.journal.event_index(self.session, MILESTONE_KINDS)
            ]
        return self._milestones

    def summary(self) -> dict[str, Any]:
        """The whole session's stored summary ({} while it has none: nothing is folded here)."""
        if self._summary is None or self.follow:
            self._summary = self.journal.stored_summary(self.session) or {}
        return self._summary

    def pr_numbers(self) -> list[int]:
        """The PRs the session opened, in order (what ``g`` can go to)."""
        return [
            pr for _, _, _, pr in self.journal.event_index(self.session, ("pr_opened",)) if pr is not None
        ]

    # --- pace -----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        self._unpaused.clear()
        self._poke()

    def resume(self) -> None:
        self._unpaused.set()
        self._poke()

    def toggle(self) -> bool:
        """space: play / pause; returns True when it now plays."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return not self.paused

    def set_speed(self, speed: float) -> None:
        self.speed = math.inf if speed <= 0 else speed
        self._poke()

    def faster(self) -> float:
        self.set_speed(next((s for s in SPEEDS if s > self.speed), SPEEDS[-1]))
        return self.speed

    def slower(self) -> float:
        self.set_speed(next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0]))
        return self.speed

    def toggle_skip_idle(self) -> bool:
        self.skip_idle = not self.skip_idle
        self._poke()
        return self.skip_idle

    def _poke(self) -> None:
        self._wake.set()

    def _gap(self, prev: float | None, now: float) -> float:
        """How long to wait before an event ``now - prev`` session seconds after the last one."""
        if prev is None or math.isinf(self.speed):
            return 0.0
        gap = max(0.0, now - prev)
        if self.skip_idle:
            gap = min(gap, IDLE_S)
        wait = gap / self.speed
        return wait if self.max_gap_s is None else min(wait, self.max_gap_s)

    # --- moving ---------------------------------------------------------------------------

    def seek(self, target: int) -> int:
        """Show exactly the events before seq ``target`` (clamped to the session); returns it.

        Forward within reach publishes the events in between; anything else starts the views
        again from the nearest checkpoint at least ``CONTEXT_EVENTS`` before the target.
        """
        target = max(0, min(target, self.total))
        if target == self.position:
            return target
        # A seek allocates a whole state and folds thousands of events: a full garbage collection
        # of the long session's heap in the middle of it tripled the slowest seeks, and the
        # objects made here are live until the next seek anyway.
        paused_gc = gc.isenabled()
        gc.disable()
        try:
            return self._seek(target)
        finally:
            if paused_gc:
                gc.enable()

    def _seek(self, target: int) -> int:
        j = self.journal
        # From a checkpoint some way before the target, so the panes show what led up to it.
        ckpt_seq, state = j.checkpoint_before(self.session, max(0, target - CONTEXT_EVENTS))
        if self.on_reset is None:  # views that cannot start again (a printer): forward only
            if target < self.position:
                return self.position
            start = self.position
        elif target > self.position and ckpt_seq < self.position:
            start = self.position  # nothing nearer to start from than where we are
        else:
            start = ckpt_seq
            self._reset(state if state is not None else SessionState())
        evs = j.read_events(
            self.session, start, to_seq=target, skip_kinds=self.skip_kinds, skip_channels=self.skip_channels
        )
        for ev in evs:
            self._publish(ev)
        self.position = target
        self.finished = self.finished and target >= self.total
        self.at_end = target >= self.total
        self._gen += 1
        self._poke()
        return target

    def _reset(self, state: SessionState) -> None:
        self.finished = False
        self.last_t = state.last_t
        if self.on_reset is not None:
            self.on_reset(state)

    def step(self, n: int) -> int:
        """← / →: pause and move ``n`` events."""
        self.pause()
        return self.seek(self.position + n)

    def home(self) -> int:
        return self.seek(0)

    def end(self) -> int:
        return self.seek(self.total)

    def skip_to_end(self) -> None:
        """Show everything left at once, and stop at the end (Ctrl-C in a headless replay)."""
        self.end()
        self.hold = False
        self.resume()

    def next_milestone(self) -> Milestone | None:
        """]: jump just past the next milestone (so its event is the last one shown)."""
        ms = self.milestones()
        i = bisect.bisect_left([m.seq for m in ms], self.position)
        if i >= len(ms):
            return None
        self.seek(ms[i].seq + 1)
        return ms[i]

    def prev_milestone(self) -> Milestone | None:
        """[: jump back to the milestone before the one last shown."""
        ms = self.milestones()
        i = bisect.bisect_left([m.seq for m in ms], self.position - 1) - 1
        if i < 0:
            self.seek(0)
            return None
        self.seek(ms[i].seq + 1)
        return ms[i]

    def goto_pr(self, pr: int) -> bool:
        """g: jump to where a PR starts (its first event shown). False when there is no such PR."""
        seq = self.journal.first_event_of_pr(self.session, pr)
        if seq is None:
            return False
        self.seek(seq + 1)
        return True

    # --- playing --------------------------------------------------------------------------

    def _publish(self, ev: Event) -> None:
        self.bus.publish([ev])
        self.published += 1
        self.position = ev.seq + 1
        self.last_t = ev.t
        if isinstance(ev, SessionFinished):
            self.finished = True

    async def _wait(self, seconds: float) -> bool:
        """Wait out a gap; False when a seek, pause or speed change cut it short."""
        self._wake.clear()
        gen = self._gen
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        else:
            await asyncio.sleep(0)
        return gen == self._gen and not self._wake.is_set() and not self.paused

    async def run(self) -> int:
        """Play to the end; return how many events were published.

        With ``hold`` the player waits at the end for a seek instead of returning.
        """
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._unpaused.wait()
                gen = self._gen
                owner_gone = self.follow and self._owner_gone()
                batch = self._read(self.position, BATCH)
                if not batch:
                    self.at_end = True
                    if not self.finished and self.on_owner_gone is not None and self._unfinished():
                        self.on_owner_gone()
                    ended = self.finished or not self.follow or owner_gone
                    if ended and not self.hold:
                        return self.published
                    self._wake.clear()
                    if ended:
                        await self._wake.wait()  # a seek moves us away from the end
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_s)
                    continue
                self.at_end = False
                if math.isinf(self.speed):  # as fast as possible: only the loop's share of time
                    slice_end = loop.time() + SLICE_S
                    for i, ev in enumerate(batch):
                        if gen != self._gen or self.paused:
                            break
                        if not i & 31 and loop.time() >= slice_end:
                            if not await self._wait(0) or gen != self._gen:
                                break
                            slice_end = loop.time() + SLICE_S
                        self._publish(ev)
                    continue
                prev_t: float | None = self.last_t if self.position > 0 else None
                due = now = loop.time()  # when the next event is due, on the loop's clock
                slice_end = now + SLICE_S
                for ev in batch:
                    if gen != self._gen or self.paused:
                        break
                    due = max(due + self._gap(prev_t, ev.t), now - LAG_S)
                    now = loop.time()
                    if due > now + MIN_WAIT_S or now >= slice_end:
                        if not await self._wait(max(0.0, due - now)):
                            break  # re-read from wherever the viewer moved us
                        now = loop.time()
                        slice_end = now + SLICE_S
                    if gen != self._gen:
                        break
                    self._publish(ev)
                    prev_t = ev.t
        finally:
            self.close()

    def _unfinished(self) -> bool:
        """The session's owner died without writing its end (``unfinished`` in every view)."""
        return self.journal.get_session(self.session).status == "unfinished"

    def _owner_gone(self) -> bool:
        """A followed session whose process is gone (finished or died) will never write again."""
        return self.journal.get_session(self.session).status != "running"

    def _read(self, from_seq: int, limit: int) -> list[Event]:
        out: list[Event] = []
        evs = self.journal.read_events(
            self.session, from_seq, skip_kinds=self.skip_kinds, skip_channels=self.skip_channels, batch=limit
        )
        for ev in evs:
            out.append(ev)
            if len(out) >= limit:
                break
        return out
