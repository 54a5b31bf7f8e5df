"""The Responses API simulator over real HTTP (httpx), as the Codex CLI would drive it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.demo.scenario import parse_scenario
from cockpit.tokens import estimate_tokens
from tests.support.responses_sim import (
    BadRequest,
    Fault,
    ResponsesSim,
    add_file_patch,
    parse_exec_output,
    read_turn,
    update_file_patch,
)

KEY = "sk-test"
SCENARIO = parse_scenario(
    """
name = "unit"
[[pr]]
title = "Add greeting"
task = "Add a greeting module"
[[pr.round]]
[pr.round.writer]
outcome = "commit"
message = "Added greet.py."
commit_message = "Add greeting module"
delete = ["old.txt"]
[[pr.round.writer.steps]]
think = "A module with one function will do."
[[pr.round.writer.steps]]
plan = ["Write greet.py", "Commit"]
[[pr.round.writer.steps]]
say = "Writing the module."
[[pr.round.writer.steps]]
run = "ls"
[[pr.round.writer.steps]]
edit = "greet.py"
[pr.round.writer.files]
"greet.py" = "def greet(name):\\n    return f'hello {name}'\\n"
[pr.round.writer.usage]
reasoning_tokens = 700
[[pr.round]]
[pr.round.writer]
outcome = "no_commit"
message = "Nothing to change."
[[pr.round.writer.steps]]
run = "git status"

[[pr]]
title = "Broken"
task = "It fails"
[[pr.round]]
[pr.round.writer]
outcome = "fail"
error = "model exploded"
[[pr.round.writer.steps]]
think = "Hmm."

[[pr]]
title = "Stuck"
task = "It hangs"
[[pr.round]]
[pr.round.writer]
outcome = "hang"
[[pr.round.writer.steps]]
say = "Looking."

[[pr]]
title = "Dirty"
task = "Leaves changes"
[[pr.round]]
[pr.round.writer]
outcome = "dirty"
message = "Left it uncommitted."
[pr.round.writer.files]
"a.txt" = "a\\n"
"""
)

ENV_TEXT = "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"
SYSTEM: dict[str, Any] = {
    "type": "message",
    "role": "developer",
    "content": [{"type": "input_text", "text": "You are Codex."}],
}
ENV: dict[str, Any] = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": ENV_TEXT}],
}
TOOLS = [
    {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
    {"type": "custom", "name": "apply_patch"},
]


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def body(items: list[dict[str, Any]], stream: bool = True) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "stream": stream,
        "store": False,
        "input": [SYSTEM, ENV, *items],
        "tools": TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Parse an SSE body strictly: every block has one event line and one JSON data line that agree."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        data = json.loads(lines[1][len("data: ") :])
        assert data["type"] == lines[0][len("event: ") :]
        events.append(data)
    return events


def tool_output(item: dict[str, Any], output: str) -> dict[str, Any]:
    kind = "custom_tool_call_output" if item["type"] == "custom_tool_call" else "function_call_output"
    return {"type": kind, "call_id": item["call_id"], "output": output}


def exec_result(code: int, out: str) -> str:
    return (
        f"Chunk ID: abc123\nWall time: 0.01 seconds\nProcess exited with code {code}\n"
        f"Original token count: 3\nOutput:\n{out}"
    )


@pytest.fixture
async def sim() -> AsyncIterator[ResponsesSim]:
    async with ResponsesSim(SCENARIO, speed=0, api_key=KEY) as s:
        yield s


@pytest.fixture
async def client(sim: ResponsesSim) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=sim.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    ) as c:
        yield c


async def post(client: httpx.AsyncClient, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = await client.post("/responses", json=body(items))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/event-stream"
    return parse_sse(r.text)


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "response.output_item.done"]


async def play_turn(
    client: httpx.AsyncClient,
    prompt: str,
    reads: dict[str, str] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Drive a whole turn like the CLI: send each tool call's output back until a response has none."""
    items = [*(history or []), user(prompt)]
    responses: list[list[dict[str, Any]]] = []
    for _ in range(30):
        events = await post(client, items)
        responses.append(events)
        out = done_items(events)
        items += out
        calls = [i for i in out if i["type"] in ("function_call", "custom_tool_call")]
        if not calls:
            return items, responses
        assert len(calls) == 1, "one tool call per response"
        call = calls[0]
        if call["type"] == "function_call" and json.loads(call["arguments"]).get("cmd", "").startswith(
            "cat -- "
        ):
            path = json.loads(call["arguments"])["cmd"].split()[2]
            items.append(tool_output(call, exec_result(0, (reads or {}).get(path, ""))))
        else:
            items.append(tool_output(call, exec_result(0, "ok\n")))
    raise AssertionError("turn never ended")


