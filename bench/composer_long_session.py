"""The composer's tokens over a long session: do they stay flat as PRs close?

A plan of 50 PRs (``--prs 200`` for a day's worth) runs through ``Session`` with the production
adapters against the simulators: the real ``anthropic`` client and the Anthropic simulator
(which counts tokens and models the prompt cache), the real ``ollama`` client, the
codex-compatible CLI committing a small file per PR, two reviewers that approve (one PR in 12
is blocked and abandoned, so the digest has constraints to carry). Auto-approve, no pauses.

Prints the composer's input and output tokens per PR at the start, middle and end of the
session, the end/start ratio (target: at most 1.25), and the share of its input read from the
prompt cache. ``--long-goal`` gives the session a goal of about 900 tokens (house rules, as a
team would write them), which puts the stable prefix over the cache minimum.

The simulated composer's digest is short (a count of merges and the reasons PRs were abandoned,
about 20 words). ``--digest-words N`` makes it write as a real composer might: a sentence for
each PR it closed (what it did, what later PRs must keep), the oldest dropped to stay within N
words (the engine clips a digest at 200). The memory is then as large as it gets.

Run: python bench/composer_long_session.py [--prs 200] [--long-goal] [--digest-words 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cockpit.backends.factory import build_backends
from cockpit.demo import make_repo
from cockpit.demo.sim.anthropic_responders import request_text
from cockpit.demo.sim.anthropic_wire import Reply, TextBlock
from cockpit.demo.stack import start_sims
from cockpit.engine.session import Session
from cockpit.events import DigestUpdated, DispatchFinished, Usage
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem

ABANDON_EVERY = 12
ABANDON_AT = 9  # PRs 9, 21, 33, ...: the start, middle and end windows hold only merges, like for like
SHORT_GOAL = "Grow the tally library one small, tested module at a time."
RULE = (
    "Every public function has type hints, a docstring that says why, and a test that can fail. "
    "No new runtime dependencies. Keep modules under 200 lines and functions under 40. "
)
LONG_GOAL = SHORT_GOAL + " House rules: " + RULE * 24


def verdict(verdict: str, summary: str, findings: list[dict[str, object]]) -> str:
    return json.dumps({"verdict": verdict, "summary": summary, "findings": findings})


def pr(k: int) -> tuple[str, str, str, bool]:
    """PR k's title, task, file, and whether it is the one in ABANDON_EVERY that adds a dependency."""
    blocked = k % ABANDON_EVERY == ABANDON_AT
    path = f"tally/m{k:03d}.py"
    title = f"Add value_{k}()" + (" with numpy" if blocked else "")
    return title, f"Add {path} with value_{k}() returning {k}, exported and tested.", path, blocked


def scenario(n: int) -> str:
    """``n`` PRs: each adds a small module; every ABANDON_EVERY-th adds a dependency and is blocked."""
    out = ['name = "long"\n']
    for k in range(1, n + 1):
        title, task, path, blocked = pr(k)
        body = f'def value_{k}() -> int:\n    """The number {k}, for the table."""\n    return {k}\n'
        minor = {
            "severity": "minor",
            "file": path,
            "line": 2,
            "text": "docstring: say where it is used",
        }
        if blocked:
            body = "import numpy\n\n" + body
            dep = {
                "severity": "blocker",
                "file": path,
                "line": 1,
                "text": "numpy is a new runtime dependency",
            }
            first = verdict("block", "Adds numpy, a new runtime dependency.", [dep])
            second = verdict("changes", "Small and clear, but see the dependency.", [minor])
            action, why = (
                "abandon",
                "The project promises no runtime dependencies.",
            )
        else:
            first = verdict("approve", f"value_{k}() returns {k}; the test pins it.", [])
            second = verdict("approve", "Small and clear.", [minor])
            action, why = "merge", "Both reviewers approve; the one finding is minor."
        out.append(f"""
[[pr]]
title = {json.dumps(title)}
task = {json.dumps(task)}
[[pr.round]]
[pr.round.writer]
outcome = "commit"
commit_message = {json.dumps(title)}
message = {json.dumps(f"Added {path} with value_{k}() and a test; the suite passes.")}
[pr.round.writer.files]
{json.dumps(path)} = {json.dumps(body)}
[[pr.round.review]]
reviewer = "correctness"
text = {json.dumps(first)}
[[pr.round.review]]
reviewer = "quality"
text = {json.dumps(second)}
[pr.round.decision]
action = {json.dumps(action)}
rationale = {json.dumps(why)}
commit_message = {json.dumps(title)}
""")
    return "".join(out)


def wordy_digests(responder: Any, words: int) -> Any:
    """The simulated composer, its digest grown by a sentence per closed PR (at most ``words``)."""
    said: list[str] = []

    def answer(body: dict[str, Any]) -> Reply:
        reply = responder(body)
        text = "".join(b.text for b in reply.content if isinstance(b, TextBlock))
        m = re.search(r"^DECISION: (\w+)", text, re.MULTILINE)
        pr = re.search(r"^PR (\d+): (.+)$", request_text(body), re.MULTILINE)
        if m is None or pr is None or "DIGEST:" not in text:
            return reply
        action = {"merge": "merged", "abandon": "abandoned"}.get(m.group(1), m.group(1))
        said.append(
            f"PR {pr.group(1)} ({pr.group(2)}) {action}: later PRs keep its public names, "
            "add a test that can fail, and add no runtime dependency."
        )
        while sum(len(x.split()) for x in said) > words - 25:  # room for the counts
            said.pop(0)
        head, _, digest = text.partition("DIGEST:")
        grown = head + "DIGEST:\n" + digest.strip() + "\n" + "\n".join(said) + "\n"
        return dataclasses.replace(reply, content=(TextBlock(grown),))

    return answer


