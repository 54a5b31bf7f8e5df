"""Property: the state the engine holds at the end of a session is the fold of its journal.

The engine keeps no model of a session beside the reducer's (docs/architecture.md, invariant 7), so folding
what it journaled must give exactly what it held, whatever the PRs and the answers at the gates.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.demo.scenario import builtin_scenario
from cockpit.engine.gates import GateAnswer
from cockpit.events import GateOpened
from cockpit.plan import PlanItem
from cockpit.state import fold
from tests.support.sessions import GateDriver, SessionHarness

SCENARIO = builtin_scenario("demo")
ANSWERS = ("approve", "approve", "approve", "skip", "abandon")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prs=st.lists(st.sampled_from(range(len(SCENARIO.pr))), min_size=1, max_size=4, unique=True),
    writers=st.integers(1, 2),
    answers=st.lists(st.sampled_from(ANSWERS), min_size=12, max_size=12),
)
def test_folding_the_journal_gives_the_engines_state(
    prs: list[int], writers: int, answers: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plan = [
            PlanItem(SCENARIO.pr[i].title, SCENARIO.pr[i].task, SCENARIO.pr[i].review) for i in sorted(prs)
        ]
        h = SessionHarness.build(Path(tmp), SCENARIO, prs=plan, session={"concurrent_writers": writers})
        queue = iter(answers)

        def policy(gate: GateOpened) -> GateAnswer:
            answer = next(queue, "approve")
            return GateAnswer(answer if answer in gate.options else "approve")  # type: ignore[arg-type]

        GateDriver(h.session, policy)
        asyncio.run(h.run())
        held = h.session.recorder.state
        assert held.status in ("completed", "failed")
        assert fold(h.events()) == held
        h.journal.close()
