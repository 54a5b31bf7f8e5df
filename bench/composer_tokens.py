"""Composer tokens per PR: the demo scenario, and one PR with a 1 KB, 100 KB and 1 MB diff.

Runs real sessions through the production adapters and the simulators (the composer's tokens are
counted by the Anthropic simulator from the requests actually sent). Invariant 3 says the
composer never reads a diff, so its tokens must stay flat as the diff grows.
``--decide-with tool`` runs the decide calls with the forced decide tool instead of the default
text sections, for comparison. ``--parts`` also prints, for each composer call of the demo, its
prompt's parts (the tool, the system prompt, each memory block, the request) with the
simulator's token count of each, and the call's output tokens: where the tokens go.
Run: python bench/composer_tokens.py [--parts] [--decide-with text|tool]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any, Literal

from cockpit.backends.factory import build_backends
from cockpit.demo import demo_plan, make_repo
from cockpit.demo.scenario import builtin_scenario, project_files
from cockpit.demo.sim.anthropic_cache import prompt_segments
from cockpit.demo.sim.anthropic_responders import request_text
from cockpit.demo.stack import start_sims
from cockpit.engine.session import Session
from cockpit.events import DispatchFinished
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem


async def run(
    tmp: Path,
    scenario_ref: str,
    plan: list[PlanItem],
    files: dict[str, str],
    calls: list[tuple[dict[str, Any], int]] | None = None,
    decide_with: Literal["text", "tool"] = "text",
) -> dict[int, tuple[int, int, int]]:
    """Per PR: (composer input tokens, composer output tokens, composer calls). ``calls``, when
    given, receives each composer request body the simulator got with the call's output tokens."""
    stack = start_sims(scenario_ref, speed=0)
    try:
        cfg = stack.config(decide_with=decide_with)
        repo = make_repo(tmp / "repo", files)
        journal = Journal(tmp / "j.sqlite3")
        session = Session(
            repo=Repo.open(repo),
            config=cfg,
            backends=build_backends(cfg),
            journal=journal,
            plan=plan,
            auto_approve=True,
            worktree_root=tmp / "wt",
        )
        result = await session.run()
        assert result.status == "completed", result
        out: dict[int, tuple[int, int, int]] = {}
        outputs: list[int] = []
        for e in journal.read_events(session.id):
            if isinstance(e, DispatchFinished) and e.role == "composer" and e.pr is not None:
                tokens, output, n = out.get(e.pr, (0, 0, 0))
                out[e.pr] = (tokens + e.usage.input_tokens, output + e.usage.output_tokens, n + 1)
                outputs.append(e.usage.output_tokens)
        if calls is not None:  # one call at a time (the composer lock): bodies and outputs pair up
            calls.extend(zip(stack.anthropic.message_bodies(), outputs, strict=False))
        return out
    finally:
        stack.close()


def big_scenario(size: int) -> str:
    line = "value_{i:07d} = {i}  # generated to make a large diff\n"
    content, i = [], 0
    while sum(map(len, content)) < size:
        content.append(line.format(i=i))
        i += 1
    body = "".join(content)
    return f"""
[[pr]]
title = "Add the data table"
task = "Add data.py with the generated table."
[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = "Add data.py"
message = "Added data.py ({len(body)} bytes)."
[pr.round.writer.files]
"data.py" = {json.dumps(body)}
[pr.round.decision]
action = "merge"
rationale = "Reviewers approve."
commit_message = "Add data.py"
"""


def print_parts(calls: list[tuple[dict[str, Any], int]]) -> None:
    """Each call's prompt in cache order, part by part, with the simulator's token counts."""
    for body, output in calls:
        request = request_text(body).splitlines()
        segments = prompt_segments(body)
        names = ["tool"] * len(body.get("tools") or []) + ["system"] * len(body.get("system") or [])
        blocks = body["messages"][0]["content"]
        names += [f"memory {i + 1}" for i in range(len(blocks) - 1)] + ["request"]
        parts = ", ".join(f"{name} {seg.tokens}" for name, seg in zip(names, segments, strict=False))
        total = sum(seg.tokens for seg in segments)
        print(f"  {' / '.join(request[:2])}: {parts}; in {total:,}, out {output:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--parts", action="store_true", help="print each demo call's prompt parts")
    parser.add_argument(
        "--decide-with",
        choices=("text", "tool"),
        default="text",
        help="how decide calls answer (default text)",
    )
    args = parser.parse_args()
    demo = builtin_scenario("demo")
    calls: list[tuple[dict[str, Any], int]] = []
    with tempfile.TemporaryDirectory() as d:
        per_pr = asyncio.run(
            run(
                Path(d), "builtin:demo", demo_plan(demo, 4), project_files("textkit"), calls, args.decide_with
            )
        )
    if args.parts:
        print(f"demo scenario, decide_with = {args.decide_with!r}: each composer call's prompt parts:")
        print_parts(calls)
    print(
        f"demo scenario, decide_with = {args.decide_with!r}: composer tokens per PR (cached part included):"
    )
    for n, (tokens, output, calls) in sorted(per_pr.items()):
        title = demo.pr[n - 1].title
        both = tokens + output
        print(f"  PR {n} {title:<36} {tokens:>6,} in + {output:>4,} out = {both:>6,} in {calls} calls")
    reviewed = [t + o for n, (t, o, _) in per_pr.items() if demo.pr[n - 1].review]
    print(
        f"  total {sum(t + o for t, o, _ in per_pr.values()):,}; per reviewed PR (in + out) "
        f"avg {sum(reviewed) / len(reviewed):,.0f}, max {max(reviewed):,} (target <= 2,000)"
    )
    print("one PR, diff size vs composer input tokens:")
    for label, size in (("1 KB", 1_000), ("100 KB", 100_000), ("1 MB", 1_000_000)):
        with tempfile.TemporaryDirectory() as d:
            scen = Path(d) / "scenario.toml"
            scen.write_text(big_scenario(size))
            got = asyncio.run(
                run(
                    Path(d),
                    str(scen),
                    [PlanItem("Add the data table", "Add data.py.")],
                    {"README.md": "# data\n"},
                    decide_with=args.decide_with,
                )
            )
        tokens, _, calls = got[1]
        print(f"  {label:>6} diff: {tokens:>6,} composer input tokens in {calls} calls")


if __name__ == "__main__":
    main()
