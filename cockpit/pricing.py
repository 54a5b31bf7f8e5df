"""Money: what the tokens of a session cost, from the ``[pricing]`` table (dollars per million).

Prices are per model name. Cached reads and cache writes have their own prices where the table
gives them, else they cost what uncached input costs. A model with no price counts as unpriced,
never as free: views say "n/a" rather than "$0.00".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cockpit.config import Pricing
from cockpit.events import Usage
from cockpit.fmt import fmt_money
from cockpit.state import SessionState


def usage_cost(u: Usage, p: Pricing) -> float:
    cached = min(u.cached_input_tokens, u.input_tokens)
    written = min(u.cache_write_tokens, max(0, u.input_tokens - cached))
    plain = max(0, u.input_tokens - cached - written)
    return (
        plain * p.input
        + cached * (p.cached_input or p.input)
        + written * (p.cache_write or p.input)
        + u.output_tokens * p.output
    ) / 1_000_000


def find_price(pricing: Mapping[str, Pricing], model: str) -> Pricing | None:
    """Exact name first, then the longest configured prefix (``gpt-5`` prices ``gpt-5-codex``)."""
    if model in pricing:
        return pricing[model]
    best = max((name for name in pricing if model.startswith(name)), key=len, default=None)
    return pricing[best] if best is not None else None


@dataclass
class Costs:
    by_role: dict[str, float] = field(default_factory=dict)
    by_pr: dict[int, float] = field(default_factory=dict)
    total: float = 0.0
    unpriced: set[str] = field(default_factory=set)  # models used that have no price

    @property
    def complete(self) -> bool:
        return not self.unpriced


def session_costs(state: SessionState, pricing: Mapping[str, Pricing]) -> Costs:
    out = Costs()
    for d in state.dispatches.values():
        if d.usage == Usage():
            continue
        price = find_price(pricing, d.model)
        if price is None:
            out.unpriced.add(d.model or d.backend)
            continue
        c = usage_cost(d.usage, price)
        out.by_role[d.role] = out.by_role.get(d.role, 0.0) + c
        if d.pr is not None:
            out.by_pr[d.pr] = out.by_pr.get(d.pr, 0.0) + c
        out.total += c
    return out


def spend_cost(spend: Iterable[Mapping[str, Any]], pricing: Mapping[str, Pricing]) -> Costs:
    """Costs from a stored summary's usage per (role, model) (``checkpoints.spend``), without
    folding the session again. Rows that do not parse count as unpriced, never as free."""
    out = Costs()
    for row in spend:
        model = str(row.get("model", ""))
        role = str(row.get("role", ""))
        try:
            u = msgspec.convert(row.get("usage", {}), Usage)
        except msgspec.ValidationError:
            out.unpriced.add(model or "?")
            continue
        price = find_price(pricing, model)
        if price is None:
            out.unpriced.add(model or "?")
            continue
        c = usage_cost(u, price)
        out.by_role[role] = out.by_role.get(role, 0.0) + c
        out.total += c
    return out


def fmt_cost(costs: Costs) -> str:
    """ "$0.123", "unpriced" when no model has a price, "$0.123 + unpriced" when some have none."""
    if not costs.unpriced:
        return fmt_money(costs.total)
    if not costs.by_role:
        return "unpriced"
    return f"{fmt_money(costs.total)} + unpriced"
