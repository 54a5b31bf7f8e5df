"""The Writer pane: the selected PR's writer stream, as it happens."""

from __future__ import annotations

from textual.app import ComposeResult

from cockpit.fmt import fmt_count
from cockpit.state import PRState, SessionState
from cockpit.tui.format import status_of
from cockpit.tui.transcript import Transcript
from cockpit.tui.widgets.onepass import Column
from cockpit.tui.widgets.stream_view import StreamView


def writer_subtitle(s: SessionState, pr: PRState | None) -> str:
    if pr is None:
        return ""
    _, _, label = status_of(pr.display_status)
    parts = [f"PR {pr.n}"]
    if pr.round:
        parts.append(f"round {pr.round}")
    writer = s.running_writer(pr.n)
    parts.append(f"{writer.id} running" if writer is not None else label)
    if pr.commits:
        parts.append(fmt_count(len(pr.commits), "commit"))
    return " · ".join(parts)


class WriterPane(Column):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Writer"
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        yield StreamView(placeholder="No PR selected.", id="writer-stream")

    @property
    def stream(self) -> StreamView:
        return self.query_one(StreamView)

    def show(self, s: SessionState, pr: PRState | None, transcript: Transcript | None) -> None:
        """Point the pane at a PR (rebuilds only when the PR changes), then catch up."""
        n = pr.n if pr is not None else None
        if n != self._shown:
            self._shown = n
            self.stream.show(transcript, "No writer output yet." if pr is not None else "No PR selected.")
        else:
            self.stream.sync()
        self.border_subtitle = writer_subtitle(s, pr)
