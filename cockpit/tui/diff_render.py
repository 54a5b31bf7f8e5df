"""A unified diff as styled Content, one file at a time: line numbers, +/- backgrounds, and the
code highlighted for its language with theme colours (so it reads in both themes and in 16
colours). The patch text comes from git, but file contents are still outside input: it is
sanitized and shown as text. Huge and minified files stay cheap: at most ``MAX_LINES_PER_FILE``
lines are read and highlighted, each cut at ``MAX_LINE_CHARS``, and the +/- bands are padded to
at most ``MAX_BAND_WIDTH`` cells (a frame of padding is what made a minified file cost gigabytes).
Rendering is pure, so the diff screen runs it in a thread.
"""

from __future__ import annotations

import re

from pygments.lexer import Lexer  # type: ignore[import-untyped]
from pygments.lexers import TextLexer, get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.token import Token, _TokenType  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]
from textual.content import Content

from cockpit.events import FileStat
from cockpit.text import sanitize

MAX_LINES_PER_FILE = 4000
MAX_LINE_CHARS = 1000  # a longer line (minified code, a data blob) is cut, with "…"
MAX_BAND_WIDTH = 240  # rows are padded to the widest row, up to this, so a +/- background is a band
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")

# token type -> style; the first ancestor found wins
_TOKEN_STYLES: tuple[tuple[_TokenType, str], ...] = (
    (Token.Comment, "italic $foreground-muted"),
    (Token.Literal.String, "$text-success"),
    (Token.Literal.Number, "$text-warning"),
    (Token.Keyword, "bold $text-secondary"),
    (Token.Name.Builtin, "$text-accent"),
    (Token.Name.Function, "$text-primary"),
    (Token.Name.Class, "bold $text-primary"),
    (Token.Name.Decorator, "$text-accent"),
    (Token.Operator.Word, "bold $text-secondary"),
)


def _clean(line: str) -> str:
    """One line of the patch, sanitized and cut (only the part that can be shown is sanitized)."""
    if len(line) <= MAX_LINE_CHARS:
        return sanitize(line)
    return sanitize(line[:MAX_LINE_CHARS])[:MAX_LINE_CHARS] + "…"


def _lexer(path: str) -> Lexer:
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def _style_for(token: _TokenType) -> str:
    for kind, style in _TOKEN_STYLES:
        if token in kind:
            return style
    return ""


def _highlight(code: list[str], lexer: Lexer) -> list[Content]:
    """Highlight a hunk's lines as one block (so multi-line strings colour right), then split."""
    text = "\n".join(code)
    parts: list[tuple[str, str] | str] = []
    for token, value in lexer.get_tokens(text):
        style = _style_for(token)
        parts.append((value, style) if style else value)
    joined = Content.assemble(*parts)
    lines = joined.split("\n", allow_blank=True)
    while len(lines) < len(code):
        lines.append(Content(""))
    return lines[: len(code)]


def render_file(path: str, patch: str, max_lines: int = MAX_LINES_PER_FILE) -> Content:
    """One file's patch: headers dimmed, hunks with old/new line numbers and coloured +/- rows."""
    lexer = _lexer(path)
    out: list[Content] = []
    raw = patch.split("\n")
    i = 0
    width = 5
    while i < len(raw) and len(out) < max_lines:
        line = _clean(raw[i])
        m = _HUNK.match(line)
        if not m:
            if line and not line.startswith(("diff --git", "index ")):
                out.append(Content.styled(line, "$foreground-muted"))
            i += 1
            continue
        old_n, new_n = int(m.group(1)), int(m.group(2))
        out.append(Content.assemble((f"{'':>{width}} {'':>{width}}  ", ""), (line, "$text-primary")))
        i += 1
        room = max_lines - len(out)  # lines past the cap are neither read nor highlighted
        block: list[str] = []
        while i < len(raw) and len(block) < room and raw[i][:1] in ("+", "-", " ", "\\"):
            block.append(_clean(raw[i]))
            i += 1
        code = [b[1:] if b[:1] in "+- " else "" for b in block]
        for b, hl in zip(block, _highlight(code, lexer), strict=True):
            sign = b[:1]
            if sign == "\\":
                out.append(Content.styled(f"{'':>{width * 2 + 2}}{b}", "$foreground-muted"))
                continue
            if sign == "+":
                gutter, bg, mark = f"{'':>{width}} {new_n:>{width}}", "on $success 18%", "+"
                new_n += 1
            elif sign == "-":
                gutter, bg, mark = f"{old_n:>{width}} {'':>{width}}", "on $error 18%", "-"
                old_n += 1
            else:
                gutter, bg, mark = f"{old_n:>{width}} {new_n:>{width}}", "", " "
                old_n += 1
                new_n += 1
            row = Content.assemble((gutter + " ", "$foreground-muted"), (mark + " ", "bold"), hl)
            out.append(row.stylize_before(bg) if bg else row)
    if len(out) >= max_lines and any(raw[j] for j in range(i, len(raw))):
        out.append(Content.styled(f"… cut at {max_lines} lines; see the rest with git diff", "$text-warning"))
    band = min(MAX_BAND_WIDTH, max((c.cell_length for c in out), default=0) + 1)
    rows = (c.extend_right(band - c.cell_length) if c.cell_length < band else c for c in out)
    return Content("\n").join(rows)


def stat_line(stat: FileStat, width: int = 40) -> Content:
    path = sanitize(stat.path)
    if len(path) > width:
        path = "…" + path[-(width - 1) :]
    return Content.assemble(
        (f"{stat.status:<2}", "bold $text-warning"),
        (path, ""),
        (f"  +{stat.insertions}", "$text-success"),
        (f" −{stat.deletions}", "$text-error"),
    )
