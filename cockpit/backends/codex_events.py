"""Parser of ``codex exec --json`` output (JSONL) into ``Output``s and the facts of one turn.

Codex changes its event shapes between releases, so the parser is tolerant by design: an
unknown event or item type is passed through as a "status" output carrying its raw type, a line
that is not JSON is reported with its full text, a field of the wrong type is read as absent,
and an item that starts but never completes is reported by ``finish()``. Duplicate keys (a
``web_search`` item carries two ``id`` keys) keep the first value, which is the item id; later
values are kept under ``"<key>#2"``, ``"<key>#3"`` ... so nothing is lost.

``turn.completed`` usage is cumulative for the thread (after ``exec resume`` it includes every
earlier turn): ``usage_since(previous_total)`` gives one round's share.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from cockpit.backends.base import Output
from cockpit.events import Channel, Usage

SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
RECONNECTING = "Reconnecting..."


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
            continue
        n = 2
        while f"{key}#{n}" in out:
            n += 1
        out[f"{key}#{n}"] = value
    return out


def loads_tolerant(line: str) -> Any:
    """``json.loads`` that keeps the first of duplicate keys (and the others under ``key#n``)."""
    return json.loads(line, object_pairs_hook=_first_wins)


def unwrap_command(command: str) -> str:
    """``/bin/bash -lc "cargo test"`` -> ``cargo test``; anything else is returned unchanged."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    if len(parts) == 3 and Path(parts[0]).name in SHELLS and parts[1] in ("-lc", "-c"):
        return parts[2]
    return command


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_codex(raw: Any) -> Usage:
    """The CLI's usage object as a ``Usage`` (``input_tokens`` includes the cached part)."""
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cached_input_tokens=_int(raw.get("cached_input_tokens")),
        cache_write_tokens=_int(raw.get("cache_write_input_tokens")),
        reasoning_tokens=_int(raw.get("reasoning_output_tokens")),
    )


# Codex items that carry text, and the channel each streams on.
_TEXT_CHANNELS: dict[str, Channel] = {"agent_message": "text", "reasoning": "reasoning", "plan": "plan"}


