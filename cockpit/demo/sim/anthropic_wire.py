"""The Anthropic Messages API's wire: what a responder returns, request validation, error
bodies, and the SSE stream a reply becomes (with the faults a test can ask for).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cockpit.demo.sim.anthropic_cache import CACHE_TTLS, PromptUsage, prompt_segments
from cockpit.demo.sim.http import DropConnection, Response, chunks, sse, stall
from cockpit.tokens import estimate_tokens

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
MAX_CACHE_BREAKPOINTS = 4
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


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def _check_cache_control(where: str, block: dict[str, Any]) -> None:
    cc = block.get("cache_control")
    if cc is None:
        return
    if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
        raise bad_request(f"{where}.cache_control: type must be 'ephemeral'")
    if cc.get("ttl", "5m") not in CACHE_TTLS:
        raise bad_request(f"{where}.cache_control.ttl: must be one of '5m', '1h'")


def _check_block(where: str, block: Any) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise bad_request(f"{where}: a content block must be an object with a type")
    if block["type"] == "text":
        if not isinstance(block.get("text"), str):
            raise bad_request(f"{where}.text: Field required")
        if not block["text"]:
            raise bad_request(f"{where}: text content blocks must be non-empty")
    _check_cache_control(where, block)


def validate_body(body: Any, *, count_only: bool = False) -> dict[str, Any]:
    """The request body, or an ``ApiError`` 400 naming the first field that is wrong."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad_request("model: Field required")
    if not count_only:
        mt = body.get("max_tokens")
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise bad_request("max_tokens: Field required (an integer >= 1)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: Field required (a non-empty list)")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise bad_request(f"messages.{i}.role: must be 'user' or 'assistant'")
        content = msg.get("content")
        if isinstance(content, str):
            if not content and not (i == len(messages) - 1 and msg["role"] == "assistant"):
                raise bad_request(
                    f"messages.{i}: all messages must have non-empty content except for the "
                    "optional final assistant message"
                )
        elif isinstance(content, list):
            for j, block in enumerate(content):
                _check_block(f"messages.{i}.content.{j}", block)
        else:
            raise bad_request(f"messages.{i}.content: must be a string or a list of content blocks")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise bad_request("system: must be a string or a list of text blocks")
        for j, block in enumerate(system):
            _check_block(f"system.{j}", block)
            if block["type"] != "text":
                raise bad_request(f"system.{j}.type: must be 'text'")
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("tools: must be a list")
        for j, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise bad_request(f"tools.{j}.name: Field required")
            if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
                raise bad_request(f"tools.{j}.input_schema: Field required")
            _check_cache_control(f"tools.{j}", tool)
            names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
            raise bad_request("tool_choice.type: must be one of 'auto', 'any', 'tool', 'none'")
        if not names and choice["type"] != "none":
            raise bad_request("tool_choice may only be specified while providing tools.")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise bad_request(
                f"tool_choice.name: tool {choice.get('name')!r} not found in the provided tools"
            )
    segments = prompt_segments(body)
    marks = [s for s in segments if s.ttl is not None]
    if len(marks) > MAX_CACHE_BREAKPOINTS:
        raise bad_request(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marks)}."
        )
    seen_5m = False
    for s in marks:
        seen_5m = seen_5m or s.ttl == CACHE_TTLS["5m"]
        if seen_5m and s.ttl == CACHE_TTLS["1h"]:
            raise bad_request("a ttl='1h' cache_control block must not come after a ttl='5m' one")
    return body


# --- what goes out ------------------------------------------------------------------------------


@dataclass
class OutBlock:
    """A content block as it goes out: its payload (text or tool JSON) possibly cut."""

    kind: Literal["text", "tool_use"]
    payload: str
    name: str = ""
    id: str = ""
    input: dict[str, Any] = field(default_factory=dict)


def cut_to_tokens(text: str, budget: int) -> str:
    """The longest prefix of ``text`` within ``budget`` estimated tokens (max_tokens cuts an answer)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def apply_tool_choice(blocks: Sequence[Block], choice: dict[str, Any]) -> list[Block]:
    """The blocks the API lets through under ``tool_choice``."""
    kind = choice.get("type", "auto")
    out = list(blocks)
    if kind in ("any", "tool"):
        first_tool = next((i for i, b in enumerate(out) if isinstance(b, ToolUseBlock)), None)
        if first_tool is not None:  # the API prefills the tool call: no prose before it
            out = out[first_tool:]
    elif kind == "none":
        out = [b for b in out if not isinstance(b, ToolUseBlock)]
    return out


@dataclass
class StreamRecord:
    """What happened to one streamed answer, for tests (e.g. that a cancelled client hung up)."""

    request_id: str
    events_sent: int = 0
    outcome: str = "open"  # complete | error_event | dropped | closed_early


def error_body(error_type: str, message: str, rid: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": rid}


def error_response(
    status: int, error_type: str, message: str, rid: str, headers: dict[str, str] | None = None
) -> Response:
    return Response.json(
        error_body(error_type, message, rid), status=status, headers={"request-id": rid, **(headers or {})}
    )


def usage_json(usage: PromptUsage, output_tokens: int) -> dict[str, Any]:
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


def block_json(block: OutBlock, *, complete: bool) -> dict[str, Any]:
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


def sse_events(
    message_id: str, model: str, blocks: list[OutBlock], stop_reason: str, usage: dict[str, Any], reply: Reply
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
                    "content_block": block_json(block, complete=False),
                },
            )
        )
        if i == 0:
            events.append((0.0, "ping", {"type": "ping"}))
        if block.kind == "text":
            for piece in chunks(block.payload, reply.chunk_chars):
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
            for piece in ["", *chunks(block.payload, reply.chunk_chars)]:
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


async def stream_events(
    events: list[SseEvent], fault: Fault | None, record: StreamRecord
) -> AsyncIterator[bytes]:
    """The SSE body, paced, meeting ``fault`` where it says; ``record`` tells how it ended."""
    at = min(fault.after_events or 0, len(events)) if fault is not None else -1
    try:
        for idx in range(len(events) + 1):
            if idx == at and fault is not None:
                if fault.kind == "stall":
                    await stall(fault.seconds)
                elif fault.kind == "drop":
                    record.outcome = "dropped"
                    raise DropConnection()
                elif fault.kind == "event_error":
                    record.outcome = "error_event"
                    yield sse(
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
            yield sse(name, data)
            record.events_sent += 1
        record.outcome = "complete"
    finally:
        if record.outcome == "open":
            record.outcome = "closed_early"
