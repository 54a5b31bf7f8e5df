"""What a view may ask of a session: the control interface, typed once, below every view.

The TUI, the headless prompt and the CLI drive a live session through ``SessionControls``; a
replay offers only ``ReplayControls`` (its own pace), so keys that would change something say so
instead, and everything else works the same. ``GateAnswer`` is a human's answer to a gate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from cockpit.bus import EventBus
from cockpit.checkpoints import Milestone
from cockpit.engine.gates import GateAnswer
from cockpit.events import GateOpened
from cockpit.git.repo import Repo
from cockpit.state import SessionState

if TYPE_CHECKING:  # the session module loads only where a session runs
    from cockpit.engine.session import SessionResult

__all__ = ["GateAnswer", "LiveSession", "ReplayControls", "ReplaySource", "SessionControls"]


class SessionControls(Protocol):
    """The control surface of ``cockpit.engine.session.Session`` that views use."""

    @property
    def finished(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    @property
    def repo(self) -> Repo: ...

    @property
    def base_branch(self) -> str: ...

    def answer(self, gate_id: str, answer: GateAnswer, /) -> None: ...

    def open_gates(self) -> list[GateOpened]: ...

    def pause(self) -> bool: ...

    def resume(self) -> bool: ...

    def interrupt(self, pr: int, /) -> bool: ...

    def skip(self, pr: int, /) -> bool: ...

    def add_pr(self, title: str, task: str, solo: bool = False, /) -> int: ...

    def stop(self) -> None: ...


class LiveSession(SessionControls, Protocol):
    """A session a view runs: its controls, the bus its events reach, and the run itself."""

    @property
    def bus(self) -> EventBus: ...

    async def run(self) -> SessionResult: ...


class ReplayControls(Protocol):
    """What a replay lets the viewer change: its pace and position (``cockpit.replay.ReplayDriver``).

    A seek hands the views a new state through ``on_reset`` before it publishes what follows."""

    on_reset: Callable[[SessionState], None] | None
    on_owner_gone: Callable[[], None] | None

    @property
    def paused(self) -> bool: ...

    @property
    def speed(self) -> float: ...

    @property
    def skip_idle(self) -> bool: ...

    @property
    def follow(self) -> bool: ...

    @property
    def position(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def last_t(self) -> float: ...

    @property
    def at_end(self) -> bool: ...

    def span(self) -> tuple[float, float]: ...

    def milestones(self) -> list[Milestone]: ...

    def pr_numbers(self) -> list[int]: ...

    def summary(self) -> dict[str, Any]: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def toggle(self) -> bool: ...

    def faster(self) -> float: ...

    def slower(self) -> float: ...

    def toggle_skip_idle(self) -> bool: ...

    def seek(self, target: int, /) -> int: ...

    def step(self, n: int, /) -> int: ...

    def home(self) -> int: ...

    def end(self) -> int: ...

    def next_milestone(self) -> Milestone | None: ...

    def prev_milestone(self) -> Milestone | None: ...

    def goto_pr(self, pr: int, /) -> bool: ...

    def skip_to_end(self) -> None: ...


class ReplaySource(ReplayControls, Protocol):
    """A replay a view runs: its pace controls, the bus it feeds, and the run (returns 0)."""

    @property
    def bus(self) -> EventBus: ...

    async def run(self) -> int: ...