async def test_sse_shape_of_a_streamed_response(client: httpx.AsyncClient) -> None:
    events = await post(client, [user("PR 1: Add greeting\nRound 1\n\nDo it.")])
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "in_progress"
    # reasoning streams its summary, then the plan call ends the response
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert deltas == "A module with one function will do."
    items = done_items(events)
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "A module with one function will do."}]
    plan = items[1]
    assert plan["name"] == "update_plan"
    assert json.loads(plan["arguments"]) == {
        "plan": [{"step": "Write greet.py", "status": "in_progress"}, {"step": "Commit", "status": "pending"}]
    }
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1] and added[1]["item"]["arguments"] == ""
    completed = events[-1]["response"]
    assert completed["status"] == "completed" and completed["output"] == items
    assert completed["id"] == events[0]["response"]["id"]


async def test_whole_turn_state_machine(client: httpx.AsyncClient) -> None:
    items, responses = await play_turn(client, "PR 1: Add greeting\nRound 1\n\nDo it.")
    calls = [i for i in items if i["type"] in ("function_call", "custom_tool_call")]
    described = [
        (c["name"], json.loads(c["arguments"]).get("cmd") if c["type"] == "function_call" else None)
        for c in calls
    ]
    assert described == [
        ("update_plan", None),
        ("exec_command", "ls"),
        ("exec_command", "cat -- greet.py 2>/dev/null || true"),
        ("apply_patch", None),
        ("apply_patch", None),
        ("exec_command", "git add -A && git commit -q -m 'Add greeting module'"),
    ]
    assert calls[3]["input"] == add_file_patch("greet.py", "def greet(name):\n    return f'hello {name}'\n")
    assert calls[4]["input"] == "*** Begin Patch\n*** Delete File: old.txt\n*** End Patch\n"
    assert len({c["call_id"] for c in calls}) == len(calls)
    # the "say" step rides along with the next tool call; the final message ends the turn
    messages = [i for i in items if i["type"] == "message" and i.get("role") == "assistant"]
    assert [m["content"][0]["text"] for m in messages] == ["Writing the module.", "Added greet.py."]
    deltas = "".join(e["delta"] for e in responses[-1] if e["type"] == "response.output_text.delta")
    assert deltas == "Added greet.py."
    assert len(responses) == 7


async def test_edit_of_an_existing_file_is_an_update_replacing_every_line(client: httpx.AsyncClient) -> None:
    old = "def greet():\n    pass\n"
    items, _ = await play_turn(client, "PR 1: Add greeting\nRound 1", reads={"greet.py": old})
    patch = next(i for i in items if i["type"] == "custom_tool_call" and "greet.py" in i["input"])
    assert patch["input"] == update_file_patch(
        "greet.py", old, "def greet(name):\n    return f'hello {name}'\n"
    )
    assert patch["input"] == (
        "*** Begin Patch\n*** Update File: greet.py\n@@\n-def greet():\n-    pass\n"
        "+def greet(name):\n+    return f'hello {name}'\n*** End Patch\n"
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (exec_result(0, "a\nb\n"), (0, "a\nb\n")),
        (exec_result(1, ""), (1, "")),
        ("Chunk ID: x\nProcess running with session ID 3\nOutput:\npartial", None),  # not finished
        (exec_result(0, "start…1200 tokens truncated…end"), None),  # cut short: the old lines are unknown
        ("something else entirely", None),
    ],
)
def test_parse_exec_output(output: str, expected: tuple[int, str] | None) -> None:
    assert parse_exec_output(output) == expected


