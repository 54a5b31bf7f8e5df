"""A local ollama server that speaks the real wire protocol, for tests and the demo.

Why a simulator and not a mock: the reviewer adapter must be exercised through the real
``ollama`` client over HTTP, including the parts that only show on the wire (NDJSON framing,
the error line inside a 200 stream, a stall, a dropped connection, the 404 text that changed
between server versions). What the server says is decided by a pluggable responder; the
``ScenarioResponder`` answers from a ``cockpit.demo.scenario.Scenario`` so the demo tells its story.

Usage is counted, not scripted: ``prompt_eval_count`` comes from the request's messages and
``eval_count`` from the generated text, both with ``cockpit.tokens.estimate_tokens``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from cockpit.demo.scenario import Pacing, ReviewScript, Scenario, ScenarioError, load_scenario, locate
from cockpit.demo.sim.http import (
    DropConnection,
    HttpServer,
    Request,
    Response,
    SimServer,
    StreamResponse,
    serve_until_signalled,
    stall,
)
from cockpit.tokens import estimate_tokens

DEFAULT_VERSION = "0.12.6"
BUSY_TEXT = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_ERROR_TEXT = "an error was encountered while running the model: unexpected EOF"
DEFAULT_KEEP_ALIVE_S = 300.0
THINK_LEVELS = ("low", "medium", "high", "max")

# Modelled durations (ns): what a mid-size local model on a consumer GPU reports.
COLD_LOAD_NS = 2_150_000_000
WARM_LOAD_NS = 21_000_000
PROMPT_NS_PER_TOKEN = 250_000  # ~4000 tokens/s prompt evaluation
EVAL_NS_PER_TOKEN = 25_000_000  # ~40 tokens/s generation


# --- configuration ---------------------------------------------------------------------------


def full_name(name: str) -> str:
    """``glm4`` → ``glm4:latest``: ollama adds the default tag to a bare model name."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


@dataclass(frozen=True)
class SimModel:
    """A model the simulated server has pulled."""

    name: str
    family: str = ""  # default: the name without its tag
    parameter_size: str = "9.4B"
    quantization_level: str = "Q4_K_M"
    context_length: int = 131072
    size: int = 5_455_323_120
    thinking: bool = False  # thinking-capable: answers ``think`` and thinks by default (new servers)

    @property
    def tagged(self) -> str:
        return full_name(self.name)

    @property
    def arch(self) -> str:
        return self.family or re.sub(r"[^a-z0-9]", "", self.name.split(":")[0].rsplit("/", 1)[-1].lower())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.tagged.encode()).hexdigest()

    @property
    def capabilities(self) -> list[str]:
        return ["completion", "tools", "thinking"] if self.thinking else ["completion", "tools"]


DEFAULT_MODELS: tuple[SimModel, ...] = (
    SimModel("glm4:9b", family="glm4"),
    SimModel("qwen3:8b", family="qwen3", parameter_size="8.2B", size=5_225_387_923, thinking=True),
)

FaultKind = Literal[
    "stall",  # no headers, no bytes: until stall_s passes (then the reply goes on) or the server closes
    "stall_mid_stream",  # after_chunks chunks, then silence
    "drop",  # abort the connection before the headers
    "drop_mid_stream",  # after_chunks chunks, abort the connection
    "error_line",  # after_chunks chunks, a last line {"error": message} in the 200 stream
    "http",  # status with {"error": message} before any output
    "busy",  # 503 server busy
    "missing_model",  # 404 model not found
]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    after_chunks: int = 1  # mid-stream faults: after this many chunks (or before done if fewer)
    status: int = 500  # kind "http"
    message: str = ""  # kind "http" / "error_line"; a realistic default when empty
    stall_s: float | None = None  # stalls: None = until the server closes


@dataclass(frozen=True)
class Reply:
    """What the model answers to one chat request; the server turns it into wire chunks."""

    text: str
    thinking: str = ""  # sent only when thinking is on for a thinking-capable model
    first_token_s: float = 0.0  # before the headers: load and prompt evaluation
    chunk_s: float = 0.0  # between chunks
    chunk_chars: int = 0  # characters per chunk; 0 = one chunk per token-ish piece
    fault: Fault | None = None


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class ChatCall:
    """One ``/api/chat`` request as the server saw it, and how it ended."""

    body: dict[str, Any] | None
    status: int = 200
    # pending / streaming while it runs; then its done_reason (stop, length, load, unload) or
    # http_error, error_line, stalled, dropped, disconnected (the client left mid-stream)
    outcome: str = "pending"
    error: str = ""
    chunks_sent: int = 0
    prompt_eval_count: int = 0
    eval_count: int = 0
    content: str = ""  # what was sent as message content
    thinking: str = ""