class CodexEventParser:
    """Feed it stdout lines as they arrive; read the turn's facts when the process has ended.

    ``root`` (the worktree) makes file-change paths relative for display and for the engine.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root.resolve() if root is not None else None
        self.thread_id = ""
        self.final_message = ""
        self.usage_total: Usage | None = None  # the thread's running total, as last reported
        self.turn_completed = False
        self.failure = ""  # turn.failed's message
        self.errors: list[str] = []  # top-level error events that were not reconnect notices
        self.invalid_lines = 0
        self._open: dict[str, dict[str, Any]] = {}  # started, not yet completed: id -> item
        self._shown: dict[str, str] = {}  # id -> text already passed on (messages, plans)
        self._commands_started: set[str] = set()

    # --- results -------------------------------------------------------------------------

    def usage_since(self, previous_total: Usage | None) -> Usage:
        """This turn's usage: the reported thread total minus what was known before it."""
        if self.usage_total is None:
            return Usage()
        return self.usage_total - (previous_total or Usage())

    @property
    def error_text(self) -> str:
        """The most telling error the turn reported, or ""."""
        return self.failure or (self.errors[-1] if self.errors else "")

    # --- feeding -------------------------------------------------------------------------

    def feed(self, line: str) -> list[Output]:
        """Outputs for one line of stdout. Never raises."""
        stripped = line.strip()
        if not stripped:
            return []
        try:
            event = loads_tolerant(stripped)
        except (ValueError, RecursionError) as exc:
            self.invalid_lines += 1
            return [Output("status", line, {"type": "invalid_json", "error": str(exc)})]
        if not isinstance(event, dict):
            self.invalid_lines += 1
            return [Output("status", line, {"type": "invalid_json", "error": "not a JSON object"})]
        try:
            return self._event(event, line)
        except Exception as exc:  # a shape nobody foresaw: report it, keep the line
            return [Output("status", line, {"type": "unparsed", "error": f"{type(exc).__name__}: {exc}"})]

    def finish(self) -> list[Output]:
        """Outputs for items that started and never completed (interrupt, a command left running)."""
        outs: list[Output] = []
        for item_id, item in self._open.items():
            kind = _str(item.get("type")) or "item"
            what = unwrap_command(_str(item.get("command"))) if kind == "command_execution" else kind
            outs.append(
                Output(
                    "status",
                    f"{what}: never completed",
                    {"type": "dangling", "item_type": kind, "id": item_id},
                )
            )
        self._open.clear()
        return outs

    # --- events --------------------------------------------------------------------------

    def _event(self, event: dict[str, Any], line: str) -> list[Output]:
        kind = _str(event.get("type"))
        if kind == "thread.started":
            self.thread_id = _str(event.get("thread_id")) or self.thread_id
            return [Output("status", f"thread {self.thread_id}", {"type": kind, "thread_id": self.thread_id})]
        if kind == "turn.started":
            return []
        if kind == "turn.completed":
            self.turn_completed = True
            self.usage_total = usage_from_codex(event.get("usage"))
            u = self.usage_total
            text = (
                f"turn completed: {u.input_tokens} in ({u.cached_input_tokens} cached), {u.output_tokens} out"
            )
            return [Output("status", text, {"type": kind, "usage": event.get("usage")})]
        if kind == "turn.failed":
            err = event.get("error")
            message = _str(err.get("message")) if isinstance(err, dict) else _str(err)
            self.failure = message or "the turn failed"
            return [Output("status", self.failure, {"type": kind, "level": "error"})]
        if kind == "error":
            message = _str(event.get("message"))
            if message.startswith(RECONNECTING):
                return [Output("status", message, {"type": kind, "level": "warning", "reconnecting": True})]
            self.errors.append(message)
            return [Output("status", message, {"type": kind, "level": "error"})]
        if kind in ("item.started", "item.updated", "item.completed"):
            item = event.get("item")
            if not isinstance(item, dict):
                return [Output("status", line, {"type": kind, "error": "item is not an object"})]
            return self._item(kind.removeprefix("item."), item)
        if kind == "item.plan.delta":
            return [
                Output("plan", _str(event.get("delta")), {"type": kind, "id": _str(event.get("item_id"))})
            ]
        return [Output("status", line.strip(), {"type": kind or "unknown"})]

    def _item(self, phase: str, item: dict[str, Any]) -> list[Output]:
        item_id = _str(item.get("id"))
        kind = _str(item.get("type"))
        if phase == "completed":
            self._open.pop(item_id, None)
        else:
            self._open[item_id] = item
        if kind in ("agent_message", "reasoning", "plan"):
            return self._text_item(phase, item_id, kind, _str(item.get("text")))
        if kind == "command_execution":
            return self._command(phase, item_id, item)
        if kind == "file_change":
            return self._file_change(phase, item_id, item)
        if kind == "todo_list":
            return self._todo(item_id, item)
        if kind == "error":
            return [Output("status", _str(item.get("message")), {"type": "error_item", "level": "warning"})]
        if kind == "mcp_tool_call":
            return [self._mcp(phase, item_id, item)]
        if kind == "web_search":
            query = _str(item.get("query"))
            return [Output("status", f"web search: {query}", {"type": kind, "id": item_id, "phase": phase})]
        summary = json.dumps(item, ensure_ascii=False, default=str)
        return [Output("status", summary, {"type": kind or "unknown", "id": item_id, "phase": phase})]

    def _text_item(self, phase: str, item_id: str, kind: str, text: str) -> list[Output]:
        if kind == "agent_message" and phase == "completed" and text:
            self.final_message = text
        shown = self._shown.get(item_id, "")
        if not text or text == shown:
            return []
        self._shown[item_id] = text
        new = text[len(shown) :] if shown and text.startswith(shown) else text
        return [Output(_TEXT_CHANNELS[kind], new, {"id": item_id})]

    def _command(self, phase: str, item_id: str, item: dict[str, Any]) -> list[Output]:
        command = unwrap_command(_str(item.get("command")))
        outs: list[Output] = []
        if item_id not in self._commands_started:
            self._commands_started.add(item_id)
            outs.append(Output("command", command, {"id": item_id, "command": command}))
        if phase == "completed":
            exit_code = item.get("exit_code")
            meta = {
                "id": item_id,
                "command": command,
                "exit_code": exit_code if isinstance(exit_code, int) else None,
                "status": _str(item.get("status")),
            }
            outs.append(Output("command_output", _str(item.get("aggregated_output")), meta))
        return outs

    def _relative(self, path: str) -> str:
        if self.root is None or not path:
            return path
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return path

    def _file_change(self, phase: str, item_id: str, item: dict[str, Any]) -> list[Output]:
        raw = item.get("changes")
        changes = [
            {"path": self._relative(_str(c.get("path"))), "kind": _str(c.get("kind"))}
            for c in (raw if isinstance(raw, list) else [])
            if isinstance(c, dict)
        ]
        status = _str(item.get("status"))
        if phase != "completed" and status != "failed":
            return []  # reported once, when the patch has been applied (or refused)
        text = ", ".join(f"{c['kind']} {c['path']}" for c in changes)
        if status == "failed":
            text = f"{text} (failed)"
        return [Output("file_change", text, {"id": item_id, "changes": changes, "status": status})]

    def _todo(self, item_id: str, item: dict[str, Any]) -> list[Output]:
        raw = item.get("items")
        todos = [
            {"text": _str(t.get("text")), "completed": t.get("completed") is True}
            for t in (raw if isinstance(raw, list) else [])
            if isinstance(t, dict)
        ]
        text = "\n".join(f"[{'x' if t['completed'] else ' '}] {t['text']}" for t in todos)
        if self._shown.get(item_id) == text:
            return []
        self._shown[item_id] = text
        return [Output("plan", text, {"id": item_id, "items": todos})]

    def _mcp(self, phase: str, item_id: str, item: dict[str, Any]) -> Output:
        name = f"{_str(item.get('server'))}.{_str(item.get('tool'))}"
        meta: dict[str, Any] = {"type": "mcp_tool_call", "id": item_id, "phase": phase}
        meta["status"] = _str(item.get("status"))
        error = item.get("error")
        if isinstance(error, dict) and _str(error.get("message")):
            return Output("status", f"{name} failed: {error['message']}", meta)
        verb = "called" if phase == "completed" else "calling"
        return Output("status", f"{verb} {name}", meta)
