"""The Composer pane: the brief or the decision, styled as Markdown while it streams.

One document per brief or decision (``ComposerDoc.key``). Frames hand the pane the latest
document and it is drawn at once, in that frame: one text widget (``markdown_content``), no
widget per block, nothing mounted later, so a PR switch or a key costs one layout pass and the
change is on screen in the very next refresh. Every character the model wrote stays visible
(``<your key>`` included); only paired emphasis and code markers are turned into styles.
"""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.content import Content

from cockpit.engine.memory import counts
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.markdown_text import markdown_content
from cockpit.tui.model import ComposerDoc
from cockpit.tui.widgets.onepass import Column, Scroll
from cockpit.tui.widgets.textbox import TextBox

EMPTY = "*Nothing from the composer for this PR yet.*"
SOLO = "*A solo PR: the writer works from the task, nobody reviews, you approve the merge.*"
WAITING = "*Waiting for the composer's first words…*"
SILENT = "*The composer wrote nothing.*"


class ComposerPane(Column):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Composer"
        self.scroll = Scroll(id="composer-scroll", can_focus=True)
        self.text = TextBox(id="composer-md")
        self.source = EMPTY  # the Markdown shown (tests read it)
        self._key = ""
        self._end_y = 0.0  # where following the end last left the scroll
        self.settled = asyncio.Event()  # kept for callers that wait for the pane: it never lags
        self.settled.set()
        self.memory = TextBox(id="composer-memory")  # the session digest, once there is one
        self.memory.display = False
        self._memory_text = ""

    def compose(self) -> ComposeResult:
        with self.scroll:
            yield self.text
        yield self.memory

    def show_memory(self, s: SessionState) -> None:
        """The session digest every composer call carries (shown from the first one on)."""
        d = s.digest
        text = ""
        if d is not None:
            who = "composer" if d.source == "composer" else "cockpit"
            text = f"memory after PR {d.pr} ({who}; {counts(s)}):\n{sanitize(d.text)}"
        if text != self._memory_text:
            self._memory_text = text
            self.memory.set(Content(text))
            self.memory.display = bool(text)

    def on_mount(self) -> None:
        self.text.set(markdown_content(self.source))

    def show(self, doc: ComposerDoc | None, pr: int | None, solo: bool = False) -> None:
        if doc is None:
            empty = SOLO if solo else EMPTY
            key, text = f"empty-{pr}", (empty if pr is not None else "*No PR selected.*")
        else:
            key, text = f"{pr}:{doc.key}", doc.text or (WAITING if doc.streaming else SILENT)
        if key != self._key or text != self.source:
            new_doc = key != self._key
            self._key, self.source = key, text
            self.text.set(markdown_content(text))
            if new_doc:
                self.scroll.scroll_home(animate=False, immediate=True)
                self._end_y = 0
        if doc is not None and doc.streaming:
            self._follow_end()
        parts = [f"PR {pr}"] if pr is not None else []
        if doc is not None:
            parts.append(doc.title)
            if doc.streaming:
                parts.append("streaming")
        self.border_subtitle = " · ".join(parts)

    def _follow_end(self) -> None:
        """Keep the end of a growing document in view, unless the user scrolled up to read."""
        scroll = self.scroll
        if scroll.scroll_y + 1 >= self._end_y or scroll.scroll_y >= scroll.max_scroll_y:
            scroll.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        self.scroll.scroll_end(animate=False, immediate=True)
        self._end_y = self.scroll.max_scroll_y
