"""The Reviewers pane: a card per reviewer of the selected PR's latest reviewed round.

A card shows who reviews (name, model, framing), their stream while it runs, then the verdict
as a badge with the findings. When reviewers disagree the pane says so above the cards.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content

from cockpit.events import VerdictParsed
from cockpit.fmt import fmt_duration, fmt_tokens
from cockpit.state import DispatchState, PRState, RoundState, SessionState
from cockpit.text import sanitize
from cockpit.tui.format import finding_line as _finding
from cockpit.tui.format import verdict_badge
from cockpit.tui.model import StreamText
from cockpit.tui.widgets.onepass import Column, Scroll
from cockpit.tui.widgets.textbox import TextBox

STREAM_TAIL_LINES = 6
TAIL_LINE_CHARS = 200  # a shown stream line keeps its end: one long JSON line must not fill the pane
MAX_FINDINGS = 30


def shown_round(pr: PRState) -> RoundState | None:
    """The newest round that has reviewers (a fix round shows the last verdicts until it is reviewed)."""
    for n in sorted(pr.rounds, reverse=True):
        if pr.rounds[n].reviewers or pr.rounds[n].verdicts:
            return pr.rounds[n]
    return None


def _tail(text: str, n: int) -> list[str]:
    """The last ``n`` lines, each cut to its last ``TAIL_LINE_CHARS`` (sliced before sanitizing)."""
    lines = sanitize(text[-n * 300 :]).rstrip().splitlines()[-n:]
    return [ln if len(ln) <= TAIL_LINE_CHARS else "…" + ln[-(TAIL_LINE_CHARS - 1) :] for ln in lines]


def card_content(
    d: DispatchState, verdict: VerdictParsed | None, stream: StreamText | None
) -> tuple[Content, Content]:
    """The card's header line (badge, name, model) and its body."""
    head: list[Content | tuple[str, str] | str] = []
    if verdict is not None:
        head += [verdict_badge(verdict.verdict), "  "]
    head.append((sanitize(d.name or "reviewer"), "bold $text-accent"))
    detail = sanitize(d.model)
    if d.framing and d.framing != d.name:
        detail += f" · {sanitize(d.framing)}"
    head.append((f" · {detail}", "$foreground-muted"))
    lines: list[Content] = []
    if verdict is not None:
        if verdict.summary:
            lines.append(Content(sanitize(verdict.summary).strip()))
        for f in verdict.findings[:MAX_FINDINGS]:
            lines.append(_finding(f))
        if len(verdict.findings) > MAX_FINDINGS:
            lines.append(
                Content.styled(f"… {len(verdict.findings) - MAX_FINDINGS} more findings", "$foreground-muted")
            )
        if verdict.verdict == "unparsed":
            lines.append(Content.styled("nothing parseable; the reviewer wrote:", "$foreground-muted"))
            for ln in _tail(verdict.raw or (stream.text if stream else ""), STREAM_TAIL_LINES):
                lines.append(Content.styled(ln, "$foreground-muted"))
        return Content.assemble(*head), Content("\n").join(lines)
    if d.running:
        chars = stream.chars if stream is not None else 0
        head.insert(0, ("reviewing… ", "$foreground-muted"))
        head.append((f" · {fmt_tokens(chars)} chars", "$foreground-muted"))
        text = stream.text if stream is not None and stream.text else (stream.thinking if stream else "")
        style = "$foreground-muted" if stream is None or not stream.text else "$foreground 80%"
        for ln in _tail(text, STREAM_TAIL_LINES):
            lines.append(Content.styled(ln, style))
        return Content.assemble(*head), Content("\n").join(lines)
    took = fmt_duration((d.finished_at or d.started_at) - d.started_at)
    if d.status == "ok":
        head.append((f" · done in {took}, parsing…", "$foreground-muted"))
        return Content.assemble(*head), Content("")
    head.insert(0, (f"✗ {d.status}  ", "bold $text-error"))
    if d.error:
        lines.append(Content.styled(sanitize(d.error).strip(), "$text-error"))
    return Content.assemble(*head), Content("\n").join(lines)


def card_class(d: DispatchState, verdict: VerdictParsed | None) -> str:
    if verdict is not None:
        return f"-{verdict.verdict}"
    return "-running" if d.running else ("-failed" if d.status != "ok" else "-running")


