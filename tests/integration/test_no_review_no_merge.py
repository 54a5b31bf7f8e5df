"""Issue 9 through the real clients and the simulators: prose reviews and a decision cut off at
``max_tokens`` never merge under ``--auto-approve``.

The composer is the real ``anthropic`` client over SSE (the simulator cuts its answer at the
request's ``max_tokens``, as the API does), the reviewers the real ``ollama`` client, the writer
the codex-compatible CLI.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from cockpit.demo.stack import start_sims
from cockpit.events import GateOpened, Merged, PrClosed
from cockpit.plan import PlanItem
from tests.support.sessions import config_session, git

pytestmark = pytest.mark.slow

APPROVE = '{"verdict": "approve", "summary": "Fine.", "findings": []}'


def scenario(review_text: str, rationale: str) -> str:
    return f"""
[[pr]]
title = "Add the planets module"
task = "Add planets.py listing the planets."

[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "Add planets.py"
message = "Added planets.py."
steps = [{{ edit = "planets.py" }}]
[pr.round.writer.files]
"planets.py" = "PLANETS = ('Mercury', 'Venus', 'Earth')\\n"

[[pr.round.review]]
reviewer = "correctness"
text = '{review_text}'

[[pr.round.review]]
reviewer = "quality"
text = '{review_text}'

[pr.round.decision]
action = "merge"
rationale = "{rationale}"
commit_message = "Add planets.py"
"""


async def run(tmp_path: Path, text: str, max_tokens: int | None = None) -> tuple[list, int, Path]:  # type: ignore[type-arg]
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    stack = start_sims(str(path), speed=0)
    try:
        cfg = stack.config()
        if max_tokens is not None:
            cfg = msgspec.structs.replace(
                cfg, composer=msgspec.structs.replace(cfg.composer, max_tokens=max_tokens)
            )
        session, journal = config_session(tmp_path, cfg, [PlanItem("Add the planets module", "x")])
        before = git("rev-parse", "main", cwd=session.repo.workdir).strip()
        result = await session.run()
        assert git("rev-parse", "main", cwd=session.repo.workdir).strip() == before
        return list(journal.read_events(session.id)), result.exit_code, session.repo.workdir
    finally:
        stack.close()


async def test_prose_reviews_never_merge(tmp_path: Path) -> None:
    events, code, _ = await run(tmp_path, scenario("Looks fine to me, ship it!", "approved"))
    failures = [e for e in events if isinstance(e, GateOpened) and e.gate_kind == "failure"]
    assert failures and failures[0].proposal == "retry"
    assert "no reviewer's verdict could be read" in failures[0].summary
    assert not [e for e in events if isinstance(e, Merged)]
    assert [e.outcome for e in events if isinstance(e, PrClosed)] == ["failed"] and code == 1


async def test_a_decision_cut_at_max_tokens_never_merges(tmp_path: Path) -> None:
    rationale = "Both reviewers approve and the change is small. " * 20  # far more than the budget
    events, code, _ = await run(tmp_path, scenario(APPROVE, rationale), max_tokens=60)
    gates = [e for e in events if isinstance(e, GateOpened) and e.gate_kind == "failure"]
    assert gates and "cut off at max_tokens" in gates[-1].summary
    assert not [e for e in events if isinstance(e, Merged)]
    assert [e.outcome for e in events if isinstance(e, PrClosed)] == ["failed"] and code == 1
