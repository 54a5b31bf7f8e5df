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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from cockpit.backends.base import Output
from cockpit.bus import EventBus
from cockpit.events import Channel, DispatchOutput, Error, Event, encode
from cockpit.journal import Journal, JournalWriter

E = TypeVar("E", bound=Event)

REDACTED = b"[redacted]"
COALESCED_CHANNELS = frozenset({"text", "reasoning", "stderr", "command_output"})
MAX_BUFFER_CHARS = 64_000


@dataclass
class _Buffer:
    pr: int | None
    channel: Channel
    parts: list[str] = field(default_factory=list)
    size: int = 0
    handle: asyncio.TimerHandle | None = None


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
    ) -> None:
        self.session = session
        self.bus = bus
        self.coalesce_s = coalesce_s
        self.clock = clock
        self._loop = asyncio.get_running_loop()
        self._seq = 0
        # Known secret values, as they appear inside JSON; longest first so none hides another.
        self._secrets = sorted({json.dumps(v)[1:-1].encode() for v in secrets if v}, key=len, reverse=True)
        self._buffers: dict[str, _Buffer] = {}
        self._writer: JournalWriter = journal.writer(session, self._committed, self._journal_error)
        self._closed = False

    def emit(self, event: E) -> E:
        """Stamp and journal ``event``; views receive it once it is committed."""
        if self._buffers:
            self.flush_outputs()
        return self._append(event)

    def _append(self, event: E) -> E:
        stamped = msgspec.structs.replace(event, session=self.session, seq=self._seq, t=self.clock())
        if self._secrets:
            stamped = self._redacted(stamped)
        self._seq += 1
        self._writer.append(stamped)
        return stamped

    def _redacted(self, event: E) -> E:
        """The event with every known secret replaced (a writer that ran `env`, say)."""
        data = encode(event)
        if not any(secret in data for secret in self._secrets):
            return event
        for secret in self._secrets:
            data = data.replace(secret, REDACTED)
        return msgspec.json.decode(data, type=type(event))

    def output(self, dispatch: str, pr: int | None, out: Output) -> None:
        """A piece of a dispatch's stream. Plain text is coalesced; structured pieces are not."""
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
