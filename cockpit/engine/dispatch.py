"""Running one backend call as a dispatch: journaled, paused-aware, bounded and interruptible.

Every dispatch is its own task so it can be cancelled alone: a human interrupt cancels just
that task (status ``interrupted``), a timeout cancels it through ``asyncio.timeout`` (status
``timeout``); either way the backend's cleanup (killing a process group, closing a stream) runs
before the dispatch is recorded as finished. A cancellation of the caller itself (the session
stopping, a PR skipped) propagates after the dispatch is recorded as ``cancelled``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cockpit.backends.base import ComposeResult, DispatchError, Output, OutputSink, ReviewResult, WriteResult
from cockpit.engine.recorder import Recorder
from cockpit.events import (
    DispatchFinished,
    DispatchStarted,
    DispatchStatus,
    InterruptRequested,
    Purpose,
    Role,
    Usage,
)

T = TypeVar("T", WriteResult, ReviewResult, ComposeResult)


@dataclass
class Dispatched(Generic[T]):
    id: str
    status: DispatchStatus
    result: T | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.result is not None


@dataclass
class _Running:
    pr: int | None
    role: Role
    task: asyncio.Task[Any]
    interrupted: bool = False


class Dispatcher:
    def __init__(self, recorder: Recorder, *, numbered_from: int = 0) -> None:
        self.recorder = recorder
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._running: dict[str, _Running] = {}
        self._n = numbered_from  # a resumed session goes on after the ids its journal holds

    # --- pause -----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    async def wait_unpaused(self) -> None:
        await self._unpaused.wait()

    # --- queries ---------------------------------------------------------------------------

    def running(self, pr: int | None = None, role: Role | None = None) -> list[str]:
        return [
            d
            for d, r in self._running.items()
            if (pr is None or r.pr == pr) and (role is None or r.role == role)
        ]

    def interrupt(self, dispatch: str, by: str = "human") -> bool:
        run = self._running.get(dispatch)
        if run is None or run.task.done():
            return False
        run.interrupted = True
        self.recorder.emit(InterruptRequested(pr=run.pr, dispatch=dispatch, by=by))
        run.task.cancel()
        return True

    # --- running ---------------------------------------------------------------------------

    async def run(
        self,
        *,
        pr: int | None,
        round_no: int,
        role: Role,
        backend: str,
        model: str,
        purpose: Purpose,
        timeout_s: float,
        call: Callable[[OutputSink], Awaitable[T]],
        name: str = "",
        framing: str = "",
    ) -> Dispatched[T]:
        await self._unpaused.wait()
        self._n += 1
        did = f"d{self._n}"
        self.recorder.emit(
            DispatchStarted(
                pr=pr,
                dispatch=did,
                role=role,
                backend=backend,
                model=model,
                round=round_no,
                purpose=purpose,
                name=name or role,
                framing=framing,
            )
        )
        started = time.monotonic()

        def sink(out: Output) -> None:
            self.recorder.output(did, pr, out)

        task: asyncio.Task[T] = asyncio.ensure_future(call(sink))
        run = _Running(pr, role, task)
        self._running[did] = run
        status: DispatchStatus = "ok"
        result: T | None = None
        error = ""
        usage = Usage()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation of the
            # caller that lands in the same tick as the dispatch finishing (a skip would be lost).
            async with asyncio.timeout(timeout_s):
                result = await task
            usage = result.usage
        except TimeoutError:
            status, error = "timeout", f"no answer within {timeout_s:g} s"
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if run.interrupted and not (me is not None and me.cancelling()):
                status, error = "interrupted", "interrupted by a human"
            else:
                self._finish(did, role, pr, "cancelled", usage, "cancelled", started, None)
                raise
        except DispatchError as exc:
            status, error, usage = "failed", str(exc), exc.usage
        except Exception as exc:  # a backend bug: record it, keep the session alive
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        self._finish(did, role, pr, status, usage, error, started, result)
        return Dispatched(did, status, result, error)

    def _finish(
        self,
        did: str,
        role: Role,
        pr: int | None,
        status: DispatchStatus,
        usage: Usage,
        error: str,
        started: float,
        result: object,
    ) -> None:
        self._running.pop(did, None)
        final_text = ""
        thread_id = ""
        if isinstance(result, WriteResult):
            final_text, thread_id = result.final_message, result.thread_id
        elif isinstance(result, (ReviewResult, ComposeResult)):
            final_text = result.text
        self.recorder.emit(
            DispatchFinished(
                pr=pr,
                dispatch=did,
                role=role,
                status=status,
                usage=usage,
                error=error,
                final_text=final_text,
                thread_id=thread_id,
                elapsed_s=round(time.monotonic() - started, 3),
            )
        )
