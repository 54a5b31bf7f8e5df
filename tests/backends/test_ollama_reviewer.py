"""OllamaReviewer through the real ``ollama`` client against the simulator on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama
import pytest

from cockpit.backends.base import DispatchError, Output, Reviewer, ReviewJob
from cockpit.backends.ollama import DEFAULT_HOST, OllamaReviewer, base_url, check
from cockpit.demo.scenario import parse_scenario
from cockpit.demo.sim.ollama import Fault, OllamaSim, Reply, ScenarioResponder, SimModel
from cockpit.events import Usage
from cockpit.tokens import estimate_tokens

MODELS = (SimModel("glm4:9b"), SimModel("qwen3:8b", family="qwen3", thinking=True))
SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"enum": ["approve", "changes", "block"]}, "summary": {"type": "string"}},
    "required": ["verdict", "summary"],
}
MESSY = (
    "Overall this is close.\n\n```json\n"
    '{"verdict": "changes", "summary": "missing test", "findings": []}\n'
    "```\nVERDICT: REQUEST_CHANGES\n"
)
SCENARIO = parse_scenario(
    f'''
[[pr]]
title = "Add retry"
task = "Retry failed uploads."

[[pr.round]]
[[pr.round.review]]
reviewer = "correctness"
text = """{MESSY}"""

[[pr.round.review]]
reviewer = "quality"
text = 'VERDICT: APPROVE -- small and clear.'
'''
)


def job(
    reviewer: str = "correctness", pr: int = 1, title: str = "Add retry", schema: Any = None
) -> ReviewJob:
    return ReviewJob(
        pr=pr,
        round=1,
        title=title,
        commit="0123abcd",
        system=f"You are a careful code reviewer.\nReviewer: {reviewer}\nAnswer in JSON.",
        prompt=f"PR {pr}: {title}\nRound 1\n\ndiff --git a/up.py b/up.py\n+    retry(upload)\n",
        schema=SCHEMA if schema is None else schema,
    )


class Sink:
    def __init__(self) -> None:
        self.items: list[Output] = []
        self.first_text = asyncio.Event()

    def __call__(self, item: Output) -> None:
        self.items.append(item)
        if item.channel == "text":
            self.first_text.set()

    def text(self, channel: str = "text") -> str:
        return "".join(i.text for i in self.items if i.channel == channel)


@pytest.fixture
async def sim() -> AsyncIterator[OllamaSim]:
    async with OllamaSim(MODELS, ScenarioResponder(SCENARIO)) as s:
        yield s


def reviewer(sim: OllamaSim, **kw: Any) -> OllamaReviewer:
    kw.setdefault("model", "glm4:9b")
    return OllamaReviewer(kw.pop("name", "correctness"), "correctness", host=sim.url, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_review_streams_text_and_returns_verbatim_text_and_usage(sim: OllamaSim) -> None:
    r = reviewer(sim, options={"num_ctx": 16384, "temperature": 0.2}, keep_alive="15m")
    assert isinstance(r, Reviewer) and r.backend == "ollama" and r.framing == "correctness"
    out = Sink()
    j = job()
    result = await r.review(j, out)
    assert result.text == MESSY == out.text()  # passed through as written: parsing is the engine's job
    assert len([i for i in out.items if i.channel == "text"]) > 1  # streamed, not in one piece
    expected_in = estimate_tokens(j.system) + estimate_tokens(j.prompt)
    assert result.usage == Usage(input_tokens=expected_in, output_tokens=estimate_tokens(MESSY))
    call = sim.calls[-1]
    assert call.body is not None
    assert call.body["stream"] is True and call.body["think"] is False
    assert call.body["format"] == SCHEMA
    assert call.body["options"] == {"num_ctx": 16384, "temperature": 0.2}
    assert call.body["keep_alive"] == "15m"
    assert call.body["messages"] == [
        {"role": "system", "content": j.system},
        {"role": "user", "content": j.prompt},
    ]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        call.prompt_eval_count,
        call.eval_count,
    )


async def test_no_schema_asks_for_json(sim: OllamaSim) -> None:
    result = await reviewer(sim, name="quality").review(job("quality", schema={}), Sink())
    assert result.text == "VERDICT: APPROVE -- small and clear."
    assert sim.calls[-1].body is not None and sim.calls[-1].body["format"] == "json"


async def test_thinking_goes_to_the_reasoning_channel(sim: OllamaSim) -> None:
    out = Sink()
    result = await reviewer(sim, model="qwen3:8b", think=True).review(job(), out)
    channels = [i.channel for i in out.items]
    assert channels[0] == "reasoning" and "text" in channels
    assert channels.index("text") > max(i for i, c in enumerate(channels) if c == "reasoning")
    assert "correctness" in out.text("reasoning") and result.text == MESSY
    assert result.usage.output_tokens == estimate_tokens(out.text("reasoning")) + estimate_tokens(MESSY)


async def test_think_false_is_sent_so_a_new_server_does_not_think(sim: OllamaSim) -> None:
    out = Sink()
    await reviewer(sim, model="qwen3:8b").review(job(), out)
    assert out.text("reasoning") == "" and sim.calls[-1].thinking == ""


async def test_unknown_pr_gets_an_approving_verdict(sim: OllamaSim) -> None:
    result = await reviewer(sim).review(job(pr=5, title="Something else"), Sink())
    assert '"verdict": "approve"' in result.text


async def test_cut_answer_and_full_context_are_reported(sim: OllamaSim) -> None:
    out = Sink()
    result = await reviewer(sim, options={"num_predict": 4, "num_ctx": 8}).review(job(), out)
    assert result.usage.output_tokens == 4 and MESSY.startswith(result.text)
    status = [i for i in out.items if i.channel == "status"]
    assert [i.meta for i in status] == [{"done_reason": "length"}, {"num_ctx": 8}]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.12.6", "0.11.10"])
async def test_missing_model_says_ollama_pull(version: str) -> None:
    async with OllamaSim(MODELS, ScenarioResponder(SCENARIO), version=version) as s:
        with pytest.raises(DispatchError) as err:
            await reviewer(s, model="glm-4.6:latest").review(job(), Sink())
    assert "ollama pull glm-4.6:latest" in err.value.hint
    assert "glm-4.6:latest" in err.value.message


async def test_refused_connection_names_the_host() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    r = OllamaReviewer("correctness", "correctness", "glm4:9b", host=host)
    with pytest.raises(DispatchError) as err:
        await r.review(job(), Sink())
    assert "cannot reach" in err.value.message and host in err.value.message
    assert "ollama serve" in err.value.hint


async def test_busy_server(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("busy"))
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), Sink())
    assert "busy" in err.value.message and "OLLAMA_MAX_QUEUE" in err.value.hint


async def test_server_error_before_output(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("http", status=500, message="llama runner process has terminated: exit status 2"))
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), Sink())
    assert "500" in err.value.message and "runner process" in err.value.message


async def test_think_on_a_model_that_cannot(sim: OllamaSim) -> None:
    with pytest.raises(DispatchError) as err:
        await reviewer(sim, think=True).review(job(), Sink())
    assert "does not support thinking" in err.value.message and "think = false" in err.value.hint


async def test_error_line_mid_stream(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("error_line", after_chunks=2, message="CUDA error: out of memory"))
    out = Sink()
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), out)
    cause = err.value.__cause__
    assert isinstance(cause, ollama.ResponseError) and cause.status_code == -1
    assert "mid-answer" in err.value.message and "out of memory" in err.value.message
    assert out.text() == sim.calls[-1].content != ""  # what came before the error was shown


async def test_stall_before_output_hits_the_adapters_timeout(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("stall"))
    with pytest.raises(DispatchError) as err:
        await reviewer(sim, stall_s=0.2).review(job(), Sink())
    assert "timed out" in err.value.message and "glm4:9b" in err.value.message


async def test_stall_mid_stream_hits_the_adapters_timeout(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("stall_mid_stream", after_chunks=2))
    out = Sink()
    with pytest.raises(DispatchError) as err:
        await reviewer(sim, stall_s=0.2).review(job(), out)
    assert "timed out" in err.value.message and out.text() != ""


async def test_whole_review_deadline(sim: OllamaSim) -> None:
    def slow(body: dict[str, Any]) -> Reply:
        return Reply("word " * 400, chunk_s=0.01)  # keeps sending, so only the deadline stops it

    sim.responder = slow
    with pytest.raises(DispatchError) as err:
        await reviewer(sim, timeout_s=0.3, stall_s=30).review(job(), Sink())
    assert "did not finish within 0.3s" in err.value.message


async def test_dropped_connection(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("drop_mid_stream", after_chunks=1))
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), Sink())
    assert "broke mid-answer" in err.value.message and sim.url in err.value.message


async def test_stream_that_ends_without_done(sim: OllamaSim) -> None:
    async def truncated(req: Any) -> Any:
        from cockpit.demo.sim.http import Response

        line = b'{"model":"glm4:9b","created_at":"2025-01-01T00:00:00.000000000Z",'
        line += b'"message":{"role":"assistant","content":"{"},"done":false}\n'
        return Response(200, line, {"content-type": "application/x-ndjson"})

    sim.server.handler = truncated
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), Sink())
    assert "stopped before the end" in err.value.message


async def test_not_an_ollama_server(sim: OllamaSim) -> None:
    async def html(req: Any) -> Any:
        from cockpit.demo.sim.http import Response

        return Response.text("<html>hello</html>\n", content_type="text/html")

    sim.server.handler = html
    with pytest.raises(DispatchError) as err:
        await reviewer(sim).review(job(), Sink())
    assert "not an ollama chat chunk" in err.value.message


# --- cancellation and concurrency ----------------------------------------------------------------


async def test_cancel_mid_stream_closes_the_stream_and_propagates(sim: OllamaSim) -> None:
    def endless(body: dict[str, Any]) -> Reply:
        return Reply("token " * 5000, chunk_s=0.005)

    sim.responder = endless
    sim.max_pending = 1
    out = Sink()
    task = asyncio.create_task(reviewer(sim).review(job(), out))
    await asyncio.wait_for(out.first_text.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(1000):  # the server notices the closed connection on its next write
        if sim.calls[-1].outcome == "disconnected":
            break
        await asyncio.sleep(0.01)
    assert sim.calls[-1].outcome == "disconnected"
    assert sim.calls[-1].chunks_sent < 5000
    sim.responder = ScenarioResponder(SCENARIO)  # the slot is free again: no 503
    assert (await reviewer(sim).review(job(), Sink())).text == MESSY


async def test_two_reviewers_in_parallel_against_one_server() -> None:
    paced = ScenarioResponder(SCENARIO)

    def slowly(body: dict[str, Any]) -> Reply:
        reply = paced(body)
        return Reply(reply.text, chunk_s=0.005, chunk_chars=4)

    async with OllamaSim(MODELS, slowly) as s:
        a, b = reviewer(s, name="correctness"), reviewer(s, name="quality", model="qwen3:8b")
        out_a, out_b = Sink(), Sink()
        ra, rb = await asyncio.gather(a.review(job("correctness"), out_a), b.review(job("quality"), out_b))
        assert ra.text == MESSY == out_a.text()
        assert rb.text == "VERDICT: APPROVE -- small and clear." == out_b.text()
        assert s.peak_pending == 2
        assert sorted(c.body["model"] for c in s.calls if c.body) == ["glm4:9b", "qwen3:8b"]


# --- host and doctor -------------------------------------------------------------------------------


def test_host_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert OllamaReviewer("r", "f", "m").host == DEFAULT_HOST
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    r = OllamaReviewer("r", "f", "m", timeout_s=30)
    assert r.host == "http://gpu-box:11500" and r.timeout_s == 30 and r.stall_s == 30
    assert OllamaReviewer("r", "f", "m", host="http://10.0.0.2:9999").host == "http://10.0.0.2:9999"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("", DEFAULT_HOST),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        (":5678", "http://127.0.0.1:5678"),
        ("example.com:5678/", "http://example.com:5678"),
        ("https://example.com", "https://example.com:443"),
        ("http://example.com/path", "http://example.com:80/path"),
        ("[::1]", "http://[::1]:11434"),
        ("[::1]:5678", "http://[::1]:5678"),
    ],
)
def test_base_url_reads_hosts_like_the_client(given: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert base_url(given) == url
    client_url = ollama.AsyncClient(host=given or None)._client.base_url  # what the client connects to
    assert httpx.URL(str(client_url).rstrip("/")) == httpx.URL(url)


async def test_check_finds_nothing_wrong(sim: OllamaSim) -> None:
    assert await check(sim.url, ["glm4:9b", "qwen3:8b", "glm4:9b"]) == []


async def test_check_lists_missing_models(sim: OllamaSim) -> None:
    problems = await check(sim.url, ["glm4:9b", "gpt-oss:20b", "llama3.2"])
    assert len(problems) == 2
    assert "ollama pull gpt-oss:20b" in problems[0] and "ollama pull llama3.2" in problems[1]


async def test_check_unreachable_and_old_server() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    problems = await check(host, ["glm4:9b"])
    assert len(problems) == 1 and host in problems[0] and "not reachable" in problems[0]
    async with OllamaSim(MODELS, version="0.4.7") as old:
        problems = await check(old.url, ["glm4:9b", "nope:1b"])
    assert "0.4.7" in problems[0] and "upgrade" in problems[0]
    assert "ollama pull nope:1b" in problems[1]


async def test_check_a_server_that_is_not_ollama(sim: OllamaSim) -> None:
    async def other(req: Any) -> Any:
        from cockpit.demo.sim.http import Response

        return Response.text("hello")

    sim.server.handler = other
    problems = await check(sim.url, ["glm4:9b"])
    assert len(problems) == 1 and "not like an ollama server" in problems[0]


def test_a_prompt_cut_by_the_model_context_is_reported() -> None:
    """ollama truncates silently: far fewer prompt tokens evaluated than sent means the diff was cut."""
    from ollama import ChatResponse, Message

    from cockpit.backends.ollama import OllamaReviewer
    from cockpit.events import Usage

    r = OllamaReviewer("correctness", "correctness", "glm-4.6", host="http://127.0.0.1:9")
    final = ChatResponse(
        model="glm-4.6",
        message=Message(role="assistant", content=""),
        done=True,
        done_reason="stop",
        prompt_eval_count=4096,
        eval_count=10,
    )
    seen: list[Output] = []
    r._report_limits(final, Usage(4096, 10), seen.append, sent=50_000)
    assert len(seen) == 1 and seen[0].meta.get("prompt_cut") and "num_ctx" in seen[0].text
    seen.clear()
    r._report_limits(final, Usage(4096, 10), seen.append, sent=4000)  # about what was sent: fine
    assert seen == []
