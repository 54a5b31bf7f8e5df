"""Exports of a journaled session: JSONL (the public event format) and a Markdown audit report.

The report answers what an auditor asks afterwards: per PR, what was asked, what each model
did and said, what the human decided, what was merged, and what it all cost in tokens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping

from cockpit.config import Pricing
from cockpit.engine.memory import counts
from cockpit.events import ROLES, Event, encode
from cockpit.fmt import fmt_money
from cockpit.pricing import session_costs
from cockpit.state import PRState, SessionState, fold

_VERDICT = {"approve": "APPROVE", "changes": "CHANGES", "block": "BLOCK", "unparsed": "UNPARSED"}


def jsonl(events: Iterable[Event]) -> Iterator[bytes]:
    for ev in events:
        yield encode(ev) + b"\n"


def _when(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "—"


def _tok(n: int) -> str:
    return f"{n:,}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.strip().splitlines()) or "> (empty)"


def markdown(
    events: Iterable[Event], pricing: Mapping[str, Pricing] | None = None, *, owner_gone: bool = False
) -> str:
    s = fold(events)
    if owner_gone:  # its process died without finishing it: unfinished, open PRs interrupted
        s.mark_owner_gone()
    out = [f"# cockpit session {s.id}", ""]
    out.append(f"- repository: `{s.repo}`, base branch `{s.base_branch}` at `{s.base_sha[:10]}`")
    out.append(
        f"- started {_when(s.started_at)}, finished {_when(s.finished_at)}, "
        f"status **{s.status}**{f' ({s.finish_reason})' if s.finish_reason else ''}"
    )
    out.append(f"- wall time {s.elapsed_s(s.last_t):.1f} s; {s.events} events")
    if s.backends:
        out.append("- backends: " + ", ".join(f"{k} `{v}`" for k, v in s.backends.items()))
    out += [
        "",
        "## Usage",
        "",
        "| role | input | cached | output | reasoning |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for role in ROLES:
        u = s.usage[role]
        out.append(
            f"| {role} | {_tok(u.input_tokens)} | {_tok(u.cached_input_tokens)} | "
            f"{_tok(u.output_tokens)} | {_tok(u.reasoning_tokens)} |"
        )
    if pricing:
        costs = session_costs(s, pricing)
        line = f"Cost: {fmt_money(costs.total)}"
        if costs.unpriced:
            line += f" (no price for {', '.join(sorted(costs.unpriced))})"
        out += ["", line]
    for w in s.warnings:
        out += ["", f"**Warning:** {w.message}"]
    for pr in sorted(s.prs.values(), key=lambda p: p.n):
        out += ["", *_pr_section(s, pr)]
    out += _digest_section(s)
    return "\n".join(out) + "\n"


def _digest_section(s: SessionState) -> list[str]:
    """The composer's memory as the session left it: what its next call would have carried."""
    if s.digest is None:
        return []
    d = s.digest
    who = "the composer" if d.source == "composer" else "cockpit (the composer gave none)"
    out = ["", "## Composer memory at the end", ""]
    if s.goal:
        out += ["Goal:", "", _quote(s.goal), ""]
    out.append(f"Digest after PR {d.pr}, written by {who}; {counts(s)}:")
    return [*out, "", _quote(d.text)]


def _pr_section(s: SessionState, pr: PRState) -> list[str]:
    out = [f"## PR {pr.n}: {pr.title}", ""]
    solo = ", solo (no review)" if pr.solo else ""
    out.append(
        f"**{pr.outcome or pr.status}** after {pr.round} round(s){solo}; branch `{pr.branch}`; "
        f"{pr.spent_s(s.last_t):.1f} s"
    )
    if pr.reason:
        out.append(f"\nReason: {pr.reason}")
    if pr.merged_sha:
        out.append(f"\nMerged as `{pr.merged_sha[:10]}`.")
    t = pr.usage
    out.append(
        "\nTokens (in / out): "
        + ", ".join(f"{role} {_tok(t[role].input_tokens)} / {_tok(t[role].output_tokens)}" for role in ROLES)
    )
    out += ["", "Task:", "", _quote(pr.task)]
    commits = {c.sha: c for c in pr.commits}
    for n in sorted(pr.rounds):
        r = pr.rounds[n]
        out += ["", f"### Round {n}" + (f" ({r.reason})" if r.reason else "")]
        if r.brief:
            out += ["", "Brief:", "", _quote(r.brief)]
        if r.writer and (d := s.dispatches.get(r.writer)):
            out.append(
                f"\nWriter `{d.backend}:{d.model}`: {d.status}"
                + (f" — {d.error}" if d.error else "")
                + f", {_tok(d.usage.total)} tokens"
            )
            if d.final_text:
                out += ["", _quote(d.final_text)]
        if r.commits:
            out.append("")
        for sha in r.commits:
            c = commits.get(sha)
            if c is not None:
                subject = c.message.splitlines()[0] if c.message else ""
                out.append(
                    f"- commit `{sha[:10]}` {subject} ({len(c.files)} files, +{c.insertions} −{c.deletions})"
                )
        for name, v in r.verdicts.items():
            out.append(f"\n**{name}**: {_VERDICT[v.verdict]} on `{v.commit[:10]}` — {v.summary}")
            for f in v.findings:
                where = (
                    f" `{f.file}:{f.line}`"
                    if f.file and f.line is not None
                    else (f" `{f.file}`" if f.file else "")
                )
                out.append(f"  - [{f.severity}]{where} {f.text}")
            if v.raw:
                out += ["", _quote(v.raw[:2000])]
        if r.decision is not None:
            d2 = r.decision
            out.append(f"\nComposer: **{d2.action}** — {d2.rationale}")
            if d2.commit_message:
                out += ["", _quote(d2.commit_message)]
            if d2.brief:
                out += ["", "Fix brief:", "", _quote(d2.brief)]
        for a in r.answers:
            extra = f" {a.action}" if a.action else ""
            out.append(f"\nHuman ({a.by}): {a.answer}{extra}" + (" with edited text" if a.text else ""))
    return out