async def test_an_unreadable_file_is_written_whole_with_add_file(client: httpx.AsyncClient) -> None:
    items = [user("PR 1: Add greeting\nRound 1")]
    for _ in range(3):  # plan, ls, then the read of greet.py
        out = done_items(await post(client, items))
        items += [*out, tool_output(out[-1], exec_result(0, "ok\n"))]
    assert json.loads(items[-2]["arguments"])["cmd"].startswith("cat -- greet.py")
    items[-1] = tool_output(items[-2], exec_result(0, "x…99999 tokens truncated…y"))
    patch = done_items(await post(client, items))[-1]
    assert patch["input"].startswith("*** Begin Patch\n*** Add File: greet.py\n")


async def test_resumed_thread_plays_the_new_round_after_the_old_turn(client: httpx.AsyncClient) -> None:
    history, _ = await play_turn(client, "PR 1: Add greeting\nRound 1")
    items, responses = await play_turn(client, "PR 1: Add greeting\nRound 2", history=history)
    new = items[len(history) + 1 :]
    calls = [i for i in new if i["type"] == "function_call"]
    assert [json.loads(c["arguments"])["cmd"] for c in calls] == ["git status"]  # no_commit: no edits
    assert new[-1]["content"][0]["text"] == "Nothing to change."
    assert not {c["call_id"] for c in calls} & {i.get("call_id") for i in history}
    usage = responses[-1][-1]["response"]["usage"]
    assert usage["input_tokens_details"]["cached_tokens"] > 0


async def test_a_call_without_output_is_asked_again(client: httpx.AsyncClient) -> None:
    """Stateless: the same history gets the same answer, whatever came before."""
    first = done_items(await post(client, [user("PR 1: Add greeting\nRound 1")]))
    again = done_items(await post(client, [user("PR 1: Add greeting\nRound 1")]))
    assert first == again


