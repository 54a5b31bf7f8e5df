"""The composer's Markdown, drawn as styled text in which every character the model wrote stays.

Textual's ``Markdown`` widget hands the text to a full CommonMark parser: ``<your key>`` becomes
inline HTML and disappears, and each block is a widget of its own, mounted after the fact (a
PR switch then costs several layout passes). Here the few things a brief or a decision uses are
styled line by line: headings, emphasis, inline code, fenced code, lists and quotes. Anything
else, angle brackets included, is shown as written. The markers of emphasis and code (``**``,
``*``, `````) are the only characters that are dropped, and only where they pair up.
"""

from __future__ import annotations

import re

from textual.content import Content

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,9}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
# Inline spans, tried in this order at each position: code, strong, emphasis.
_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|\*\*(?P<strong>[^*\s](?:.*?[^*\s])?)\*\*"
    r"|__(?P<strong2>[^_\s](?:.*?[^_\s])?)__"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*]*?[^*\s])?)\*(?!\w)"
    r"|(?<![\w_])_(?P<em2>[^_\s](?:[^_]*?[^_\s])?)_(?!\w)"
)

HEADING_STYLE = ("bold $text-primary", "bold $text-primary", "bold $text-secondary")
CODE_STYLE = "$text-warning"


def inline(text: str, base: str = "") -> Content:
    """One line's inline spans styled; every other character as written."""
    parts: list[tuple[str, str] | str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], base))
        if m.group("code_text") is not None:
            parts.append((m.group("code_text"), f"{base} {CODE_STYLE}".strip()))
        elif m.group("strong") is not None or m.group("strong2") is not None:
            parts.append((m.group("strong") or m.group("strong2"), f"{base} bold".strip()))
        else:
            parts.append((m.group("em") or m.group("em2"), f"{base} italic".strip()))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], base))
    return Content.assemble(*parts) if parts else Content("")


def markdown_content(text: str) -> Content:
    lines: list[Content] = []
    fence: str | None = None
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1) == fence:
                fence = None
                continue
            lines.append(Content.styled("  " + line, CODE_STYLE))
            continue
        if m:
            fence = m.group(1)
            lang = line.strip()[3:].strip()
            if lang:
                lines.append(Content.styled(f"  {lang}", "$foreground-muted"))
            continue
        if h := _HEADING.match(line):
            level = len(h.group(1))
            style = HEADING_STYLE[min(level, len(HEADING_STYLE)) - 1]
            lines.append(inline(h.group(2), style))
        elif _RULE.match(line):
            lines.append(Content.styled("─" * 20, "$foreground-muted"))
        elif b := _BULLET.match(line):
            lines.append(Content.assemble((b.group(1) + "• ", "$text-accent"), inline(b.group(2))))
        elif n := _NUMBERED.match(line):
            lines.append(Content.assemble((f"{n.group(1)}{n.group(2)} ", "$text-accent"), inline(n.group(3))))
        elif q := _QUOTE.match(line):
            lines.append(Content.assemble(("▌ ", "$foreground-muted"), inline(q.group(1), "italic")))
        else:
            lines.append(inline(line))
    while lines and not lines[-1].plain.strip():
        lines.pop()
    return Content("\n").join(lines)
