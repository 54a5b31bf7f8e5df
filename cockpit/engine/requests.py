"""Requests through the journal: how a process that does not own a session answers it.

``cockpit attach`` and ``cockpit serve`` never write events (docs/architecture.md, invariant 1: the owner is
the only writer of its session's events). They write a row into the journal's ``requests``
table instead: a gate answer, pause, resume, interrupt or skip, with ``by`` naming where it came
from (``attach:PID@HOST``, ``browser:ADDRESS``). The owner polls that table a few times a second
and applies each request through the same control methods a key in its own terminal calls, so
the answer is journaled (``human_decision``, ``session_paused``, ...) exactly as if typed there.

First answer wins: a request is claimed by one conditional UPDATE before it is applied, and an
answer to a gate that is no longer open (answered at the owner's terminal, by an earlier request,
or by the clock) is rejected with a message written back to its row. Nothing is applied twice.

``RemoteControls`` is the other end: the control surface the cockpit's views call, writing
requests instead of acting, and reporting each request's outcome when the owner settles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal, Protocol, get_args

from cockpit.bus import EventBus
from cockpit.engine.gates import GateAnswer, GateError
from cockpit.events import (
    Answer,
    Event,
    GateOpened,
    HumanDecision,
    PrClosed,
    SessionFinished,
    SessionPaused,
    SessionResumed,
)
from cockpit.git.repo import Repo
from cockpit.journal import Journal, JournalError, RequestKind, RequestRow, SessionRow

POLL_S = 0.15  # how often the owner looks for requests, and a requester for their outcome
OWNER_CHECK_S = 1.0  # how often a requester checks that the owner is still there
_ANSWERS: frozenset[str] = frozenset(get_args(Answer))


def attach_identity() -> str:
    """``by`` for requests from a terminal: which process on which host asked."""
    return f"attach:{os.getpid()}@{socket.gethostname()}"


class OwnerControls(Protocol):
    """What the owning session offers the poller: ``cockpit.engine.session.Session``'s controls."""

    @property
    def id(self) -> str: ...

    @property
    def bus(self) -> EventBus: ...

    def answer(self, gate_id: str, answer: GateAnswer, /) -> None: ...

    def pause(self, by: str = ...) -> bool: ...

    def resume(self, by: str = ...) -> bool: ...

    def interrupt(self, pr: int, by: str = ...) -> bool: ...

    def skip(self, pr_n: int, by: str = ...) -> bool: ...


