"""The composer's decision: read from its answer's sections, or from the ``decide`` tool's input.

By default (``decide_with = "text"``) the composer answers in the sections ``prompts.DECIDE_SYSTEM``
names: ``DECISION:``, ``RATIONALE:``, ``COMMIT MESSAGE:``, ``BRIEF:``, ``DIGEST:``. With
``decide_with = "tool"`` it calls the decide tool, and a model that answers in text anyway is
read the same way. Text is searched for a JSON object with an ``action``, then for a decision
line and the sections. When neither works the caller opens a gate and says so; nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cockpit.backends.base import ComposeResult, Tool
from cockpit.engine.jsontext import balanced_objects, fenced_blocks, loads_or_none
from cockpit.events import Action

# decide_with = "tool": the rules prompts.DECIDE_SYSTEM says as text, said here instead (a test
# keeps the two the same; a brief call's rules are in prompts.BRIEF_SYSTEM). The fields
# carry no descriptions and ``action`` is its enum alone: the simulator's estimate (and a real
# tokenizer, less so) charges each quote and brace of a schema, and the tool goes with every call.
DECIDE_TOOL = Tool(
    name="decide",
    description=(
        "Weigh findings by evidence; if reviewers disagree, say whom you believe. merge: nothing must "
        "change; commit_message = imperative subject under 60 chars, blank line, a paragraph. fix: a "
        "real defect remains; brief = each defect and what done looks like. abandon: it cannot be done "
        "well within its constraints. With merge or abandon, digest = the session digest updated "
        "with this PR (at most 200 words)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"enum": ["merge", "fix", "abandon"]},
            "rationale": {"type": "string"},
            "commit_message": {"type": "string"},
            "brief": {"type": "string"},
            "digest": {"type": "string"},
        },
        "required": ["action", "rationale"],
    },
)

_ACTIONS: dict[str, Action] = {
    "merge": "merge",
    "merged": "merge",
    "approve": "merge",
    "accept": "merge",
    "ship": "merge",
    "fix": "fix",
    "revise": "fix",
    "changes": "fix",
    "rework": "fix",
    "iterate": "fix",
    "abandon": "abandon",
    "abandoned": "abandon",
    "drop": "abandon",
    "reject": "abandon",
    "close": "abandon",
}
_DECISION_LINE = re.compile(
    r"^[\s>*#_-]*(?:decision|action|verdict)\s*[:=\-–—]\s*[*_`\"']*\s*([A-Za-z]+)",
    re.IGNORECASE | re.MULTILINE,
)
_NAMES = r"commit[ _]message|brief|fix[ _]brief|rationale|reason|digest"
_SECTION = re.compile(
    rf"^[\s>*#_-]*(?P<name>{_NAMES})\s*[:=]?\s*[*_`]*\s*$"
    rf"|^[\s>*#_-]*(?P<name2>{_NAMES})\s*[:=]\s*(?P<inline>.+)$",
    re.IGNORECASE | re.MULTILINE,
)

_ALIASES = {"reason": "rationale", "fix_brief": "brief"}


class DecisionParseError(ValueError):
    pass


@dataclass(frozen=True)
class ParsedDecision:
    action: Action
    rationale: str = ""
    commit_message: str = ""
    brief: str = ""
    parsed_from: str = "tool"
    digest: str = ""  # the session digest the composer proposed ("" = none)


def normalize_action(word: Any) -> Action | None:
    if not isinstance(word, str):
        return None
    return _ACTIONS.get(word.strip().lower().strip("*_`\"'.!"))


def from_tool_input(data: dict[str, Any]) -> ParsedDecision:
    action = normalize_action(data.get("action"))
    if action is None:
        raise DecisionParseError(f"the decide tool was called with action {data.get('action')!r}")
    return ParsedDecision(
        action,
        _str(data.get("rationale")),
        _str(data.get("commit_message")),
        _str(data.get("brief")),
        "tool",
        _str(data.get("digest")) if isinstance(data.get("digest"), str) else "",
    )


def from_result(result: ComposeResult) -> ParsedDecision:
    """The decision in a composer's answer; DecisionParseError when there is none, or when the
    answer was cut off: a cut answer is a failed decision, never a merge (issue 9)."""
    if result.stop_reason == "max_tokens":
        raise DecisionParseError(
            "the composer's answer was cut off at max_tokens; a cut-off answer is no decision "
            "(raise [composer] max_tokens, or retry)"
        )
    if result.tool_input is not None:
        return from_tool_input(result.tool_input)
    if _unfinished_object(result.text):
        raise DecisionParseError("the composer's decision JSON is incomplete (cut off mid-object)")
    return from_text(result.text)


def _unfinished_object(text: str) -> bool:
    """True when the text opens a JSON object about an action that it never closes."""
    start = text.find("{")
    if start < 0 or '"action"' not in text[start:]:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
    return depth > 0 or in_string


def from_text(text: str) -> ParsedDecision:
    """Raise DecisionParseError (with a reason a human can read) when no decision is stated."""
    if not text.strip():
        raise DecisionParseError("the composer answered with no text and no decide call")
    candidates = fenced_blocks(text) + balanced_objects(text)
    for cand in candidates:
        obj = loads_or_none(cand)
        if isinstance(obj, dict) and normalize_action(obj.get("action")):
            d = from_tool_input(obj)
            return ParsedDecision(d.action, d.rationale, d.commit_message, d.brief, "text", d.digest)
    found = [normalize_action(m.group(1)) for m in _DECISION_LINE.finditer(text)]
    actions = [a for a in found if a is not None]
    if not actions:
        raise DecisionParseError("no decision (merge / fix / abandon) found in the composer's answer")
    if len(set(actions)) > 1:
        raise DecisionParseError(f"the composer's answer names several decisions: {', '.join(actions)}")
    sections = _sections(text)
    return ParsedDecision(
        actions[0],
        sections.get("rationale", ""),
        sections.get("commit_message", ""),
        sections.get("brief", ""),
        "text",
        sections.get("digest", ""),
    )


def _sections(text: str) -> dict[str, str]:
    """``Name:`` headings (or ``Name: inline text``) and the text under them, up to the next heading.

    A heading counts the first time its name appears; a later ``Brief:`` line inside a commit
    message, say, is part of that text. A section's text runs to the next heading (blank lines
    included: a commit message is a subject, a blank line and a paragraph); the decision line
    ends a section too.
    """
    marks: list[tuple[int, int, str]] = []  # (heading's start, its text's start, name)
    seen: set[str] = set()
    for m in _SECTION.finditer(text):
        name = (m.group("name") or m.group("name2") or "").lower().replace(" ", "_")
        name = _ALIASES.get(name, name)
        if name not in seen:
            seen.add(name)
            start = m.start("inline") if m.group("inline") else m.end()
            opened = text[m.start() : m.start("name2")] if m.group("inline") else ""
            if "*" in opened or "_" in opened:  # "**Rationale:** text": the closing ** is not text
                start += len(m.group("inline")) - len(m.group("inline").lstrip("*_ "))
            marks.append((m.start(), start, name))
    marks += [(m.start(), m.end(), "") for m in _DECISION_LINE.finditer(text) if normalize_action(m.group(1))]
    marks.sort()
    out: dict[str, str] = {}
    for i, (_, body_start, name) in enumerate(marks):
        if not name:
            continue
        end = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        body = _unfence(text[body_start:end].strip())
        if body:
            out[name] = body
    return out


_FENCED = re.compile(r"^(`{3,})[\w+-]*\n(?P<body>.*)\n\1$", re.DOTALL)


def _unfence(body: str) -> str:
    """A section written as a fenced block (a commit message, say) is its inside; stray backticks
    around one line are dropped."""
    m = _FENCED.match(body)
    return m.group("body").strip() if m else body.strip("`").strip()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
