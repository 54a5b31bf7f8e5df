from __future__ import annotations

import msgspec
import pytest

from cockpit import events as E
from cockpit.config import Config, Pricing, ReviewerConfig, WriterConfig
from cockpit.families import family_warnings, model_family
from cockpit.pricing import find_price, session_costs, usage_cost
from cockpit.state import fold


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-5-codex", "OpenAI GPT"),
        ("gpt-oss:20b", "OpenAI GPT"),
        ("o3-mini", "OpenAI GPT"),
        ("glm-4.6", "Zhipu GLM"),
        ("qwen3-coder:30b", "Alibaba Qwen"),
        ("hf.co/unsloth/Qwen3-8B", "Alibaba Qwen"),
        ("claude-sonnet-4-6", "Anthropic Claude"),
        ("devstral", "Mistral"),
        ("my-model", None),
    ],
)
def test_model_families(model: str, family: str | None) -> None:
    assert model_family(model) == family


def test_a_gpt_reviewer_of_a_codex_writer_is_warned() -> None:
    cfg = Config(
        reviewers=[ReviewerConfig(name="a", model="glm-4.6"), ReviewerConfig(name="b", model="gpt-oss:20b")]
    )
    warnings = family_warnings(cfg)
    assert len(warnings) == 1 and "'b' (gpt-oss:20b)" in warnings[0] and "OpenAI GPT" in warnings[0]
    claude_writer = msgspec.structs.replace(cfg, writer=WriterConfig(backend="command", command="claude -p"))
    assert family_warnings(claude_writer) == []
    claude_reviewer = msgspec.structs.replace(
        claude_writer, reviewers=[ReviewerConfig(name="c", model="claude-x")]
    )
    assert len(family_warnings(claude_reviewer)) == 1


def test_costs() -> None:
    p = Pricing(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    u = E.Usage(
        input_tokens=1_000_000, output_tokens=100_000, cached_input_tokens=600_000, cache_write_tokens=200_000
    )
    assert usage_cost(u, p) == pytest.approx(0.2 * 3 + 0.6 * 0.3 + 0.2 * 3.75 + 0.1 * 15)
    assert usage_cost(E.Usage(1_000_000, 0, 500_000), Pricing(input=2.0)) == pytest.approx(
        2.0
    )  # no cached price
    table = {"gpt-5": Pricing(input=1.0), "gpt-5-codex": Pricing(input=2.0)}
    assert find_price(table, "gpt-5-codex") == table["gpt-5-codex"]
    assert find_price(table, "gpt-5-mini") == table["gpt-5"] and find_price(table, "glm") is None
    evs = [
        E.DispatchStarted(dispatch="d1", role="writer", backend="codex", model="gpt-5-codex", pr=1),
        E.DispatchFinished(dispatch="d1", role="writer", status="ok", usage=E.Usage(1_000_000, 0), pr=1),
        E.DispatchStarted(dispatch="d2", role="reviewer", backend="ollama", model="glm-4.6", pr=1),
        E.DispatchFinished(dispatch="d2", role="reviewer", status="ok", usage=E.Usage(5, 5), pr=1),
    ]
    costs = session_costs(fold(evs), table)
    assert costs.total == pytest.approx(2.0) and costs.by_pr == {1: pytest.approx(2.0)}
    assert costs.unpriced == {"glm-4.6"} and not costs.complete
