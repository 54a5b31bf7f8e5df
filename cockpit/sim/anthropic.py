"""A protocol-faithful Anthropic Messages API on loopback, for the demo and the composer's tests.

Why faithful rather than merely plausible: the composer adapter has to cope with what the real
API and the real SDK do (SSE framing, ``input_json_delta`` pieces, usage that excludes cached
tokens, error bodies, mid-stream ``event: error``, dropped connections, stalls), so the simulator
reproduces those and lets a test choose when they happen. Token counts are estimated from the
request actually sent, never scripted, so a prompt that grows shows up as a growing count and a
stable prefix shows up as cache reads.

What the model says is pluggable: a *responder* turns the request body into a ``Reply``.
``ScenarioResponder`` answers from a ``cockpit.scenario.Scenario``. Run it standalone with
``python -m cockpit.sim.anthropic --port 0 [--scenario FILE] [--speed X]``; the first line
printed is the base URL (give it to the SDK as ``base_url`` / ``ANTHROPIC_BASE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import re
import signal
import string
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cockpit.scenario import DecisionScript, PrScript, Scenario, builtin_scenario, load_scenario
from cockpit.sim.http import DropConnection, HttpServer, Request, Response, StreamResponse
from cockpit.sim.tokens import estimate_tokens

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
STATUS_OF_TYPE: dict[str, int] = {v: k for k, v in ERROR_TYPES.items()}
DEFAULT_MESSAGES: dict[str, str] = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}

CACHE_MIN_TOKENS = 1024  # the smallest cacheable prefix (the real minimum is 1024-4096 by model)
CACHE_LOOKBACK_BLOCKS = 20  # the API looks for earlier hits this many blocks before a breakpoint
MAX_CACHE_BREAKPOINTS = 4
CACHE_TTLS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MESSAGE_OVERHEAD_TOKENS = 3  # role and turn framing, counted once per message
DEFAULT_MODELS = ("claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")
TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")


# --- what a responder returns ------------------------------------------------------------------


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class ToolUseBlock:
    name: str
    input: dict[str, Any]
    id: str = ""  # "" = the simulator makes a toolu_ id
    raw_json: str = ""  # stream this instead of ``input`` as JSON (to test clients on malformed JSON)


Block = TextBlock | ToolUseBlock
FaultKind = Literal["http", "event_error", "drop", "stall"]


@dataclass(frozen=True)
class Fault:
    """Something going wrong, on purpose.

    ``after_events`` is None for "before the response headers"; k means "after k SSE events"
    (for a non-streaming request any k means "before the response").
    http: an error status with the API's error body (``retry_after`` adds ``retry-after``).
    event_error: ``event: error`` with ``error_type``, then the stream ends (HTTP status stays 200).
    drop: the TCP connection is aborted. stall: nothing is sent for ``seconds``, then it goes on.
    """

    kind: FaultKind
    status: int = 529
    error_type: str = ""
    message: str = ""
    after_events: int | None = None
    seconds: float = 0.0
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("http", "event_error", "drop", "stall"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "http" and (self.status < 400 or self.after_events is not None):
            raise ValueError("an http fault needs an error status and happens before the headers")
        if self.kind in ("event_error", "drop") and self.after_events is None:
            raise ValueError(f"a {self.kind} fault happens mid-stream: give after_events")
        if self.after_events is not None and self.after_events < 0:
            raise ValueError("after_events must be >= 0")
        if self.seconds < 0:
            raise ValueError("seconds must be >= 0")

    @classmethod
    def http(cls, status: int, message: str = "", retry_after: float | None = None) -> Fault:
        return cls("http", status=status, message=message, retry_after=retry_after)

    @classmethod
    def event_error(
        cls, after_events: int = 3, error_type: str = "overloaded_error", message: str = ""
    ) -> Fault:
        return cls("event_error", error_type=error_type, message=message, after_events=after_events)

    @classmethod
    def drop(cls, after_events: int = 3) -> Fault:
        return cls("drop", after_events=after_events)

    @classmethod
    def stall(cls, seconds: float, after_events: int | None = None) -> Fault:
        return cls("stall", seconds=seconds, after_events=after_events)

    @property
    def resolved_type(self) -> str:
        if self.error_type:
            return self.error_type
        return ERROR_TYPES.get(self.status, "api_error")

    @property
    def resolved_message(self) -> str:
        return self.message or DEFAULT_MESSAGES.get(self.resolved_type, "Error")


@dataclass(frozen=True)
class Reply:
    """A model's answer and how it is delivered.

    ``stop_reason`` None means ``tool_use`` when there is a tool_use block, else ``end_turn``;
    ``max_tokens`` is set by the simulator when the answer does not fit the request's budget.
    """

    content: tuple[Block, ...] = ()
    stop_reason: str | None = None
    chunk_s: float = 0.0  # pause between deltas
    chunk_chars: int = 12  # characters per delta
    think_s: float = 0.0  # pause before the first event
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if self.chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")
        if self.chunk_s < 0 or self.think_s < 0:
            raise ValueError("pauses must be >= 0")

    @classmethod
    def text(cls, text: str, **kw: Any) -> Reply:
        return cls((TextBlock(text),), **kw)

    @classmethod
    def tool(cls, name: str, input: dict[str, Any], *, preface: str = "", **kw: Any) -> Reply:
        blocks: tuple[Block, ...] = (TextBlock(preface),) if preface else ()
        return cls((*blocks, ToolUseBlock(name, input)), **kw)


Responder = Callable[[dict[str, Any]], Reply]


def echo_responder(body: dict[str, Any]) -> Reply:
    """The default: call a forced tool with an empty input, otherwise echo the last user text."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return Reply.tool(str(choice.get("name")), {})
    return Reply.text(f"You said: {last_user_text(body)[:200]}")


