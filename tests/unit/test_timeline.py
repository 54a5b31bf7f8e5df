"""The session as a picture: lanes per PR from the reducer's state, and the Mermaid gantt block."""

from __future__ import annotations

from cockpit.state import fold
from cockpit.timeline import lanes, mermaid_gantt
from tests.tui.scenes import recorded_events


def test_lanes_show_the_pipelining() -> None:
    s = fold(recorded_events())
    ls = {lane.pr: lane for lane in lanes(s, s.last_t)}
    assert sorted(ls) == [1, 2, 3, 4]
    writer1 = next(b for b in ls[1].bars if b.role == "writer")
    brief2 = next(b for b in ls[2].bars if b.role == "composer" and b.label == "brief")
    # PR 2's brief is composed while PR 1's writer writes.
    assert brief2.start < writer1.end and brief2.end > writer1.start
    assert {m.kind for m in ls[1].marks} >= {"commit", "answer", "merge"}
    assert [b.label for b in ls[2].bars].count("write") == 2  # two rounds
    assert any(m.kind == "closed" for m in ls[3].marks)  # abandoned


def test_mermaid_gantt_is_plain_names() -> None:
    md = mermaid_gantt(fold(recorded_events()))
    lines = md.splitlines()
    assert lines[:3] == ["```mermaid", "gantt", "    title Session 20250314-091500-demo"]
    assert lines[-1] == "```" and "    dateFormat X" in lines
    tasks = [ln for ln in lines if ln.startswith("    ") and " :" in ln]
    assert tasks and all(ln.count(":") == 1 and "#" not in ln for ln in tasks)
    assert "    section PR 1 Add slugify()" in lines
