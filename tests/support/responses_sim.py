"""The OpenAI Responses API, as the Codex CLI consumes it, played from a scenario.

Why a simulator: the writer backend drives the *real* ``codex exec`` binary, and the only way to
run it offline, deterministically and for free is to be its model. The CLI sends the whole
history in ``input`` on every request and ends a request at each tool call, so the simulator is a
pure function of the request: it finds the current turn (everything after the latest user
prompt), counts which of its own tool calls already have outputs, and answers with the next
step. Nothing is kept between requests, which keeps it correct across ``codex exec resume``.

A round's plan (``writer_plan``: the actions both writer simulators play) becomes model output:
``Think`` → reasoning items, ``Say`` → messages, ``UpdatePlan`` → an ``update_plan`` call,
``Run`` and ``Commit`` → ``exec_command`` calls (the CLI really runs them), ``Write`` → a
``cat`` of the file and then an ``apply_patch`` call (``Update File`` replacing every line when
the read found the file, ``Add File`` (which overwrites) when it found nothing or was cut short:
an update hunk needs the old lines, and the read is how a real model learns them), ``Delete`` →
``Delete File``; then the final message. ``fail`` ends with ``response.failed``; ``hang`` stalls
the last response.

Faults for tests are queued per request (``queue_fault``): an HTTP error status, a
``response.failed``, a stream that ends early, a dropped connection, a stall.

Run standalone: ``python -m tests.support.responses_sim --port 0 [--scenario FILE] [--speed X]``;
the first stdout line is the base URL for ``model_providers.<name>.base_url``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import shlex
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cockpit.demo.scenario import Pacing, PatchError, Scenario, WriterScript, load_scenario
from cockpit.demo.sim.http import (
    DropConnection,
    HttpServer,
    Request,
    Response,
    SimServer,
    StreamResponse,
    chunks,
    serve_until_signalled,
    sse,
    stall,
)
from cockpit.demo.sim.writer_plan import (
    Commit,
    Delete,
    Run,
    Say,
    Think,
    UpdatePlan,
    Write,
    WriterTurn,
    find_writer_turn,
)
from cockpit.tokens import estimate_tokens

Json = dict[str, Any]

EXIT_LINE = re.compile(r"^Process exited with code (-?\d+)$", re.MULTILINE)
READ_TOKEN_BUDGET = 200_000  # max_output_tokens asked for a file read, so reads are not truncated
HANG_S = 3600.0  # a "hang" stalls this long at most, so a forgotten stream cannot live forever


class BadRequest(ValueError):
    """The request is not one the Responses API would accept; becomes a 400."""


# ---------------------------------------------------------------------------------------------
# faults


FaultKind = Literal["status", "failed", "truncate", "drop", "stall"]


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request.

    ``status``: answer ``status`` with ``body`` (an OpenAI error body by default), no stream.
    ``failed``: stream ``response.created`` then ``response.failed`` with ``code``/``message``.
    ``truncate``: send ``after`` SSE events, then end the body cleanly with no ``response.completed``.
    ``drop``: send ``after`` events, then abort the TCP connection.
    ``stall``: send ``after`` events, then nothing for ``seconds`` (None: until the server closes),
    then carry on with the rest of the response.
    """

    kind: FaultKind
    status: int = 500
    body: Json | None = None
    after: int = 1
    seconds: float | None = None
    code: str = "server_error"
    message: str = "The model failed to produce a response."


def error_body(status: int, message: str | None = None, code: str | None = None) -> Json:
    """An OpenAI-style error body for ``status``."""
    kinds = {
        400: ("invalid_request_error", "Invalid request."),
        401: ("invalid_request_error", "Incorrect API key provided."),
        404: ("invalid_request_error", "Not found."),
        405: ("invalid_request_error", "Method not allowed."),
        429: ("rate_limit_exceeded", "Rate limit reached. Please try again later."),
    }
    fallback = ("server_error", "The server had an error while processing your request.")
    etype, default = kinds.get(status, fallback)
    return {"error": {"message": message or default, "type": etype, "param": None, "code": code}}


# ---------------------------------------------------------------------------------------------
# reading a request


@dataclass
class Turn:
    """The current turn of a conversation, as read from one request."""

    prompt: str  # the latest user prompt
    key: str  # distinguishes this turn's call ids from every other turn's
    outputs: dict[str, str]  # call_id -> output text, for tool calls made in this turn
    input_tokens: int
    cached_tokens: int