# --- request validation ----------------------------------------------------------------------


class _Message(msgspec.Struct):
    role: str
    content: str = ""
    thinking: str = ""
    images: list[str] | None = None
    tool_calls: list[Any] | None = None
    tool_name: str = ""


class _ChatRequest(msgspec.Struct):
    model: str = ""
    messages: list[_Message] = []
    stream: bool | None = None
    format: str | dict[str, Any] | None = None
    think: bool | str | None = None
    options: dict[str, Any] | None = None
    keep_alive: float | str | None = None
    tools: list[Any] | None = None


class _ShowRequest(msgspec.Struct):
    model: str = ""
    name: str = ""  # the old spelling, still accepted by the server
    verbose: bool = False


class _BadRequest(Exception):
    pass


def _decode(body: bytes, kind: type[msgspec.Struct], go_type: str) -> tuple[Any, dict[str, Any]]:
    """Parse a JSON body into ``kind`` (typed) and a plain dict (for the responder)."""
    if not body.strip():
        raise _BadRequest("missing request body")
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(f"invalid JSON in request body: {exc}") from exc
    if not isinstance(raw, dict):
        raise _BadRequest(f"json: cannot unmarshal {type(raw).__name__} into Go value of type {go_type}")
    try:
        typed = msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise _BadRequest(f"json: cannot unmarshal request into Go value of type {go_type}: {exc}") from exc
    return typed, raw


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: float | str | None) -> float:
    """Seconds to keep the model loaded (inf = forever), the way the server reads ``keep_alive``."""
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, int | float):
        return math.inf if value < 0 else float(value)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None:
            raise _BadRequest(f'time: invalid duration "{value}"')
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not body:
        raise _BadRequest(f'time: invalid duration "{value}"')
    return math.inf if sign < 0 else total


