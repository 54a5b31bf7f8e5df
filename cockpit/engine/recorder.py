"""The recorder: stamps events, coalesces stream text, journals, then publishes.

Events reach the bus only from the journal writer's commit callback, so nothing is shown that
is not on disk. Streaming text is coalesced per dispatch and channel for up to ``coalesce_s``
(a writer emitting thousands of tokens a second becomes ~20 events a second); any other event
flushes pending text first, so the journal's order is the order things happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from cockpit import faults
from cockpit.backends.base import Output
from cockpit.bus import EventBus
from cockpit.events import (
    Channel,
    DispatchFinished,
    DispatchOutput,
    Error,
    Event,
    GateOpened,
    encode,
    kind_of,
)
from cockpit.journal import Journal, JournalWriter
from cockpit.secret import Redactor
from cockpit.state import SessionState

E = TypeVar("E", bound=Event)

COALESCED_CHANNELS = frozenset({"text", "reasoning", "stderr", "command_output"})
MAX_BUFFER_CHARS = 64_000
MAX_DISPATCH_OUTPUT_CHARS = 8 * 1024 * 1024
"""Output stored per dispatch (issue 9): past it, output is dropped and counted, with a marker."""


@dataclass
class _Buffer:
    pr: int | None
    channel: Channel
    parts: list[str] = field(default_factory=list)
    size: int = 0
    handle: asyncio.TimerHandle | None = None


def _redact_strings(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string in a tree of builtins (an event's fields, keys included) through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_strings(v, redact) for v in value]
    if isinstance(value, dict):
        return {_redact_strings(k, redact): _redact_strings(v, redact) for k, v in value.items()}
    return value


class Recorder:
    def __init__(
        self,
        journal: Journal,
        session: str,
        bus: EventBus,
        *,
        coalesce_s: float = 0.05,
        clock: Callable[[], float] = time.time,
        secrets: Iterable[str] = (),
        state: SessionState | None = None,
        start_seq: int = 0,
    ) -> None:
        self.session = session
        # The engine's own view of the session: the reducer's fold of every event it emits
        # (folded as each is stamped, so the engine reads its state without waiting for disk).
        # A resumed session starts from the fold of its journal and numbers on from there.
        self.state = state if state is not None else SessionState()
        self.bus = bus
        self.coalesce_s = coalesce_s
        self.clock = clock
        self._loop = asyncio.get_running_loop()
        self._seq = start_seq
        # Known secret values, as they are and as they appear inside JSON (to find them in the
        # encoded event); token shapes are the Redactor's own.
        values = [v for v in secrets if v]
        self._redactor = Redactor([*values, *(json.dumps(v, ensure_ascii=False)[1:-1] for v in values)])
        self._buffers: dict[str, _Buffer] = {}
        self._stored: dict[str, int] = {}  # dispatch -> output characters journaled
        self._dropped: dict[str, int] = {}  # dispatch -> output characters dropped over the cap
        self.max_output_chars = MAX_DISPATCH_OUTPUT_CHARS
        self._writer: JournalWriter = journal.writer(session, self._committed, self._journal_error)
        self._closed = False

    def emit(self, event: E) -> E:
        """Stamp and journal ``event``; views receive it once it is committed."""
        if self._buffers:
            self.flush_outputs()
        if isinstance(event, DispatchFinished):
            self._stored.pop(event.dispatch, None)
            dropped = self._dropped.pop(event.dispatch, 0)
            if dropped:
                self._append(
                    DispatchOutput(
                        pr=event.pr,
                        dispatch=event.dispatch,
                        channel="status",
                        text=f"[cockpit: {dropped:,} characters of output dropped over the "
                        f"{self.max_output_chars:,}-character limit]",
                        meta={"type": "output_cut", "dropped": dropped, "limit": self.max_output_chars},
                    )
                )
        return self._append(event)

    def _append(self, event: E) -> E:
        stamped = msgspec.structs.replace(event, session=self.session, seq=self._seq, t=self.clock())
        stamped = self._redacted(stamped)
        self._seq += 1
        self.state.apply(stamped)
        self._writer.append(stamped)
        return stamped

    def _redacted(self, event: E) -> E:
        """The event with every secret replaced: known values and token shapes (a writer that ran
        `env`, a key pasted into a commit message). Done on the encoded JSON, so every field is
        covered, whatever the event's type."""
        if not self._redactor.has_secret(encode(event).decode("utf-8")):
            return event
        data = msgspec.to_builtins(event)
        data.pop("kind", None)
        return msgspec.convert(_redact_strings(data, self._redactor.redact), type=type(event))

    def output(self, dispatch: str, pr: int | None, out: Output) -> None:
        """A piece of a dispatch's stream. Plain text is coalesced; structured pieces are not.

        At most ``max_output_chars`` of a dispatch's output is stored: the piece that crosses the
        limit is cut, a marker says so, and the rest is only counted (the count is stored when
        the dispatch finishes). A piece larger than the coalescing buffer is stored in slices,
        so no single event holds megabytes.
        """
        out = self._capped(dispatch, pr, out)
        if not out.text and not out.meta:
            return
        if len(out.text) > MAX_BUFFER_CHARS and out.channel in COALESCED_CHANNELS and not out.meta:
            for i in range(0, len(out.text), MAX_BUFFER_CHARS):
                self._output(dispatch, pr, Output(out.channel, out.text[i : i + MAX_BUFFER_CHARS]))
            return
        self._output(dispatch, pr, out)

    def _capped(self, dispatch: str, pr: int | None, out: Output) -> Output:
        if dispatch in self._dropped:
            self._dropped[dispatch] += len(out.text)
            return Output(out.channel, "")
        stored = self._stored.get(dispatch, 0)
        room = self.max_output_chars - stored
        if len(out.text) <= room:
            self._stored[dispatch] = stored + len(out.text)
            return out
        kept = out.text[: max(room, 0)]
        self._stored[dispatch] = stored + len(kept)
        self._dropped[dispatch] = len(out.text) - len(kept)
        if kept:
            self._output(dispatch, pr, Output(out.channel, kept))
        self.flush_outputs(dispatch)
        self._append(
            DispatchOutput(
                pr=pr,
                dispatch=dispatch,
                channel="status",
                text=f"[cockpit: output cut at {self.max_output_chars:,} characters; the rest is not stored]",
                meta={"type": "output_cut", "limit": self.max_output_chars},
            )
        )
        return Output(out.channel, "")

    def _output(self, dispatch: str, pr: int | None, out: Output) -> None:
        buf = self._buffers.get(dispatch)
        if out.channel in COALESCED_CHANNELS and not out.meta:
            if buf is not None and buf.channel != out.channel:
                self._flush(dispatch)
                buf = None
            if buf is None:
                buf = _Buffer(pr, out.channel)
                buf.handle = self._loop.call_later(self.coalesce_s, self._flush, dispatch)
                self._buffers[dispatch] = buf
            buf.parts.append(out.text)
            buf.size += len(out.text)
            if buf.size >= MAX_BUFFER_CHARS:
                self._flush(dispatch)
            return
        if buf is not None:
            self._flush(dispatch)
        self._append(
            DispatchOutput(pr=pr, dispatch=dispatch, channel=out.channel, text=out.text, meta=dict(out.meta))
        )

    def flush_outputs(self, dispatch: str | None = None) -> None:
        for d in [dispatch] if dispatch is not None else list(self._buffers):
            if d in self._buffers:
                self._flush(d)

    def _flush(self, dispatch: str) -> None:
        buf = self._buffers.pop(dispatch, None)
        if buf is None:
            return
        if buf.handle is not None:
            buf.handle.cancel()
        text = "".join(buf.parts)
        if text:
            self._append(DispatchOutput(pr=buf.pr, dispatch=dispatch, channel=buf.channel, text=text))

    def _committed(self, batch: list[Event]) -> None:
        # Runs on the journal writer's thread: hand the batch to the loop that owns the views.
        if faults.FAULT_ENV in os.environ:  # crash tests only: die once this event is on disk
            for ev in batch:
                faults.at_event(kind_of(ev), ev.gate_kind if isinstance(ev, GateOpened) else "")
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            self._loop.call_soon_threadsafe(self.bus.publish, batch)

    def _journal_error(self, exc: BaseException) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._report_journal_error, exc)

    def _report_journal_error(self, exc: BaseException) -> None:
        # Shown to views directly: the event cannot go through the journal that is failing.
        err = Error(session=self.session, seq=-1, t=self.clock(), where="journal", message=str(exc))
        self.bus.publish([err])

    async def drain(self) -> None:
        """Wait until everything emitted so far is committed and published."""
        self.flush_outputs()
        await asyncio.to_thread(self._writer.flush)
        await asyncio.sleep(0)  # let the publish callbacks queued by the writer run

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.flush_outputs()
        await asyncio.to_thread(self._writer.close)  # commits (and publishes) everything first
        await asyncio.sleep(0)

    def close_now(self) -> None:
        """The same, blocking: for a shutdown that can no longer await (a forced quit)."""
        if self._closed:
            return
        self._closed = True
        self.flush_outputs()
        self._writer.close()

    @property
    def lost(self) -> int:
        """Events the journal could not write before it gave up at close (0 when all is well)."""
        return self._writer.lost
