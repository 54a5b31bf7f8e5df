"""What an answer at a gate does: one table, gate kind × answer → the next step.

Every gate carries its ``proposal``: what approving it does. The table maps each answer a gate
offers to one of a few moves: do the proposal, do it with the human's text (``edit``), do the
human's chosen action (``override``), run the gate's step again (``retry``), or close the PR
(``skip``, ``abandon``, ``fail``). The pipeline then turns the move into its next step; nothing
else decides what an answer means.

A failure gate's proposal is the forward step: ``retry``, while the PR has had fewer than
``max_rounds`` failures, then ``fail``. Failing at once is the explicit ``fail`` answer. So
``--auto-approve`` retries a failure a bounded number of times and then fails the PR (exit 1).
A tamper gate (the writer touched what it must not) is never approved automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cockpit.events import Answer, GateKind

Move = Literal["proposal", "edit", "override", "retry", "skip", "abandon", "fail"]

TABLE: dict[str, dict[Answer, Move]] = {
    "brief": {"approve": "proposal", "edit": "edit", "retry": "retry", "skip": "skip", "abandon": "abandon"},
    "decision": {
        "approve": "proposal",
        "override": "override",
        "edit": "edit",
        "retry": "retry",
        "skip": "skip",
        "abandon": "abandon",
    },
    "merge": {
        "approve": "proposal",
        "override": "override",
        "edit": "edit",
        "skip": "skip",
        "abandon": "abandon",
    },
    "failure": {
        "approve": "proposal",
        "retry": "retry",
        "edit": "edit",
        "override": "override",
        "fail": "fail",
        "skip": "skip",
        "abandon": "abandon",
    },
    "moved": {"approve": "proposal", "fail": "fail", "skip": "skip", "abandon": "abandon"},
    "conflict": {
        "approve": "proposal",
        "retry": "retry",
        "override": "override",
        "fail": "fail",
        "skip": "skip",
        "abandon": "abandon",
    },
    # The writer changed the base branch, a hook or the config (restored); it proposes fail.
    "tamper": {"approve": "proposal", "retry": "retry", "fail": "fail", "skip": "skip", "abandon": "abandon"},
}

OPTIONS: dict[str, tuple[Answer, ...]] = {kind: tuple(answers) for kind, answers in TABLE.items()}


class UnknownAnswer(ValueError):
    """An answer the gate does not offer."""


@dataclass(frozen=True)
class Step:
    """What the pipeline does next. ``action``: a proposal word (write, merge, fix, abandon,
    review, decide, retry, fail), an override's action, or retry / skip / abandon / fail;
    ``edited``: the proposal goes ahead with the human's ``text``."""

    action: str
    text: str | None = None
    edited: bool = False


def resolve(
    kind: GateKind | str, proposal: str, answer: Answer, action: str = "", text: str | None = None
) -> Step:
    """The step an answer leads to at a gate of ``kind`` that proposed ``proposal``."""
    move = TABLE.get(str(kind), {}).get(answer)
    if move is None:
        raise UnknownAnswer(f"{answer!r} does not apply to a {kind} gate")
    if move == "proposal":
        return Step(proposal)
    if move == "edit":
        return Step(proposal, text, edited=True)
    if move == "override":
        return Step(action, text)
    return Step(move)


def failure_proposal(failures: int, max_rounds: int) -> str:
    """What approving the ``failures``-th failure gate of a PR does: retry, until it is the
    ``max_rounds``-th, then fail."""
    return "retry" if failures < max_rounds else "fail"


def auto_answer(kind: GateKind | str) -> Answer:
    """``--auto-approve``'s answer: approve, except at a tamper gate, which fails the PR."""
    return "fail" if str(kind) == "tamper" else "approve"
