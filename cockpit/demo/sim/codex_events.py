"""The simulated Codex CLI's output side: ``--json`` events, item ids, and honest token counts.

The event shapes are the ones the real CLI prints (measured with @openai/codex 0.169 / 0.171):
items get ids ``item_0``, ``item_1``, ... per run, commands are shown wrapped in
``/bin/bash -lc``, and ``turn.completed`` carries the thread's running usage total.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any, TextIO

from cockpit.events import Usage
from cockpit.tokens import estimate_tokens

# What the real CLI sends before any history on every model request: base instructions, the
# environment context and the tool schemas. Measured requests start around this size.
BASE_CONTEXT_TOKENS = 6000


def wrap_command(script: str) -> str:
    """The command as the real CLI reports it: ``/bin/bash -lc '...'``."""
    return shlex.join(["/bin/bash", "-lc", script])


def usage_json(u: Usage) -> dict[str, int]:
    return {
        "input_tokens": u.input_tokens,
        "cached_input_tokens": u.cached_input_tokens,
        "cache_write_input_tokens": u.cache_write_tokens,
        "output_tokens": u.output_tokens,
        "reasoning_output_tokens": u.reasoning_tokens,
    }


class EventWriter:
    """Writes one JSON event per line and flushes, so a reader sees each event as it happens.

    Without ``--json`` the real CLI prints a human transcript on stderr and only the final
    message on stdout; ``json_mode=False`` does the same in short.
    """

    def __init__(self, json_mode: bool, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> None:
        self.json_mode = json_mode
        self.stdout = stdout
        self.stderr = stderr
        self._next_item = 0

    def emit(self, event: dict[str, Any]) -> None:
        if self.json_mode:
            self.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            self.stdout.flush()
        else:
            self._human(event)

    def new_item_id(self) -> str:
        item_id = f"item_{self._next_item}"
        self._next_item += 1
        return item_id

    def item(self, phase: str, item_id: str, kind: str, **fields: Any) -> None:
        self.emit({"type": f"item.{phase}", "item": {"id": item_id, "type": kind, **fields}})

    def completed_item(self, kind: str, **fields: Any) -> str:
        item_id = self.new_item_id()
        self.item("completed", item_id, kind, **fields)
        return item_id

    def _human(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        item = event.get("item") or {}
        line = ""
        if kind == "thread.started":
            line = f"session id: {event['thread_id']}"
        elif kind == "item.completed" and item.get("type") in ("agent_message", "reasoning"):
            line = ("codex\n" if item["type"] == "agent_message" else "thinking\n") + item["text"]
        elif kind == "item.started" and item.get("type") == "command_execution":
            line = f"exec\n{item['command']}"
        elif kind == "item.completed" and item.get("type") == "command_execution":
            line = f"exited {item['exit_code']}:\n{item['aggregated_output']}"
        elif kind == "item.completed" and item.get("type") == "file_change":
            line = "\n".join(f"{c['kind']} {c['path']}" for c in item["changes"])
        elif kind in ("turn.failed", "error"):
            line = "ERROR: " + (event.get("message") or event.get("error", {}).get("message", ""))
        elif kind == "turn.completed":
            line = f"tokens used\n{event['usage']['input_tokens'] + event['usage']['output_tokens']}"
        if line:
            self.stderr.write(line + "\n")
            self.stderr.flush()


class UsageMeter:
    """Counts tokens the way the real CLI spends them.

    Every model request re-sends the whole thread (``store: false``), so input grows with each
    tool call; the provider's prompt cache serves the part the previous request already sent.
    A request starts at the beginning of a turn and after every tool result.
    """

    def __init__(self, history: int = 0, last_sent: int = 0) -> None:
        self.history = history  # tokens of the thread so far (prompts, answers, tool results)
        self.last_sent = last_sent  # what the previous request sent, for the cached share
        self.usage = Usage()
        self._request_due = True

    def prompt(self, text: str) -> None:
        self.history += estimate_tokens(text)
        self._request_due = True

    def produce(self, text: str, *, reasoning: bool = False) -> None:
        if self._request_due:
            sent = BASE_CONTEXT_TOKENS + self.history
            cached = min(self.last_sent, sent)
            self.usage = self.usage + Usage(input_tokens=sent, cached_input_tokens=cached)
            self.last_sent = sent
            self._request_due = False
        n = estimate_tokens(text)
        self.history += n
        self.usage = self.usage + Usage(output_tokens=n, reasoning_tokens=n if reasoning else 0)

    def tool_result(self, text: str) -> None:
        self.history += estimate_tokens(text) + 1
        self._request_due = True
