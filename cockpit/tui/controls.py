"""What the app may ask of a live session. A replayed session has no controls: keys that would
change something say so instead, and everything else works the same."""

from __future__ import annotations

from typing import Protocol

from cockpit.engine.gates import GateAnswer
from cockpit.git.repo import Repo


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

    def pause(self) -> bool: ...

    def resume(self) -> bool: ...

    def interrupt(self, pr: int, /) -> bool: ...

    def skip(self, pr: int, /) -> bool: ...

    def add_pr(self, title: str, task: str, solo: bool = False, /) -> int: ...

    def stop(self) -> None: ...


class ReplayControls(Protocol):
    """What a replay lets the viewer change: only its own pace (``cockpit.replay.ReplayDriver``)."""

    @property
    def paused(self) -> bool: ...

    @property
    def speed(self) -> float: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def skip_to_end(self) -> None: ...