def message_text(item: Json) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [p.get("text", "") for p in content if isinstance(p, dict)]
    return "".join(p for p in parts if isinstance(p, str))


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):  # content items
        return "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
    if isinstance(output, dict):  # older wire: {"content": ..., "success": ...}
        return _output_text(output.get("content", ""))
    return ""


def item_text(item: Json) -> str:
    """The text a tokenizer would see for one input item."""
    kind = item.get("type", "message")
    if kind == "message":
        return message_text(item)
    if kind == "function_call":
        return f"{item.get('name', '')}{item.get('arguments', '')}"
    if kind == "custom_tool_call":
        return f"{item.get('name', '')}{item.get('input', '')}"
    if kind in ("function_call_output", "custom_tool_call_output"):
        return _output_text(item.get("output"))
    if kind == "reasoning":
        summary = item.get("summary")
        parts = summary if isinstance(summary, list) else []
        return "".join(str(s.get("text", "")) for s in parts if isinstance(s, dict))
    return json.dumps(item)


def _is_model_item(item: Json) -> bool:
    kind = item.get("type", "message")
    if kind in ("function_call", "custom_tool_call", "reasoning"):
        return True
    return kind == "message" and item.get("role") == "assistant"


def _is_prompt(item: Json) -> bool:
    """A user message typed by the user (or the engine), not context the CLI injects."""
    if item.get("type", "message") != "message" or item.get("role") != "user":
        return False
    text = message_text(item).lstrip()
    return bool(text) and not text.startswith("<") and not text.startswith("# AGENTS.md instructions")


