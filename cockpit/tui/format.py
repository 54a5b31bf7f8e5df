"""How states, verdicts and gates look: glyphs, labels and theme styles in one place.

Every piece of model or user text goes into ``Content`` as plain text (``Content(text)`` or a
``(text, style)`` pair in ``Content.assemble``), never through markup, so ``[bold]`` in a
reviewer's summary is shown as typed. Styles name theme variables, so both themes and the ANSI
fallback colour them.
"""

from __future__ import annotations

from textual.content import Content

from cockpit.events import Finding, GateOpened
from cockpit.text import sanitize

# status -> (glyph, style, label)
STATUS: dict[str, tuple[str, str, str]] = {
    "queued": ("·", "$foreground-muted", "queued"),
    "composing": ("✎", "$text-secondary", "composing"),
    "awaiting": ("◆", "bold $text-warning", "awaiting you"),
    "writing": ("▸", "$text-primary", "writing"),
    "reviewing": ("◎", "$text-accent", "reviewing"),
    "deciding": ("◇", "$text-secondary", "deciding"),
    "merging": ("⇢", "$text-success", "merging"),
    "merged": ("✓", "$text-success", "merged"),
    "abandoned": ("⊘", "$foreground-muted", "abandoned"),
    "failed": ("✗", "bold $text-error", "failed"),
    "interrupted": ("■", "$text-error", "interrupted"),
    "skipped": ("↷", "$foreground-muted", "skipped"),
}

ROLE_STYLE = {"composer": "$text-secondary", "writer": "$text-primary", "reviewer": "$text-accent"}

VERDICT: dict[str, tuple[str, str]] = {
    "approve": ("APPROVE", "bold $text-success"),
    "changes": ("CHANGES", "bold $text-warning"),
    "block": ("BLOCK", "bold $text-error"),
    "unparsed": ("UNPARSED", "bold $text-secondary"),
}

SEVERITY: dict[str, tuple[str, str]] = {
    "blocker": ("▲ blocker", "bold $text-error"),
    "major": ("▲ major", "$text-warning"),
    "minor": ("△ minor", "$foreground-muted"),
    "info": ("· info", "$foreground-muted"),
}

# What each answer is called on a key hint, in the order keys are shown.
ANSWER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("approve", "a", "approve"),
    ("override", "o", "override"),
    ("edit", "e", "edit"),
    ("retry", "r", "retry"),
    ("skip", "s", "skip"),
)

PROPOSAL_TEXT = {
    "merge": "merge",
    "fix": "send a fix brief to the writer",
    "abandon": "abandon the PR",
    "write": "start the writer on this brief",
    "review": "review the new tip",
    "continue": "continue with the verdicts it has",
    "decide": "let the composer decide with the verdicts it has",
    "retry": "try again",
    "fail": "mark the PR failed",
}

GATE_KIND_TEXT = {
    "brief": "brief",
    "decision": "decision",
    "merge": "solo merge",
    "failure": "failure",
    "moved": "branch moved",
    "conflict": "merge refused",
    "tamper": "writer tampered (restored)",  # issue 9
}


def status_of(status: str) -> tuple[str, str, str]:
    return STATUS.get(status, ("?", "$foreground-muted", status))


def one_line(text: str, limit: int = 200) -> str:
    """The first line of model text, sanitized and cut, for titles and banners."""
    line = sanitize(text).strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def verdict_badge(verdict: str) -> Content:
    label, style = VERDICT.get(verdict, (verdict.upper(), "bold"))
    return Content.styled(label, style)


def finding_line(f: Finding) -> Content:
    label, style = SEVERITY.get(f.severity, (f"· {f.severity}", "$foreground-muted"))
    where = f.file or ""
    if where and f.line is not None:
        where = f"{where}:{f.line}"
    parts: list[tuple[str, str] | str] = [(label, style), " "]
    if where:
        parts += [(sanitize(where), "$text-primary"), " "]
    parts.append(sanitize(f.text).strip())
    return Content.assemble(*parts)


def bar(used: int, budget: int, width: int = 10) -> Content:
    """A small meter; it turns warning at 80 % and error past the budget."""
    if budget <= 0:
        return Content("")
    ratio = used / budget
    filled = min(width, round(ratio * width))
    style = "$text-success" if ratio < 0.8 else ("$text-warning" if ratio <= 1 else "$text-error")
    return Content.assemble(("▰" * filled, style), ("▱" * (width - filled), "$foreground-muted"))


def gate_options(gate: GateOpened) -> list[tuple[str, str, str]]:
    """(answer, key, label) for each answer the gate accepts, in key order."""
    return [(a, k, label) for a, k, label in ANSWER_KEYS if a in gate.options]


def edit_label(gate: GateOpened) -> str:
    if gate.gate_kind == "brief" or gate.proposal == "fix":
        return "edit brief"
    if gate.gate_kind in ("decision", "merge") and gate.proposal == "merge":
        return "edit message"
    return "edit"
