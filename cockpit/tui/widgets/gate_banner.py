"""The gate banner: what is proposed, for which PR and commit, whether reviewers disagree, and the keys.

It is the one loud thing on the screen, and only while a human is needed. A split verdict (one
reviewer approves, another asks for changes) is said in words, in the error colour: that is the
moment the human is there for.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content

from cockpit.events import GateOpened
from cockpit.fmt import fmt_duration, fmt_tokens
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.format import (
    GATE_KIND_TEXT,
    PROPOSAL_TEXT,
    edit_label,
    gate_options,
    one_line,
    verdict_badge,
)
from cockpit.tui.widgets.textbox import TextBox


@dataclass(frozen=True)
class BannerView:
    gate: GateOpened
    why: str  # "" when the gate is the selected PR's, else why this one is the target
    open_count: int
    countdown: float | None  # seconds until it approves by itself, None when no countdown runs
    countdown_stopped: bool
    readonly: bool


def split_line(s: SessionState, gate: GateOpened) -> Content | None:
    if gate.pr is None or gate.pr not in s.prs:
        return None
    rnd = s.prs[gate.pr].rounds.get(gate.round)
    if rnd is None or not (gate.split or rnd.split):
        return None
    parts: list[Content | tuple[str, str] | str] = [("⚠ Reviewers disagree: ", "bold $text-error")]
    for i, (name, v) in enumerate(sorted(rnd.verdicts.items())):
        if i:
            parts.append((" · ", "$foreground-muted"))
        parts += [(sanitize(name) + " ", ""), verdict_badge(v.verdict)]
    parts.append(("  — read both before you answer", "$text-error"))
    return Content.assemble(*parts)


def banner_content(s: SessionState, view: BannerView) -> Content:
    g = view.gate
    pr = s.prs.get(g.pr) if g.pr is not None else None
    title = sanitize(pr.title) if pr is not None else ""
    kind = GATE_KIND_TEXT.get(g.gate_kind, g.gate_kind)
    head: list[Content | tuple[str, str] | str] = [
        ("◆ Waiting for you", "bold $text-warning"),
        (f" · PR {g.pr} " if g.pr is not None else " · ", "bold"),
        (title, "bold"),
        (f" · {kind} · round {g.round}", "$foreground-muted"),
    ]
    if view.open_count > 1:
        head.append((f" · {view.open_count} gates open", "$text-warning"))
    if view.why:
        head.append((f" ({view.why})", "$foreground-muted"))
    proposal = PROPOSAL_TEXT.get(g.proposal, g.proposal)
    second: list[Content | tuple[str, str] | str] = [
        ("Approve will ", "$foreground-muted"),
        (proposal, "bold"),
    ]
    if g.commit:
        second += [(" · commit ", "$foreground-muted"), (g.commit[:8], "bold $text-warning")]
    lines = [Content.assemble(*head), Content.assemble(*second)]
    if g.summary:
        lines.append(Content(one_line(g.summary, 400)))
    split = split_line(s, g)
    if split is not None:
        lines.append(split)
    lines.append(keys_content(view))
    return Content("\n").join(lines)


def keys_content(view: BannerView) -> Content:
    g = view.gate
    if view.readonly:
        return Content.styled(
            "replay: read-only, answers were given in the live session", "$foreground-muted"
        )
    markup = []
    for answer, key, label in gate_options(g):
        if answer == "skip" and view.why:
            continue  # `s` skips the selected PR, and this gate is another PR's
        if answer == "edit":
            label = edit_label(g)
        # Each answer's screen action has the answer's name, so every key hint is also a button.
        markup.append(f"[@click=screen.{answer}][b $text-warning]{key}[/] {label}[/]")
    keys = Content.from_markup("  ".join(markup))
    if view.countdown is not None:
        secs = max(0, int(view.countdown + 0.999))
        tail = Content.styled(
            f"   approves by itself in {secs}s · any key or click stops the countdown", "$foreground-muted"
        )
        keys = keys + tail
    elif view.countdown_stopped:
        keys = keys + Content.styled("   countdown stopped: you decide", "$foreground-muted")
    return keys


def done_content(s: SessionState) -> Content:
    """The closing line: how it ended, what each PR became, what the composer spent."""
    outcomes: dict[str, int] = {}
    for pr in s.prs.values():
        key = pr.outcome or pr.status
        outcomes[key] = outcomes.get(key, 0) + 1
    style = "bold $text-success" if s.status == "completed" else "bold $text-error"
    parts: list[Content | tuple[str, str] | str] = [
        (f"■ Session {s.status}", style),
        (f" in {fmt_duration(s.elapsed_s(s.last_t))}", ""),
    ]
    for outcome, n in sorted(outcomes.items()):
        parts.append((f" · {n} {outcome}", "$foreground-muted"))
    composer = [t for t in (s.composer_tokens(n) for n in s.prs) if t]
    if composer:
        avg = sum(composer) // len(composer)
        parts.append(
            (
                f" · composer {fmt_tokens(avg)} tokens per PR (budget {fmt_tokens(s.composer_budget)})",
                "$foreground-muted",
            )
        )
    if s.finish_reason:
        parts.append((f" · {s.finish_reason}", "$foreground-muted"))
    parts.append(("   q quits", "$foreground-muted"))
    return Content.assemble(*parts)


class GateBanner(TextBox):
    DEFAULT_CSS = """
    GateBanner {
        display: none;
        height: auto;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        link-style: none;
        link-style-hover: bold;
        link-background-hover: $warning 30%;
        border-left: thick $warning;
        background: $warning 12%;
        &.-split {
            border-left: thick $error;
            background: $error 12%;
        }
        &.-open { display: block; }
        &.-done {
            border-left: thick $success;
            background: $success 10%;
        }
        &:ansi { background: ansi_default; }
    }
    """

    def show_gate(self, s: SessionState, view: BannerView | None) -> None:
        if view is None:
            done = s.status != "running" and s.started_at > 0
            self.set_class(False, "-split")
            self.set_class(done, "-done")
            self.set_class(done, "-open")
            self.set(done_content(s) if done else Content(""))
            return
        self.set_class(False, "-done")
        self.set_class(split_line(s, view.gate) is not None, "-split")
        self.set(banner_content(s, view))
        self.set_class(True, "-open")