async def test_usage_is_counted_from_the_request(client: httpx.AsyncClient) -> None:
    prompt = user("PR 1: Add greeting\nRound 1\n\n" + "word " * 400)
    events = await post(client, [prompt])
    usage = events[-1]["response"]["usage"]
    expected_input = (
        estimate_tokens(json.dumps(TOOLS))
        + estimate_tokens("You are Codex.")
        + estimate_tokens(ENV_TEXT)
        + estimate_tokens(prompt["content"][0]["text"])
    )
    assert usage["input_tokens"] == expected_input
    assert usage["input_tokens_details"]["cached_tokens"] == 0  # nothing of this turn seen before
    assert usage["output_tokens_details"]["reasoning_tokens"] == 700 // 7  # the round's 700 over 7 requests
    assert usage["output_tokens"] > usage["output_tokens_details"]["reasoning_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    longer = await post(client, [user("PR 1: Add greeting\nRound 1\n\n" + "word " * 800)])
    assert longer[-1]["response"]["usage"]["input_tokens"] > usage["input_tokens"]


async def test_cached_tokens_cover_the_prefix_up_to_the_last_model_output(client: httpx.AsyncClient) -> None:
    items = [user("PR 1: Add greeting\nRound 1")]
    out = done_items(await post(client, items))
    items += [*out, tool_output(out[-1], "Plan updated")]
    usage = (await post(client, items))[-1]["response"]["usage"]
    assert 0 < usage["input_tokens_details"]["cached_tokens"] < usage["input_tokens"]
    assert usage["input_tokens"] - usage["input_tokens_details"]["cached_tokens"] == estimate_tokens(
        "Plan updated"
    )


async def test_fail_outcome_streams_response_failed(client: httpx.AsyncClient) -> None:
    events = await post(client, [user("PR 2: Broken\nRound 1")])
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": "model exploded"}
    assert not any(e["type"] == "response.completed" for e in events)


async def test_dirty_outcome_edits_without_committing(client: httpx.AsyncClient) -> None:
    items, _ = await play_turn(client, "PR 4: Dirty\nRound 1")
    cmds = [json.loads(i["arguments"])["cmd"] for i in items if i["type"] == "function_call"]
    assert not any("git commit" in c for c in cmds)
    assert any(i["type"] == "custom_tool_call" and "*** Add File: a.txt" in i["input"] for i in items)


async def test_hang_outcome_stalls_without_completing(client: httpx.AsyncClient) -> None:
    async with client.stream("POST", "/responses", json=body([user("PR 3: Stuck\nRound 1")])) as r:
        assert r.status_code == 200
        seen: list[str] = []

        async def read() -> None:
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    seen.append(line[7:])

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(read(), timeout=0.5)
    assert seen[0] == "response.created"
    assert "response.completed" not in seen and "response.failed" not in seen


async def test_unknown_pr_writes_notes_and_commits(client: httpx.AsyncClient) -> None:
    items, _ = await play_turn(client, "PR 9: Tidy the Build!\nRound 2\n\nMake the build quieter.")
    patch = next(i for i in items if i["type"] == "custom_tool_call")
    assert patch["input"].startswith(
        "*** Begin Patch\n*** Add File: NOTES/tidy-the-build.md\n+# Tidy the Build!\n"
    )
    assert "+Make the build quieter.\n" in patch["input"]
    commit = [json.loads(i["arguments"])["cmd"] for i in items if i["type"] == "function_call"][-1]
    assert commit == "git add -A && git commit -q -m 'Tidy the Build!: task notes (round 2)'"


async def test_pr_found_by_number_when_the_title_differs(client: httpx.AsyncClient) -> None:
    events = await post(client, [user("PR 2: Something else\nRound 1")])
    assert events[-1]["type"] == "response.failed"  # PR 2 of the scenario is "Broken"


async def test_auth_is_required(sim: ResponsesSim) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
            r = await c.post("/responses", json=body([user("hi")]), headers=headers)
            assert r.status_code == 401
            err = r.json()["error"]
            assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error"
            assert "wrong" not in r.text


async def test_any_key_accepted_without_a_configured_one() -> None:
    async with ResponsesSim(SCENARIO, speed=0) as s, httpx.AsyncClient(base_url=s.base_url) as c:
        r = await c.post("/responses", json=body([user("hi")]), headers={"Authorization": "Bearer anything"})
        assert r.status_code == 200
        r = await c.post("/responses", json=body([user("hi")]), headers={"Authorization": "Bearer"})
        assert r.status_code == 401


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "could not parse the JSON body"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"input": 3}', "'input' must be"),
        (b'{"input": [1]}', "input[0] must be an object"),
        (b'{"input": [], "tools": {}}', "'tools' must be an array"),
    ],
)
async def test_bad_requests_get_a_400_that_says_why(
    client: httpx.AsyncClient, payload: bytes, message: str
) -> None:
    r = await client.post("/responses", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


async def test_wrong_path_and_method(client: httpx.AsyncClient) -> None:
    assert (await client.post("/chat/completions", json={})).status_code == 404
    assert (await client.get("/responses")).status_code == 405


async def test_non_streaming_request_gets_the_response_object(client: httpx.AsyncClient) -> None:
    r = await client.post("/responses", json=body([user("PR 1: Add greeting\nRound 1")], stream=False))
    data = r.json()
    assert data["object"] == "response" and data["status"] == "completed"
    assert [i["type"] for i in data["output"]] == ["reasoning", "function_call"]
    assert data["usage"]["input_tokens"] > 0


async def test_status_faults_are_queued_per_request(sim: ResponsesSim, client: httpx.AsyncClient) -> None:
    sim.queue_fault(
        Fault("status", status=500), Fault("status", status=400, body={"error": {"message": "bad"}})
    )
    first = await client.post("/responses", json=body([user("hi")]))
    second = await client.post("/responses", json=body([user("hi")]))
    third = await client.post("/responses", json=body([user("hi")]))
    assert first.status_code == 500 and first.json()["error"]["type"] == "server_error"
    assert second.status_code == 400 and second.json() == {"error": {"message": "bad"}}
    assert third.status_code == 200


async def test_failed_fault(sim: ResponsesSim, client: httpx.AsyncClient) -> None:
    sim.queue_fault(Fault("failed", code="rate_limit_exceeded", message="slow down"))
    events = await post(client, [user("PR 1: Add greeting\nRound 1")])
    assert [e["type"] for e in events] == ["response.created", "response.failed"]
    assert events[1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}


async def test_truncate_fault_ends_the_stream_early(sim: ResponsesSim, client: httpx.AsyncClient) -> None:
    sim.queue_fault(Fault("truncate", after=3))
    events = await post(client, [user("PR 1: Add greeting\nRound 1")])
    assert len(events) == 3 and events[-1]["type"] != "response.completed"


async def test_drop_fault_aborts_the_connection(sim: ResponsesSim, client: httpx.AsyncClient) -> None:
    sim.queue_fault(Fault("drop", after=2))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/responses", json=body([user("PR 1: Add greeting\nRound 1")]))
    assert (await client.post("/responses", json=body([user("hi")]))).status_code == 200


async def test_stall_fault_pauses_then_finishes(sim: ResponsesSim, client: httpx.AsyncClient) -> None:
    sim.queue_fault(Fault("stall", after=1, seconds=None))
    async with client.stream("POST", "/responses", json=body([user("PR 1: Add greeting\nRound 1")])) as r:
        lines = r.aiter_lines()
        assert await anext(lines) == "event: response.created"
        await anext(lines)  # its data line
        await anext(lines)  # the blank line
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(lines), timeout=0.3)
    sim.queue_fault(Fault("stall", after=1, seconds=0.05))
    events = await post(client, [user("PR 1: Add greeting\nRound 1")])
    assert events[-1]["type"] == "response.completed"


