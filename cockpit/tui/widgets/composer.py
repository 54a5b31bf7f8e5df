"""The Composer pane: the brief or the decision, rendered as Markdown while it streams.

One document per brief or decision (``ComposerDoc.key``). Frames hand the pane the latest
document; a single loop applies them in order, so a new document never races the stream of the
previous one: a changed key replaces the document, more text under the same key is appended
(at most once per frame, never per token: the loop coalesces what arrived meanwhile). A failure
to draw is logged and the next document is drawn whole; it never stops the pane.
"""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static

from cockpit.engine.memory import counts
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.model import ComposerDoc

EMPTY = "*Nothing from the composer for this PR yet.*"
SOLO = "*A solo PR: the writer works from the task, nobody reviews, you approve the merge.*"
WAITING = "*Waiting for the composer's first words…*"
SILENT = "*The composer wrote nothing.*"


class ComposerPane(Vertical):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Composer"
        self._want: tuple[str, str, str] = ("", "", EMPTY)  # key, title, text
        self._key = ""
        self._text = ""
        self._end_y = 0.0  # where following the end last left the scroll
        self._wake = asyncio.Event()
        self.settled = asyncio.Event()  # set while the shown document is the wanted one
        self.settled.set()
        self._memory_text = ""  # shown under the document once the session has a digest

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="composer-scroll", can_focus=True):
            yield Markdown(EMPTY, id="composer-md", open_links=False)

    def show_memory(self, s: SessionState) -> None:
        """The session digest every composer call carries (shown from the first one on)."""
        d = s.digest
        text = ""
        if d is not None:
            who = "composer" if d.source == "composer" else "cockpit"
            text = f"memory after PR {d.pr} ({who}; {counts(s)}):\n{sanitize(d.text)}"
        if text != self._memory_text:
            self._memory_text = text
            found = self.query("#composer-memory")
            if found:
                box = found.first(Static)
                box.update(text)
            else:  # mounted with the first digest, so a session without one lays out as before
                box = Static(text, id="composer-memory", markup=False)
                self.mount(box)
            box.display = bool(text)

    def on_mount(self) -> None:
        self.run_worker(self._apply_loop(), group="composer-pane", exit_on_error=False)

    def show(self, doc: ComposerDoc | None, pr: int | None, solo: bool = False) -> None:
        if doc is None:
            empty = SOLO if solo else EMPTY
            want = (f"empty-{pr}", "", empty if pr is not None else "*No PR selected.*")
        else:
            want = (f"{pr}:{doc.key}", doc.title, doc.text or (WAITING if doc.streaming else SILENT))
        if want != self._want:
            self._want = want
            self.settled.clear()
            self._wake.set()
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
        scroll = self.query_one("#composer-scroll", VerticalScroll)
        if scroll.scroll_y + 1 >= self._end_y or scroll.scroll_y >= scroll.max_scroll_y:
            scroll.scroll_end(animate=False, immediate=True)
            self._end_y = scroll.max_scroll_y

    async def _apply_loop(self) -> None:
        md = self.query_one("#composer-md", Markdown)
        while True:
            await self._wake.wait()
            self._wake.clear()
            key, _title, text = self._want
            try:
                if key != self._key or not text.startswith(self._text):
                    self._key, self._text = key, text
                    await md.update(text)
                    self.query_one("#composer-scroll", VerticalScroll).scroll_home(
                        animate=False, immediate=True
                    )
                    self._end_y = 0
                elif len(text) > len(self._text):
                    fragment, self._text = text[len(self._text) :], text
                    await md.append(fragment)
            except Exception as exc:  # one bad document must not freeze the pane for the session
                self.log.error(f"composer pane: drawing {key!r} failed: {type(exc).__name__}: {exc}")
                self._key = self._text = ""  # the next document is drawn whole
                self.settled.set()
                continue
            if self._want[0] == self._key and self._want[2] == self._text:
                self.settled.set()
