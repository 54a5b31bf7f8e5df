"""Finding JSON inside model prose: fenced blocks, balanced objects, truncated documents."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n(.*?)(?:```|\Z)", re.DOTALL)


def loads_or_none(candidate: str) -> Any:
    """JSON, or None when it is not (deeply nested debris raises RecursionError, not ValueError)."""
    try:
        return json.loads(candidate)
    except (ValueError, RecursionError):
        return None


def fenced_blocks(text: str) -> list[str]:
    """The bodies of Markdown code fences, an unclosed last fence included."""
    return [m.group(1).strip() for m in _FENCE.finditer(text)]


def balanced_objects(text: str, limit: int = 8) -> list[str]:
    """Top-level ``{...}`` spans, string-aware, in order of appearance."""
    found: list[str] = []
    depth = 0
    start = -1
    in_str = False
    esc = False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"' and depth > 0:
            in_str = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                found.append(text[start : i + 1])
                if len(found) >= limit:
                    break
    return found


def repair_json(fragment: str) -> str:
    """Close what a truncated JSON document left open: a string, arrays, objects."""
    stack: list[str] = []
    in_str = False
    esc = False
    for ch in fragment:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    out = fragment
    if in_str:
        out += '"'
    out = re.sub(r"[,:]\s*$", "", out.rstrip())
    return out + "".join(reversed(stack))