async def test_pacing_spaces_the_stream() -> None:
    """With speed > 0 deltas arrive apart; measured by order of arrival, never by wall-clock bounds."""
    scenario = parse_scenario("[pacing]\nchunk_s = 0.02\nchunk_chars = 4\nthink_s = 0\nstep_s = 0\n")
    request = body([user("PR 1: x\nRound 1")])
    async with (
        ResponsesSim(scenario, speed=1.0) as s,
        httpx.AsyncClient(base_url=s.base_url, headers={"Authorization": "Bearer k"}) as c,
        c.stream("POST", "/responses", json=request) as r,
    ):
        chunks = [chunk async for chunk in r.aiter_raw()]
    # paced events leave the server one at a time instead of in a single write
    assert len(chunks) > 5
    assert parse_sse(b"".join(chunks).decode())[-1]["type"] == "response.completed"


def test_standalone_prints_the_base_url_first() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.responses_sim", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        r = httpx.post(
            f"{url}/responses",
            json=body([user("PR 1: Hello\nRound 1")]),
            headers={"Authorization": "Bearer x"},
            timeout=10,
        )
        assert parse_sse(r.text)[-1]["type"] == "response.completed"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_standalone_rejects_a_bad_scenario(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[pr]]\nnope = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.responses_sim", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "bad.toml" in proc.stderr and proc.stdout == ""


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "function_call", "function_call_output", "reasoning", "x"])
        | JSON,
        "role": st.sampled_from(["user", "assistant", "developer"]) | JSON,
        "content": JSON | st.lists(st.fixed_dictionaries({"text": JSON}), max_size=3),
        "call_id": st.sampled_from(["c1", "c2"]) | JSON,
        "output": JSON,
        "summary": JSON | st.just(5),
    },
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"input": st.lists(ITEM | JSON, max_size=5)}, optional={"tools": JSON, "instructions": JSON}
        ),
    )
)
def test_read_turn_accepts_or_rejects_clearly(body: Any) -> None:
    """Any JSON body is either a turn or a BadRequest; nothing else escapes (a 500 would be a bug)."""
    try:
        turn = read_turn(body)
    except BadRequest as exc:
        assert str(exc)
    else:
        assert turn.input_tokens >= turn.cached_tokens >= 0
