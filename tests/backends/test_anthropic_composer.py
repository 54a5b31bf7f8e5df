"""The Claude composer adapter against the Anthropic simulator, through the real SDK on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cockpit.backends.anthropic import AnthropicComposer
from cockpit.backends.base import ComposeJob, Composer, DispatchError, Output, Tool
from cockpit.demo.scenario import parse_scenario
from cockpit.demo.sim.anthropic import (
    AnthropicSimulator,
    Fault,
    Reply,
    ScenarioResponder,
    ToolUseBlock,
    count_input_tokens,
)
from cockpit.demo.sim.http import HttpServer, Response
from cockpit.engine.decisions import from_result

KEY = "sk-ant-composer-secret-4242"
ENV = "COCKPIT_TEST_ANTHROPIC_KEY"
DECIDE_TOOL = Tool(
    name="decide",
    description="Decide what happens to the PR.",
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["merge", "fix", "abandon"]},
            "rationale": {"type": "string"},
            "commit_message": {"type": "string"},
            "brief": {"type": "string"},
        },
        "required": ["action", "rationale"],
    },
)
THREAD = tuple(f"PR {n} merged: " + " ".join(f"note{i % 50}" for i in range(400)) for n in range(1, 4))


@pytest.fixture
async def sim() -> AsyncIterator[AnthropicSimulator]:
    async with AnthropicSimulator(api_keys={KEY}, models={"claude-test"}) as s:
        yield s


def composer(sim: AnthropicSimulator, **kw: Any) -> AnthropicComposer:
    kw.setdefault("api_key", KEY)
    kw.setdefault("max_retries", 0)
    kw.setdefault("retry_backoff_s", 0)
    return AnthropicComposer("claude-test", base_url=sim.url, **kw)


def job(purpose: str = "brief", *, context: tuple[str, ...] = (), request: str = "", **kw: Any) -> ComposeJob:
    return ComposeJob(
        pr=1,
        round=1,
        purpose=purpose,  # type: ignore[arg-type]
        title="Add a greeting",
        system="You are the composer of a three-way dispatch session.",
        context=context,
        request=request or "PR 1: Add a greeting\nRound 1\n\nTask: add greet(name).",
        tool=DECIDE_TOOL if purpose == "decide" else None,
        **kw,
    )


class Sink:
    def __init__(self) -> None:
        self.items: list[Output] = []
        self.first_text = asyncio.Event()

    def __call__(self, item: Output) -> None:
        self.items.append(item)
        if item.channel == "text":
            self.first_text.set()

    def on(self, channel: str) -> list[Output]:
        return [o for o in self.items if o.channel == channel]


async def test_is_a_composer(sim: AnthropicSimulator) -> None:
    c = composer(sim)
    assert isinstance(c, Composer)
    assert (c.backend, c.model) == ("anthropic", "claude-test")
    assert KEY not in repr(c)


async def test_brief_streams_text_and_sends_a_cacheable_prefix(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("## Brief\n\nWrite greet(name) and test it.\n", chunk_chars=6)
    out = Sink()
    result = await composer(sim).compose(job(context=THREAD), out)
    assert result.text == "## Brief\n\nWrite greet(name) and test it.\n"
    assert "".join(o.text for o in out.on("text")) == result.text and len(out.on("text")) > 1
    assert result.tool_input is None and result.stop_reason == "end_turn"
    (body,) = sim.message_bodies()
    assert body["stream"] is True and body["model"] == "claude-test" and "tools" not in body
    assert body["system"] == [{"type": "text", "text": job().system, "cache_control": {"type": "ephemeral"}}]
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert [b["text"] for b in message["content"]] == [*THREAD, job().request]
    # a breakpoint after each stable block (up to three), none on the request
    assert [("cache_control" in b) for b in message["content"]] == [True, True, True, False]
    assert sim.log[0].headers["x-stainless-helper-method"] == "stream"


async def test_decide_forces_the_tool_and_returns_its_input(sim: AnthropicSimulator) -> None:
    decision = {"action": "fix", "rationale": "No test for an empty name.", "brief": "Test the empty name."}
    sim.responder = lambda body: Reply.tool("decide", decision, preface="Thinking out loud.", chunk_chars=9)
    out = Sink()
    result = await composer(sim).compose(job("decide"), out)
    assert result.tool_input == decision and result.stop_reason == "tool_use"
    assert result.text == ""  # forced tool_choice: the API sends no prose before the call
    (body,) = sim.message_bodies()
    assert body["tool_choice"] == {"type": "tool", "name": "decide"}
    assert body["tools"] == [
        {"name": "decide", "description": DECIDE_TOOL.description, "input_schema": DECIDE_TOOL.input_schema}
    ]
    assert [o.meta for o in out.on("status")] == [{"tool": "decide"}]
    tool_json = [o for o in out.on("text") if o.meta.get("tool") == "decide"]
    assert len(tool_json) > 1 and all(o.text for o in tool_json)
    assert "No test for an empty name." in "".join(o.text for o in tool_json)


async def test_text_instead_of_the_tool(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("Decision: merge\n\nRationale: fine.")
    result = await composer(sim).compose(job("decide"), Sink())
    assert result.tool_input is None and result.text.startswith("Decision: merge")
    assert result.stop_reason == "end_turn"


async def test_usage_counts_the_whole_prompt_and_the_cache(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("ok")
    c = composer(sim)
    first = (await c.compose(job(context=THREAD, request="PR 1: A\nRound 1\nfirst"), Sink())).usage
    second = (await c.compose(job(context=THREAD, request="PR 1: A\nRound 1\nsecond"), Sink())).usage
    grown = (
        await c.compose(job(context=(*THREAD, "PR 4 merged."), request="PR 5: B\nRound 1\nx"), Sink())
    ).usage
    bodies = sim.message_bodies()
    for usage, body in zip((first, second, grown), bodies, strict=True):
        assert usage.input_tokens == count_input_tokens(body)  # the whole prompt, cached part included
        assert usage.output_tokens == 1
    assert first.cache_write_tokens > 1024 and first.cached_input_tokens == 0
    assert second.cached_input_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    assert grown.cached_input_tokens == first.cache_write_tokens and 0 < grown.cache_write_tokens < 20


async def test_a_small_prompt_is_not_cached(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("ok")
    c = composer(sim)
    for _ in range(2):
        usage = (await c.compose(job(context=("a short thread",)), Sink())).usage
        assert usage.cached_input_tokens == 0 and usage.cache_write_tokens == 0
        assert usage.input_tokens == count_input_tokens(sim.message_bodies()[-1])


async def test_max_tokens_is_capped_and_a_cut_decision_is_dropped(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.tool("decide", {"action": "merge", "rationale": "word " * 300})
    out = Sink()
    result = await composer(sim, max_tokens=20).compose(job("decide", max_tokens=4096), out)
    assert sim.message_bodies()[0]["max_tokens"] == 20
    assert result.stop_reason == "max_tokens" and result.tool_input is None
    assert out.on("status")[-1].meta == {"stop_reason": "max_tokens"}


# --- errors -----------------------------------------------------------------------------------


async def test_missing_key_is_reported_before_sending(
    sim: AnthropicSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(DispatchError) as err:
        await AnthropicComposer("claude-test", api_key_env=ENV, base_url=sim.url).compose(job(), Sink())
    assert ENV in err.value.message and ENV in err.value.hint
    assert sim.log == []
    monkeypatch.setenv(ENV, KEY)
    result = await AnthropicComposer("claude-test", api_key_env=ENV, base_url=sim.url).compose(job(), Sink())
    assert result.text


async def test_base_url_from_the_environment(
    sim: AnthropicSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.url)
    c = AnthropicComposer("claude-test", api_key=KEY)
    assert c.where == sim.url
    assert (await c.compose(job(), Sink())).text
    assert len(sim.log) == 1


async def test_rejected_key_never_shows_the_key(
    sim: AnthropicSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-ant-wrong-key-123456"
    monkeypatch.setenv(ENV, wrong)
    out = Sink()
    with pytest.raises(DispatchError) as err:
        await AnthropicComposer("claude-test", api_key_env=ENV, base_url=sim.url).compose(job(), out)
    assert "rejected the API key" in err.value.message and "401" in err.value.message
    assert f"${ENV}" in err.value.hint
    assert wrong not in str(err.value) and all(wrong not in o.text for o in out.items)


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (400, "refused the request (400 invalid_request_error"),
        (403, "may not use claude-test (403 permission_error"),
        (413, "too large (413 request_too_large"),
        (429, "rate limited after 1 retries (429 rate_limit_error"),
        (500, "server error after 1 retries (500 api_error"),
        (529, "overloaded after 1 retries (529 overloaded_error"),
    ],
)
async def test_http_errors_after_the_sdk_retries(sim: AnthropicSimulator, status: int, says: str) -> None:
    sim.queue_fault(Fault.http(status, retry_after=0.01), times=5)
    with pytest.raises(DispatchError) as err:
        await composer(sim, max_retries=1).compose(job(), Sink())
    assert says in err.value.message and err.value.hint
    assert "request req_" in err.value.message
    retried = status in (429, 500, 529)
    assert len(sim.log) == (2 if retried else 1)


async def test_unknown_model_names_the_model(sim: AnthropicSimulator) -> None:
    c = AnthropicComposer("claude-nope", api_key=KEY, base_url=sim.url, max_retries=0)
    with pytest.raises(DispatchError) as err:
        await c.compose(job(), Sink())
    assert "model 'claude-nope' was not found" in err.value.message and "model name" in err.value.hint
    problems = await c.check()
    assert len(problems) == 1 and "claude-nope" in problems[0]
    assert await composer(sim).check() == []


async def test_529_then_success_is_retried_by_the_sdk(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("fine")
    sim.queue_fault(Fault.http(529, retry_after=0.01), times=2)
    result = await composer(sim, max_retries=2).compose(job(), Sink())
    assert result.text == "fine"
    assert [r.headers["x-stainless-retry-count"] for r in sim.log] == ["0", "1", "2"]


async def test_connection_refused_names_the_url() -> None:
    async def nothing(request: Any) -> Response:
        return Response()

    server = await HttpServer(nothing).start()
    url = server.url
    await server.close()  # nothing listens there any more
    c = AnthropicComposer("claude-test", api_key=KEY, base_url=url, max_retries=0)
    with pytest.raises(DispatchError) as err:
        await c.compose(job(), Sink())
    assert f"cannot reach {url}" in err.value.message and "ANTHROPIC_BASE_URL" in err.value.hint
    assert KEY not in str(err.value)
    assert f"cannot reach {url}" in (await c.check())[0]


# --- broken streams: the adapter retries the whole request -------------------------------------


async def test_mid_stream_error_is_retried_then_succeeds(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("The brief, in full.", chunk_chars=4)
    sim.queue_fault(Fault.event_error(after_events=4))
    out = Sink()
    result = await composer(sim, max_retries=2).compose(job(context=THREAD), out)
    assert result.text == "The brief, in full."
    assert len(sim.log) == 2 and [s.outcome for s in sim.streams] == ["error_event", "complete"]
    (retry,) = out.on("status")
    assert retry.meta == {"retry": 1} and "overloaded_error" in retry.text
    one_prompt = count_input_tokens(sim.message_bodies()[0])
    assert result.usage.input_tokens == 2 * one_prompt  # the broken attempt was billed too
    assert result.usage.cached_input_tokens == result.usage.cache_write_tokens > 0


async def test_mid_stream_errors_give_up_after_the_retries(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("x" * 60, fault=Fault.event_error(after_events=3))
    out = Sink()
    with pytest.raises(DispatchError) as err:
        await composer(sim, stream_retries=2).compose(job(), out)
    assert "failed 3 times" in err.value.message and "overloaded_error" in err.value.message
    assert "overloaded" in err.value.hint
    assert len(sim.log) == 3 and [o.meta for o in out.on("status")] == [{"retry": 1}, {"retry": 2}]
    assert err.value.usage.input_tokens == 3 * count_input_tokens(sim.message_bodies()[0])


async def test_a_non_retryable_mid_stream_error_fails_at_once(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.event_error(after_events=2, error_type="invalid_request_error", message="bad"))
    with pytest.raises(DispatchError) as err:
        await composer(sim).compose(job(), Sink())
    assert "mid-stream" in err.value.message and "bad" in err.value.message
    assert len(sim.log) == 1


async def test_dropped_connection_is_retried(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("After the drop.")
    sim.queue_fault(Fault.drop(after_events=2))
    out = Sink()
    result = await composer(sim).compose(job(), out)
    assert result.text == "After the drop." and len(sim.log) == 2
    assert "connection broke" in out.on("status")[0].text
    sim.queue_fault(Fault.drop(after_events=2), times=3)
    with pytest.raises(DispatchError, match="failed 2 times: the connection broke"):
        await composer(sim, stream_retries=1).compose(job(), Sink())


async def test_malformed_tool_json_is_retried_then_reported(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply((ToolUseBlock("decide", {}, raw_json='{"action": merge}'),))
    with pytest.raises(DispatchError, match="failed 2 times: the model's decide input was not valid JSON"):
        await composer(sim, stream_retries=1).compose(job("decide"), Sink())
    assert len(sim.log) == 2


async def test_a_stall_mid_stream_times_out_and_is_retried(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("late", fault=Fault.stall(30, after_events=2))
    out = Sink()
    with pytest.raises(DispatchError) as err:
        await composer(sim, stall_s=0.1, stream_retries=1).compose(job(), out)
    assert "stalled for 0.1s" in err.value.message and "stall_s" in err.value.hint
    assert len(sim.log) == 2 and len(out.on("status")) == 1


async def test_a_stall_before_the_headers(sim: AnthropicSimulator) -> None:
    sim.queue_fault(Fault.stall(30))
    with pytest.raises(DispatchError) as err:
        await composer(sim, stall_s=0.1).compose(job(), Sink())
    assert f"no answer from {sim.url} within 0.1s" in err.value.message


async def test_the_whole_call_is_bounded(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("slow " * 100, chunk_chars=1, chunk_s=0.01)
    with pytest.raises(DispatchError) as err:
        await composer(sim, timeout_s=0.2, stall_s=5).compose(job(), Sink())
    assert "did not finish within 0.2s" in err.value.message


async def test_cancellation_closes_the_stream(sim: AnthropicSimulator) -> None:
    sim.responder = lambda body: Reply.text("slow " * 2000, chunk_chars=5, chunk_s=0.005)
    out = Sink()
    task = asyncio.create_task(composer(sim).compose(job(), out))
    await asyncio.wait_for(out.first_text.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):  # the server notices the hang-up at its next write
        if sim.streams[0].outcome != "open":
            break
        await asyncio.sleep(0.01)
    assert sim.streams[0].outcome == "closed_early"
    assert sim.streams[0].events_sent < 2000
    assert len(sim.log) == 1  # nothing retried a cancelled call


async def test_bad_jobs_are_refused(sim: AnthropicSimulator) -> None:
    c = composer(sim)
    with pytest.raises(DispatchError, match="empty request"):
        await c.compose(ComposeJob(1, 1, "brief", "t", "s", (), "  "), Sink())
    assert sim.log == []


async def test_decide_in_text_sends_no_tool_and_returns_the_text(sim: AnthropicSimulator) -> None:
    """decide_with = "text" (the default): no tools, no tool_choice; the answer is the decision's sections."""
    answer = "DECISION: fix\nRATIONALE: No test for an empty name.\nBRIEF: Test the empty name.\n"
    sim.responder = lambda body: Reply.text(answer, chunk_chars=9)
    out = Sink()
    result = await composer(sim).compose(ComposeJob(1, 1, "decide", "t", "s", (), "PR 1: t"), out)
    (body,) = sim.message_bodies()
    assert "tools" not in body and "tool_choice" not in body
    assert (result.text, result.tool_input, result.stop_reason) == (answer, None, "end_turn")
    assert "".join(o.text for o in out.on("text")) == answer
    decision = from_result(result)
    assert (decision.action, decision.brief, decision.parsed_from) == ("fix", "Test the empty name.", "text")


