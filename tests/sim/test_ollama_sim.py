"""The ollama simulator, driven by the real ``ollama`` client (and raw httpx for the wire itself)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.demo.scenario import parse_scenario
from cockpit.demo.sim.ollama import (
    APPROVE_TEXT,
    BUSY_TEXT,
    Fault,
    OllamaSim,
    Reply,
    ScenarioResponder,
    SimModel,
    _BadRequest,
    group_pieces,
    parse_keep_alive,
    token_pieces,
)
from cockpit.tokens import estimate_tokens

MODELS = (SimModel("glm4:9b"), SimModel("qwen3:8b", family="qwen3", thinking=True))
TEXT = "The change is fine: tests pass, names are clear.\nOne nit in `util.py`."
THOUGHT = "Let me read the diff first, then the task."
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def fixed(body: dict[str, Any]) -> Reply:
    return Reply(TEXT, thinking=THOUGHT)


@pytest.fixture
async def sim() -> AsyncIterator[OllamaSim]:
    async with OllamaSim(MODELS, fixed) as s:
        yield s


def user(text: str = "hello") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def raw_chat(sim: OllamaSim, body: dict[str, Any] | bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await http.post("/api/chat", content=content)


# --- wire format -------------------------------------------------------------------------------


async def test_rest_default_is_a_ndjson_stream(sim: OllamaSim) -> None:
    resp = await raw_chat(sim, {"model": "glm4:9b", "messages": user()})  # no "stream" field
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-ndjson"
    assert resp.text.endswith("\n") and "\n\n" not in resp.text
    lines = [json.loads(line) for line in resp.text.splitlines()]
    assert len(lines) > 3
    *chunks, final = lines
    for chunk in chunks:
        assert chunk["done"] is False and chunk["model"] == "glm4:9b"
        assert RFC3339_NS.match(chunk["created_at"])
        assert chunk["message"]["role"] == "assistant"
        assert not set(METRICS) & set(chunk)
    assert "".join(c["message"]["content"] for c in chunks) == TEXT
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    for key in METRICS:
        assert isinstance(final[key], int) and final[key] > 0
    assert final["total_duration"] >= final["load_duration"] + final["eval_duration"]


async def test_one_chunk_per_token_piece_by_default(sim: OllamaSim) -> None:
    parts = [p async for p in await ollama.AsyncClient(host=sim.url).chat("glm4:9b", user(), stream=True)]
    pieces = [p.message.content for p in parts[:-1]]
    assert pieces == token_pieces(TEXT)
    assert parts[-1].eval_count == estimate_tokens(TEXT)


async def test_non_streaming_returns_one_object(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    resp = await client.chat("glm4:9b", user())  # the client's default is stream=False
    assert sim.calls[-1].body is not None and sim.calls[-1].body["stream"] is False
    assert resp.done and resp.done_reason == "stop"
    assert resp.message.content == TEXT and resp.message.thinking is None
    assert resp.eval_count == estimate_tokens(TEXT)
    raw = await raw_chat(sim, {"model": "glm4:9b", "messages": user(), "stream": False})
    assert raw.headers["content-type"] == "application/json"
    assert json.loads(raw.text)["message"]["content"] == TEXT


async def test_format_and_options_reach_the_server(sim: OllamaSim) -> None:
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]}
    client = ollama.AsyncClient(host=sim.url)
    await client.chat("glm4:9b", user(), format=schema, options={"temperature": 0.1}, keep_alive="10m")
    body = sim.calls[-1].body
    assert body is not None
    assert body["format"] == schema
    assert body["options"]["temperature"] == 0.1 and body["keep_alive"] == "10m"
    await client.chat("glm4:9b", user(), format="json")
    assert sim.calls[-1].body is not None and sim.calls[-1].body["format"] == "json"
    bad = await raw_chat(sim, {"model": "glm4:9b", "messages": user(), "format": "yaml"})
    assert bad.status_code == 400 and "invalid format" in bad.json()["error"]


# --- thinking ----------------------------------------------------------------------------------


async def test_thinking_comes_first_for_a_thinking_model(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    parts = [p async for p in await client.chat("qwen3:8b", user(), stream=True, think=True)]
    kinds = ["thinking" if p.message.thinking else "content" for p in parts if not p.done]
    assert kinds == sorted(kinds, key=lambda k: k != "thinking") and kinds[0] == "thinking"
    assert "".join(p.message.thinking or "" for p in parts) == THOUGHT
    assert "".join(p.message.content or "" for p in parts) == TEXT
    assert parts[-1].eval_count == estimate_tokens(THOUGHT) + estimate_tokens(TEXT)
    whole = await client.chat("qwen3:8b", user(), think="high")
    assert whole.message.thinking == THOUGHT and whole.message.content == TEXT


async def test_think_false_and_a_model_without_thinking(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    off = await client.chat("qwen3:8b", user(), think=False)
    assert off.message.thinking is None and off.message.content == TEXT
    with pytest.raises(ollama.ResponseError) as err:
        await client.chat("glm4:9b", user(), think=True)
    assert err.value.status_code == 400 and err.value.error == '"glm4:9b" does not support thinking'
    plain = await client.chat("glm4:9b", user(), think=False)  # False is fine for any model
    assert plain.message.content == TEXT
    bad = await raw_chat(sim, {"model": "qwen3:8b", "messages": user(), "think": "lots"})
    assert bad.status_code == 400 and "invalid think value" in bad.json()["error"]


@pytest.mark.parametrize(("version", "thinks"), [("0.12.6", True), ("0.12.5", False)])
async def test_leaving_think_out_depends_on_the_server_version(version: str, thinks: bool) -> None:
    async with OllamaSim(MODELS, fixed, version=version) as s:
        resp = await raw_chat(s, {"model": "qwen3:8b", "messages": user(), "stream": False})
    assert ("thinking" in resp.json()["message"]) is thinks


# --- the other endpoints ------------------------------------------------------------------------


async def test_tags_show_version_ps_and_root(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    listed = await client.list()
    assert [m.model for m in listed.models] == ["glm4:9b", "qwen3:8b"]
    first = listed.models[0]
    assert first.size and first.digest and len(first.digest) == 64 and first.modified_at is not None
    assert first.details is not None and first.details.format == "gguf"
    shown = await client.show("qwen3:8b")
    assert shown.modelinfo is not None and shown.modelinfo["qwen3.context_length"] == 131072
    assert shown.capabilities == ["completion", "tools", "thinking"]
    assert shown.details is not None and shown.details.family == "qwen3"
    with pytest.raises(ollama.ResponseError) as err:
        await client.show("nope:1b")
    assert err.value.status_code == 404 and err.value.error == "model 'nope:1b' not found"
    assert (await client.ps()).models == []
    with pytest.raises(ollama.ResponseError):  # a bare name means :latest, which this sim lacks
        await client.chat("glm4", user())
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.get("/api/version")).json() == {"version": "0.12.6"}
        root = await http.get("/")
        assert root.status_code == 200 and root.text == "Ollama is running"
        assert (await http.get("/api/nothing")).status_code == 404
        assert (await http.get("/api/chat")).status_code == 405
        assert (await http.post("/api/show", content=b"{}")).json() == {"error": "model is required"}


async def test_bare_names_get_the_latest_tag() -> None:
    async with OllamaSim([SimModel("llama3.2")], fixed) as s:
        client = ollama.AsyncClient(host=s.url)
        assert [m.model for m in (await client.list()).models] == ["llama3.2:latest"]
        resp = await client.chat("llama3.2", user())
        assert resp.model == "llama3.2" and resp.message.content == TEXT
        assert [m.model for m in (await client.ps()).models] == ["llama3.2:latest"]


# --- usage --------------------------------------------------------------------------------------


async def test_usage_is_counted_from_the_request_and_the_answer(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    system = "Reviewer: correctness\nYou review diffs."
    small = await client.chat("glm4:9b", [{"role": "system", "content": system}, *user("short")])
    assert small.prompt_eval_count == estimate_tokens(system) + estimate_tokens("short")
    diff = "+    return a + b\n" * 200
    big = await client.chat("glm4:9b", [{"role": "system", "content": system}, *user(diff)])
    assert big.prompt_eval_count == estimate_tokens(system) + estimate_tokens(diff)
    assert big.eval_count == small.eval_count == estimate_tokens(TEXT)
    assert sim.calls[-1].prompt_eval_count == big.prompt_eval_count
    # A warm model loads fast; the first call paid for the cold load.
    assert small.load_duration is not None and big.load_duration is not None
    assert big.load_duration < small.load_duration


async def test_num_predict_stops_with_length(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    parts = [p async for p in await client.chat("glm4:9b", user(), stream=True, options={"num_predict": 5})]
    text = "".join(p.message.content or "" for p in parts)
    assert TEXT.startswith(text) and text != TEXT
    assert parts[-1].done_reason == "length" and parts[-1].eval_count == 5 == estimate_tokens(text)
    thinking = await client.chat("qwen3:8b", user(), think=True, options={"num_predict": 3})
    assert thinking.done_reason == "length" and thinking.message.content == ""
    roomy = await client.chat("glm4:9b", user(), options={"num_predict": 1000, "num_ctx": 8192})
    assert roomy.done_reason == "stop" and roomy.message.content == TEXT
    bad = await raw_chat(sim, {"model": "glm4:9b", "messages": user(), "options": {"num_predict": "x"}})
    assert bad.status_code == 400 and "num_predict" in bad.json()["error"]


async def test_empty_messages_load_or_unload(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    loaded = await client.chat("glm4:9b", [])
    assert loaded.done and loaded.done_reason == "load" and loaded.eval_count is None
    assert [m.model for m in (await client.ps()).models] == ["glm4:9b"]
    unloaded = await client.chat("glm4:9b", [], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert (await client.ps()).models == []
    streamed = [p async for p in await client.chat("glm4:9b", [], stream=True)]
    assert [p.done_reason for p in streamed] == ["load"]


def test_keep_alive_parses_like_the_server() -> None:
    assert parse_keep_alive(None) == 300
    assert parse_keep_alive(30) == 30 and parse_keep_alive("1h30m") == 5400
    assert parse_keep_alive("0") == 0 and parse_keep_alive(0) == 0
    assert parse_keep_alive(-1) == float("inf") and parse_keep_alive("-1m") == float("inf")
    for bad in ("", "10", "5 minutes", "m"):
        with pytest.raises(_BadRequest, match="invalid duration"):
            parse_keep_alive(bad)


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "text"),
    [("0.12.6", "model 'gone:7b' not found"), ("0.11.10", 'model "gone:7b" not found, try pulling it first')],
)
async def test_missing_model_text_depends_on_version(version: str, text: str) -> None:
    async with OllamaSim(MODELS, fixed, version=version) as s:
        with pytest.raises(ollama.ResponseError) as err:
            async for _ in await ollama.AsyncClient(host=s.url).chat("gone:7b", user(), stream=True):
                pass
        assert s.calls[-1].outcome == "http_error"
    assert err.value.status_code == 404 and err.value.error == text


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "missing request body"),
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "cannot unmarshal list"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), "model is required"),
        (json.dumps({"model": "glm4:9b", "messages": "hi"}).encode(), "messages"),
        (json.dumps({"model": "glm4:9b", "messages": [{"content": "x"}]}).encode(), "role"),
        (json.dumps({"model": "glm4:9b", "messages": [], "keep_alive": "soon"}).encode(), "invalid duration"),
    ],
)
async def test_bad_requests_get_400_with_a_reason(sim: OllamaSim, body: bytes, fragment: str) -> None:
    resp = await raw_chat(sim, body)
    assert resp.status_code == 400
    assert fragment in resp.json()["error"]
    assert sim.calls[-1].status == 400


async def test_busy_and_server_errors(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    sim.queue_fault(Fault("busy"))
    sim.queue_fault(Fault("http", status=500, message="llama runner process has terminated: signal: killed"))
    with pytest.raises(ollama.ResponseError) as busy:
        await client.chat("glm4:9b", user())
    assert busy.value.status_code == 503 and busy.value.error == BUSY_TEXT
    with pytest.raises(ollama.ResponseError) as crashed:
        await client.chat("glm4:9b", user())
    assert crashed.value.status_code == 500 and "runner process" in crashed.value.error
    assert (await client.chat("glm4:9b", user())).message.content == TEXT  # faults are one per call


async def test_max_pending_answers_503_beyond_the_queue() -> None:
    async with OllamaSim(MODELS, fixed, max_pending=1) as s:
        s.queue_fault(Fault("stall_mid_stream", after_chunks=1))
        client = ollama.AsyncClient(host=s.url)
        first = await client.chat("glm4:9b", user(), stream=True)
        assert (await anext(first)).message.content  # the first request holds the only slot
        with pytest.raises(ollama.ResponseError) as err:
            await client.chat("glm4:9b", user())
        assert err.value.status_code == 503 and err.value.error == BUSY_TEXT
        await first.aclose()  # type: ignore[attr-defined]


async def test_error_after_output_is_a_last_line_in_the_200_stream(sim: OllamaSim) -> None:
    sim.queue_fault(Fault("error_line", after_chunks=2, message="CUDA error: out of memory"))
    resp = await raw_chat(sim, {"model": "glm4:9b", "messages": user()})
    assert resp.status_code == 200
    lines = [json.loads(line) for line in resp.text.splitlines()]
    assert len(lines) == 3 and lines[-1] == {"error": "CUDA error: out of memory"}
    sim.queue_fault(Fault("error_line", after_chunks=2))
    got: list[str] = []
    with pytest.raises(ollama.ResponseError) as err:
        async for part in await ollama.AsyncClient(host=sim.url).chat("glm4:9b", user(), stream=True):
            got.append(part.message.content or "")
    assert err.value.status_code == -1 and "error was encountered" in err.value.error
    assert "".join(got) == "".join(token_pieces(TEXT)[:2]) == sim.calls[-1].content
    assert sim.calls[-1].outcome == "error_line"
    sim.queue_fault(Fault("error_line"))
    with pytest.raises(ollama.ResponseError) as whole:  # without streaming it is a 500
        await ollama.AsyncClient(host=sim.url).chat("glm4:9b", user())
    assert whole.value.status_code == 500


async def test_stalls_and_drops(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url, timeout=0.2)
    sim.queue_fault(Fault("stall"))
    with pytest.raises(httpx.ReadTimeout):
        await client.chat("glm4:9b", user())
    assert sim.calls[-1].outcome == "stalled"
    sim.queue_fault(Fault("stall_mid_stream", after_chunks=3))
    got: list[str] = []
    with pytest.raises(httpx.ReadTimeout):
        async for part in await client.chat("glm4:9b", user(), stream=True):
            got.append(part.message.content or "")
    assert len(got) == 3 and sim.calls[-1].outcome == "stalled"
    sim.queue_fault(Fault("drop"))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.chat("glm4:9b", user())
    sim.queue_fault(Fault("drop_mid_stream", after_chunks=2))
    with pytest.raises(httpx.RemoteProtocolError):
        async for _ in await client.chat("glm4:9b", user(), stream=True):
            pass
    assert sim.calls[-1].outcome == "dropped" and sim.calls[-1].chunks_sent == 2
    sim.queue_fault(Fault("stall", stall_s=0.01))  # a short stall, then the answer goes on
    assert (await client.chat("glm4:9b", user())).message.content == TEXT


async def test_slow_pacing_sends_the_same_text() -> None:
    def slow(body: dict[str, Any]) -> Reply:
        return Reply(TEXT, first_token_s=0.01, chunk_s=0.002, chunk_chars=8)

    async with OllamaSim(MODELS, slow) as s:
        parts = [p async for p in await ollama.AsyncClient(host=s.url).chat("glm4:9b", user(), stream=True)]
    contents = [p.message.content or "" for p in parts[:-1]]
    assert "".join(contents) == TEXT
    assert all(len(c) >= 8 for c in contents[:-1])


# --- chunking --------------------------------------------------------------------------------


@given(st.text(max_size=300), st.integers(min_value=0, max_value=40))
def test_pieces_join_back_exactly_and_count_as_tokens(text: str, chunk_chars: int) -> None:
    pieces = token_pieces(text)
    assert "".join(pieces) == text
    assert "".join(group_pieces(pieces, chunk_chars)) == text
    if text.strip():
        assert sum(1 for p in pieces if not p.isspace()) == estimate_tokens(text)


# --- the scenario responder --------------------------------------------------------------------

MESSY = """Sure! Here is my review.