def _int_option(options: dict[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _BadRequest(f"option {key!r} must be an integer, got {value!r}")
    return int(value)


# --- text → chunks -----------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:\w{1,4}|[^\w\s])|\s+")


def token_pieces(text: str) -> list[str]:
    """Split text into token-sized pieces that join back to it exactly.

    A piece is a word part of up to four characters or one punctuation mark, with the
    whitespace before it; the number of non-blank pieces equals ``estimate_tokens(text)``.
    """
    return _TOKEN.findall(text)


def _is_token(piece: str) -> bool:
    return not piece.isspace()


def _take_tokens(pieces: list[str], budget: int) -> tuple[list[str], int]:
    """The longest prefix of ``pieces`` holding at most ``budget`` tokens, and the tokens used."""
    used = 0
    for i, piece in enumerate(pieces):
        if _is_token(piece):
            if used == budget:
                return pieces[:i], used
            used += 1
    return pieces, used


def group_pieces(pieces: list[str], chunk_chars: int) -> list[str]:
    """Join pieces into chunks of at least ``chunk_chars`` characters (0: one piece each)."""
    if chunk_chars <= 0:
        return list(pieces)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        current += piece
        if len(current) >= chunk_chars:
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


def rfc3339_ns(t_ns: int | None = None) -> str:
    """A timestamp the way the Go server writes ``created_at`` (RFC 3339, nanoseconds, UTC)."""
    t_ns = time.time_ns() if t_ns is None else t_ns
    secs, frac = divmod(t_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


# --- the server ------------------------------------------------------------------------------


def _error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status=status)


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


_MID_STREAM = ("error_line", "stall_mid_stream", "drop_mid_stream")

_ROUTES: dict[str, tuple[str, ...]] = {
    "/": ("GET", "HEAD"),
    "/api/version": ("GET", "HEAD"),
    "/api/tags": ("GET", "HEAD"),
    "/api/ps": ("GET",),
    "/api/show": ("POST",),
    "/api/chat": ("POST",),
}


class OllamaSim(SimServer):
    """The simulated server. ``calls`` records every chat request; ``server.log`` the raw ones."""

    def __init__(
        self,
        models: Sequence[SimModel] = DEFAULT_MODELS,
        responder: Responder | None = None,
        *,
        version: str = DEFAULT_VERSION,
        max_pending: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.models = {m.tagged: m for m in models}
        self.responder: Responder = responder or ScenarioResponder()
        self.version = version
        self.max_pending = max_pending  # chat requests in flight beyond this get 503
        self.server = HttpServer(self.handle, host=host, port=port)
        self.calls: list[ChatCall] = []
        self.faults: list[Fault] = []
        self._pending = 0
        self.peak_pending = 0  # the most chat requests it has served at once
        self._loaded: dict[str, float] = {}  # tagged name -> monotonic expiry
        self._modified = rfc3339_ns(time.time_ns() - 86_400 * 10**9 * 3)

    def queue_fault(self, fault: Fault) -> None:
        """The next chat request suffers ``fault`` (queued faults apply in order, one per call)."""
        self.faults.append(fault)

    # version-dependent behaviour

    @property
    def _version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    def not_found_text(self, model: str) -> str:
        if self._version_tuple < (0, 12):
            return f'model "{model}" not found, try pulling it first'
        return f"model '{model}' not found"

    @property
    def thinks_by_default(self) -> bool:
        return self._version_tuple >= (0, 12, 6)

    # routing

    async def handle(self, req: Request) -> Response | StreamResponse:
        methods = _ROUTES.get(req.path)
        if methods is None:
            return Response.text("404 page not found", status=404)
        if req.method not in methods:
            return Response.text("405 method not allowed", status=405)
        if req.path == "/":
            body = b"" if req.method == "HEAD" else b"Ollama is running"
            return Response(200, body, {"content-type": "text/plain; charset=utf-8"})
        if req.path == "/api/version":
            return Response.json({"version": self.version})
        if req.path == "/api/tags":
            return Response.json({"models": [self._tag_entry(m) for m in self.models.values()]})
        if req.path == "/api/ps":
            return Response.json({"models": self._running()})
        if req.path == "/api/show":
            return self._show(req)
        return await self._chat(req)

    def _details(self, m: SimModel) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": m.arch,
            "families": [m.arch],
            "parameter_size": m.parameter_size,
            "quantization_level": m.quantization_level,
        }

    def _tag_entry(self, m: SimModel) -> dict[str, Any]:
        return {
            "name": m.tagged,
            "model": m.tagged,
            "modified_at": self._modified,
            "size": m.size,
            "digest": m.digest,
            "details": self._details(m),
        }

    def _running(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        out = []
        for name, expiry in self._loaded.items():
            if expiry <= now:
                continue
            m = self.models[name]
            left_ns = 10**18 if math.isinf(expiry) else int((expiry - now) * 1e9)
            out.append(
                {
                    "name": name,
                    "model": name,
                    "size": m.size,
                    "digest": m.digest,
                    "details": self._details(m),
                    "expires_at": rfc3339_ns(time.time_ns() + left_ns),
                    "size_vram": m.size,
                    "context_length": min(m.context_length, 4096),
                }
            )
        return out

    def _show(self, req: Request) -> Response:
        try:
            typed, _raw = _decode(req.body, _ShowRequest, "api.ShowRequest")
        except _BadRequest as exc:
            return _error(400, str(exc))
        name = typed.model or typed.name
        if not name:
            return _error(400, "model is required")
        m = self.models.get(full_name(name))
        if m is None:
            return _error(404, self.not_found_text(name))
        params = 'stop                           "<|user|>"\nstop                           "<|observation|>"'
        template = "{{ if .System }}<|system|>\n{{ .System }}{{ end }}<|user|>\n{{ .Prompt }}<|assistant|>\n"
        return Response.json(
            {
                "license": "MIT License",
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {m.tagged}\n'
                f'TEMPLATE """{template}"""\nPARAMETER {params}\n',
                "parameters": params,
                "template": template,
                "details": self._details(m),
                "model_info": {
                    "general.architecture": m.arch,
                    "general.basename": m.arch,
                    "general.file_type": 15,
                    "general.parameter_count": int(float(m.parameter_size.rstrip("BM")) * 1e9),
                    "general.quantization_version": 2,
                    f"{m.arch}.context_length": m.context_length,
                    f"{m.arch}.embedding_length": 4096,
                    f"{m.arch}.block_count": 40,
                },
                "tensors": [],
                "capabilities": m.capabilities,
                "modified_at": self._modified,
            }
        )

    # chat

    def _thinking_on(self, req: _ChatRequest, m: SimModel) -> bool:
        if req.think is None:
            return m.thinking and self.thinks_by_default
        return req.think is not False

    def _validate(self, req: _ChatRequest) -> tuple[SimModel | None, dict[str, Any]]:
        """Raise _BadRequest for what the server refuses with a 400; return the model and options."""
        if not req.model:
            raise _BadRequest("model is required")
        if isinstance(req.format, str) and req.format not in ("", "json"):
            raise _BadRequest(f'invalid format: {req.format!r}; expected "json" or a valid JSON schema')
        if isinstance(req.think, str) and req.think not in THINK_LEVELS:
            raise _BadRequest(
                f'invalid think value: "{req.think}" (must be "high", "medium", "low", true, or false)'
            )
        options = req.options or {}
        for key in ("num_predict", "num_ctx", "seed"):
            _int_option(options, key)
        parse_keep_alive(req.keep_alive)
        return self.models.get(full_name(req.model)), options

    async def _chat(self, req: Request) -> Response | StreamResponse:
        call = ChatCall(body=None)
        self.calls.append(call)
        fault = self.faults.pop(0) if self.faults else None

        def fail(status: int, message: str) -> Response:
            call.status, call.outcome, call.error = status, "http_error", message
            return _error(status, message)

        try:
            typed, raw = _decode(req.body, _ChatRequest, "api.ChatRequest")
            call.body = raw
            model, options = self._validate(typed)
        except _BadRequest as exc:
            return fail(400, str(exc))
        if model is None or (fault and fault.kind == "missing_model"):
            return fail(404, self.not_found_text(typed.model))
        thinking_on = self._thinking_on(typed, model)
        if typed.think not in (None, False) and not model.thinking:
            return fail(400, f'"{typed.model}" does not support thinking')
        if self.max_pending is not None and self._pending >= self.max_pending:
            return fail(503, BUSY_TEXT)

        keep_s = parse_keep_alive(typed.keep_alive)
        stream = typed.stream is not False
        if not typed.messages:
            return self._load(call, typed, model, keep_s)

        try:
            reply = self.responder(raw)
        except Exception as exc:  # a responder bug shows as the server error it would be
            return fail(500, f"simulator responder failed: {exc!r}")
        fault = fault or reply.fault
        if fault is not None and fault.kind in ("busy", "http", "missing_model"):
            if fault.kind == "busy":
                return fail(503, BUSY_TEXT)
            if fault.kind == "missing_model":
                return fail(404, self.not_found_text(typed.model))
            return fail(fault.status, fault.message or "llama runner process has terminated: exit status 2")

        self._pending += 1
        self.peak_pending = max(self.peak_pending, self._pending)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._pending -= 1

        try:
            if reply.first_token_s > 0:
                await asyncio.sleep(reply.first_token_s)
            if fault is not None and fault.kind == "stall":
                call.outcome = "stalled"
                await stall(fault.stall_s)
                call.outcome = "pending"
            if fault is not None and fault.kind == "drop":
                call.outcome = "dropped"
                raise DropConnection()
        except BaseException:
            release()
            raise

        now = time.monotonic()
        expiry = self._loaded.get(model.tagged, 0.0)
        load_ns = WARM_LOAD_NS if expiry > now else COLD_LOAD_NS
        self._loaded[model.tagged] = now + keep_s
        if keep_s == 0:
            self._loaded.pop(model.tagged)

        plan = _Plan.make(typed, reply, options, thinking_on, load_ns)
        call.prompt_eval_count = plan.prompt_tokens
        if not stream:
            try:
                return await self._whole(call, typed.model, plan, fault)
            finally:
                release()
        connection = asyncio.current_task()
        if connection is not None:
            # A client that goes away ends the connection while the stream is unfinished. The
            # server drops the chunk iterator without closing it, so watch the connection instead.
            connection.add_done_callback(lambda _task: _abandoned(call, release))
        return StreamResponse(
            self._stream(call, typed.model, plan, reply.chunk_s, fault, release),
            headers={"content-type": "application/x-ndjson"},
        )

    def _load(self, call: ChatCall, req: _ChatRequest, model: SimModel, keep_s: float) -> Response:
        """Empty messages load (or, with keep_alive 0, unload) the model and answer at once."""
        reason = "unload" if keep_s == 0 else "load"
        if reason == "unload":
            self._loaded.pop(model.tagged, None)
        else:
            self._loaded[model.tagged] = time.monotonic() + keep_s
        call.outcome = reason
        return Response.json(
            {
                "model": req.model,
                "created_at": rfc3339_ns(),
                "message": {"role": "assistant", "content": ""},
                "done_reason": reason,
                "done": True,
            }
        )

    async def _whole(self, call: ChatCall, model: str, plan: _Plan, fault: Fault | None) -> Response:
        if fault is not None and fault.kind in _MID_STREAM:
            # Without streaming a failure during generation is an HTTP error or a dead connection.
            if fault.kind == "error_line":
                text = fault.message or RUNNER_ERROR_TEXT
                call.status, call.outcome, call.error = 500, "http_error", text
                return _error(500, text)
            if fault.kind == "stall_mid_stream":
                call.outcome = "stalled"
                await stall(fault.stall_s)
            else:
                call.outcome = "dropped"
                raise DropConnection()
        message: dict[str, Any] = {"role": "assistant", "content": "".join(plan.content)}
        if plan.thinking:
            message["thinking"] = "".join(plan.thinking)
        call.content, call.thinking = message["content"], message.get("thinking", "")
        call.eval_count = plan.eval_count
        call.outcome = plan.done_reason
        return Response.json(
            {"model": model, "created_at": rfc3339_ns(), "message": message, **plan.final_fields(0)}
        )

    async def _stream(
        self,
        call: ChatCall,
        model: str,
        plan: _Plan,
        chunk_s: float,
        fault: Fault | None,
        release: Callable[[], None],
    ) -> AsyncIterator[bytes]:
        started = time.monotonic_ns()
        mid = fault if fault is not None and fault.kind in _MID_STREAM else None
        pieces = [("thinking", c) for c in plan.thinking] + [("content", c) for c in plan.content]
        call.outcome = "streaming"
        try:
            for i, (channel, text) in enumerate(pieces):
                if mid is not None and i == mid.after_chunks:
                    break
                if i and chunk_s > 0:
                    await asyncio.sleep(chunk_s)
                message = {"role": "assistant", "content": ""}
                message[channel] = text
                yield _line({"model": model, "created_at": rfc3339_ns(), "message": message, "done": False})
                call.chunks_sent += 1
                if channel == "content":
                    call.content += text
                else:
                    call.thinking += text
            if mid is not None:
                if mid.kind == "error_line":
                    call.outcome, call.error = "error_line", mid.message or RUNNER_ERROR_TEXT
                    yield _line({"error": call.error})
                    return
                if mid.kind == "drop_mid_stream":
                    call.outcome = "dropped"
                    raise DropConnection()
                call.outcome = "stalled"
                await stall(mid.stall_s)
                call.outcome = "streaming"
            call.eval_count = plan.eval_count
            final = {
                "model": model,
                "created_at": rfc3339_ns(),
                "message": {"role": "assistant", "content": ""},
                **plan.final_fields(time.monotonic_ns() - started),
            }
            yield _line(final)
            call.outcome = plan.done_reason
        finally:
            _abandoned(call, release)


def _abandoned(call: ChatCall, release: Callable[[], None]) -> None:
    """The stream is over: one that never reached its end lost its client."""
    if call.outcome in ("pending", "streaming"):
        call.outcome = "disconnected"
    release()


@dataclass
class _Plan:
    """The chunks and final metrics of one answer, decided before the first byte is sent."""

    thinking: list[str]
    content: list[str]
    prompt_tokens: int
    eval_count: int
    done_reason: str
    load_ns: int
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(
        cls, req: _ChatRequest, reply: Reply, options: dict[str, Any], thinking_on: bool, load_ns: int
    ) -> _Plan:
        prompt_tokens = sum(estimate_tokens(m.content) + estimate_tokens(m.thinking) for m in req.messages)
        think_pieces = token_pieces(reply.thinking) if thinking_on else []
        text_pieces = token_pieces(reply.text)
        limit = _int_option(options, "num_predict")
        done_reason = "stop"
        if limit is not None and limit >= 0:
            kept_think, used = _take_tokens(think_pieces, limit)
            kept_text, _ = _take_tokens(text_pieces, limit - used)
            if len(kept_think) < len(think_pieces) or len(kept_text) < len(text_pieces):
                done_reason = "length"
            think_pieces, text_pieces = kept_think, kept_text
        eval_count = estimate_tokens("".join(think_pieces)) + estimate_tokens("".join(text_pieces))
        return cls(
            thinking=group_pieces(think_pieces, reply.chunk_chars),
            content=group_pieces(text_pieces, reply.chunk_chars),
            prompt_tokens=prompt_tokens,
            eval_count=eval_count,
            done_reason=done_reason,
            load_ns=load_ns,
        )

    def final_fields(self, measured_eval_ns: int) -> dict[str, Any]:
        prompt_ns = self.prompt_tokens * PROMPT_NS_PER_TOKEN
        eval_ns = max(measured_eval_ns, self.eval_count * EVAL_NS_PER_TOKEN)
        return {
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": self.load_ns + prompt_ns + eval_ns + 1_250_000,
            "load_duration": self.load_ns,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": prompt_ns,
            "eval_count": self.eval_count,
            "eval_duration": eval_ns,
        }


# --- the scenario responder --------------------------------------------------------------------

APPROVE_TEXT = ReviewScript().text


def prompt_texts(body: dict[str, Any]) -> tuple[str, str]:
    """(the system prompts joined, the last user prompt) of a chat request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return system, users[-1] if users else ""


class ScenarioResponder:
    """Answer reviewer prompts from a scenario; prompts it does not know get an approving verdict."""

    def __init__(self, scenario: Scenario | None = None, speed: float = 0.0) -> None:
        self.scenario = scenario or Scenario()
        self.speed = speed

    def __call__(self, body: dict[str, Any]) -> Reply:
        system, user = prompt_texts(body)
        found = locate(self.scenario, user, system)
        pr = found.pr
        script = self.scenario.review_script(pr, found.round, found.reviewer) if pr else ReviewScript()
        who = f"the {found.reviewer} reviewer" if found.reviewer else "a reviewer"
        about = f"PR {found.number} ({found.title}), round {found.round}" if found.number else "this change"
        pacing = self.scenario.pacing
        return Reply(
            text=script.text if pr else APPROVE_TEXT,
            thinking=f"I am {who} for {about}. Read the diff, check it against the task, then answer.",
            first_token_s=Pacing.scaled(pacing.think_s, self.speed),
            chunk_s=Pacing.scaled(pacing.chunk_s, self.speed),
            chunk_chars=pacing.chunk_chars,
            fault=_scenario_fault(script.fault),
        )


def _scenario_fault(name: str) -> Fault | None:
    if not name:
        return None
    if name == "timeout":
        return Fault("stall")
    if name == "error":
        return Fault("error_line", after_chunks=3)
    if name == "missing_model":
        return Fault("missing_model")
    return Fault("http", message=f"scenario: unknown reviewer fault {name!r} (timeout, error, missing_model)")


# --- standalone ------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cockpit.demo.sim.ollama", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port")
    p.add_argument("--scenario", type=Path, help="a scenario TOML file; default: approve everything")
    p.add_argument("--speed", type=float, default=1.0, help="pacing divisor; 0 = no pauses")
    p.add_argument("--model", action="append", default=[], help="a model it has (repeatable)")
    p.add_argument("--thinking-model", action="append", default=[], help="a thinking-capable model")
    p.add_argument("--server-version", default=DEFAULT_VERSION, help="the version it claims")
    p.add_argument("--max-pending", type=int, default=None, help="503 beyond this many chat requests")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    scenario = load_scenario(args.scenario) if args.scenario else None
    models = [SimModel(n) for n in args.model] + [SimModel(n, thinking=True) for n in args.thinking_model]
    sim = OllamaSim(
        models or DEFAULT_MODELS,
        ScenarioResponder(scenario, speed=args.speed),
        version=args.server_version,
        max_pending=args.max_pending,
        host=args.host,
        port=args.port,
    )
    await serve_until_signalled(sim)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except (ScenarioError, OSError) as exc:
        print(f"ollama simulator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
