"""The session header: where and how long, running or paused, and what the models have spent."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content

from cockpit.events import Usage
from cockpit.fmt import fmt_duration, fmt_tokens
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.format import ROLE_STYLE, bar
from cockpit.tui.widgets.textbox import TextBox

_SEP = (" │ ", "$foreground-muted")


def _meter(role: str, label: str, u: Usage) -> list[Content | tuple[str, str] | str]:
    return [
        (label, ROLE_STYLE[role]),
        " ",
        (fmt_tokens(u.input_tokens), "bold"),
        (" in ", "$foreground-muted"),
        (fmt_tokens(u.output_tokens), "bold"),
        (" out", "$foreground-muted"),
    ]


def header_content(
    s: SessionState, now: float, selected: int | None, *, replay: bool = False, note: str = ""
) -> Content:
    repo = Path(s.repo).name if s.repo else "…"
    if s.status != "running":
        run: tuple[str, str] = (
            f"■ {s.status}",
            "$text-success" if s.status == "completed" else "$text-error",
        )
    elif s.paused:
        run = ("⏸ paused", "bold $text-warning")
    else:
        run = ("● running", "$text-success")
    line1: list[Content | tuple[str, str] | str] = [
        ("cockpit", "bold $text-primary"),
        (" replay" if replay else (" demo" if s.mode == "demo" else ""), "$foreground-muted"),
        _SEP,
        (sanitize(repo), "bold"),
        (f" ⎇ {sanitize(s.base_branch)}" if s.base_branch else "", "$foreground-muted"),
        _SEP,
        (fmt_duration(s.elapsed_s(now)), "bold"),
        _SEP,
        run,
    ]
    if s.id:
        line1 += [_SEP, (s.id, "$foreground-muted")]
    if note:
        line1 += [_SEP, (note, "$foreground-muted")]
    line2: list[Content | tuple[str, str] | str] = []
    pr = s.prs.get(selected) if selected is not None else None
    if pr is not None:
        used = s.composer_tokens(pr.n)
        line2 += [
            (f"composer PR {pr.n} ", "$text-secondary"),
            (fmt_tokens(used), "bold"),
            (f"/{fmt_tokens(s.composer_budget)} ", "$foreground-muted"),
        ]
        line2.append(bar(used, s.composer_budget, 8))
        line2.append(("  ", ""))
    line2 += [("context ", "$foreground-muted"), (fmt_tokens(s.composer_context), "bold")]
    if s.digest is not None:  # the digest is part of every composer call's context
        line2 += [(" digest ", "$foreground-muted"), (f"{s.digest.words}w", "bold")]
    line2.append(_SEP)
    line2 += _meter("composer", "composer", s.usage["composer"])
    line2.append(_SEP)
    line2 += _meter("writer", "writer", s.usage["writer"])
    line2.append(_SEP)
    line2 += _meter("reviewer", "reviewers", s.usage["reviewer"])
    return Content("\n").join([Content.assemble(*line1), Content.assemble(*line2)])


class SessionHeader(TextBox):
    DEFAULT_CSS = """
    SessionHeader {
        height: 2;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """
