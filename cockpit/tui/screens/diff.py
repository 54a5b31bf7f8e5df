"""The diff of one PR, read from git in a thread: files with their stats, one file's patch at a time.

Reading the diff and rendering a file both run in threads and hand their result back, so a huge
or minified file never stalls keys; a result for a file no longer highlighted is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer
from textual.content import Content
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from cockpit.fmt import fmt_count
from cockpit.git.model import Diff
from cockpit.text import sanitize
from cockpit.tui.diff_render import render_file, stat_line

DiffLoader = Callable[[], Diff]


HINT = Content.assemble(
    ("j", "bold $text-warning"), " / ", ("k", "bold $text-warning"), (" next / previous file   ", ""),
    ("esc", "bold $text-warning"), (" d q", "bold $text-warning"), (" close", ""),
)  # fmt: skip


class DiffScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,d", "close", "Close", id="diff.close"),
        Binding("j", "file(1)", "Next file", id="diff.next"),
        Binding("k", "file(-1)", "Prev file", id="diff.prev"),
    ]

    def __init__(self, title: str, load: DiffLoader) -> None:
        super().__init__()
        self._title = title
        self._load = load
        self.diff: Diff | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled(self._title, "bold"), id="diff-title", markup=False)
        with Horizontal(id="diff-body"):
            files = OptionList(id="diff-files")
            files.border_title = "Files"
            yield files
            with ScrollableContainer(id="diff-scroll", can_focus=True) as scroll:
                scroll.border_title = "Diff"
                yield Static(
                    Content.styled("reading the diff from git…", "$foreground-muted"), id="diff-text"
                )
        # A line of text, not Textual's Footer: that recomposes its keys after the screen opens.
        yield Static(HINT, id="diff-keys", markup=False)

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _read(self) -> None:
        worker = get_current_worker()
        try:
            diff = self._load()
            _ = diff.patches  # split here, in the thread
        except Exception as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._loaded, diff)

    def _failed(self, message: str) -> None:
        self.query_one("#diff-text", Static).update(
            Content.styled(f"cannot read the diff: {message}", "$text-error")
        )

    def _loaded(self, diff: Diff) -> None:
        self.diff = diff
        n = len(diff.files)
        summary = Content.assemble(
            (self._title, "bold"),
            (f"   {fmt_count(n, 'file')}", "$foreground-muted"),
            (f"  +{diff.insertions}", "$text-success"),
            (f" −{diff.deletions}", "$text-error"),
        )
        self.query_one("#diff-title", Static).update(summary)
        files = self.query_one("#diff-files", OptionList)
        files.set_options([Option(stat_line(f, 34), id=f"file-{i}") for i, f in enumerate(diff.files)])
        if not diff.files:
            self.query_one("#diff-text", Static).update(Content.styled("no changes", "$foreground-muted"))
            return
        files.highlighted = 0
        files.focus()

    @on(OptionList.OptionHighlighted, "#diff-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_file(event.option_index)

    def show_file(self, index: int) -> None:
        if self.diff is None or not (0 <= index < len(self.diff.files)):
            return
        self._render_file(self.diff, index)

    @work(thread=True, exclusive=True, group="diff-file", exit_on_error=False)
    def _render_file(self, diff: Diff, index: int) -> None:
        worker = get_current_worker()
        path = diff.files[index].path
        patch = diff.patches.get(path, "")
        note = getattr(diff, "note", "")  # a replay whose repository is gone: stats only, and why
        body = (
            render_file(path, patch)
            if patch.strip()
            else Content.styled(note or "(no textual change: binary or mode only)", "$foreground-muted")
        )
        if not worker.is_cancelled:
            self.app.call_from_thread(self._rendered, index, path, body)

    def _rendered(self, index: int, path: str, body: Content) -> None:
        files = self.query_one("#diff-files", OptionList)
        if files.highlighted != index:
            return  # the reader moved on while it rendered
        self.query_one("#diff-text", Static).update(body)
        scroll = self.query_one("#diff-scroll", ScrollableContainer)
        scroll.border_title = Content(f"Diff · {sanitize(path)}")
        scroll.scroll_home(animate=False)

    def action_file(self, delta: int) -> None:
        files = self.query_one("#diff-files", OptionList)
        if files.option_count:
            current = files.highlighted or 0
            files.highlighted = max(0, min(files.option_count - 1, current + delta))

    def action_close(self) -> None:
        self.dismiss(None)

    @property
    def shown_text(self) -> str:
        """The plain text of the shown file's patch (tests look for lines in it)."""
        text = self.query_one("#diff-text", Static).content
        return text.plain if isinstance(text, Content) else str(text)
