"""Prompt caching and token counting as the Anthropic Messages API does them, estimated.

The prompt is cut into segments in cache order (tools, system, messages), one per cacheable
block; a block with ``cache_control`` is a breakpoint. ``PromptCache`` then answers, per
request, what was read from the cache, what was written to it and what was plain input, with
the API's rules: a minimum cacheable size, a lookback from each breakpoint, a ttl refreshed on a hit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.tokens import estimate_tokens

CACHE_MIN_TOKENS = 1024  # the smallest cacheable prefix (the real minimum is 1024-4096 by model)
CACHE_LOOKBACK_BLOCKS = 20  # the API looks for earlier hits this many blocks before a breakpoint
CACHE_TTLS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
MESSAGE_OVERHEAD_TOKENS = 3  # role and turn framing, counted once per message


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
