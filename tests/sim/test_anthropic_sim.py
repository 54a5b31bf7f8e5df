"""The Anthropic simulator, driven by the real ``anthropic`` SDK (and raw httpx2) over loopback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import msgspec
import pytest

from cockpit.demo.scenario import DecisionScript, PrScript, RoundScript, Scenario, parse_scenario
from cockpit.demo.sim.anthropic import (
    CACHE_MIN_TOKENS,
    AnthropicSimulator,
    Fault,
    Reply,
    ScenarioResponder,
    TextBlock,
    ToolUseBlock,
    count_input_tokens,
    scenario_fault,
)
from cockpit.engine.decisions import from_text
from cockpit.tokens import estimate_tokens

KEY = "sk-ant-test-0123456789"
DECIDE: Any = {
    "name": "decide",
    "description": "Decide what happens to the PR.",
    "input_schema": {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["merge", "fix", "abandon"]},
            "rationale": {"type": "string"},
            "commit_message": {"type": "string"},
            "brief": {"type": "string"},
        },
        "required": ["action", "rationale"],
    },
}
LONG = " ".join(f"w{i % 97}" for i in range(1500))  # ~1500 estimated tokens: above the cache minimum


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[AnthropicSimulator]:
    async with AnthropicSimulator(api_keys={KEY}, clock=clock, seed=7) as s:
        yield s


def client(sim: AnthropicSimulator, **kw: Any) -> anthropic.AsyncAnthropic:
    kw.setdefault("api_key", KEY)
    kw.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=sim.url, **kw)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def text_of(msg: anthropic.types.Message, i: int = 0) -> str:
    block = msg.content[i]
    assert block.type == "text", block
    return block.text


def input_of(msg: anthropic.types.Message, i: int = 0) -> dict[str, Any]:
    block = msg.content[i]
    assert block.type == "tool_use", block
    return dict(block.input)


async def raw_sse(sim: AnthropicSimulator, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with httpx2.AsyncClient() as http:
        resp = await http.post(f"{sim.url}/v1/messages", json=body, headers=headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["request-id"].startswith("req_")
    events = []
    for chunk in resp.text.strip().split("\n\n"):
        name_line, data_line = chunk.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[7:], json.loads(data_line[6:])))
    return events


# --- streaming -------------------------------------------------------------------------------


async def test_sse_sequence_on_the_wire(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("Hello there, composer.", chunk_chars=5)
    events = await raw_sse(sim, {"model": "m", "max_tokens": 50, "stream": True, "messages": user("hi")})
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert deltas == ["Hello", " ther", "e, co", "mpose", "r."]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["output_tokens"] == 1
    for name, data in events:
        assert data["type"] == name
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == estimate_tokens("Hello there, composer.")
    assert delta["usage"]["input_tokens"] == start["usage"]["input_tokens"]


async def test_sdk_stream_accumulates_text(sim: AnthropicSimulator) -> None:
    text = "A brief.\n\n1. Do the thing.\n2. Test it.\n"
    sim.responder = lambda body: Reply.text(text, chunk_chars=4)
    async with client(sim) as c, c.messages.stream(model="m", max_tokens=100, messages=user("go")) as stream:
        pieces = [t async for t in stream.text_stream]
        msg = await stream.get_final_message()
    assert "".join(pieces) == text and len(pieces) == -(-len(text) // 4)
    assert msg.content[0].type == "text" and text_of(msg) == text
    assert msg.stop_reason == "end_turn" and msg.role == "assistant" and msg.model == "m"
    assert msg.id.startswith("msg_")


async def test_tool_use_streams_input_json_deltas(sim: AnthropicSimulator) -> None:
    decision = {"action": "fix", "rationale": "Tests are missing.", "brief": "Add tests."}
    sim.responder = lambda body: Reply.tool("decide", decision, chunk_chars=7)
    partials: list[str] = []
    async with (
        client(sim) as c,
        c.messages.stream(
            model="m",
            max_tokens=200,
            messages=user("decide"),
            tools=[DECIDE],
            tool_choice={"type": "tool", "name": "decide"},
        ) as stream,
    ):
        async for event in stream:
            if event.type == "input_json":
                partials.append(event.partial_json)
        msg = await stream.get_final_message()
    assert partials[0] == "" and json.loads("".join(partials)) == decision
    tool = msg.content[0]
    assert tool.type == "tool_use" and tool.name == "decide" and tool.input == decision
    assert tool.id.startswith("toolu_")
    assert msg.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("choice", "kinds"),
    [
        ({"type": "auto"}, ["text", "tool_use"]),
        ({"type": "any"}, ["tool_use"]),
        ({"type": "tool", "name": "decide"}, ["tool_use"]),
        ({"type": "none"}, ["text"]),
    ],
)
async def test_tool_choice_is_honoured(sim: AnthropicSimulator, choice: Any, kinds: list[str]) -> None:
    decision = {"action": "merge", "rationale": "ok"}
    sim.responder = lambda body: Reply.tool("decide", decision, preface="Merging.")
    async with client(sim) as c:
        msg = await c.messages.create(
            model="m", max_tokens=100, messages=user("x"), tools=[DECIDE], tool_choice=choice
        )
    assert [b.type for b in msg.content] == kinds
    assert msg.stop_reason == ("tool_use" if "tool_use" in kinds else "end_turn")


async def test_non_streaming_message_matches_the_stream(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply((TextBlock("Sure."), ToolUseBlock("decide", {"action": "merge"})))
    async with client(sim) as c:
        msg = await c.messages.create(model="m", max_tokens=100, messages=user("x"), tools=[DECIDE])
        async with c.messages.stream(model="m", max_tokens=100, messages=user("x"), tools=[DECIDE]) as s:
            streamed = await s.get_final_message()
    assert msg.content[0].to_dict() == {"type": "text", "text": "Sure."}
    assert msg.content[1].type == "tool_use" and input_of(msg, 1) == {"action": "merge"}
    assert msg.usage.input_tokens == streamed.usage.input_tokens
    assert msg.usage.output_tokens == streamed.usage.output_tokens


async def test_max_tokens_cuts_the_answer(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("word " * 200)
    async with client(sim) as c, c.messages.stream(model="m", max_tokens=10, messages=user("x")) as s:
        msg = await s.get_final_message()
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens <= 10
    assert 0 < len(text_of(msg)) < len("word " * 200)


# --- usage and prompt caching -----------------------------------------------------------------


async def test_input_tokens_are_counted_from_the_request(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("ok")
    async with client(sim) as c:
        small = await c.messages.create(model="m", max_tokens=10, messages=user("short prompt"))
        big = await c.messages.create(model="m", max_tokens=10, system="You compose.", messages=user(LONG))
        counted = await c.messages.count_tokens(model="m", system="You compose.", messages=user(LONG))
    bodies = sim.message_bodies()
    assert small.usage.input_tokens == count_input_tokens(bodies[0])
    assert big.usage.input_tokens == counted.input_tokens == count_input_tokens(bodies[1])
    assert big.usage.input_tokens > estimate_tokens(LONG) > small.usage.input_tokens
    assert big.usage.cache_read_input_tokens == 0 and big.usage.cache_creation_input_tokens == 0


def cached_body(context: list[str], request: str, ttl: str | None = None) -> dict[str, Any]:
    cc: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        cc["ttl"] = ttl
    blocks: list[dict[str, Any]] = [{"type": "text", "text": t} for t in context]
    blocks[-1]["cache_control"] = cc
    return {
        "system": [{"type": "text", "text": "You are the composer.", "cache_control": cc}],
        "messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": request}]}],
    }


async def test_cache_write_then_read_on_a_repeated_prefix(sim: AnthropicSimulator, clock: Clock) -> None:
    sim.responder = lambda body: Reply.text("ok")
    async with client(sim) as c:
        usages = []
        for request in ("first question", "second question", "third"):
            msg = await c.messages.create(model="m", max_tokens=10, **cached_body([LONG], request))
            usages.append(msg.usage)
        clock.now += 301  # past the 5 minute ttl
        usages.append((await c.messages.create(model="m", max_tokens=10, **cached_body([LONG], "x"))).usage)
    bodies = sim.message_bodies()
    prefix = count_input_tokens(bodies[0]) - estimate_tokens("first question")  # all but the last block
    first, second, third, expired = usages
    assert first.cache_creation_input_tokens == prefix and first.cache_read_input_tokens == 0
    assert first.cache_creation is not None and first.cache_creation.ephemeral_5m_input_tokens == prefix
    assert second.cache_read_input_tokens == prefix and second.cache_creation_input_tokens == 0
    assert third.cache_read_input_tokens == prefix
    for u, body in zip(usages, bodies, strict=True):  # input_tokens excludes both cache counts
        total = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        assert total == count_input_tokens(body)
    assert expired.cache_creation_input_tokens == prefix and expired.cache_read_input_tokens == 0


async def test_cache_1h_ttl_and_a_grown_thread_reads_the_old_prefix(
    sim: AnthropicSimulator, clock: Clock
) -> None:
    sim.responder = lambda body: Reply.text("ok")
    async with client(sim) as c:
        one = (await c.messages.create(model="m", max_tokens=10, **cached_body([LONG], "q1", "1h"))).usage
        clock.now += 1800  # past 5 minutes, within the hour
        grown = (
            await c.messages.create(
                model="m", max_tokens=10, **cached_body([LONG, "PR 1 merged. " * 30], "q2", "1h")
            )
        ).usage
    assert one.cache_creation is not None and one.cache_creation.ephemeral_1h_input_tokens > 0
    assert grown.cache_read_input_tokens == one.cache_creation_input_tokens  # found by the lookback
    assert grown.cache_creation_input_tokens == estimate_tokens("PR 1 merged. " * 30)


async def test_below_the_minimum_nothing_is_cached(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("ok")
    async with client(sim) as c:
        for _ in range(2):
            msg = await c.messages.create(model="m", max_tokens=10, **cached_body(["a short thread"], "q"))
            assert msg.usage.cache_creation_input_tokens == 0 and msg.usage.cache_read_input_tokens == 0
            assert msg.usage.input_tokens == count_input_tokens(sim.message_bodies()[-1]) < CACHE_MIN_TOKENS


async def test_more_than_four_breakpoints_is_a_400(sim: AnthropicSimulator) -> None:
    body = cached_body(["a", "b", "c", "d", "e"], "q")
    for block in body["messages"][0]["content"][:4]:
        block["cache_control"] = {"type": "ephemeral"}
    async with client(sim) as c:
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
            await c.messages.create(model="m", max_tokens=10, **body)


# --- auth and errors --------------------------------------------------------------------------


async def test_missing_and_wrong_keys_are_401(sim: AnthropicSimulator) -> None:
    async with httpx2.AsyncClient() as http:
        resp = await http.post(f"{sim.url}/v1/messages", json={}, headers={"anthropic-version": "2023-06-01"})
    assert resp.status_code == 401
    body = resp.json()
    assert body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
        "request_id": resp.headers["request-id"],
    }
    async with client(sim, api_key="sk-wrong") as c:
        with pytest.raises(anthropic.AuthenticationError) as err:
            await c.messages.create(model="m", max_tokens=10, messages=user("x"))
    assert err.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": err.value.request_id,
    }


async def test_bearer_token_is_accepted(sim: AnthropicSimulator) -> None:
    async with anthropic.AsyncAnthropic(auth_token=KEY, base_url=sim.url, max_retries=0) as c:
        msg = await c.messages.create(model="m", max_tokens=10, messages=user("x"))
    assert msg.content
    assert "x-api-key" not in sim.log[-1].headers and sim.log[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("status", "etype", "exc_type"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (403, "permission_error", anthropic.PermissionDeniedError),
        (404, "not_found_error", anthropic.NotFoundError),
        (413, "request_too_large", anthropic.APIStatusError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
async def test_error_bodies(
    sim: AnthropicSimulator, status: int, etype: str, exc_type: type[Exception]
) -> None:
    sim.queue_fault(Fault.http(status, retry_after=7 if status == 429 else None))
    async with client(sim) as c:
        with pytest.raises(exc_type) as err:
            await c.messages.create(model="m", max_tokens=10, messages=user("x"))
    exc = err.value
    assert isinstance(exc, anthropic.APIStatusError) and exc.status_code == status
    assert isinstance(exc.body, dict) and set(exc.body) == {"type", "error", "request_id"}
    assert exc.body["type"] == "error" and exc.body["error"]["type"] == etype
    assert exc.body["error"]["message"]
    assert exc.body["request_id"] == exc.request_id == exc.response.headers["request-id"]
    assert exc.response.headers.get("retry-after") == ("7" if status == 429 else None)


async def test_validation_errors_name_the_field(sim: AnthropicSimulator) -> None:
    async with client(sim) as c:
        with pytest.raises(anthropic.BadRequestError, match=r"tool_choice\.name"):
            await c.messages.create(
                model="m",
                max_tokens=10,
                messages=user("x"),
                tools=[DECIDE],
                tool_choice={"type": "tool", "name": "nope"},
            )
        with pytest.raises(anthropic.BadRequestError, match="non-empty"):
            await c.messages.create(
                model="m",
                max_tokens=10,
                messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}],
            )
        with pytest.raises(anthropic.BadRequestError, match="non-empty content"):
            await c.messages.create(model="m", max_tokens=10, messages=user(""))
        prefilled = [*user("Say hi"), {"role": "assistant", "content": ""}]
        assert (await c.messages.create(model="m", max_tokens=10, messages=prefilled)).content
    async with httpx2.AsyncClient() as http:
        resp = await http.post(f"{sim.url}/v1/messages", content=b"{not json", headers={"x-api-key": KEY})
        assert resp.status_code == 400 and "anthropic-version" in resp.json()["error"]["message"]
        resp = await http.post(
            f"{sim.url}/v1/messages",
            content=b"{not json",
            headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        )
        assert resp.status_code == 400 and "parsing the body" in resp.json()["error"]["message"]
        resp = await http.get(f"{sim.url}/v2/nothing", headers={"x-api-key": KEY})
        assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"


async def test_unknown_model_is_404_and_a_too_big_request_413() -> None:
    async with AnthropicSimulator(models={"claude-sonnet-4-6"}, max_request_bytes=2000) as s, client(s) as c:
        with pytest.raises(anthropic.NotFoundError, match="claude-nope"):
            await c.messages.create(model="claude-nope", max_tokens=10, messages=user("x"))
        with pytest.raises(anthropic.APIStatusError) as err:
            await c.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=user("x" * 5000))
        assert err.value.status_code == 413
        assert (await c.models.retrieve("claude-sonnet-4-6")).id == "claude-sonnet-4-6"
        assert [m.id async for m in c.models.list()] == ["claude-sonnet-4-6"]


async def test_responder_failure_is_a_500_with_the_cause(sim: AnthropicSimulator) -> None:
    def broken(body: dict[str, Any]) -> Reply:
        raise RuntimeError("script bug")

    sim.responder = broken
    async with client(sim) as c:
        with pytest.raises(anthropic.InternalServerError, match="script bug"):
            await c.messages.create(model="m", max_tokens=10, messages=user("x"))


# --- faults -----------------------------------------------------------------------------------


async def test_sdk_retries_queued_529s_then_succeeds(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.http(529, retry_after=0.01), times=2)
    async with client(sim, max_retries=2) as c:
        msg = await c.messages.create(model="m", max_tokens=10, messages=user("x"))
    assert msg.stop_reason == "end_turn"
    assert [r.headers.get("x-stainless-retry-count") for r in sim.log] == ["0", "1", "2"]


async def test_mid_stream_error_event_is_not_retried(sim: AnthropicSimulator) -> None:
    fault = Fault.event_error(after_events=4)
    sim.responder = lambda body: Reply.text("x" * 100, chunk_chars=10, fault=fault)
    async with client(sim, max_retries=2) as c:
        with pytest.raises(anthropic.APIStatusError) as err:
            async with c.messages.stream(model="m", max_tokens=100, messages=user("x")) as s:
                await s.get_final_message()
    assert err.value.status_code == 200 and not isinstance(err.value, anthropic.OverloadedError)
    assert isinstance(err.value.body, dict) and err.value.body["error"]["type"] == "overloaded_error"
    assert len(sim.log) == 1
    assert sim.streams[0].outcome == "error_event" and sim.streams[0].events_sent == 5


async def test_dropped_connection_mid_stream(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.drop(after_events=3))
    async with client(sim, max_retries=2) as c:
        with pytest.raises(Exception) as info:
            async with c.messages.stream(model="m", max_tokens=100, messages=user("hello " * 20)) as s:
                await s.get_final_message()
    # anthropic <2.17 lets httpx2's error through, 2.17+ wraps it in APIConnectionError: the wire is the same.
    assert caused_by(info.value, httpx2.RemoteProtocolError)
    assert len(sim.log) == 1 and sim.streams[0].outcome == "dropped"


async def test_stall_before_headers_is_an_api_timeout(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.stall(30))
    async with client(sim, timeout=httpx2.Timeout(0.2, connect=1)) as c:
        with pytest.raises(anthropic.APITimeoutError):
            await c.messages.create(model="m", max_tokens=10, messages=user("x"))


async def test_stall_mid_stream_is_a_read_timeout(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.stall(30, after_events=2))
    async with client(sim, timeout=httpx2.Timeout(0.2, connect=1)) as c:
        with pytest.raises(Exception) as info:
            async with c.messages.stream(model="m", max_tokens=10, messages=user("x")) as s:
                await s.get_final_message()
    assert caused_by(info.value, httpx2.ReadTimeout)  # wrapped in APITimeoutError from anthropic 2.17 on


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is ``exc`` or anywhere in its cause chain."""
    cur: BaseException | None = exc
    for _ in range(10):
        if cur is None:
            return False
        if isinstance(cur, kind):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="after_events"):
        Fault("drop")
    with pytest.raises(ValueError, match="error status"):
        Fault.http(200)
    with pytest.raises(ValueError, match="unknown composer fault"):
        scenario_fault("meteor")


