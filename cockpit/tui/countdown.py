"""The demo's gate countdown: an open gate approves itself when its time runs out.

It exists so a newcomer who only watches `cockpit demo` still sees the whole session. The first
key the human presses stops it for good: from then on they decide. The clock is injected, so
tests move time by hand instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable


class Countdown:
    def __init__(self, timeout_s: float, clock: Callable[[], float]) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self.stopped = False
        self._deadlines: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return self.timeout_s > 0 and not self.stopped

    def opened(self, gate: str) -> None:
        if self.active:
            self._deadlines[gate] = self.clock() + self.timeout_s

    def closed(self, gate: str) -> None:
        self._deadlines.pop(gate, None)

    def stop(self) -> bool:
        """Stop every countdown for the rest of the session; True if this call stopped it."""
        if not self.active:
            return False
        self.stopped = True
        self._deadlines.clear()
        return True

    def remaining(self, gate: str) -> float | None:
        deadline = self._deadlines.get(gate)
        return None if deadline is None else max(0.0, deadline - self.clock())

    def due(self) -> list[str]:
        """Gates whose time ran out; each is reported once."""
        now = self.clock()
        out = [g for g, d in self._deadlines.items() if d <= now]
        for g in out:
            del self._deadlines[g]
        return out