# --- request validation and token counting -----------------------------------------------------


class ApiError(Exception):
    """An error answer in the API's shape."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, error_type: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.headers = headers or {}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _check_cache_control(where: str, block: dict[str, Any]) -> None:
    cc = block.get("cache_control")
    if cc is None:
        return
    if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
        raise _bad(f"{where}.cache_control: type must be 'ephemeral'")
    if cc.get("ttl", "5m") not in CACHE_TTLS:
        raise _bad(f"{where}.cache_control.ttl: must be one of '5m', '1h'")


def _check_block(where: str, block: Any) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _bad(f"{where}: a content block must be an object with a type")
    if block["type"] == "text":
        if not isinstance(block.get("text"), str):
            raise _bad(f"{where}.text: Field required")
        if not block["text"]:
            raise _bad(f"{where}: text content blocks must be non-empty")
    _check_cache_control(where, block)


def validate_body(body: Any, *, count_only: bool = False) -> dict[str, Any]:
    """The request body, or an ``ApiError`` 400 naming the first field that is wrong."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad("model: Field required")
    if not count_only:
        mt = body.get("max_tokens")
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise _bad("max_tokens: Field required (an integer >= 1)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: Field required (a non-empty list)")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: must be 'user' or 'assistant'")
        content = msg.get("content")
        if isinstance(content, str):
            if not content and not (i == len(messages) - 1 and msg["role"] == "assistant"):
                raise _bad(
                    f"messages.{i}: all messages must have non-empty content except for the "
                    "optional final assistant message"
                )
        elif isinstance(content, list):
            for j, block in enumerate(content):
                _check_block(f"messages.{i}.content.{j}", block)
        else:
            raise _bad(f"messages.{i}.content: must be a string or a list of content blocks")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise _bad("system: must be a string or a list of text blocks")
        for j, block in enumerate(system):
            _check_block(f"system.{j}", block)
            if block["type"] != "text":
                raise _bad(f"system.{j}.type: must be 'text'")
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools: must be a list")
        for j, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise _bad(f"tools.{j}.name: Field required")
            if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
                raise _bad(f"tools.{j}.input_schema: Field required")
            _check_cache_control(f"tools.{j}", tool)
            names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
            raise _bad("tool_choice.type: must be one of 'auto', 'any', 'tool', 'none'")
        if not names and choice["type"] != "none":
            raise _bad("tool_choice may only be specified while providing tools.")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise _bad(f"tool_choice.name: tool {choice.get('name')!r} not found in the provided tools")
    segments = prompt_segments(body)
    marks = [s for s in segments if s.ttl is not None]
    if len(marks) > MAX_CACHE_BREAKPOINTS:
        raise _bad(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marks)}."
        )
    seen_5m = False
    for s in marks:
        seen_5m = seen_5m or s.ttl == CACHE_TTLS["5m"]
        if seen_5m and s.ttl == CACHE_TTLS["1h"]:
            raise _bad("a ttl='1h' cache_control block must not come after a ttl='5m' one")
    return body