class RequestPoller:
    """Runs in the owning process: applies the session's requests in order, settles each row."""

    def __init__(self, journal_path: Path, owner: OwnerControls, *, poll_s: float = POLL_S) -> None:
        self.journal_path = journal_path
        self.owner = owner
        self.poll_s = poll_s
        self.applied = 0
        self.rejected = 0
        self._decided: dict[str, HumanDecision] = {}
        # Claimed but not yet settled: None until applied, then "" (applied) or why it was not.
        self._inflight: dict[int, str | None] = {}
        self._journal: Journal | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = owner.bus.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, HumanDecision):
            self._decided[ev.gate] = ev

    def start(self) -> None:
        self._journal = Journal(self.journal_path)
        self._task = asyncio.create_task(self._run(), name=f"requests-{self.owner.id}")

    def stop(self) -> None:
        """Apply nothing more (synchronous, so a forced quit cannot skip it)."""
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()

    async def aclose(self, reason: str = "the session has finished") -> None:
        """Stop polling; whatever is still pending is rejected with ``reason``."""
        self.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        journal, self._journal = self._journal, None
        if journal is None:
            return
        try:
            # A request caught between its claim and its settling (the poller was cancelled at an
            # await) is settled by what happened to it; one never applied is refused.
            for rid, outcome in list(self._inflight.items()):
                status: Literal["applied", "rejected"] = "applied" if outcome == "" else "rejected"
                message = reason if outcome is None else outcome
                await asyncio.to_thread(journal.settle_request, rid, status, message)
            self._inflight.clear()
            for req in await asyncio.to_thread(journal.pending_requests, self.owner.id):
                await asyncio.to_thread(journal.settle_request, req.id, "rejected", reason)
                self.rejected += 1
        except JournalError:
            pass  # the journal itself is failing; the session's end says so elsewhere
        finally:
            journal.close()

    async def _run(self) -> None:
        assert self._journal is not None
        journal = self._journal
        seen: int | None = None
        while True:
            try:
                # data_version moves only when another connection commits: while nothing was
                # written, a poll costs one pragma and no query.
                version = journal.data_version()
                if version != seen:
                    seen = version
                    for req in await asyncio.to_thread(journal.pending_requests, self.owner.id):
                        await self._handle(journal, req)
            except JournalError:
                pass  # busy past the timeout, say: the next poll tries again, nothing is lost
            await asyncio.sleep(self.poll_s)

    async def _handle(self, journal: Journal, req: RequestRow) -> None:
        self._inflight[req.id] = None
        if not await asyncio.to_thread(journal.claim_request, req.id):
            del self._inflight[req.id]
            return  # settled by someone else (its requester gave up on a vanished owner)
        try:
            message = self.apply(req)
        except Exception as exc:  # a bug must not stop the poller, nor leave the row claimed
            message = f"{type(exc).__name__}: {exc}"
        self._inflight[req.id] = message
        ok = message == ""
        await asyncio.to_thread(journal.settle_request, req.id, "applied" if ok else "rejected", message)
        del self._inflight[req.id]
        if ok:
            self.applied += 1
        else:
            self.rejected += 1

    def apply(self, req: RequestRow) -> str:
        """Apply one request as if typed at the owner's terminal; "" when applied, else why not."""
        o = self.owner
        if req.kind == "answer":
            if req.answer not in _ANSWERS:
                return f"unknown answer {req.answer!r}"
            answer = GateAnswer(req.answer, action=req.action, text=req.text, by=req.by)  # type: ignore[arg-type]
            try:
                o.answer(req.gate, answer)
            except GateError as exc:
                done = self._decided.get(req.gate)
                if done is not None:
                    return f"gate {req.gate} was already answered: {done.answer} by {done.by}"
                return str(exc)
            return ""
        if req.kind == "pause":
            return "" if o.pause(by=req.by) else "the session is already paused, or not running"
        if req.kind == "resume":
            return "" if o.resume(by=req.by) else "the session is not paused"
        if req.kind in ("interrupt", "skip") and req.pr is None:
            return f"{req.kind} needs a PR"
        if req.kind == "interrupt":
            assert req.pr is not None
            return "" if o.interrupt(req.pr, by=req.by) else f"PR {req.pr} has no writer running"
        if req.kind == "skip":
            assert req.pr is not None
            return "" if o.skip(req.pr, by=req.by) else f"PR {req.pr} is closed or does not exist"
        return f"unknown request {req.kind!r}"


# --- the requester's side ------------------------------------------------------------------------

Settled = Callable[[RequestRow], None]