```json
{"verdict": "changes", "summary": "Off by one in paginate()", "findings": [
  {"severity": "major", "text": "last page dropped", "file": "app/pages.py", "line": 12}]}
```

VERDICT: REQUEST_CHANGES
"""

SCENARIO = f'''
name = "tiny"
[pacing]
chunk_s = 0.5
think_s = 2.0
chunk_chars = 6

[[pr]]
title = "Add pagination"
task = "Paginate the list endpoint."

[[pr.round]]
[[pr.round.review]]
reviewer = "correctness"
text = """{MESSY}"""

[[pr.round.review]]
reviewer = "*"
text = "VERDICT: APPROVE"

[[pr.round]]
[[pr.round.review]]
reviewer = "*"
text = '{{"verdict": "approve", "summary": "Fixed.", "findings": []}}'

[[pr]]
title = "Flaky reviewer"
task = "Anything."

[[pr.round]]
[[pr.round.review]]
reviewer = "correctness"
fault = "timeout"

[[pr.round.review]]
reviewer = "style"
fault = "error"
text = '{{"verdict": "approve", "summary": "a partial answer that breaks off", "findings": []}}'

[[pr.round.review]]
reviewer = "*"
fault = "missing_model"
'''


def review_messages(reviewer: str, pr: int, title: str, round_no: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You review code.\nReviewer: {reviewer}\nFraming: whatever"},
        {"role": "user", "content": f"PR {pr}: {title}\nRound {round_no}\n\ndiff --git a/x b/x\n+1\n"},
    ]


async def test_scenario_responder_answers_verbatim_per_reviewer_and_round() -> None:
    scenario = parse_scenario(SCENARIO)
    async with OllamaSim(MODELS, ScenarioResponder(scenario)) as s:
        client = ollama.AsyncClient(host=s.url)

        async def ask(reviewer: str, pr: int, title: str, round_no: int) -> str:
            msgs = review_messages(reviewer, pr, title, round_no)
            parts = [p async for p in await client.chat("glm4:9b", msgs, stream=True, format="json")]
            return "".join(p.message.content or "" for p in parts)

        assert await ask("correctness", 1, "Add pagination", 1) == MESSY
        assert await ask("style", 1, "Add pagination", 1) == "VERDICT: APPROVE"
        assert await ask("correctness", 1, "Add pagination", 2) == scenario.pr[0].round[1].review[0].text
        assert await ask("correctness", 1, "Add pagination", 7) == scenario.pr[0].round[1].review[0].text
        assert await ask("correctness", 1, "Renamed by the user", 1) == MESSY  # found by number
        assert await ask("correctness", 9, "Not in the scenario", 1) == APPROVE_TEXT
        assert await ask("correctness", 0, "", 1) == APPROVE_TEXT
        assert json.loads(APPROVE_TEXT)["verdict"] == "approve"
        msgs = review_messages("correctness", 1, "Add pagination", 1)
        messy_parts = [p async for p in await client.chat("glm4:9b", msgs, stream=True)]
        assert all(len(p.message.content or "") >= 6 for p in messy_parts[:-2])  # the scenario's chunk_chars


async def test_scenario_faults() -> None:
    scenario = parse_scenario(SCENARIO)
    async with OllamaSim(MODELS, ScenarioResponder(scenario)) as s:
        client = ollama.AsyncClient(host=s.url, timeout=0.2)
        with pytest.raises(httpx.ReadTimeout):
            await client.chat("glm4:9b", review_messages("correctness", 2, "Flaky reviewer", 1))
        with pytest.raises(ollama.ResponseError) as line:
            msgs = review_messages("style", 2, "Flaky reviewer", 1)
            async for _ in await client.chat("glm4:9b", msgs, stream=True):
                pass
        assert line.value.status_code == -1 and s.calls[-1].chunks_sent == 3
        with pytest.raises(ollama.ResponseError) as missing:
            await client.chat("glm4:9b", review_messages("security", 2, "Flaky reviewer", 1))
        assert missing.value.status_code == 404 and missing.value.error == "model 'glm4:9b' not found"


def test_scenario_pacing_scales_with_speed() -> None:
    scenario = parse_scenario(SCENARIO)
    body = {"messages": review_messages("correctness", 1, "Add pagination", 1)}
    still = ScenarioResponder(scenario, speed=0)(body)
    assert still.first_token_s == 0 and still.chunk_s == 0 and still.chunk_chars == 6
    fast = ScenarioResponder(scenario, speed=4)(body)
    assert fast.first_token_s == 0.5 and fast.chunk_s == 0.125
    assert "correctness" in fast.thinking and "PR 1" in fast.thinking
    unknown = ScenarioResponder(scenario)({"messages": "not a list"})
    assert unknown.text == APPROVE_TEXT and unknown.fault is None


# --- standalone --------------------------------------------------------------------------------


def test_standalone_prints_its_url_and_serves(tmp_path: Any) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "cockpit.demo.sim.ollama",
        "--port",
        "0",
        "--scenario",
        str(scenario),
        "--speed",
        "0",
        "--model",
        "tiny:1b",
        "--thinking-model",
        "deep:2b",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+$", url)
        client = ollama.Client(host=url, timeout=10)
        assert [m.model for m in client.list().models] == ["tiny:1b", "deep:2b"]
        reply = client.chat("tiny:1b", review_messages("correctness", 1, "Add pagination", 1))
        assert reply.message.content == MESSY
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_standalone_reports_a_bad_scenario(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[pr]]\ntitle = 3\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "cockpit.demo.sim.ollama", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2 and "bad.toml" in proc.stderr


async def test_calls_run_concurrently_on_one_server(sim: OllamaSim) -> None:
    client = ollama.AsyncClient(host=sim.url)
    results = await asyncio.gather(*(client.chat("glm4:9b", user(f"n{i}")) for i in range(4)))
    assert [r.message.content for r in results] == [TEXT] * 4
    assert len(sim.calls) == 4 and all(c.outcome == "stop" for c in sim.calls)


async def test_a_failing_responder_is_a_500_not_a_hang() -> None:
    def broken(body: dict[str, Any]) -> Reply:
        raise KeyError("messages")

    async with OllamaSim(MODELS, broken) as s:
        with pytest.raises(ollama.ResponseError) as err:
            await ollama.AsyncClient(host=s.url).chat("glm4:9b", user())
    assert err.value.status_code == 500 and "responder failed" in err.value.error
    assert s.calls[-1].outcome == "http_error"