def history_content(pr: PRState, current: int) -> Content | None:
    parts: list[Content | tuple[str, str] | str] = []
    for n in sorted(pr.rounds):
        r = pr.rounds[n]
        if n == current or not r.verdicts:
            continue
        parts.append((f"round {n}: ", "$foreground-muted"))
        for name, v in sorted(r.verdicts.items()):
            parts += [(sanitize(name) + " ", "$foreground-muted"), verdict_badge(v.verdict), ("  ", "")]
    return Content.assemble(*parts) if parts else None


class ReviewerCard(Column):
    DEFAULT_CSS = """
    ReviewerCard {
        height: auto;
        padding: 0 1;
        margin-bottom: 1;
        border-left: outer $panel;
        &.-approve { border-left: outer $success; }
        &.-changes { border-left: outer $warning; }
        &.-block { border-left: outer $error; }
        &.-unparsed { border-left: outer $secondary; }
        &.-failed { border-left: outer $error; }
        &.-running { border-left: outer $accent 50%; }
        & > .card-head { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        & > .card-body { height: auto; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._head = TextBox(classes="card-head")
        self._body = TextBox(classes="card-body")

    def compose(self) -> ComposeResult:
        yield self._head
        yield self._body

    def show(self, d: DispatchState, verdict: VerdictParsed | None, stream: StreamText | None) -> None:
        cls = card_class(d, verdict)
        for c in ("-approve", "-changes", "-block", "-unparsed", "-failed", "-running"):
            self.set_class(c == cls, c)
        head, body = card_content(d, verdict, stream)
        self._head.set(head)
        self._body.set(body)
        self._body.display = bool(body)


class ReviewersPane(Column):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Reviewers"
        # Cards are kept and reused across PRs (a switch of PR fills them again): mounting and
        # removing widgets on every `j`/`k` cost extra layout passes after the first frame.
        self._cards: list[ReviewerCard] = []

    def compose(self) -> ComposeResult:
        yield TextBox(id="split-warning")
        with Scroll(id="reviewer-cards", can_focus=True):
            yield TextBox(id="reviewers-empty")
            yield TextBox(id="reviewer-history")

    def show(self, s: SessionState, pr: PRState | None, streams: dict[str, StreamText]) -> None:
        split = self.query_one("#split-warning", TextBox)
        empty = self.query_one("#reviewers-empty", TextBox)
        history = self.query_one("#reviewer-history", TextBox)
        box = self.query_one("#reviewer-cards", Scroll)
        rnd = shown_round(pr) if pr is not None else None
        ids = list(rnd.reviewers) if rnd is not None else []
        shown = [d for d in (s.dispatches.get(did) for did in ids) if d is not None]
        if len(shown) > len(self._cards):
            new = [ReviewerCard() for _ in range(len(shown) - len(self._cards))]
            self._cards += new
            box.mount_all(new, before=history)
        for i, card in enumerate(self._cards):
            if i < len(shown):
                d = shown[i]
                verdict = rnd.verdicts.get(d.name) if rnd is not None else None
                card.show(d, verdict, streams.get(d.id))
            card.display = i < len(shown)
        if pr is None:
            empty.set(Content.styled("No PR selected.", "$foreground-muted"))
        elif rnd is None:
            why = "a solo PR is not reviewed" if pr.solo else "no review yet"
            empty.set(Content.styled(why, "$foreground-muted"))
        else:
            empty.set(Content(""))
        empty.display = rnd is None
        hist = history_content(pr, rnd.n) if pr is not None and rnd is not None else None
        history.set(hist or Content(""))
        history.display = hist is not None
        split.display = bool(rnd is not None and rnd.split)
        if rnd is not None and rnd.split:
            split.set(
                Content.assemble(
                    ("⚠ Split verdict: ", "bold $text-error"),
                    ("reviewers disagree", "$text-error"),
                )
            )
        if rnd is not None:
            verdicts = f"{len(rnd.verdicts)}/{len(ids)} verdicts"
            self.border_subtitle = f"PR {pr.n if pr else ''} · round {rnd.n} · {verdicts}"
        else:
            self.border_subtitle = f"PR {pr.n}" if pr is not None else ""
