"""A protocol-faithful Anthropic Messages API on loopback, for the demo and the composer's tests.

Why faithful rather than merely plausible: the composer adapter has to cope with what the real
API and the real SDK do (SSE framing, ``input_json_delta`` pieces, usage that excludes cached
tokens, error bodies, mid-stream ``event: error``, dropped connections, stalls), so the simulator
reproduces those and lets a test choose when they happen. Token counts are estimated from the
request actually sent, never scripted, so a prompt that grows shows up as a growing count and a
stable prefix shows up as cache reads.

What the model says is pluggable: a *responder* turns the request body into a ``Reply``.
``ScenarioResponder`` answers from a ``cockpit.demo.scenario.Scenario``. This module is the server;
``anthropic_wire`` holds the reply types, validation, error bodies and SSE encoding,
``anthropic_cache`` the token counting and prompt cache, ``anthropic_responders`` the
responders (all re-exported here). Run it standalone with
``python -m cockpit.demo.sim.anthropic --port 0 [--scenario FILE] [--speed X]``; the first line
printed is the base URL (give it to the SDK as ``base_url`` / ``ANTHROPIC_BASE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import string
import sys
import time
from collections import deque
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from cockpit.demo.scenario import builtin_scenario, load_scenario
from cockpit.demo.sim.anthropic_cache import (
    CACHE_MIN_TOKENS,
    PromptCache,
    PromptUsage,
    Segment,
    count_input_tokens,
    prompt_segments,
)
from cockpit.demo.sim.anthropic_responders import (
    ScenarioResponder,
    decision_prose,
    echo_responder,
    last_user_text,
    markdown_brief,
    scenario_fault,
)
from cockpit.demo.sim.anthropic_wire import (
    DEFAULT_MESSAGES,
    STATUS_OF_TYPE,
    ApiError,
    Block,
    Fault,
    OutBlock,
    Reply,
    Responder,
    StreamRecord,
    TextBlock,
    ToolUseBlock,
    apply_tool_choice,
    bad_request,
    block_json,
    cut_to_tokens,
    error_response,
    sse_events,
    stream_events,
    usage_json,
    validate_body,
)
from cockpit.demo.sim.http import (
    DropConnection,
    HttpServer,
    Request,
    Response,
    SimServer,
    StreamResponse,
    chunks,
    serve_until_signalled,
    stall,
)
from cockpit.tokens import estimate_tokens

__all__ = [
    "CACHE_MIN_TOKENS",
    "AnthropicSimulator",
    "ApiError",
    "Block",
    "Fault",
    "PromptCache",
    "PromptUsage",
    "Reply",
    "Responder",
    "ScenarioResponder",
    "Segment",
    "StreamRecord",
    "TextBlock",
    "ToolUseBlock",
    "count_input_tokens",
    "decision_prose",
    "echo_responder",
    "last_user_text",
    "markdown_brief",
    "prompt_segments",
    "scenario_fault",
    "validate_body",
]

MAX_REQUEST_BYTES = 32 * 1024 * 1024
DEFAULT_MODELS = ("claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")


class AnthropicSimulator(SimServer):
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
            return error_response(err.status, err.error_type, err.message, rid, err.headers)
        except DropConnection:
            raise
        except Exception as exc:  # a responder bug shows as the API's 500, with the cause
            return error_response(500, "api_error", f"simulator error: {exc!r}", rid)

    async def _route(self, request: Request, rid: str) -> Response | StreamResponse:
        path = request.path.rstrip("/")
        known = {("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models")}
        is_model = request.method == "GET" and path.startswith("/v1/models/")
        if (request.method, path) not in known and not is_model:
            raise ApiError(404, f"Not found: {request.method} {request.path}")
        self._authenticate(request)
        if not request.headers.get("anthropic-version"):
            raise bad_request("anthropic-version: header is required")
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
            raise bad_request(f"There was an error parsing the body: {exc}") from exc
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
            await stall(fault.seconds)
            fault = None
        model = str(body["model"])
        usage = self.cache.account(model, prompt_segments(body))
        blocks, stop_reason, output_tokens = self._render(body, reply)
        message_id = self._id("msg_")
        usage_body = usage_json(usage, output_tokens)
        if body.get("stream") is True:
            events = sse_events(message_id, model, blocks, stop_reason, usage_body, reply)
            record = StreamRecord(rid)
            self.streams.append(record)
            headers = {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": rid,
            }
            return StreamResponse(stream_events(events, fault, record), headers=headers)
        # non-streaming: the whole answer at once, after the time it would have taken
        deltas = sum(len(chunks(b.payload, reply.chunk_chars)) for b in blocks)
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
            "content": [block_json(b, complete=True) for b in blocks],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage_body,
        }
        return Response.json(message, headers={"request-id": rid})

    def _render(self, body: dict[str, Any], reply: Reply) -> tuple[list[OutBlock], str, int]:
        """The reply's blocks after tool_choice and the max_tokens budget; stop reason; tokens."""
        content = apply_tool_choice(reply.content, body.get("tool_choice") or {})
        budget = int(body["max_tokens"])
        used = 0
        out: list[OutBlock] = []
        stop_reason = reply.stop_reason or (
            "tool_use" if any(isinstance(b, ToolUseBlock) for b in content) else "end_turn"
        )
        for block in content:
            if isinstance(block, TextBlock):
                item = OutBlock("text", block.text)
            else:
                item = OutBlock(
                    "tool_use",
                    block.raw_json or json.dumps(block.input, ensure_ascii=False),
                    block.name,
                    block.id or self._id("toolu_"),
                    dict(block.input),
                )
            n = estimate_tokens(item.payload)
            if used + n > budget:
                item.payload = cut_to_tokens(item.payload, budget - used)
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


# --- standalone -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cockpit.demo.sim.anthropic", description="A local Anthropic Messages API simulator."
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
    banner = "Anthropic Messages API simulator: POST /v1/messages, /v1/messages/count_tokens. Ctrl-C stops."
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_signalled(sim, None, banner))
    return 0


if __name__ == "__main__":
    sys.exit(main())