def read_turn(body: Any) -> Turn:
    """Find the current turn in a request body; raise ``BadRequest`` on a malformed one."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        raw_input = [{"type": "message", "role": "user", "content": raw_input}]
    if not isinstance(raw_input, list):
        raise BadRequest("'input' must be a string or an array of items")
    items: list[Json] = []
    for i, item in enumerate(raw_input):
        if not isinstance(item, dict):
            raise BadRequest(f"input[{i}] must be an object")
        items.append(item)
    tools = body.get("tools")
    tools = [] if tools is None else tools
    if not isinstance(tools, list):
        raise BadRequest("'tools' must be an array")
    instructions = body.get("instructions") or ""
    if not isinstance(instructions, str):
        raise BadRequest("'instructions' must be a string")

    prompt_at = max((i for i, it in enumerate(items) if _is_prompt(it)), default=-1)
    if prompt_at < 0:
        prompt_at = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    prompt = message_text(items[prompt_at]) if prompt_at >= 0 else ""
    key = hashlib.sha1(f"{prompt_at}\0{prompt}".encode()).hexdigest()[:10]

    calls: set[str] = set()
    outputs: dict[str, str] = {}
    for item in items[prompt_at + 1 :]:
        kind = item.get("type")
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            continue
        if kind in ("function_call", "custom_tool_call"):
            calls.add(call_id)
        elif kind in ("function_call_output", "custom_tool_call_output") and call_id in calls:
            outputs[call_id] = _output_text(item.get("output"))

    fixed = estimate_tokens(instructions) + (estimate_tokens(json.dumps(tools)) if tools else 0)
    per_item = [estimate_tokens(item_text(it)) for it in items]
    last_model = max((i for i, it in enumerate(items) if _is_model_item(it)), default=-1)
    cached = fixed + sum(per_item[: last_model + 1]) if last_model >= 0 else 0
    return Turn(prompt, key, outputs, fixed + sum(per_item), cached)


# ---------------------------------------------------------------------------------------------
# deciding the reply


@dataclass
class Reply:
    """One model response: its output items and how it ends."""

    index: int  # which model request of the turn this answers (0-based)
    total: int  # how many model requests the whole turn takes
    items: list[Json]
    end: Literal["completed", "failed", "hang"] = "completed"
    error: str = ""


def parse_exec_output(text: str) -> tuple[int, str] | None:
    """(exit code, output) from an ``exec_command`` result, or None if it is not one we can trust."""
    head, sep, out = text.partition("\nOutput:\n")
    if not sep:
        return None
    m = EXIT_LINE.search(head)
    if m is None or "tokens truncated" in out:
        return None
    return int(m.group(1)), out


def _patch_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def add_file_patch(path: str, content: str) -> str:
    body = "".join(f"+{ln}\n" for ln in _patch_lines(content)) or "+\n"
    return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"


def update_file_patch(path: str, old: str, new: str) -> str:
    minus = "".join(f"-{ln}\n" for ln in _patch_lines(old))
    plus = "".join(f"+{ln}\n" for ln in _patch_lines(new))
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{minus}{plus}*** End Patch\n"


def delete_file_patch(paths: list[str]) -> str:
    body = "".join(f"*** Delete File: {p}\n" for p in paths)
    return f"*** Begin Patch\n{body}*** End Patch\n"


def plan_arguments(items: list[str], nth: int) -> Json:
    """The ``nth`` plan step of a round (0-based): items before ``nth`` are done, ``nth`` is under way."""
    plan = []
    for i, text in enumerate(items):
        status = "completed" if i < nth else "in_progress" if i == nth else "pending"
        plan.append({"step": text, "status": status})
    return {"plan": plan}


class _Stop(Exception):
    """The walk reached the response this request must get."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class TurnPlayer:
    """Walks a writer script as a sequence of model responses, stopping at the first unanswered call."""

    def __init__(self, writer: WriterTurn, turn: Turn) -> None:
        self.writer = writer
        self.turn = turn
        self.index = 0  # model response being built
        self.pending: list[Json] = []
        self.counting = False  # a dry walk that only counts responses

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.turn.key}_{self.index}_{len(self.pending)}"

    def _note(self, item: Json) -> None:
        self.pending.append(item)

    def _call(self, item: Json) -> str | None:
        """End a response with a tool call; the call's output if the CLI already sent it."""
        call_id = f"call_{self.turn.key}_{self.index}"
        item = {**item, "call_id": call_id, "status": "completed"}
        output = self.turn.outputs.get(call_id)
        if output is None and not self.counting:
            raise _Stop(Reply(self.index, 0, [*self.pending, item]))
        self.pending = []
        self.index += 1
        return output

    def _exec(self, cmd: str, **extra: Any) -> str | None:
        args = {"cmd": cmd, **extra}
        return self._call(
            {
                "type": "function_call",
                "id": self._id("fc"),
                "name": "exec_command",
                "arguments": json.dumps(args),
            }
        )

    def _patch(self, patch: str) -> None:
        self._call({"type": "custom_tool_call", "id": self._id("ctc"), "name": "apply_patch", "input": patch})

    def walk(self) -> Reply:
        for action in self.writer.actions:
            if isinstance(action, Think):
                summary = [{"type": "summary_text", "text": action.text}]
                self._note({"type": "reasoning", "id": self._id("rs"), "summary": summary})
            elif isinstance(action, Say):
                self._note(_message(self._id("msg"), action.text))
            elif isinstance(action, UpdatePlan):
                args = plan_arguments(list(action.items), action.nth)
                call = {"type": "function_call", "id": self._id("fc"), "name": "update_plan"}
                self._call({**call, "arguments": json.dumps(args)})
            elif isinstance(action, Run | Commit):
                self._exec(action.command)
            elif isinstance(action, Write):
                self._write(action)
            elif isinstance(action, Delete):
                self._patch(delete_file_patch(list(action.paths)))
        final = list(self.pending)
        ending = self.writer.ending
        if ending == "failed":
            return Reply(self.index, self.index + 1, final, "failed", self.writer.final_text)
        if ending == "hang":  # it did its work, then the model never answers again
            return Reply(self.index, self.index + 1, final, "hang")
        final.append(_message(self._id("msg"), self.writer.final_text))
        return Reply(self.index, self.index + 1, final)

    def _write(self, action: Write) -> None:
        """Read the file (quietly: no failed command for a new one), then patch it whole.

        An empty read means "new or empty"; both are written with Add File, which overwrites.
        """
        cmd = f"cat -- {shlex.quote(action.path)} 2>/dev/null || true"
        read = self._exec(cmd, login=False, max_output_tokens=READ_TOKEN_BUDGET)
        parsed = parse_exec_output(read) if read is not None else None
        old = parsed[1] if parsed is not None and parsed[0] == 0 and parsed[1] else None
        try:
            content = action.content(old)
        except PatchError:
            return  # the model "sees" the text is not there and leaves the file alone
        path = action.path
        self._patch(add_file_patch(path, content) if old is None else update_file_patch(path, old, content))


def plan_reply(writer: WriterTurn, turn: Turn) -> Reply:
    """The response the model gives at this point of the turn."""
    try:
        reply = TurnPlayer(writer, turn).walk()
    except _Stop as stop:
        reply = stop.reply
    counter = TurnPlayer(writer, turn)
    counter.counting = True
    reply.total = counter.walk().total
    return reply


def _message(item_id: str, text: str) -> Json:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