@dataclass(frozen=True)
class Segment:
    """One cacheable unit of the prompt (a tool, a system block, a message content block)."""

    key: str  # canonical JSON of the block without its cache_control
    tokens: int
    ttl: float | None  # set when the block carries cache_control (a breakpoint)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        return f"{block.get('name', '')} {_canonical(block.get('input', {}))}"
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return " ".join(_block_text(b) for b in content if isinstance(b, dict))
        return str(content)
    return _canonical({k: v for k, v in block.items() if k != "cache_control"})


def _segment(block: dict[str, Any], text: str, extra: int = 0, prefix: str = "") -> Segment:
    cc = block.get("cache_control")
    ttl = CACHE_TTLS.get(str(cc.get("ttl", "5m"))) if isinstance(cc, dict) else None
    key = prefix + _canonical({k: v for k, v in block.items() if k != "cache_control"})
    return Segment(key, estimate_tokens(text) + extra, ttl)


def prompt_segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in cache order: tools, then system, then messages."""
    out: list[Segment] = []
    for tool in body.get("tools") or []:
        schema = _canonical(tool.get("input_schema", {}))
        text = f"{tool.get('name', '')} {tool.get('description', '')} {schema}"
        out.append(_segment(tool, text, prefix="tool:"))
    system = body.get("system")
    if isinstance(system, str) and system:
        out.append(Segment("system:" + _canonical(system), estimate_tokens(system), None))
    elif isinstance(system, list):
        for block in system:
            out.append(_segment(block, _block_text(block), prefix="system:"))
    for msg in body.get("messages") or []:
        role = str(msg.get("role"))
        content = msg.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        if not blocks:
            out.append(Segment(f"{role}:", MESSAGE_OVERHEAD_TOKENS, None))
        for j, block in enumerate(blocks):
            extra = MESSAGE_OVERHEAD_TOKENS if j == 0 else 0
            out.append(_segment(block, _block_text(block), extra, prefix=f"{role}:" if j == 0 else ""))
    return out


def count_input_tokens(body: dict[str, Any]) -> int:
    """The whole prompt's estimated size, as ``count_tokens`` reports it."""
    return sum(s.tokens for s in prompt_segments(body))


@dataclass(frozen=True)
class PromptUsage:
    input_tokens: int  # excludes both cache counts, as the real API
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h