async def run(
    tmp: Path, n: int, goal: str, digest_words: int = 0
) -> tuple[dict[int, list[Usage]], list[DigestUpdated], float]:
    scen = tmp / "long.toml"
    scen.write_text(scenario(n))
    stack = start_sims(str(scen), speed=0)
    if digest_words:
        stack.anthropic.responder = wordy_digests(stack.anthropic.responder, digest_words)
    try:
        cfg = stack.config()
        repo = make_repo(tmp / "repo", {"README.md": "# tally\n", "tally/__init__.py": ""})
        journal = Journal(tmp / "j.sqlite3")
        plan = [PlanItem(*pr(k)[:2]) for k in range(1, n + 1)]
        session = Session(
            repo=Repo.open(repo),
            config=cfg,
            backends=build_backends(cfg),
            journal=journal,
            plan=plan,
            goal=goal,
            auto_approve=True,
            worktree_root=tmp / "wt",
        )
        started = time.monotonic()
        result = await session.run()
        wall = time.monotonic() - started
        if result.status != "completed":
            from cockpit.events import PrClosed

            why = [
                getattr(e, "reason", "") or getattr(e, "error", "")
                for e in journal.read_events(session.id)
                if isinstance(e, PrClosed) or (isinstance(e, DispatchFinished) and e.error)
            ]
            raise SystemExit(f"the session did not complete: {result.status}: {why[:3]}")
        per_pr: dict[int, list[Usage]] = {}
        digests: list[DigestUpdated] = []
        for e in journal.read_events(session.id):
            if isinstance(e, DispatchFinished) and e.role == "composer" and e.pr is not None:
                per_pr.setdefault(e.pr, []).append(e.usage)
            elif isinstance(e, DigestUpdated):
                digests.append(e)
        journal.close()
        return per_pr, digests, wall
    finally:
        stack.close()


def window(per_pr: dict[int, list[Usage]], first: int, last: int) -> tuple[float, float, float]:
    """Mean composer input and output per PR over PRs first..last, and their cache-read share."""
    prs = [sum(per_pr.get(k, []), Usage()) for k in range(first, last + 1)]
    read = sum(u.cached_input_tokens for u in prs)
    total_in = sum(u.input_tokens for u in prs)
    return (
        statistics.mean(u.input_tokens for u in prs),
        statistics.mean(u.output_tokens for u in prs),
        read / total_in if total_in else 0.0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prs", type=int, default=50)
    ap.add_argument(
        "--long-goal", action="store_true", help="a ~900-token goal: the prefix passes the cache minimum"
    )
    ap.add_argument(
        "--digest-words", type=int, default=0, help="the composer writes a digest of up to N words"
    )
    args = ap.parse_args()
    n = args.prs
    if n < 15:
        ap.error("--prs must be at least 15")
    goal = LONG_GOAL if args.long_goal else SHORT_GOAL
    with tempfile.TemporaryDirectory() as d:
        per_pr, digests, wall = asyncio.run(run(Path(d), n, goal, args.digest_words))
    mid = n // 2 - 2
    print(
        f"{n} PRs ({'long' if args.long_goal else 'short'} goal"
        + (f", digests up to {args.digest_words} words" if args.digest_words else "")
        + f"), {wall:.0f} s wall; composer tokens per PR:"
    )
    start = window(per_pr, 1, 5)
    for label, (a, b) in (("start", (1, 5)), ("middle", (mid, mid + 4)), ("end", (n - 4, n))):
        i, o, share = window(per_pr, a, b)
        print(f"  {label:>6} PRs {a:>3}-{b:<3} input {i:>7,.0f}  output {o:>5,.0f}  cache reads {share:5.1%}")
    end = window(per_pr, n - 4, n)
    middle = window(per_pr, mid, mid + 4)
    ratios = f"end/start: {end[0] / start[0]:.2f}x (target <= 1.25x); end/middle {end[0] / middle[0]:.2f}x"
    print(f"  input {ratios}")
    whole = sum((u for us in per_pr.values() for u in us), Usage())
    share = whole.cached_input_tokens / whole.input_tokens if whole.input_tokens else 0.0
    print(
        f"  whole session: {whole.input_tokens:,} in ({share:.1%} cache reads, "
        f"{whole.cache_write_tokens:,} cache writes), {whole.output_tokens:,} out"
    )
    sources = sum(1 for d in digests if d.source == "composer")
    print(
        f"  digests: {len(digests)} ({sources} by the composer), "
        f"longest {max((d.words for d in digests), default=0)} words; the last:"
    )
    for line in (digests[-1].text if digests else "(none)").splitlines():
        print(f"    {line}")


if __name__ == "__main__":
    main()