# --- the scenario responder -------------------------------------------------------------------

SCENARIO = """
name = "tiny"
[pacing]
chunk_s = 0.5
think_s = 1.0
chunk_chars = 8

[[pr]]
title = "Add a greeting"
task = "Add greet(name) to hello.py."
brief = "## Add a greeting\\n\\nWrite greet(name) and a test."

[[pr.round]]
[pr.round.decision]
action = "fix"
rationale = "There is no test for an empty name."
brief = "Handle the empty name and test it."

[[pr.round]]
[pr.round.decision]
action = "merge"
rationale = "All findings addressed."
commit_message = "Add greet()"

[[pr]]
title = "Rename the module"
task = "Rename util.py to helpers.py."
[[pr.round]]
[pr.round.decision]
action = "abandon"
rationale = "Not worth the churn."
as_text = true

[[pr]]
title = "Flaky API"
task = "Anything."
[[pr.round]]
[pr.round.decision]
fault = "midstream_once"
"""


def composer_call(
    pr: int, title: str, round_no: int, *, decide: bool, choice: str = "tool"
) -> dict[str, Any]:
    prompt = f"PR {pr}: {title}\nRound {round_no}\n\nTask: the task text.\nMore detail.\n\nVerdicts..."
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 1000,
        "system": "You are the composer.",
        "messages": user(prompt),
    }
    if decide:
        body["tools"] = [DECIDE]
        body["tool_choice"] = {"type": "tool", "name": "decide"} if choice == "tool" else {"type": choice}
    return body


