"""The composer's memory is the journal's: replay, a rebuilt session and the export see what it saw.

The demo session runs through the real ``anthropic`` client against the Anthropic simulator (whose
composer writes the digest in its decision). Then, from the journal alone: the memory each composer
call carried is rebuilt from the events before it, byte for byte; the replayed fold ends with the
same digest; the Markdown export ends with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from cockpit.bus import EventBus
from cockpit.demo import demo_plan
from cockpit.demo.scenario import builtin_scenario, project_files
from cockpit.demo.stack import start_sims
from cockpit.engine.memory import composer_context
from cockpit.engine.session import Session
from cockpit.events import DecisionProposed, DigestUpdated, DispatchFinished, DispatchStarted, Event
from cockpit.journal import Journal
from cockpit.replay import ReplayDriver
from cockpit.report import markdown
from cockpit.state import SessionState, fold
from tests.support.sessions import config_session

pytestmark = pytest.mark.slow


def context_of(body: dict[str, Any]) -> tuple[str, ...]:
    """The stable blocks of a composer request: every user text block but the request itself."""
    (msg,) = body["messages"]
    return tuple(b["text"] for b in msg["content"][:-1])


async def demo_run(
    tmp: Path, decide_with: Literal["text", "tool"] = "text", goal: str = ""
) -> tuple[Session, Journal, list[dict[str, Any]]]:
    """The demo's 4 PRs through the real clients and the simulators; the composer's request bodies."""
    stack = start_sims("builtin:demo", speed=0)
    try:
        session, journal = config_session(
            tmp,
            stack.config(decide_with=decide_with),
            demo_plan(builtin_scenario("demo"), 4),
            files=project_files("textkit"),
            goal=goal,
        )
        await session.run()
        return session, journal, stack.anthropic.message_bodies()
    finally:
        stack.close()


async def test_the_digest_is_rebuilt_from_the_journal_and_reaches_replay_and_export(tmp_path: Path) -> None:
    session, journal, bodies = await demo_run(tmp_path, goal="Grow textkit.")
    events = list(journal.read_events(session.id))
    digests = [e for e in events if isinstance(e, DigestUpdated)]
    assert [d.pr for d in digests] == [1, 2, 3, 4]  # one after each close, solo PR 4 included
    assert [d.source for d in digests] == ["composer", "composer", "composer", "auto"]
    assert "Abandoned (" in digests[2].text and digests[3].text.startswith(digests[2].text)

    # Each composer call carried exactly the memory the journal's events before it rebuild.
    state = SessionState()
    carried: list[tuple[str, ...]] = []
    for ev in events:
        if isinstance(ev, DispatchStarted) and ev.role == "composer":
            carried.append(composer_context(state))
        state.apply(ev)
    sent = [context_of(b) for b in bodies]
    for body in bodies:  # least-changing first, a cache breakpoint after each stable part
        (msg,) = body["messages"]
        assert [("cache_control" in b) for b in body["system"]] == [True]
        assert [("cache_control" in b) for b in msg["content"]] == [True] * (len(msg["content"]) - 1) + [
            False
        ]
        assert msg["content"][0]["text"].startswith("Session goal:")
    assert sent == carried, "a composer call carried a memory the journal does not rebuild"
    assert any("Session digest" in "".join(c) for c in sent)
    # A session rebuilt from the journal (what resume folds) remembers what the live one did.
    assert composer_context(fold(events)) == session.thread()
    assert fold(events).digest == digests[-1]

    # Replay: the same events, so the same digest, and the export ends with it.
    seen: list[Event] = []
    bus = EventBus()
    bus.subscribe(seen.append)
    await ReplayDriver(journal.path, session.id, bus, speed=0).run()
    assert fold(seen).digest == digests[-1]
    report = markdown(events)
    memory = report[report.index("## Composer memory at the end") :]
    assert "Grow textkit." in memory and "4 PRs closed: 3 merged, 1 abandoned" in memory
    for line in digests[-1].text.splitlines():
        assert f"> {line}" in memory


async def test_deciding_in_text_or_with_the_tool_reaches_the_same_decisions_and_text_costs_less(
    tmp_path: Path,
) -> None:
    """``decide_with = "text"`` (the default) and ``"tool"``: the same demo, the same decisions and
    digests, parsed from text or from the tool's input; text sends no tool and fewer tokens."""
    runs = {}
    for how in ("text", "tool"):
        session, journal, bodies = await demo_run(tmp_path / how, how)
        runs[how] = (list(journal.read_events(session.id)), bodies)

    def decisions(events: list[Event]) -> list[tuple[Any, ...]]:
        return [
            (e.pr, e.round, e.action, e.rationale, e.commit_message, e.brief, e.digest)
            for e in events
            if isinstance(e, DecisionProposed)
        ]

    (text_events, text_bodies), (tool_events, tool_bodies) = runs["text"], runs["tool"]
    assert decisions(text_events) == decisions(tool_events) and len(decisions(text_events)) == 4
    assert {e.parsed_from for e in text_events if isinstance(e, DecisionProposed)} == {"text"}
    assert {e.parsed_from for e in tool_events if isinstance(e, DecisionProposed)} == {"tool"}
    assert not any("tools" in b for b in text_bodies)
    assert sum("tools" in b for b in tool_bodies) == 4  # each decide call, and only those

    def composer_tokens(events: list[Event]) -> int:
        return sum(
            e.usage.input_tokens + e.usage.output_tokens
            for e in events
            if isinstance(e, DispatchFinished) and e.role == "composer"
        )

    assert composer_tokens(text_events) < composer_tokens(tool_events)
