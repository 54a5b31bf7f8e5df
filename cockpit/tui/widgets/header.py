"""The session header: where and how long, running or paused, and what the models have spent.

Two lines, each made in a few widths: the header draws the most detailed form that fits the
terminal, so at 80 columns every role's token counts still show (the words around them go
first). Costs come from ``[pricing]``: per role on the second line, the session's on the first;
a model with no price makes its role (and the session) "unpriced", never $0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from textual.content import Content

from cockpit.config import Pricing
from cockpit.events import Usage
from cockpit.fmt import fmt_duration, fmt_money, fmt_tokens
from cockpit.pricing import find_price, usage_cost
from cockpit.state import SessionState
from cockpit.text import sanitize
from cockpit.tui.format import ROLE_STYLE, bar
from cockpit.tui.widgets.textbox import TextBox

_SEP = (" │ ", "$foreground-muted")
ROLES = (("composer", "composer"), ("writer", "writer"), ("reviewer", "reviewers"))

Parts = list[Content | tuple[str, str] | str]


@dataclass(frozen=True)
class Cost:
    amount: float = 0.0
    priced: bool = False  # some of it has a price
    unpriced: bool = False  # some of it has none

    def text(self) -> str:
        if self.unpriced and not self.priced:
            return "unpriced"
        return fmt_money(self.amount) + (" + unpriced" if self.unpriced else "")


def role_costs(s: SessionState, pricing: Mapping[str, Pricing]) -> tuple[dict[str, Cost], Cost]:
    """Per role and for the session; usage of a model without a price is unpriced, not free."""
    amount: dict[str, float] = {}
    priced: set[str] = set()
    unpriced: set[str] = set()
    for d in s.dispatches.values():
        if d.usage == Usage():
            continue
        price = find_price(pricing, d.model)
        if price is None:
            unpriced.add(d.role)
            continue
        priced.add(d.role)
        amount[d.role] = amount.get(d.role, 0.0) + usage_cost(d.usage, price)
    roles = {r: Cost(amount.get(r, 0.0), r in priced, r in unpriced) for r, _ in ROLES}
    total = Cost(sum(amount.values()), bool(priced), bool(unpriced))
    return roles, total


def _cost_part(c: Cost) -> tuple[str, str]:
    return (c.text(), "$text-warning" if c.unpriced else "$foreground-muted")


def _meter(role: str, label: str, u: Usage, cost: Cost | None, short: bool) -> Parts:
    parts: Parts = [(label, ROLE_STYLE[role]), " ", (fmt_tokens(u.input_tokens), "bold")]
    if short:
        parts += [("/", "$foreground-muted"), (fmt_tokens(u.output_tokens), "bold")]
    else:
        parts += [
            (" in ", "$foreground-muted"),
            (fmt_tokens(u.output_tokens), "bold"),
            (" out", "$foreground-muted"),
        ]
    if cost is not None:
        parts += [" ", _cost_part(cost)]
    return parts


def header_variants(
    s: SessionState,
    now: float,
    selected: int | None,
    *,
    replay: bool = False,
    note: str = "",
    pricing: Mapping[str, Pricing] | None = None,
) -> tuple[list[Content], list[Content]]:
    """Each line's forms, the most detailed first."""
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
    costs, total = role_costs(s, pricing or {})
    head: Parts = [
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
    if total.priced or total.unpriced:
        head += [_SEP, ("cost ", "$foreground-muted"), _cost_part(total)]
    ident: Parts = [_SEP, (s.id, "$foreground-muted")] if s.id else []
    noted: Parts = [_SEP, (note, "$foreground-muted")] if note else []
    line1 = [
        Content.assemble(*head, *ident, *noted),
        Content.assemble(*head, *noted),
        Content.assemble(*head),
    ]

    pr = s.prs.get(selected) if selected is not None else None
    with_costs = bool(pricing)

    def line2(long: bool, short_meters: bool, show_costs: bool) -> Content:
        parts: Parts = []
        if pr is not None:
            used = s.composer_tokens(pr.n)
            parts += [
                (f"composer PR {pr.n} " if long else f"PR {pr.n} ", "$text-secondary"),
                (fmt_tokens(used), "bold"),
                (f"/{fmt_tokens(s.composer_budget)}", "$foreground-muted"),
            ]
            if long:
                parts += [" ", bar(used, s.composer_budget, 8), "  "]
            else:
                parts.append(" ")
        if long:
            parts += [("context ", "$foreground-muted"), (fmt_tokens(s.composer_context), "bold")]
            if s.digest is not None:  # the digest is part of every composer call's context
                parts += [(" digest ", "$foreground-muted"), (f"{s.digest.words}w", "bold")]
        if parts:
            parts.append(_SEP)
        for i, (role, label) in enumerate(ROLES):
            if i:
                parts.append(_SEP)
            parts += _meter(role, label, s.usage[role], costs[role] if show_costs else None, short_meters)
        return Content.assemble(*parts)

    forms = [line2(True, False, with_costs), line2(False, True, with_costs), line2(False, True, False)]
    return line1, forms


def header_content(
    s: SessionState,
    now: float,
    selected: int | None,
    *,
    replay: bool = False,
    note: str = "",
    pricing: Mapping[str, Pricing] | None = None,
    width: int = 10_000,
) -> Content:
    """The header as drawn at ``width`` cells."""
    line1, line2 = header_variants(s, now, selected, replay=replay, note=note, pricing=pricing)
    return Content("\n").join([fit(line1, width), fit(line2, width)])


def fit(forms: list[Content], width: int) -> Content:
    """The first form that fits, else the last (the ellipsis cuts it)."""
    for form in forms:
        if form.cell_length <= width:
            return form
    return forms[-1]


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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._forms: tuple[list[Content], list[Content]] = ([Content("")], [Content("")])
        self._width = -1

    def show(self, forms: tuple[list[Content], list[Content]]) -> None:
        old = self._forms
        same = all(
            len(a) == len(b) and all(x.is_same(y) for x, y in zip(a, b, strict=True))
            for a, b in zip(forms, old, strict=True)
        )
        if not same:
            self._forms = forms
            self._width = -1
            self.refresh()

    def render(self) -> Content:
        width = self.content_region.width
        if width != self._width:
            self._width = width
            self._content = Content("\n").join([fit(self._forms[0], width), fit(self._forms[1], width)])
        return self._content
