"""A bounded, styled scrollback: what the writer pane shows for one PR.

The journal keeps everything; a transcript keeps the last ``max_lines`` lines so memory stays
bounded over a session of hours. Lines are ``Content`` whose spans name component classes
(``.stream--reasoning``), so the view picks colours from the theme when it renders. Text is
sanitized on the way in and lines are cut at ``max_line_chars``: a model printing escape
sequences or a megabyte without a newline cannot break the layout.

Views keep up incrementally: every line has an id (``first`` is the id of ``lines[0]``) and
``take_changes`` tells the view the first id that changed since it last looked.
"""

from __future__ import annotations

from collections import deque

from textual.content import Content

from cockpit.fmt import fmt_count
from cockpit.text import sanitize

MAX_LINES = 4000
MAX_LINE_CHARS = 2000


class Transcript:
    def __init__(self, max_lines: int = MAX_LINES, max_line_chars: int = MAX_LINE_CHARS) -> None:
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self.lines: deque[Content] = deque()
        self.first = 0  # id of lines[0]; grows as old lines are dropped
        self.open = False  # the last line is partial: more of it may come
        self._open_style = ""
        self._changed_from: int | None = None
        self.version = 0

    @property
    def end(self) -> int:
        """The id the next new line will get."""
        return self.first + len(self.lines)

    def take_changes(self) -> int | None:
        """The first line id that changed since the last call (None: nothing changed)."""
        changed, self._changed_from = self._changed_from, None
        return changed

    def _mark(self, line_id: int) -> None:
        self.version += 1
        if self._changed_from is None or line_id < self._changed_from:
            self._changed_from = line_id

    def _cut(self, content: Content) -> Content:
        if len(content) <= self.max_line_chars:
            return content
        return content[: self.max_line_chars] + Content.styled(" … (line cut)", ".stream--meta")

    def _add(self, content: Content) -> None:
        self._mark(self.end)
        self.lines.append(self._cut(content))
        while len(self.lines) > self.max_lines:
            self.lines.popleft()
            self.first += 1

    def _extend_last(self, text: str, style: str) -> None:
        last = self.lines[-1]
        if len(last) >= self.max_line_chars:
            return
        self._mark(self.end - 1)
        self.lines[-1] = self._cut((last + Content.styled(text, style)).simplify())

    def shrink(self, max_lines: int) -> None:
        """Keep only the last ``max_lines`` lines from now on (a PR long closed)."""
        self.max_lines = min(self.max_lines, max_lines)
        dropped = 0
        while len(self.lines) > self.max_lines:
            self.lines.popleft()
            self.first += 1
            dropped += 1
        if dropped:
            self.version += 1

    def close(self) -> None:
        """End a partial line, so what comes next starts on a line of its own."""
        self.open = False

    def write(self, text: str, style: str = "") -> None:
        """Append streamed text; a partial line stays open for the next piece in the same style."""
        if not text:
            return
        parts = sanitize(text).split("\n")
        first, rest = parts[0], parts[1:]
        if self.open and self._open_style == style and self.lines:
            if first:
                self._extend_last(first, style)
        elif first or not rest:
            self._add(Content.styled(first, style))
        for part in rest[:-1]:
            self._add(Content.styled(part, style))
        if rest:
            last = rest[-1]
            if last:
                self._add(Content.styled(last, style))
            self.open = bool(last)
        else:
            self.open = True
        self._open_style = style

    def line(self, *parts: tuple[str, str] | str) -> None:
        """Add one complete line made of (text, style) pieces; text is sanitized, newlines flattened."""
        clean: list[tuple[str, str] | str] = []
        for p in parts:
            if isinstance(p, tuple):
                clean.append((sanitize(p[0]).replace("\n", " "), p[1]))
            else:
                clean.append(sanitize(p).replace("\n", " "))
        self._complete([Content.assemble(*clean)])

    def _complete(self, contents: list[Content]) -> None:
        """Add complete lines. While text is mid-line they go above the partial line, which keeps
        growing, so a commit or a command seen mid-sentence does not cut the sentence in two."""
        partial = self.lines.pop() if self.open and self.lines else None
        if partial is not None:
            self._mark(self.end)
        for c in contents:
            self._add(c)
        if partial is not None:
            self._add(partial)

    def block(self, text: str, style: str, max_lines: int, indent: str = "  ") -> None:
        """Add several complete lines, keeping only the last ``max_lines`` (a command's output)."""
        lines = sanitize(text).rstrip("\n").split("\n") if text.strip() else []
        out: list[Content] = []
        if len(lines) > max_lines:
            hidden = len(lines) - max_lines
            out.append(Content.styled(f"{indent}… {fmt_count(hidden, 'earlier line')}", style))
            lines = lines[-max_lines:]
        out += [Content.styled(indent + ln, style) for ln in lines]
        self._complete(out)

    def plain_tail(self, n: int) -> list[str]:
        """The last ``n`` lines as plain text (tests and the tmux check read these)."""
        return [c.plain for c in list(self.lines)[-n:]]