async def test_scenario_responder_over_the_wire() -> None:
    responder = ScenarioResponder(parse_scenario(SCENARIO), speed=0)
    async with AnthropicSimulator(responder) as s, client(s) as c:

        async def call(body: dict[str, Any]) -> anthropic.types.Message:
            async with c.messages.stream(**body) as stream:
                return await stream.get_final_message()

        brief = await call(composer_call(1, "Add a greeting", 1, decide=False))
        assert brief.content[0].type == "text"
        assert text_of(brief) == "## Add a greeting\n\nWrite greet(name) and a test."
        fix = await call(composer_call(1, "Add a greeting", 1, decide=True))
        assert [b.type for b in fix.content] == ["tool_use"]
        assert input_of(fix) == {
            "action": "fix",
            "rationale": "There is no test for an empty name.",
            "brief": "Handle the empty name and test it.",
        }
        # round 2, found by number though the title differs; its brief is round 1's fix brief
        brief2 = await call(composer_call(1, "Some other wording", 2, decide=False))
        assert text_of(brief2) == "Handle the empty name and test it."
        merge = await call(composer_call(1, "Add a greeting", 2, decide=True, choice="auto"))
        assert [b.type for b in merge.content] == ["text", "tool_use"]
        assert input_of(merge, 1)["commit_message"] == "Add greet()"
        prose = await call(composer_call(2, "Rename the module", 1, decide=True))
        assert prose.stop_reason == "end_turn" and [b.type for b in prose.content] == ["text"]
        assert text_of(prose).startswith("DECISION: abandon\n")
        made = await call(composer_call(2, "Rename the module", 1, decide=False))
        assert "Rename util.py to helpers.py." in text_of(made)
        with pytest.raises(anthropic.APIStatusError):  # midstream_once: the first call breaks ...
            await call(composer_call(3, "Flaky API", 1, decide=True))
        again = await call(composer_call(3, "Flaky API", 1, decide=True))  # ... the retry answers
        assert input_of(again)["action"] == "merge"
        unknown = await call(composer_call(9, "Something new", 1, decide=False))
        assert text_of(unknown).startswith("## Something new")
        assert "the task text. More detail." in text_of(unknown)
        generic = await call(composer_call(9, "Something new", 1, decide=True))
        assert input_of(generic)["action"] == "merge"