class RemoteControls:
    """The controls of a session another process owns: every change becomes a request.

    Views call these exactly like a live session's controls. ``answer`` and friends return as
    soon as the request is written; the owner's answer shows up as journaled events, and
    ``on_settled`` hears each request's outcome (a rejection carries its reason)."""

    def __init__(
        self,
        journal_path: Path,
        row: SessionRow,
        bus: EventBus,
        *,
        by: str,
        read_only: bool = False,
        poll_s: float = POLL_S,
    ) -> None:
        self.journal_path = journal_path
        self.row = row
        self.by = by
        self.read_only = read_only
        self.poll_s = poll_s
        self.on_settled: Settled | None = None
        self.on_refused: Callable[[str], None] | None = None
        self._journal = Journal(journal_path)
        self._outstanding: dict[int, str] = {}
        self._finished = row.status not in ("running",)
        self._paused = False
        self._gates: dict[str, GateOpened] = {}  # open as far as the journal has said
        self._repo: Repo | None = None
        bus.subscribe(self._on_event)

    @property
    def owner(self) -> str:
        """ "pid N on host H": whose session this is."""
        return f"pid {self.row.owner_pid} on host {self.row.owner_host}"

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, GateOpened):
            self._gates[ev.gate] = ev
        elif isinstance(ev, HumanDecision):
            self._gates.pop(ev.gate, None)
        elif isinstance(ev, PrClosed):
            self._gates = {k: g for k, g in self._gates.items() if g.pr != ev.pr}
        elif isinstance(ev, SessionFinished):
            self._finished = True
            self._gates.clear()
        elif isinstance(ev, SessionPaused):
            self._paused = True
        elif isinstance(ev, SessionResumed):
            self._paused = False

    # --- SessionControls ---------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def repo(self) -> Repo:
        if self._repo is None:
            self._repo = Repo.open(Path(self.row.repo))
        return self._repo

    @property
    def base_branch(self) -> str:
        return self.row.base_branch

    def answer(self, gate_id: str, answer: GateAnswer, /) -> None:
        if self.read_only:
            raise GateError("this view is read-only: answers are refused here")
        a = dataclasses.replace(answer, by=self.by)
        try:
            self._request("answer", gate=gate_id, answer=a.answer, action=a.action, text=a.text)
        except JournalError as exc:
            raise GateError(str(exc)) from exc

    def open_gates(self) -> list[GateOpened]:
        return sorted(self._gates.values(), key=lambda g: g.seq)

    def pause(self) -> bool:
        return self._control("pause")

    def resume(self) -> bool:
        return self._control("resume")

    def interrupt(self, pr: int, /) -> bool:
        return self._control("interrupt", pr)

    def skip(self, pr: int, /) -> bool:
        return self._control("skip", pr)

    def add_pr(self, title: str, task: str, solo: bool = False, /) -> int:
        from cockpit.engine.session import SessionError

        raise SessionError("PRs are added in the terminal that owns the session")

    def stop(self) -> None:
        """Leaving an attached view never stops the session: it belongs to its owner."""

    # --- requests ------------------------------------------------------------------------------

    def _control(self, kind: RequestKind, pr: int | None = None) -> bool:
        if self.read_only:
            self._refused("this view is read-only: nothing can be changed here")
            return False
        try:
            self._request(kind, pr=pr)
        except JournalError as exc:
            self._refused(str(exc))
            return False
        return True

    def _refused(self, message: str) -> None:
        if self.on_refused is not None:
            self.on_refused(message)

    def _request(
        self,
        kind: RequestKind,
        *,
        gate: str = "",
        pr: int | None = None,
        answer: str = "",
        action: str = "",
        text: str | None = None,
    ) -> int:
        rid = self._journal.add_request(
            self.row.id, kind, by=self.by, gate=gate, pr=pr, answer=answer, action=action, text=text
        )
        self._outstanding[rid] = kind
        return rid

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """While inside, report each outstanding request's outcome through ``on_settled``."""
        task = asyncio.create_task(self._watch(), name=f"request-outcomes-{self.row.id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        last_owner_check = 0.0
        while True:
            await asyncio.sleep(self.poll_s)
            if not self._outstanding:
                continue
            with contextlib.suppress(JournalError):
                self.check()
                now = time.monotonic()
                if now - last_owner_check >= OWNER_CHECK_S:
                    last_owner_check = now
                    self._give_up_if_owner_gone()

    def check(self) -> list[RequestRow]:
        """Report requests settled since the last check."""
        done = [r for r in self._journal.requests(self._outstanding) if r.status in ("applied", "rejected")]
        for r in done:
            self._outstanding.pop(r.id, None)
            if self.on_settled is not None:
                self.on_settled(r)
        return done

    def _give_up_if_owner_gone(self) -> None:
        """An owner that died never settles anything: its requests are rejected here instead."""
        if self._journal.get_session(self.row.id).status == "running":
            return
        for rid in list(self._outstanding):
            self._journal.settle_request(rid, "rejected", f"the session's owner ({self.owner}) has stopped")
        self.check()

    def close(self) -> None:
        self._journal.close()