# ---------------------------------------------------------------------------------------------
# usage


def reply_usage(reply: Reply, turn: Turn, script: WriterScript) -> Json:
    """Usage for one response: input counted from the request, output from what was said.

    The script's ``usage`` (output / reasoning tokens for the whole round) stands in for the
    hidden reasoning a real model spends; it is spread over the turn's model requests.
    """
    visible = 0
    summaries = 0
    for item in reply.items:
        if item["type"] == "reasoning":
            summaries += estimate_tokens(item_text(item))
        else:
            visible += estimate_tokens(item_text(item))
    if reply.end == "failed":
        visible += estimate_tokens(reply.error)

    def share(total: int) -> int:
        base, rest = divmod(total, max(1, reply.total))
        return base + (rest if reply.index == reply.total - 1 else 0)

    reasoning = share(script.usage.reasoning_tokens) if script.usage.reasoning_tokens else summaries
    output = max(visible + reasoning, share(script.usage.output_tokens))
    return {
        "input_tokens": turn.input_tokens,
        "input_tokens_details": {"cached_tokens": turn.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": turn.input_tokens + output,
    }


# ---------------------------------------------------------------------------------------------
# the wire


@dataclass
class _Event:
    delay: float
    data: Json


@dataclass
class ResponsesSim(SimServer):
    """The simulator. ``server`` serves it; ``base_url`` is what the CLI's provider needs."""

    scenario: Scenario = field(default_factory=Scenario)
    speed: float = 1.0  # divides the scenario's pacing; 0 = no pauses
    api_key: str | None = None  # None: any non-empty bearer token is accepted
    faults: deque[Fault] = field(default_factory=deque)
    server: HttpServer = field(init=False)
    _closing: asyncio.Event | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.server = HttpServer(self.handle)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def queue_fault(self, *faults: Fault) -> None:
        """Each queued fault applies to one coming request, in order."""
        self.faults.extend(faults)

    def _pause(self, seconds: float) -> float:
        return Pacing.scaled(seconds, self.speed)

    async def handle(self, request: Request) -> Response | StreamResponse:
        if request.path.rstrip("/") not in ("/v1/responses", "/responses"):
            return Response.json(error_body(404, f"Unknown path {request.path}"), status=404)
        if request.method != "POST":
            return Response.json(error_body(405), status=405)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or (self.api_key is not None and token != self.api_key):
            return Response.json(error_body(401, code="invalid_api_key"), status=401)
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and fault.kind == "status":
            return Response.json(fault.body or error_body(fault.status), status=fault.status)
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(
                error_body(400, f"We could not parse the JSON body of your request: {exc}"), status=400
            )
        try:
            turn = read_turn(body)
        except BadRequest as exc:
            return Response.json(error_body(400, str(exc)), status=400)
        writer = find_writer_turn(self.scenario, turn.prompt)
        reply = plan_reply(writer, turn)
        model = str(body.get("model") or "gpt-5.5")
        response_id = f"resp_{turn.key}_{reply.index}"
        usage = reply_usage(reply, turn, writer.script)
        if body.get("stream") is not True:
            return Response.json(self._response_object(response_id, model, reply, usage, final=True))
        events = self._events(response_id, model, reply, usage, fault)
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        return StreamResponse(self._stream(events, fault, reply), headers=headers)

    def _response_object(self, rid: str, model: str, reply: Reply, usage: Json | None, final: bool) -> Json:
        status = "in_progress"
        if final:
            status = "failed" if reply.end == "failed" else "completed"
        obj: Json = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": model,
            "output": reply.items if final else [],
        }
        if final:
            obj["usage"] = usage
            obj["error"] = {"code": "server_error", "message": reply.error} if reply.end == "failed" else None
        return obj

    def _events(self, rid: str, model: str, reply: Reply, usage: Json, fault: Fault | None) -> list[_Event]:
        pacing = self.scenario.pacing
        out: list[_Event] = [
            _Event(
                0.0,
                {
                    "type": "response.created",
                    "response": self._response_object(rid, model, reply, None, False),
                },
            )
        ]
        think = self._pause(pacing.think_s)
        for index, item in enumerate(reply.items):
            first = think if index == 0 else 0.0
            kind = item["type"]
            if kind in ("function_call", "custom_tool_call"):
                first += self._pause(pacing.step_s)
            out += self._item_events(index, item, first)
        if fault is not None and fault.kind == "failed":
            failed = self._response_object(rid, model, reply, usage, True)
            failed.update(status="failed", error={"code": fault.code, "message": fault.message}, output=[])
            return [out[0], _Event(0.0, {"type": "response.failed", "response": failed})]
        if reply.end == "failed":
            out.append(
                _Event(
                    0.0,
                    {
                        "type": "response.failed",
                        "response": self._response_object(rid, model, reply, usage, True),
                    },
                )
            )
        elif reply.end == "completed":
            out.append(
                _Event(
                    0.0,
                    {
                        "type": "response.completed",
                        "response": self._response_object(rid, model, reply, usage, True),
                    },
                )
            )
        for seq, ev in enumerate(out):
            ev.data["sequence_number"] = seq
        return out

    def _item_events(self, index: int, item: Json, delay: float) -> list[_Event]:
        """The SSE events that stream one output item, as the real API orders them."""
        pacing = self.scenario.pacing
        pause = self._pause(pacing.chunk_s)
        base = {"output_index": index, "item_id": item["id"]}

        def ev(kind: str, wait: float = 0.0, **fields: Any) -> _Event:
            return _Event(wait, {"type": f"response.{kind}", **base, **fields})

        def added(start: Json) -> _Event:
            return _Event(delay, {"type": "response.output_item.added", "output_index": index, "item": start})

        kind = item["type"]
        if kind == "message":
            text = message_text(item)
            part = {"type": "output_text", "text": "", "annotations": []}
            evs = [
                added({**item, "status": "in_progress", "content": []}),
                ev("content_part.added", content_index=0, part=part),
            ]
            evs += [
                ev("output_text.delta", pause, content_index=0, delta=c)
                for c in chunks(text, pacing.chunk_chars)
            ]
            evs += [
                ev("output_text.done", content_index=0, text=text),
                ev("content_part.done", content_index=0, part={**part, "text": text}),
            ]
        elif kind == "reasoning":
            text = item_text(item)
            part = {"type": "summary_text", "text": ""}
            evs = [
                added({**item, "summary": []}),
                ev("reasoning_summary_part.added", summary_index=0, part=part),
            ]
            evs += [
                ev("reasoning_summary_text.delta", pause, summary_index=0, delta=c)
                for c in chunks(text, pacing.chunk_chars)
            ]
            evs += [
                ev("reasoning_summary_text.done", summary_index=0, text=text),
                ev("reasoning_summary_part.done", summary_index=0, part={**part, "text": text}),
            ]
        elif kind == "function_call":
            args = item["arguments"]
            evs = [
                added({**item, "arguments": "", "status": "in_progress"}),
                ev("function_call_arguments.delta", delta=args),
                ev("function_call_arguments.done", arguments=args),
            ]
        else:  # custom_tool_call
            patch = item["input"]
            evs = [
                added({**item, "input": "", "status": "in_progress"}),
                ev("custom_tool_call_input.delta", delta=patch),
                ev("custom_tool_call_input.done", input=patch),
            ]
        evs.append(_Event(0.0, {"type": "response.output_item.done", "output_index": index, "item": item}))
        return evs

    async def _stream(self, events: list[_Event], fault: Fault | None, reply: Reply) -> AsyncIterator[bytes]:
        cut = fault.after if fault is not None and fault.kind in ("truncate", "drop", "stall") else None
        for n, ev in enumerate(events):
            if cut is not None and n == cut:
                assert fault is not None
                if fault.kind == "truncate":
                    return
                if fault.kind == "drop":
                    raise DropConnection()
                await stall(fault.seconds)
            if ev.delay > 0:
                await asyncio.sleep(ev.delay)
            yield sse(ev.data["type"], ev.data)
        if reply.end == "hang":
            await stall(HANG_S)


# ---------------------------------------------------------------------------------------------
# standalone


async def _serve(args: argparse.Namespace) -> None:
    scenario = load_scenario(Path(args.scenario)) if args.scenario else Scenario()
    sim = ResponsesSim(scenario, speed=args.speed, api_key=args.api_key)
    sim.server = HttpServer(sim.handle, host=args.host, port=args.port)
    await serve_until_signalled(sim, lambda: sim.base_url)


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tests.support.responses_sim", description=summary)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scenario", help="a scenario TOML file (default: none, every PR is generic)")
    parser.add_argument("--speed", type=float, default=1.0, help="pacing divisor; 0 = no pauses")
    parser.add_argument("--api-key", default=None, help="require this bearer token (default: any)")
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error("--speed must be >= 0")
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"responses simulator: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad scenario file
        print(f"responses simulator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
