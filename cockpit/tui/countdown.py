"""The demo's gate countdown: the gate the banner shows approves itself when its time runs out.

It exists so a newcomer who only watches `cockpit demo` still sees the whole session. Only the
gate on the banner counts down, from when the banner first shows it: a gate nobody can see
never approves itself. The first key or click stops it for good: from then on the human
decides. The clock is injected, so tests move time by hand instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable


class Countdown:
    def __init__(self, timeout_s: float, clock: Callable[[], float]) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self.stopped = False
        self._gate: str | None = None  # the gate counting down
        self._deadline: float | None = None  # None once it fired

    @property
    def active(self) -> bool:
        return self.timeout_s > 0 and not self.stopped

    def target(self, gate: str | None) -> None:
        """The banner shows ``gate`` (None: no gate); a newly shown gate gets the full time."""
        if not self.active or gate == self._gate:
            return
        self._gate = gate
        self._deadline = None if gate is None else self.clock() + self.timeout_s

    def closed(self, gate: str) -> None:
        if gate == self._gate:
            self._gate = self._deadline = None

    def stop(self) -> bool:
        """Stop the countdown for the rest of the session; True if this call stopped it."""
        if not self.active:
            return False
        self.stopped = True
        self._gate = self._deadline = None
        return True

    def remaining(self, gate: str) -> float | None:
        if gate != self._gate or self._deadline is None:
            return None
        return max(0.0, self._deadline - self.clock())

    def due(self) -> list[str]:
        """The gate whose time ran out, reported once (it keeps its place until it is closed)."""
        if self._gate is None or self._deadline is None or self.clock() < self._deadline:
            return []
        self._deadline = None
        return [self._gate]