@pytest.mark.parametrize(
    "script",
    [
        DecisionScript(action="abandon", rationale="Not worth it."),
        DecisionScript(
            action="fix", rationale="Two findings.\n\nBoth real.", brief="## Fix\n\n1. Add tests."
        ),
        DecisionScript(action="merge", rationale="Good.", commit_message="Add greet()\n\nWith tests."),
    ],
)
def test_prose_decisions_parse_as_the_engine_reads_them(script: DecisionScript) -> None:
    scenario = Scenario(
        pr=[
            PrScript(
                title="T",
                task="t",
                round=[RoundScript(decision=msgspec.structs.replace(script, as_text=True))],
            )
        ]
    )
    reply = ScenarioResponder(scenario, speed=0)(composer_call(1, "T", 1, decide=True))
    (block,) = reply.content
    assert isinstance(block, TextBlock)
    parsed = from_text(block.text)
    assert (parsed.action, parsed.rationale, parsed.brief) == (script.action, script.rationale, script.brief)
    assert parsed.commit_message == (script.commit_message or "")


def test_scenario_pacing_scales_with_speed() -> None:
    scenario = parse_scenario(SCENARIO)
    body = composer_call(1, "Add a greeting", 1, decide=False)
    fast = ScenarioResponder(scenario, speed=2)(body)
    assert (fast.chunk_s, fast.think_s, fast.chunk_chars) == (0.25, 0.5, 8)
    still = ScenarioResponder(scenario, speed=0)(body)
    assert (still.chunk_s, still.think_s) == (0, 0)
    with pytest.raises(ValueError, match="unknown composer fault"):
        ScenarioResponder(parse_scenario(SCENARIO.replace("midstream_once", "boom")))


async def test_standalone_entry_point_prints_the_url_first() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit.demo.sim.anthropic", "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = (await asyncio.to_thread(proc.stdout.readline)).strip()
        assert url.startswith("http://127.0.0.1:")
        async with anthropic.AsyncAnthropic(api_key="any", base_url=url, max_retries=0) as c:
            msg = await c.messages.create(
                model="m", max_tokens=500, messages=user("PR 1: Add logging\nRound 1\n\nTask: add logging.")
            )
        assert text_of(msg).startswith("## Add logging")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
