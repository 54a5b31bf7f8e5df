"""Which gate the keys answer, and what the banner shows about it.

`a` answers the selected PR's gate, else the oldest open one. A gate answered here stays out of
the way until the engine's answer event arrives. The banner's gate is also the one the demo's
countdown runs for, and a gate only just on the banner ignores a double tap (``just_shown``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cockpit.engine.controls import GateAnswer, SessionControls
from cockpit.engine.gates import GateError
from cockpit.events import GateOpened
from cockpit.state import SessionState
from cockpit.tui.countdown import Countdown
from cockpit.tui.widgets.gate_banner import BannerView


class GateTargets:
    def __init__(self, countdown: Countdown, clock: Callable[[], float], settle_s: float) -> None:
        self.countdown = countdown
        self.clock = clock
        self.settle_s = settle_s
        self.answered: set[str] = set()  # answered here, the engine's answer not seen yet
        self._banner_gate: str | None = None  # the gate the banner shows, and since when
        self._banner_since = 0.0

    def target(self, s: SessionState, selected: int | None) -> tuple[GateOpened, str] | None:
        """The gate `a` answers (with why, when it is not the selected PR's)."""
        gates = [g for g in s.waiting_for_human() if g.gate not in self.answered]
        if not gates:
            return None
        for g in gates:
            if g.pr == selected:
                return g, ""
        why = "the oldest open gate" if len(gates) > 1 else "not the selected PR"
        return gates[0], why

    def just_shown(self, gate: str) -> bool:
        """True while ``gate`` is not yet the banner's, or only just became it (a double tap on
        `a` must not approve a gate that appeared under the finger)."""
        if gate != self._banner_gate:
            return True
        return self.clock() - self._banner_since < self.settle_s

    def mark_answered(self, gate: str) -> None:
        self.answered.add(gate)
        self.countdown.closed(gate)

    def closed(self, gate: str) -> None:
        """The engine recorded the answer."""
        self.countdown.closed(gate)
        self.answered.discard(gate)

    def forget_all_but(self, open_gates: set[str]) -> None:
        self.answered &= open_gates

    def banner_view(
        self, s: SessionState, selected: int | None, *, readonly: bool, keys: Mapping[str, str]
    ) -> BannerView | None:
        """What the banner shows. Drawing it is what starts its gate's countdown and settle time."""
        target = self.target(s, selected)
        shown = target[0].gate if target is not None else None
        if shown != self._banner_gate:
            self._banner_gate, self._banner_since = shown, self.clock()
        self.countdown.target(shown)
        if target is None:
            return None
        gate, why = target
        return BannerView(
            gate=gate,
            why=why,
            open_count=len(s.gates) - len(self.answered & set(s.gates)),
            countdown=self.countdown.remaining(gate.gate),
            countdown_stopped=self.countdown.stopped and self.countdown.timeout_s > 0,
            readonly=readonly,
            keys=keys,
        )

    def approve_timed_out(self, s: SessionState, controls: SessionControls | None, gate_id: str) -> bool:
        """The countdown ran out on ``gate_id``: approve it as the timeout. True if it did."""
        if controls is None or gate_id not in s.gates or gate_id in self.answered:
            return False
        try:
            controls.answer(gate_id, GateAnswer("approve", by="timeout"))
        except GateError:
            return False
        self.mark_answered(gate_id)
        return True
