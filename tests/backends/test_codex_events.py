"""The ``codex exec --json`` parser: every event and item type the CLI prints, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.backends.base import Output
from cockpit.backends.codex_events import CodexEventParser, loads_tolerant, unwrap_command, usage_from_codex
from cockpit.events import Usage


def line(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


def item(phase: str, **fields: Any) -> str:
    return line({"type": f"item.{phase}", "item": fields})


def feed_all(parser: CodexEventParser, lines: list[str]) -> list[Output]:
    outs: list[Output] = []
    for ln in lines:
        outs += parser.feed(ln)
    return outs


def test_thread_turn_and_usage() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            line({"type": "thread.started", "thread_id": "019a-thread"}),
            line({"type": "turn.started"}),
            line(
                {
                    "type": "turn.completed",
                    "usage": {
                        "input_tokens": 1200,
                        "cached_input_tokens": 800,
                        "cache_write_input_tokens": 10,
                        "output_tokens": 90,
                        "reasoning_output_tokens": 40,
                    },
                }
            ),
        ],
    )
    assert p.thread_id == "019a-thread"
    assert p.turn_completed
    assert p.usage_total == Usage(1200, 90, 800, 10, 40)
    assert [o.meta.get("type") for o in outs] == ["thread.started", "turn.completed"]
    assert outs[0].meta["thread_id"] == "019a-thread"


def test_usage_is_cumulative_per_thread_and_subtracted() -> None:
    first = CodexEventParser()
    first.feed(line({"type": "turn.completed", "usage": {"input_tokens": 1000, "output_tokens": 100}}))
    assert first.usage_since(None) == Usage(input_tokens=1000, output_tokens=100)
    second = CodexEventParser()  # the resumed round reports the thread's running total
    second.feed(
        line(
            {
                "type": "turn.completed",
                "usage": {"input_tokens": 3500, "cached_input_tokens": 900, "output_tokens": 160},
            }
        )
    )
    assert second.usage_since(first.usage_total) == Usage(
        input_tokens=2500, output_tokens=60, cached_input_tokens=900
    )
    assert CodexEventParser().usage_since(Usage(5, 5)) == Usage()  # no turn.completed: nothing known


def test_usage_with_wrong_field_types_reads_as_zero() -> None:
    assert usage_from_codex({"input_tokens": "12", "output_tokens": True, "cached_input_tokens": 3}) == Usage(
        cached_input_tokens=3
    )
    assert usage_from_codex(None) == Usage()


def test_agent_message_and_reasoning() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            item("completed", id="item_0", type="reasoning", text="**Planning**\n\nLook at the tests first."),
            item("completed", id="item_1", type="agent_message", text="I'll add the flag."),
            item("completed", id="item_5", type="agent_message", text="Done: the flag is added."),
        ],
    )
    assert [(o.channel, o.text) for o in outs] == [
        ("reasoning", "**Planning**\n\nLook at the tests first."),
        ("text", "I'll add the flag."),
        ("text", "Done: the flag is added."),
    ]
    assert p.final_message == "Done: the flag is added."


def test_a_message_growing_through_updates_is_passed_on_once_per_new_part() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            item("started", id="item_0", type="agent_message", text="Hel"),
            item("updated", id="item_0", type="agent_message", text="Hello wor"),
            item("completed", id="item_0", type="agent_message", text="Hello world"),
        ],
    )
    assert "".join(o.text for o in outs) == "Hello world"
    assert p.final_message == "Hello world"


def test_command_execution_started_then_completed() -> None:
    p = CodexEventParser()
    cmd = "/bin/bash -lc 'pytest -q tests/test_cli.py'"
    outs = feed_all(
        p,
        [
            item(
                "started",
                id="item_2",
                type="command_execution",
                command=cmd,
                aggregated_output="",
                exit_code=None,
                status="in_progress",
            ),
            item(
                "completed",
                id="item_2",
                type="command_execution",
                command=cmd,
                aggregated_output="1 failed\n",
                exit_code=1,
                status="failed",
            ),
        ],
    )
    assert outs[0] == Output(
        "command", "pytest -q tests/test_cli.py", {"id": "item_2", "command": outs[0].text}
    )
    assert outs[1].channel == "command_output"
    assert outs[1].text == "1 failed\n"
    assert outs[1].meta == {
        "id": "item_2",
        "command": "pytest -q tests/test_cli.py",
        "exit_code": 1,
        "status": "failed",
    }
    assert p.finish() == []


def test_a_command_seen_only_completed_still_announces_itself() -> None:
    p = CodexEventParser()
    outs = p.feed(
        item(
            "completed",
            id="item_3",
            type="command_execution",
            command="/bin/bash -lc ls",
            aggregated_output="a\n",
            exit_code=0,
            status="completed",
        )
    )
    assert [o.channel for o in outs] == ["command", "command_output"]
    assert outs[0].text == "ls"


def test_unwrap_command() -> None:
    assert unwrap_command("/bin/bash -lc 'git status --short'") == "git status --short"
    assert unwrap_command('/bin/bash -lc "echo \\"hi\\""') == 'echo "hi"'
    assert unwrap_command("bash -c ls") == "ls"
    assert unwrap_command("/usr/bin/zsh -lc 'a && b'") == "a && b"
    assert unwrap_command("python -c 'print(1)'") == "python -c 'print(1)'"
    assert unwrap_command("/bin/bash -lc 'unbalanced") == "/bin/bash -lc 'unbalanced"
    assert unwrap_command("ls -la") == "ls -la"


def test_file_change_paths_relative_to_the_worktree(tmp_path: Path) -> None:
    p = CodexEventParser(tmp_path)
    outs = p.feed(
        item(
            "completed",
            id="item_4",
            type="file_change",
            changes=[
                {"path": str(tmp_path / "src" / "app.py"), "kind": "update"},
                {"path": str(tmp_path / "NEW.md"), "kind": "add"},
                {"path": "/elsewhere/old.txt", "kind": "delete"},
            ],
            status="completed",
        )
    )
    assert len(outs) == 1
    assert outs[0].channel == "file_change"
    assert outs[0].meta["changes"] == [
        {"path": "src/app.py", "kind": "update"},
        {"path": "NEW.md", "kind": "add"},
        {"path": "/elsewhere/old.txt", "kind": "delete"},
    ]
    assert outs[0].text == "update src/app.py, add NEW.md, delete /elsewhere/old.txt"


def test_failed_file_change_is_marked() -> None:
    outs = CodexEventParser().feed(
        item(
            "completed",
            id="item_1",
            type="file_change",
            changes=[{"path": "x", "kind": "add"}],
            status="failed",
        )
    )
    assert outs[0].meta["status"] == "failed"
    assert outs[0].text.endswith("(failed)")


def test_todo_list_started_updated_completed() -> None:
    p = CodexEventParser()
    todos = [{"text": "read the code", "completed": False}, {"text": "write tests", "completed": False}]
    done = [{"text": "read the code", "completed": True}, {"text": "write tests", "completed": True}]
    outs = feed_all(
        p,
        [
            item("started", id="item_1", type="todo_list", items=todos),
            item("updated", id="item_1", type="todo_list", items=done),
            item("completed", id="item_1", type="todo_list", items=done),  # same list again: not repeated
        ],
    )
    assert [o.channel for o in outs] == ["plan", "plan"]
    assert outs[0].text == "[ ] read the code\n[ ] write tests"
    assert outs[1].text == "[x] read the code\n[x] write tests"
    assert outs[1].meta["items"] == done


def test_plan_item_and_plan_delta() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            line({"type": "item.plan.delta", "item_id": "item_9", "delta": "1. Do"}),
            item("completed", id="item_9", type="plan", text="1. Do the thing"),
        ],
    )
    assert [(o.channel, o.text) for o in outs] == [("plan", "1. Do"), ("plan", "1. Do the thing")]


def test_mcp_tool_call_success_and_error() -> None:
    p = CodexEventParser()
    base = {
        "id": "item_7",
        "type": "mcp_tool_call",
        "server": "docs",
        "tool": "search",
        "arguments": {"q": "x"},
    }
    outs = feed_all(
        p,
        [
            item("started", **base, result=None, error=None, status="in_progress"),
            item(
                "completed",
                **base,
                result={"content": [], "structured_content": None},
                error=None,
                status="completed",
            ),
            item(
                "completed",
                **{**base, "id": "item_8"},
                result=None,
                error={"message": "timed out"},
                status="failed",
            ),
        ],
    )
    assert [o.text for o in outs] == [
        "calling docs.search",
        "called docs.search",
        "docs.search failed: timed out",
    ]
    assert all(o.channel == "status" for o in outs)


def test_web_search_with_two_id_keys() -> None:
    raw = (
        '{"type":"item.completed","item":{"id":"item_3","type":"web_search","id":"ws_0a1b",'
        '"query":"textual log widget","action":{"type":"search","query":"textual log widget"}}}'
    )
    p = CodexEventParser()
    outs = p.feed(raw)
    assert outs == [
        Output(
            "status",
            "web search: textual log widget",
            {"type": "web_search", "id": "item_3", "phase": "completed"},
        )
    ]
    kept = loads_tolerant(raw)["item"]
    assert kept["id"] == "item_3" and kept["id#2"] == "ws_0a1b"  # the second id is kept, not lost


def test_error_item_is_a_warning() -> None:
    outs = CodexEventParser().feed(
        item("completed", id="item_0", type="error", message="Model metadata for `x` not found.")
    )
    assert outs == [
        Output("status", "Model metadata for `x` not found.", {"type": "error_item", "level": "warning"})
    ]


def test_top_level_errors_reconnecting_is_not_fatal() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            line({"type": "error", "message": "Reconnecting... 1/5 (stream disconnected before completion)"}),
            line({"type": "error", "message": "Reconnecting... waiting for network"}),
        ],
    )
    assert all(o.meta["reconnecting"] for o in outs)
    assert p.errors == [] and p.error_text == ""


def test_turn_failed_records_the_error() -> None:
    p = CodexEventParser()
    feed_all(
        p,
        [
            line({"type": "error", "message": 'unexpected status 400 Bad Request: {"error":"bad"}'}),
            line({"type": "turn.failed", "error": {"message": "unexpected status 400 Bad Request"}}),
        ],
    )
    assert p.failure == "unexpected status 400 Bad Request"
    assert p.error_text == p.failure
    assert p.errors == ['unexpected status 400 Bad Request: {"error":"bad"}']
    assert not p.turn_completed


def test_turn_failed_with_odd_error_shapes() -> None:
    p = CodexEventParser()
    p.feed(line({"type": "turn.failed", "error": "plain string"}))
    assert p.failure == "plain string"
    q = CodexEventParser()
    q.feed(line({"type": "turn.failed"}))
    assert q.failure == "the turn failed"


def test_unknown_events_and_item_types_pass_through_as_status() -> None:
    p = CodexEventParser()
    outs = feed_all(
        p,
        [
            line({"type": "request_user_input", "id": "t", "call_id": "c", "questions": []}),
            line({"type": "session.teleported", "where": "mars"}),
            item("started", id="item_2", type="collab_tool_call", tool="spawn_agent", status="in_progress"),
            line({"no_type": 1}),
        ],
    )
    assert [o.channel for o in outs] == ["status"] * 4
    assert [o.meta["type"] for o in outs] == [
        "request_user_input",
        "session.teleported",
        "collab_tool_call",
        "unknown",
    ]
    assert "mars" in outs[1].text
    assert "spawn_agent" in outs[2].text


def test_items_that_never_complete_are_reported_at_finish() -> None:
    p = CodexEventParser()
    p.feed(
        item(
            "started",
            id="item_4",
            type="command_execution",
            command="/bin/bash -lc 'sleep 100'",
            aggregated_output="",
            exit_code=None,
            status="in_progress",
        )
    )
    p.feed(item("started", id="item_5", type="todo_list", items=[]))
    outs = p.finish()
    assert [o.text for o in outs] == ["sleep 100: never completed", "todo_list: never completed"]
    assert outs[0].meta == {"type": "dangling", "item_type": "command_execution", "id": "item_4"}
    assert p.finish() == []


def test_bad_lines_are_reported_whole_and_parsing_goes_on() -> None:
    p = CodexEventParser()
    bad = '{"type":"item.completed","item":{"id":"item_0","type":"agent_mess'
    outs = feed_all(
        p, [bad, "[1, 2]", "plain text log line", "", line({"type": "thread.started", "thread_id": "t"})]
    )
    assert [o.meta.get("type") for o in outs] == [
        "invalid_json",
        "invalid_json",
        "invalid_json",
        "thread.started",
    ]
    assert outs[0].text == bad  # nothing is lost
    assert outs[2].text == "plain text log line"
    assert p.invalid_lines == 3
    assert p.thread_id == "t"


def test_item_that_is_not_an_object() -> None:
    outs = CodexEventParser().feed(line({"type": "item.completed", "item": ["x"]}))
    assert outs[0].channel == "status" and outs[0].meta["error"] == "item is not an object"


def test_fields_of_the_wrong_type_do_not_crash() -> None:
    p = CodexEventParser(Path("/tmp"))
    outs = feed_all(
        p,
        [
            item("completed", id=5, type="agent_message", text=None),
            item("completed", id="i", type="command_execution", command=["ls"], exit_code="0", status=1),
            item("completed", id="j", type="file_change", changes="all", status="completed"),
            item("completed", id="k", type="file_change", changes=[1, {"path": 2}], status="completed"),
            item("completed", id="l", type="todo_list", items=[None, {"text": 3}]),
            line({"type": "thread.started", "thread_id": 42}),
        ],
    )
    assert all(isinstance(o.text, str) for o in outs)
    cmd_out = next(o for o in outs if o.channel == "command_output")
    assert cmd_out.meta["exit_code"] is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
event_types = st.sampled_from(
    [
        "thread.started",
        "turn.started",
        "turn.completed",
        "turn.failed",
        "item.started",
        "item.updated",
        "item.completed",
        "item.plan.delta",
        "error",
        "other",
    ]
)
item_types = st.sampled_from(
    [
        "agent_message",
        "reasoning",
        "command_execution",
        "file_change",
        "todo_list",
        "mcp_tool_call",
        "web_search",
        "error",
        "plan",
        "collab_tool_call",
        "mystery",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_arbitrary_lines_never_raise(lines: list[str]) -> None:
    p = CodexEventParser(Path("/tmp"))
    for ln in lines:
        for o in p.feed(ln):
            assert isinstance(o.text, str)
            assert o.meta.get("type") != "unparsed", o
    p.finish()


@settings(max_examples=300, deadline=None)
@given(event_types, item_types, st.dictionaries(st.text(max_size=15), json_values, max_size=6), json_values)
def test_arbitrary_events_never_raise(kind: str, item_kind: str, fields: dict[str, Any], extra: Any) -> None:
    p = CodexEventParser(Path("/tmp"))
    event = {
        "type": kind,
        "item": {"type": item_kind, **fields},
        "usage": extra,
        "error": extra,
        "message": extra,
    }
    outs = p.feed(json.dumps(event)) + p.feed(json.dumps({**fields, "type": kind}))
    for o in outs:
        assert isinstance(o.text, str)
        assert o.meta.get("type") != "unparsed", o  # the last-resort guard is never what handles a shape
    p.usage_since(None)
    p.finish()