class PromptCache:
    """Prefix caching as the API does it: breakpoints, a minimum size, a lookback, a ttl."""

    def __init__(
        self, min_tokens: int = CACHE_MIN_TOKENS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_tokens = min_tokens
        self.clock = clock
        self._entries: dict[str, tuple[float, float]] = {}  # prefix hash -> (expires_at, ttl)

    def account(self, model: str, segments: Sequence[Segment]) -> PromptUsage:
        total = sum(s.tokens for s in segments)
        breakpoints = [i for i, s in enumerate(segments) if s.ttl is not None]
        if not breakpoints:
            return PromptUsage(total)
        now = self.clock()
        chain: list[str] = []
        cumulative: list[int] = []
        h = hashlib.sha256(model.encode())
        running = 0
        for s in segments:
            h.update(b"\x00" + s.key.encode())
            chain.append(h.copy().hexdigest())
            running += s.tokens
            cumulative.append(running)
        last = breakpoints[-1]
        if cumulative[last] < self.min_tokens:
            return PromptUsage(total)
        # the longest prefix already cached, looking back from each breakpoint
        hit = -1
        for bp in breakpoints:
            for j in range(bp, max(-1, bp - CACHE_LOOKBACK_BLOCKS), -1):
                entry = self._entries.get(chain[j])
                if entry is not None and entry[0] > now:
                    hit = max(hit, j)
                    break
        read = cumulative[hit] if hit >= 0 else 0
        if hit >= 0:
            hit_ttl = self._entries[chain[hit]][1]
            self._entries[chain[hit]] = (now + hit_ttl, hit_ttl)  # a hit refreshes the entry
        write = {CACHE_TTLS["5m"]: 0, CACHE_TTLS["1h"]: 0}
        counted = hit  # the last segment already accounted for (read or written)
        for bp in breakpoints:
            ttl = segments[bp].ttl
            assert ttl is not None
            if bp > counted:  # tokens after the hit are written with the ttl of the breakpoint closing them
                write[ttl] += cumulative[bp] - (cumulative[counted] if counted >= 0 else 0)
                counted = bp
            entry = self._entries.get(chain[bp])
            if cumulative[bp] >= self.min_tokens and (entry is None or entry[0] <= now):
                self._entries[chain[bp]] = (now + ttl, ttl)
        read_write = read + write[CACHE_TTLS["5m"]] + write[CACHE_TTLS["1h"]]
        return PromptUsage(total - read_write, read, write[CACHE_TTLS["5m"]], write[CACHE_TTLS["1h"]])


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (its text blocks joined)."""
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n\n".join(
                    str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
                )
    return ""


# --- generation ---------------------------------------------------------------------------------


@dataclass
class _Out:
    """A content block as it goes out: its payload (text or tool JSON) possibly cut."""

    kind: Literal["text", "tool_use"]
    payload: str
    name: str = ""
    id: str = ""
    input: dict[str, Any] = field(default_factory=dict)


def _cut_to_tokens(text: str, budget: int) -> str:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _apply_tool_choice(blocks: Sequence[Block], choice: dict[str, Any]) -> list[Block]:
    kind = choice.get("type", "auto")
    out = list(blocks)
    if kind in ("any", "tool"):
        first_tool = next((i for i, b in enumerate(out) if isinstance(b, ToolUseBlock)), None)
        if first_tool is not None:  # the API prefills the tool call: no prose before it
            out = out[first_tool:]
    elif kind == "none":
        out = [b for b in out if not isinstance(b, ToolUseBlock)]
    return out


# --- the server ---------------------------------------------------------------------------------


@dataclass
class StreamRecord:
    """What happened to one streamed answer, for tests (e.g. that a cancelled client hung up)."""

    request_id: str
    events_sent: int = 0
    outcome: str = "open"  # complete | error_event | dropped | closed_early


class AnthropicSimulator:
    """``POST /v1/messages`` (stream or not), ``/v1/messages/count_tokens``, ``GET /v1/models``.

    Start it with ``async with`` on the caller's loop, or on a ``ServerThread`` with
    ``thread.serve(sim.server)``; then change it from other threads only through ``thread.call``.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        api_keys: Collection[str] | None = None,
        models: Collection[str] | None = None,
        cache_min_tokens: int = CACHE_MIN_TOKENS,
        clock: Callable[[], float] = time.monotonic,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_responder
        self.api_keys = set(api_keys) if api_keys is not None else None  # None: any non-empty key
        self.models = set(models) if models is not None else None  # None: any model name
        self.cache = PromptCache(cache_min_tokens, clock)
        self.max_request_bytes = max_request_bytes
        self.server = HttpServer(self.handle, host, port)
        self.streams: list[StreamRecord] = []
        self._faults: deque[Fault] = deque()
        self._rng = random.Random(seed)

    # lifecycle
    async def start(self) -> AnthropicSimulator:
        await self.server.start()
        return self

    async def close(self) -> None:
        await self.server.close()

    async def __aenter__(self) -> AnthropicSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> list[Request]:
        return self.server.log

    def message_bodies(self) -> list[dict[str, Any]]:
        """The parsed bodies of every ``POST /v1/messages`` received (unparseable ones skipped)."""
        out: list[dict[str, Any]] = []
        for req in self.server.log:
            if req.method == "POST" and req.path == "/v1/messages":
                with contextlib.suppress(ValueError):
                    body = req.json()
                    if isinstance(body, dict):
                        out.append(body)
        return out

    def queue_fault(self, fault: Fault, times: int = 1) -> None:
        """The next ``times`` message requests meet ``fault`` (before the responder's own)."""
        self._faults.extend([fault] * times)

    def _id(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(24))

    # HTTP
    async def handle(self, request: Request) -> Response | StreamResponse:
        rid = self._id("req_")
        try:
            return await self._route(request, rid)
        except ApiError as err:
            return _error_response(err.status, err.error_type, err.message, rid, err.headers)
        except DropConnection:
            raise
        except Exception as exc:  # a responder bug shows as the API's 500, with the cause
            return _error_response(500, "api_error", f"simulator error: {exc!r}", rid)

    async def _route(self, request: Request, rid: str) -> Response | StreamResponse:
        path = request.path.rstrip("/")
        known = {("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models")}
        is_model = request.method == "GET" and path.startswith("/v1/models/")
        if (request.method, path) not in known and not is_model:
            raise ApiError(404, f"Not found: {request.method} {request.path}")
        self._authenticate(request)
        if not request.headers.get("anthropic-version"):
            raise _bad("anthropic-version: header is required")
        if path == "/v1/models":
            names = sorted(self.models) if self.models is not None else list(DEFAULT_MODELS)
            data = [_model_info(n) for n in names]
            return Response.json(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None,
                },
                headers={"request-id": rid},
            )
        if is_model:
            name = path.removeprefix("/v1/models/")
            if self.models is not None and name not in self.models:
                raise ApiError(404, f"model: {name}")
            return Response.json(_model_info(name), headers={"request-id": rid})
        if len(request.body) > self.max_request_bytes:
            raise ApiError(413, DEFAULT_MESSAGES["request_too_large"])
        try:
            raw = request.json()
        except ValueError as exc:
            raise _bad(f"There was an error parsing the body: {exc}") from exc
        body = validate_body(raw, count_only=path.endswith("count_tokens"))
        if self.models is not None and body["model"] not in self.models:
            raise ApiError(404, f"model: {body['model']}")
        if path.endswith("count_tokens"):
            return Response.json({"input_tokens": count_input_tokens(body)}, headers={"request-id": rid})
        return await self._messages(body, rid)

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        auth = request.headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if self.api_keys is not None and key not in self.api_keys:
            raise ApiError(401, "invalid x-api-key")

    async def _messages(self, body: dict[str, Any], rid: str) -> Response | StreamResponse:
        reply = self.responder(body)
        fault = self._faults.popleft() if self._faults else reply.fault
        if fault is not None and fault.kind == "http":
            headers: dict[str, str] = {}
            if fault.retry_after is not None:
                headers["retry-after"] = str(max(0, round(fault.retry_after)))
                headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
            raise ApiError(
                fault.status, fault.resolved_message, headers=headers, error_type=fault.resolved_type
            )
        if fault is not None and fault.kind == "stall" and fault.after_events is None:
            await asyncio.sleep(fault.seconds)
            fault = None
        model = str(body["model"])
        usage = self.cache.account(model, prompt_segments(body))
        blocks, stop_reason, output_tokens = self._render(body, reply)
        message_id = self._id("msg_")
        usage_json = _usage_json(usage, output_tokens)
        if body.get("stream") is True:
            events = _sse_events(message_id, model, blocks, stop_reason, usage_json, reply)
            record = StreamRecord(rid)
            self.streams.append(record)
            headers = {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": rid,
            }
            return StreamResponse(_stream(events, fault, record), headers=headers)
        # non-streaming: the whole answer at once, after the time it would have taken
        deltas = sum(len(_pieces(b.payload, reply.chunk_chars)) for b in blocks)
        pause = reply.think_s + reply.chunk_s * deltas
        if fault is not None:
            if fault.kind == "stall":
                pause += fault.seconds
            elif fault.kind == "drop":
                raise DropConnection()
            elif fault.kind == "event_error":
                raise ApiError(
                    STATUS_OF_TYPE.get(fault.resolved_type, 500),
                    fault.resolved_message,
                    error_type=fault.resolved_type,
                )
        if pause:
            await asyncio.sleep(pause)
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [_block_json(b, complete=True) for b in blocks],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage_json,
        }
        return Response.json(message, headers={"request-id": rid})

    def _render(self, body: dict[str, Any], reply: Reply) -> tuple[list[_Out], str, int]:
        """The reply's blocks after tool_choice and the max_tokens budget; stop reason; tokens."""
        content = _apply_tool_choice(reply.content, body.get("tool_choice") or {})
        budget = int(body["max_tokens"])
        used = 0
        out: list[_Out] = []
        stop_reason = reply.stop_reason or (
            "tool_use" if any(isinstance(b, ToolUseBlock) for b in content) else "end_turn"
        )
        for block in content:
            if isinstance(block, TextBlock):
                item = _Out("text", block.text)
            else:
                item = _Out(
                    "tool_use",
                    block.raw_json or json.dumps(block.input, ensure_ascii=False),
                    block.name,
                    block.id or self._id("toolu_"),
                    dict(block.input),
                )
            n = estimate_tokens(item.payload)
            if used + n > budget:
                item.payload = _cut_to_tokens(item.payload, budget - used)
                used += estimate_tokens(item.payload)
                if item.payload or item.kind == "tool_use":
                    out.append(item)
                stop_reason = "max_tokens"
                break
            used += n
            out.append(item)
        return out, stop_reason, max(1, used)


