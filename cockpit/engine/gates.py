"""Human gates: the engine awaits a Future; a view (keys, stdin, --auto-approve) resolves it.

A gate is opened with a ``gate_opened`` event that says what is proposed, about which commit,
and which answers apply. The answer is journaled as ``human_decision`` before the engine acts
on it, so an audit shows who decided what, and when.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cockpit.engine.recorder import Recorder
from cockpit.engine.transitions import OPTIONS, auto_answer
from cockpit.events import Action, Answer, GateKind, GateOpened, HumanDecision

ACTIONS: tuple[Action, ...] = ("merge", "fix", "abandon")

NEVER_AUTO: frozenset[GateKind] = frozenset({"tamper"})  # --auto-approve only fails these


class GateError(ValueError):
    """An answer that does not fit the gate (unknown gate, closed, option not offered)."""


@dataclass(frozen=True)
class GateAnswer:
    answer: Answer
    action: str = ""  # override: merge | fix | abandon
    text: str | None = None  # edit / override: the replacement brief or commit message
    by: str = "human"


@dataclass(frozen=True)
class GateRequest:
    pr: int
    round: int
    kind: GateKind
    proposal: str  # what approve does
    text: str = ""
    commit: str = ""
    summary: str = ""
    split: bool = False


class Gates:
    def __init__(self, recorder: Recorder, *, auto_approve: bool = False, numbered_from: int = 0) -> None:
        self.recorder = recorder
        self.auto_approve = auto_approve
        self._open: dict[str, tuple[GateOpened, asyncio.Future[GateAnswer]]] = {}
        self._n = numbered_from

    def open_gates(self) -> list[GateOpened]:
        return [g for g, _ in self._open.values()]

    def gate_for_pr(self, pr: int) -> GateOpened | None:
        for g, _ in self._open.values():
            if g.pr == pr:
                return g
        return None

    async def ask(self, req: GateRequest) -> GateAnswer:
        self._n += 1
        gate_id = f"g{self._n}"
        options = list(OPTIONS[req.kind])
        opened = self.recorder.emit(
            GateOpened(
                pr=req.pr,
                gate=gate_id,
                gate_kind=req.kind,
                round=req.round,
                proposal=req.proposal,
                text=req.text,
                commit=req.commit,
                summary=req.summary,
                split=req.split,
                options=options,
            )
        )
        if self.auto_approve and req.kind in NEVER_AUTO and req.proposal != "fail":
            raise GateError(f"a {req.kind} gate must propose fail under --auto-approve")  # a cockpit bug
        if self.auto_approve:
            answer = GateAnswer(auto_answer(req.kind), by="auto")
        else:
            fut: asyncio.Future[GateAnswer] = asyncio.get_running_loop().create_future()
            self._open[gate_id] = (opened, fut)
            try:
                answer = await fut
            finally:
                self._open.pop(gate_id, None)
        self.recorder.emit(
            HumanDecision(
                pr=req.pr,
                gate=gate_id,
                answer=answer.answer,
                action=answer.action,
                text=answer.text,
                commit=req.commit,
                by=answer.by,
            )
        )
        return answer

    def answer(self, gate_id: str, answer: GateAnswer) -> None:
        """Resolve an open gate. Raises GateError when the answer does not fit."""
        entry = self._open.get(gate_id)
        if entry is None:
            raise GateError(f"gate {gate_id} is not open")
        gate, fut = entry
        if fut.done():
            raise GateError(f"gate {gate_id} is already answered")
        if answer.answer not in gate.options:
            raise GateError(
                f"{answer.answer!r} does not apply to a {gate.gate_kind} gate "
                f"(options: {', '.join(gate.options)})"
            )
        if answer.answer == "override" and answer.action not in ACTIONS:
            raise GateError(f"override needs an action: {', '.join(ACTIONS)}")
        if answer.answer == "edit" and not (answer.text or "").strip():
            raise GateError("edit needs the new text")
        fut.set_result(answer)
