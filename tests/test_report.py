"""The Markdown audit report: a golden report of the recorded demo session, and the parts an audit
depends on (every attempt, each answer beside its gate, who answered)."""

from __future__ import annotations

import os
from pathlib import Path

from cockpit import events as E
from cockpit.report import markdown
from tests.tui.scenes import recorded_events

GOLDEN = Path(__file__).parent / "golden" / "demo_report.md"


def test_golden_report_of_the_demo_session() -> None:
    """Regenerate after a deliberate change: COCKPIT_UPDATE_GOLDEN=1 pytest tests/test_report.py"""
    md = markdown(recorded_events())
    if os.environ.get("COCKPIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(md, encoding="utf-8")
    assert md == GOLDEN.read_text(encoding="utf-8")
    assert "```mermaid\ngantt\n" in md and "section PR 2 Add wrap()" in md


def _story() -> list[E.Event]:
    """A PR whose writer is interrupted, retried through a failure gate, then merged on a countdown."""
    evs: list[E.Event] = []

    def add(cls: type[E.Event], **kw: object) -> None:
        evs.append(cls(session="s", seq=len(evs), t=100.0 + len(evs), **kw))  # type: ignore[arg-type]

    add(E.SessionStarted, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w")
    add(E.PrOpened, pr=1, title="Thing", task="Do it", branch="c/1")
    add(E.RoundStarted, pr=1, round=1, brief="Do it well")
    add(
        E.DispatchStarted,
        pr=1,
        dispatch="w1",
        role="writer",
        backend="codex",
        model="m",
        round=1,
        purpose="write",
    )
    add(E.InterruptRequested, pr=1, dispatch="w1", by="human")
    add(E.DispatchFinished, pr=1, dispatch="w1", role="writer", status="interrupted", error="stopped by you")
    add(
        E.GateOpened,
        pr=1,
        gate="g1",
        gate_kind="failure",
        round=1,
        proposal="retry",
        options=["retry", "skip"],
    )
    add(E.HumanDecision, pr=1, gate="g1", answer="retry", by="human")
    add(
        E.DispatchStarted,
        pr=1,
        dispatch="w2",
        role="writer",
        backend="codex",
        model="m",
        round=1,
        purpose="write",
    )
    add(E.DispatchFinished, pr=1, dispatch="w2", role="writer", status="ok", final_text="done")
    add(E.CommitSeen, pr=1, sha="c" * 40, parents=["b" * 40], message="Thing", branch="c/1")
    add(E.GateOpened, pr=1, gate="g2", gate_kind="merge", round=1, proposal="merge", options=["approve"])
    add(E.HumanDecision, pr=1, gate="g2", answer="approve", by="timeout")
    add(E.Merged, pr=1, sha="c" * 40, merge_sha="c" * 40, base_branch="main", fast_forward=True)
    add(E.PrClosed, pr=1, outcome="merged")
    add(E.SessionFinished, status="completed")
    return evs


def test_every_attempt_and_each_answer_beside_its_gate() -> None:
    md = markdown(_story())
    lines = md.splitlines()

    def at(text: str) -> int:
        return next(i for i, ln in enumerate(lines) if text in ln)

    assert "- Writer `codex:m`: **interrupted** after 0.0 s, 0 tokens — stopped by you" in lines
    assert "- interrupt of `w1` requested by you" in lines
    assert "- Writer `codex:m`, attempt 2: ok after 0.0 s, 0 tokens" in lines
    # The retry answer is on its gate's line, before the attempt it started.
    retry = at("Gate g1 (failure): approve would retry — answered **retry** by you")
    assert at("- interrupt of") < retry < at("attempt 2")
    assert at("Gate g2 (merge): approve would merge — answered **approve** by the countdown") > at(
        "commit `cccc"
    )
    assert "Human (" not in md