def _model_info(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}


def _error_body(error_type: str, message: str, rid: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": rid}


def _error_response(
    status: int, error_type: str, message: str, rid: str, headers: dict[str, str] | None = None
) -> Response:
    return Response.json(
        _error_body(error_type, message, rid), status=status, headers={"request-id": rid, **(headers or {})}
    )


def _usage_json(usage: PromptUsage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _block_json(block: _Out, *, complete: bool) -> dict[str, Any]:
    if block.kind == "text":
        return {"type": "text", "text": block.payload if complete else ""}
    tool_input: dict[str, Any] = {}
    if complete:
        try:
            parsed = json.loads(block.payload)
            tool_input = parsed if isinstance(parsed, dict) else {}
        except ValueError:  # cut by max_tokens: the API's input is whatever parsed; we keep none
            tool_input = {}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input}


SseEvent = tuple[float, str, dict[str, Any]]  # (pause before it, event name, data)


def _sse_events(
    message_id: str, model: str, blocks: list[_Out], stop_reason: str, usage: dict[str, Any], reply: Reply
) -> list[SseEvent]:
    start_usage = dict(usage, output_tokens=1)
    events: list[SseEvent] = [
        (
            reply.think_s,
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
    ]
    for i, block in enumerate(blocks):
        events.append(
            (
                0.0,
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": _block_json(block, complete=False),
                },
            )
        )
        if i == 0:
            events.append((0.0, "ping", {"type": "ping"}))
        if block.kind == "text":
            for piece in _pieces(block.payload, reply.chunk_chars):
                events.append(
                    (
                        reply.chunk_s,
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                )
        else:
            for piece in ["", *_pieces(block.payload, reply.chunk_chars)]:
                events.append(
                    (
                        reply.chunk_s if piece else 0.0,
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
                )
        events.append((0.0, "content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(
        (
            0.0,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {
                    k: usage[k]
                    for k in (
                        "input_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens",
                        "output_tokens",
                    )
                },
            },
        )
    )
    events.append((0.0, "message_stop", {"type": "message_stop"}))
    return events


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _stream(events: list[SseEvent], fault: Fault | None, record: StreamRecord) -> AsyncIterator[bytes]:
    at = min(fault.after_events or 0, len(events)) if fault is not None else -1
    try:
        for idx in range(len(events) + 1):
            if idx == at and fault is not None:
                if fault.kind == "stall":
                    await asyncio.sleep(fault.seconds)
                elif fault.kind == "drop":
                    record.outcome = "dropped"
                    raise DropConnection()
                elif fault.kind == "event_error":
                    record.outcome = "error_event"
                    yield _sse(
                        "error",
                        {
                            "type": "error",
                            "error": {"type": fault.resolved_type, "message": fault.resolved_message},
                        },
                    )
                    record.events_sent += 1
                    return
            if idx == len(events):
                break
            pause, name, data = events[idx]
            if pause:
                await asyncio.sleep(pause)
            yield _sse(name, data)
            record.events_sent += 1
        record.outcome = "complete"
    finally:
        if record.outcome == "open":
            record.outcome = "closed_early"


# --- the scenario responder -------------------------------------------------------------------

PR_LINE = re.compile(r"^PR (\d+): (.+?)\s*$", re.MULTILINE)
ROUND_LINE = re.compile(r"^Round (\d+)\b", re.MULTILINE)
SCENARIO_FAULTS = ("overloaded", "rate_limit", "error", "midstream", "drop", "stall")
STALL_SECONDS = 3600.0  # longer than any sane read timeout


def scenario_fault(name: str) -> tuple[Fault | None, bool]:
    """A scenario's fault word as a ``Fault``, and whether it happens only once.

    overloaded: HTTP 529 (the SDK retries it); rate_limit: 429 with retry-after 1;
    error: HTTP 500; midstream: ``event: error`` overloaded_error after 3 events;
    drop: the connection drops after 3 events; stall: the stream stops after 2 events.
    A ``_once`` suffix makes it hit only the first request for that PR, round and call kind.
    """
    if not name:
        return None, False
    base, once = (name.removesuffix("_once"), True) if name.endswith("_once") else (name, False)
    faults = {
        "overloaded": Fault.http(529),
        "rate_limit": Fault.http(429, retry_after=1.0),
        "error": Fault.http(500),
        "midstream": Fault.event_error(after_events=3),
        "drop": Fault.drop(after_events=3),
        "stall": Fault.stall(STALL_SECONDS, after_events=2),
    }
    if base not in faults:
        known = ", ".join(SCENARIO_FAULTS)
        raise ValueError(f"unknown composer fault {name!r}: use one of {known} (optionally with _once)")
    return faults[base], once


def _task_from_prompt(prompt: str, title: str) -> str:
    """The task text of an unknown PR: a 'Task:' paragraph, else the first ordinary paragraph."""
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower().startswith("task:"):
            rest = [line.split(":", 1)[1].strip()]
            for more in lines[i + 1 :]:
                if not more.strip():
                    break
                rest.append(more.strip())
            text = " ".join(r for r in rest if r)
            if text:
                return text[:600]
    for para in re.split(r"\n\s*\n", prompt):
        kept = [ln for ln in para.splitlines() if not PR_LINE.match(ln) and not ROUND_LINE.match(ln)]
        text = " ".join(ln.strip() for ln in kept if ln.strip())
        if text:
            return text[:600]
    return title


def markdown_brief(title: str, task: str) -> str:
    """A plausible composer brief for a task with no scripted one."""
    return (
        f"## {title}\n\n"
        f"**Goal.** {task}\n\n"
        "**Steps**\n\n"
        "1. Read the code the task touches and its tests.\n"
        "2. Make the smallest change that does what the task asks.\n"
        "3. Add or update tests that pin the new behaviour, and run the test suite.\n"
        "4. Commit with a message that says what changed and why.\n\n"
        "**Done when** the tests pass and the change does only what the task asks.\n"
    )


def decision_prose(d: DecisionScript, decision_input: dict[str, Any]) -> str:
    """A decision written as prose, as a model that ignored the decide tool would.

    A section of several lines goes under its own heading so it reads (and parses) whole.
    """
    parts = [f"Decision: {d.action}"]
    for key, label in (("rationale", "Rationale"), ("commit_message", "Commit message"), ("brief", "Brief")):
        value = str(decision_input.get(key) or "").strip()
        if value:
            parts.append(f"{label}:\n\n{value}" if "\n" in value else f"{label}: {value}")
    return "\n\n".join(parts) + "\n"


def _sample_input(schema: Any) -> Any:
    """A minimal value of a JSON schema (for a forced tool the scenario does not know)."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _sample_input(props.get(k)) for k in schema.get("required") or [] if k in props}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


class ScenarioResponder:
    """Answer composer calls from a scenario: briefs, decisions (tool or prose) and faults.

    The PR is found from the ``PR <n>: <title>`` line of the last user message (by exact title,
    else by number), the round from ``Round <r>``. With the ``decide`` tool offered the round's
    ``DecisionScript`` answers; without it the PR's brief does. Unknown PRs get a generic brief
    or a merge. Pacing comes from the scenario, divided by ``speed`` (0 = no pauses).
    """

    def __init__(self, scenario: Scenario | None = None, *, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.scenario = scenario or Scenario()
        self.speed = speed
        self._faulted: set[tuple[str, int, str]] = set()
        for pr in self.scenario.pr:  # a bad fault word fails now, not in the middle of a demo
            for rnd in pr.round:
                scenario_fault(rnd.decision.fault)

    def _pace(self, seconds: float) -> float:
        return seconds / self.speed if self.speed > 0 else 0.0

    def _find(self, prompt: str) -> tuple[PrScript | None, str, int, int]:
        m = PR_LINE.search(prompt)
        number, title = (int(m.group(1)), m.group(2)) if m else (0, "")
        r = ROUND_LINE.search(prompt)
        round_no = max(1, int(r.group(1))) if r else 1
        pr = self.scenario.find_pr(title) if title else None
        if pr is None and 1 <= number <= len(self.scenario.pr):
            pr = self.scenario.pr[number - 1]
        return pr, title, number, round_no

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = last_user_text(body)
        pr, title, number, round_no = self._find(prompt)
        pacing = self.scenario.pacing
        pace: dict[str, Any] = {
            "chunk_s": self._pace(pacing.chunk_s),
            "chunk_chars": max(1, pacing.chunk_chars),
            "think_s": self._pace(pacing.think_s),
        }
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        choice = body.get("tool_choice") or {"type": "auto"}
        decide = next((t for t in tools if t.get("name") == "decide"), None)
        if decide is None and choice.get("type") in ("tool", "any") and tools:
            forced = next((t for t in tools if t.get("name") == choice.get("name")), tools[0])
            return Reply.tool(str(forced["name"]), _sample_input(forced.get("input_schema")) or {}, **pace)
        if decide is None:
            return Reply.text(self._brief(pr, title or "The task", prompt, round_no), **pace)
        d = (
            pr.round_script(round_no).decision
            if pr is not None
            else DecisionScript(rationale="The reviewers raise no blocking issues.")
        )
        key = (pr.title if pr else title or str(number), round_no, "decide")
        fault, once = scenario_fault(d.fault)
        if fault is not None and once:
            if key in self._faulted:
                fault = None
            self._faulted.add(key)
        decision_input = self._decision_input(d, pr, title)
        if d.as_text:
            return Reply.text(decision_prose(d, decision_input), fault=fault, **pace)
        preface = ""
        if choice.get("type", "auto") == "auto":
            preface = {
                "merge": "The reviewers agree; merging.",
                "fix": "The reviewers found problems worth fixing first.",
                "abandon": "This PR is not worth pursuing.",
            }[d.action]
        return Reply.tool("decide", decision_input, preface=preface, fault=fault, **pace)

    def _brief(self, pr: PrScript | None, title: str, prompt: str, round_no: int) -> str:
        if pr is None:
            return markdown_brief(title, _task_from_prompt(prompt, title))
        if round_no > 1:
            previous = pr.round_script(round_no - 1).decision.brief
            if previous:
                return previous
        return pr.brief or markdown_brief(pr.title, pr.task)

    @staticmethod
    def _decision_input(d: DecisionScript, pr: PrScript | None, title: str) -> dict[str, Any]:
        name = pr.title if pr is not None else title
        rationale = (
            d.rationale
            or {
                "merge": "The reviewers approve and found nothing blocking.",
                "fix": "The reviewers found problems that should be fixed before merging.",
                "abandon": "The change is not worth its cost.",
            }[d.action]
        )
        out: dict[str, Any] = {"action": d.action, "rationale": rationale}
        if d.action == "merge":
            out["commit_message"] = d.commit_message or name or "Apply the requested change"
        elif d.commit_message:
            out["commit_message"] = d.commit_message
        if d.action == "fix":
            out["brief"] = d.brief or "Address every finding the reviewers raised, then commit again."
        elif d.brief:
            out["brief"] = d.brief
        return out


# --- standalone -------------------------------------------------------------------------------


async def _serve_forever(sim: AnthropicSimulator) -> None:
    await sim.start()
    print(sim.url, flush=True)
    print(
        "Anthropic Messages API simulator: POST /v1/messages, /v1/messages/count_tokens. Ctrl-C stops.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cockpit.sim.anthropic", description="A local Anthropic Messages API simulator."
    )
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--scenario", type=Path, help="a scenario TOML file")
    parser.add_argument("--builtin", help="a packaged scenario by name (e.g. demo)")
    parser.add_argument("--speed", type=float, default=1.0, help="pacing divisor; 0 = no pauses")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accept only this key (repeatable); default: any non-empty key",
    )
    args = parser.parse_args(argv)
    try:
        scenario = (
            load_scenario(args.scenario)
            if args.scenario
            else builtin_scenario(args.builtin)
            if args.builtin
            else None
        )
        responder = ScenarioResponder(scenario, speed=args.speed)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sim = AnthropicSimulator(responder, api_keys=args.api_keys, host=args.host, port=args.port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(sim))
    return 0


if __name__ == "__main__":
    sys.exit(main())
