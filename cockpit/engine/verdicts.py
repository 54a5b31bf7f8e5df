"""Lenient parsing of a reviewer's answer into a verdict.

Models asked for JSON still wrap it in fences or prose, stop half-way, or answer with a
``VERDICT: APPROVE`` line. Parsing tries the strict reading first and falls back step by step;
when nothing yields a verdict the raw text is kept whole (UNPARSED) so nothing is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cockpit.engine.jsontext import balanced_objects, fenced_blocks, loads_or_none, repair_json
from cockpit.events import Finding, VerdictKind
from cockpit.fmt import fmt_count

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["approve", "changes", "block"]},
        "summary": {"type": "string"},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "severity": {"type": "string", "enum": ["blocker", "major", "minor", "info"]},
                    "file": {"type": "string"},
                    "line": {"type": "integer"},
                    "text": {"type": "string"},
                },
                "required": ["severity", "text"],
            },
        },
    },
    "required": ["verdict", "summary", "findings"],
}

_WORDS: dict[str, VerdictKind] = {
    "approve": "approve",
    "approved": "approve",
    "approves": "approve",
    "lgtm": "approve",
    "pass": "approve",
    "passed": "approve",
    "accept": "approve",
    "accepted": "approve",
    "ok": "approve",
    "changes": "changes",
    "change": "changes",
    "changes_requested": "changes",
    "request_changes": "changes",
    "requested_changes": "changes",
    "needs_changes": "changes",
    "needs_work": "changes",
    "revise": "changes",
    "fix": "changes",
    "reject_with_changes": "changes",
    "block": "block",
    "blocked": "block",
    "blocker": "block",
    "reject": "block",
    "rejected": "block",
    "fail": "block",
    "failed": "block",
}
_SEVERITIES = {
    "blocker": "blocker",
    "critical": "blocker",
    "high": "major",
    "major": "major",
    "error": "major",
    "medium": "minor",
    "minor": "minor",
    "warning": "minor",
    "low": "info",
    "info": "info",
    "nit": "info",
    "note": "info",
    "suggestion": "info",
}

_VERDICT_LINE = re.compile(
    r"^[\s>*#_-]*(?:final\s+)?(?:verdict|decision|status|result)\s*[:=\-–—]\s*[*_`\"']*\s*"
    r"([A-Za-z][A-Za-z _-]*)",
    re.IGNORECASE | re.MULTILINE,
)
_VERDICT_KEY = re.compile(r'"verdict"\s*:\s*"([^"]*)"', re.IGNORECASE)
_SUMMARY_KEY = re.compile(r'"summary"\s*:\s*"((?:[^"\\]|\\.)*)', re.IGNORECASE)
_LOCATION = re.compile(r"^(?P<file>[\w./\\-]+\.\w+)(?::(?P<line>\d+))?")


@dataclass(frozen=True)
class ParsedVerdict:
    verdict: VerdictKind
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    how: str = "json"  # json | fenced | embedded | repaired | line | none

    @property
    def parsed(self) -> bool:
        return self.verdict != "unparsed"


def review_missing(verdicts: Iterable[VerdictKind], failed: Iterable[str] = ()) -> str:
    """Why there is no review to decide on ("" when at least one verdict parsed).

    Invariant 8 (docs/architecture.md): a PR whose reviewers all failed or all answered
    something that is not a verdict has not been reviewed, whatever the composer would make of it.
    """
    kinds = list(verdicts)
    if any(k != "unparsed" for k in kinds):
        return ""
    failed = list(failed)
    parts = []
    if kinds:
        parts.append(f"{fmt_count(len(kinds), 'answer')} with no verdict")
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    return "no reviewer's verdict could be read" + (f" ({'; '.join(parts)})" if parts else "")


def normalize_verdict(word: str) -> VerdictKind | None:
    key = re.sub(r"[\s-]+", "_", word.strip().lower()).strip("_.!*`\"'")
    if key in _WORDS:
        return _WORDS[key]
    first = key.split("_")[0] if key else ""
    if first in ("request", "requested", "requesting", "needs"):
        return "changes"
    return _WORDS.get(first)


def parse_verdict(text: str) -> ParsedVerdict:
    """Never raises: the worst case is ``unparsed`` with the text kept by the caller."""
    stripped = text.strip()
    if not stripped:
        return ParsedVerdict("unparsed", how="none")
    for how, candidate in _json_candidates(stripped):
        obj = loads_or_none(candidate)
        if isinstance(obj, dict):
            parsed = _from_object(obj, how)
            if parsed is not None:
                return parsed
    m = _VERDICT_KEY.search(stripped)
    if m and (kind := normalize_verdict(m.group(1))):
        summary = ""
        s = _SUMMARY_KEY.search(stripped)
        if s:
            summary = _unescape(s.group(1))
        return ParsedVerdict(kind, summary, [], "repaired")
    for m in _VERDICT_LINE.finditer(stripped):
        kind = normalize_verdict(m.group(1))
        if kind:
            summary = _prose_summary(stripped, m.group(0))
            return ParsedVerdict(kind, summary, _prose_findings(stripped), "line")
    return ParsedVerdict("unparsed", how="none")


def _json_candidates(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("json", text)]
    out += [("fenced", block) for block in fenced_blocks(text)]
    out += [("embedded", obj) for obj in balanced_objects(text)]
    start = text.find("{")
    if start >= 0:
        out.append(("repaired", repair_json(text[start:])))
    return out


def _from_object(obj: dict[str, Any], how: str) -> ParsedVerdict | None:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    raw = lowered.get("verdict", lowered.get("decision", lowered.get("status")))
    if isinstance(raw, bool):
        kind: VerdictKind | None = "approve" if raw else "changes"
    elif isinstance(raw, str):
        kind = normalize_verdict(raw)
    else:
        kind = None
    if kind is None and isinstance(lowered.get("approved"), bool):
        kind = "approve" if lowered["approved"] else "changes"
    if kind is None:
        return None
    summary = lowered.get("summary", lowered.get("reason", lowered.get("rationale", "")))
    findings_raw = lowered.get("findings", lowered.get("issues", lowered.get("comments", [])))
    return ParsedVerdict(kind, str(summary) if summary is not None else "", _findings(findings_raw), how)


def _findings(raw: Any) -> list[Finding]:
    if not isinstance(raw, list):
        return []
    out: list[Finding] = []
    for item in raw[:100]:
        if isinstance(item, str):
            out.append(Finding("info", item))
        elif isinstance(item, dict):
            f = {str(k).lower(): v for k, v in item.items()}
            text = f.get("text", f.get("message", f.get("description", f.get("comment", ""))))
            sev = _SEVERITIES.get(str(f.get("severity", f.get("level", "info"))).lower().strip(), "info")
            file = f.get("file", f.get("path"))
            line = f.get("line")
            loc = f.get("location")
            if isinstance(loc, str) and (m := _LOCATION.match(loc.strip())):
                file = file or m.group("file")
                line = line if line is not None else m.group("line")
            out.append(Finding(sev, str(text), str(file) if file else None, _int_or_none(line)))
    return out


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal():  # isdigit() admits "²", which int() refuses
        return int(value.strip())
    return None


def _unescape(s: str) -> str:
    try:
        out = json.loads(f'"{s}"')
        return str(out)
    except ValueError:
        return s


def _prose_summary(text: str, verdict_line: str) -> str:
    for line in text.replace(verdict_line, "").splitlines():
        line = line.strip(" \t#*->")
        if line:
            return line[:300]
    return ""


_BULLET = re.compile(
    r"^\s*[-*•]\s+(?:\[?(?P<sev>blocker|critical|major|minor|info|nit|high|medium|low)\]?[:\s-]*)?"
    r"(?P<text>.+)$",
    re.IGNORECASE | re.MULTILINE,
)


def _prose_findings(text: str) -> list[Finding]:
    out: list[Finding] = []
    for m in _BULLET.finditer(text):
        body = m.group("text").strip()
        sev = _SEVERITIES.get((m.group("sev") or "info").lower(), "info")
        loc = _LOCATION.match(body)
        file = line = None
        if loc and loc.group("line"):
            file, line = loc.group("file"), int(loc.group("line"))
            body = body[loc.end() :].lstrip(" :-–—")
        out.append(Finding(sev, body, file, line))
    return out[:50]
