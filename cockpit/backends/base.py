"""Role protocols: what the engine asks of a writer, a reviewer and a composer.

Backends are transports. The engine owns every prompt (engine/prompts.py) and every parser
(verdicts, decisions); a backend sends what it is given, streams what comes back into an
``OutputSink`` and returns the final text and usage. A failure is raised as ``DispatchError``;
cancellation (interrupt, timeout) arrives as ``asyncio.CancelledError`` and a backend cleans up
(kills its process group, closes its stream) before letting it through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from cockpit.events import Channel, Usage


class Output(msgspec.Struct, frozen=True, omit_defaults=True):
    """One piece of a dispatch's stream.

    channel: see ``cockpit.events.Channel``.
    """

    channel: Channel
    text: str
    meta: dict[str, Any] = {}


OutputSink = Callable[[Output], None]


class DispatchError(Exception):
    """A dispatch that failed. ``hint`` tells the human what to do about it."""

    def __init__(self, message: str, *, hint: str = "", usage: Usage | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.usage = usage or Usage()

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- writer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteJob:
    pr: int
    round: int
    title: str
    prompt: str  # the brief, framed for the writer by the engine
    worktree: Path
    branch: str
    git_dirs: tuple[Path, ...]  # directories git writes to for this worktree (sandbox --add-dir)
    resume_thread: str = ""  # the writer's thread from the previous round, if it can resume
    # The thread's usage total before this round, as the journal holds it (the sum of the
    # thread's earlier rounds): a resumed cockpit knows it without the previous process's memory.
    thread_usage: Usage | None = None


@dataclass(frozen=True)
class WriteResult:
    final_message: str
    usage: Usage
    thread_id: str = ""


@runtime_checkable
class Writer(Protocol):
    backend: str
    model: str
    timeout_s: float

    async def write(self, job: WriteJob, out: OutputSink) -> WriteResult: ...


# --- reviewer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewJob:
    pr: int
    round: int
    title: str
    commit: str
    system: str
    prompt: str  # holds the (possibly cut) diff
    schema: dict[str, Any] = field(default_factory=dict)  # JSON schema of the verdict


@dataclass(frozen=True)
class ReviewResult:
    text: str
    usage: Usage


@runtime_checkable
class Reviewer(Protocol):
    name: str
    framing: str
    backend: str
    model: str
    timeout_s: float

    async def review(self, job: ReviewJob, out: OutputSink) -> ReviewResult: ...


# --- composer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ComposeJob:
    """A composer call. ``context`` is the stable prefix (session thread) a backend may cache.

    There is deliberately no field for a diff: the composer reads verdicts, never code.
    """

    pr: int
    round: int
    purpose: Literal["brief", "decide"]
    title: str
    system: str
    context: tuple[str, ...]
    request: str
    tool: Tool | None = None  # a decide call with decide_with = "tool": the tool, forced; else text
    max_tokens: int = 4096


@dataclass(frozen=True)
class ComposeResult:
    text: str
    usage: Usage
    tool_input: dict[str, Any] | None = None  # the decide tool's input when the model called it
    stop_reason: str = ""


@runtime_checkable
class Composer(Protocol):
    backend: str
    model: str
    timeout_s: float

    async def compose(self, job: ComposeJob, out: OutputSink) -> ComposeResult: ...


@dataclass
class Backends:
    """The backends of one session: one composer, one writer, one or more reviewers."""

    composer: Composer
    writer: Writer
    reviewers: list[Reviewer]

    def describe(self) -> dict[str, str]:
        out = {
            "composer": f"{self.composer.backend}:{self.composer.model}",
            "writer": f"{self.writer.backend}:{self.writer.model}",
        }
        for r in self.reviewers:
            out[f"reviewer:{r.name}"] = f"{r.backend}:{r.model}"
        return out