# --- the scenario responder, end to end --------------------------------------------------------

SCENARIO = """
[[pr]]
title = "Add a greeting"
task = "Add greet(name)."
brief = "## Add a greeting\\n\\nWrite greet(name)."
[[pr.round]]
[pr.round.decision]
action = "merge"
rationale = "Both reviewers approve."
commit_message = "Add greet()"
fault = "midstream_once"
"""


async def test_a_scenario_session_through_the_composer() -> None:
    responder = ScenarioResponder(parse_scenario(SCENARIO), speed=0)
    async with AnthropicSimulator(responder) as s:
        c = composer(s)
        out = Sink()
        brief = await c.compose(job(context=THREAD), out)
        assert brief.text == "## Add a greeting\n\nWrite greet(name)."
        decision = await c.compose(job("decide", context=(*THREAD, brief.text)), out)
        assert decision.tool_input == {
            "action": "merge",
            "rationale": "Both reviewers approve.",
            "commit_message": "Add greet()",
            "digest": "Merged 1 PR.",
        }
        assert [o.meta.get("retry") for o in out.on("status") if "retry" in o.meta] == [1]
        assert decision.usage.cached_input_tokens > 0  # the retry read what the broken attempt cached
        for body in s.message_bodies():
            assert "diff --git" not in str(body)
