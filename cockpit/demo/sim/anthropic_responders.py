"""Who answers the Anthropic simulator: an echo for tests, and the scenario's composer.

``ScenarioResponder`` answers composer calls from a ``cockpit.demo.scenario.Scenario``: the PR and
round come from the prompt's markers (``cockpit.demo.scenario.locate``). A call offering the
``decide`` tool gets the round's decision as the tool's input; a call whose system prompt asks
for a ``DECISION:`` section gets it as text in those sections; any other call gets the PR's brief.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cockpit.demo.scenario import PR_LINE, ROUND_LINE, DecisionScript, Pacing, PrScript, Scenario, locate
from cockpit.demo.sim.anthropic_wire import Fault, Reply


def echo_responder(body: dict[str, Any]) -> Reply:
    """The default: call a forced tool with an empty input, otherwise echo the last user text."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return Reply.tool(str(choice.get("name")), {})
    return Reply.text(f"You said: {last_user_text(body)[:200]}")


def _user_texts(body: dict[str, Any]) -> list[str]:
    """The text blocks of the last user message (a string content is one block)."""
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return [content]
            if isinstance(content, list):
                return [
                    str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
                ]
    return []


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (its text blocks joined)."""
    return "\n\n".join(_user_texts(body))


def request_text(body: dict[str, Any]) -> str:
    """The last text block of the last user message: the request itself, after the memory."""
    texts = _user_texts(body)
    return texts[-1] if texts else ""


_FENCE = re.compile(r"^(`{3,})[^\n`]*\n(.*?)\n\1$", re.MULTILINE | re.DOTALL)
_DIGEST = re.compile(r"^Session digest[^\n]*:\n(`{3,})\n(.*?)\n\1$", re.MULTILINE | re.DOTALL)
_MERGED = re.compile(r"^Merged (\d+) PRs?\.?$")
_ABANDONED = re.compile(r"^Abandoned \((.*)\): (.*)$")
SIM_DIGEST_REASONS = 3  # distinct reasons for abandoning a simulated digest keeps


def fenced_after(prompt: str, label: str) -> str:
    """The fenced text right after a ``label:`` line of an engine prompt ("" when there is none)."""
    at = prompt.find(f"\n{label}:\n")
    if at < 0 and prompt.startswith(f"{label}:\n"):
        at = -1
    elif at < 0:
        return ""
    m = _FENCE.match(prompt, at + len(label) + 3)
    return m.group(2).strip() if m else ""


def simulated_digest(memory: str, number: int, action: str, rationale: str) -> str:
    """The digest a sensible composer would write from the previous one and this decision: how
    many PRs merged, and each reason PRs were abandoned with the PRs it stopped (what later PRs
    must not try again). The recent PRs are in the prompt anyway, so it does not list them; and
    it stays the same size over a long session, as a person's summary would."""
    found = _DIGEST.search(memory)
    merged = 0
    reasons: dict[str, list[str]] = {}
    for line in (found.group(2) if found else "").splitlines():
        m = _MERGED.match(line.strip())
        a = _ABANDONED.match(line.strip())
        if m:
            merged = int(m.group(1))
        elif a:
            reasons[a.group(1)] = a.group(2).split(", ")
    if action == "merge":
        merged += 1
    elif action == "abandon":
        why = " ".join(rationale.split()[:12]).rstrip(".")
        prs = reasons.pop(why, [])
        reasons[why] = [*prs[-3:], f"PR {number}"]  # the latest few PRs it stopped
        while len(reasons) > SIM_DIGEST_REASONS:
            reasons.pop(next(iter(reasons)))
    lines = [f"Merged {merged} PR{'s' if merged != 1 else ''}."]
    lines += [f"Abandoned ({why}): {', '.join(prs)}" for why, prs in reasons.items()]
    return "\n".join(lines)


SCENARIO_FAULTS = ("overloaded", "rate_limit", "error", "midstream", "drop", "stall")
STALL_SECONDS = 3600.0  # longer than any sane read timeout


def scenario_fault(name: str) -> tuple[Fault | None, bool]:
    """A scenario's fault word as a ``Fault``, and whether it happens only once.

    overloaded: HTTP 529 (the SDK retries it); rate_limit: 429 with retry-after 1;
    error: HTTP 500; midstream: ``event: error`` overloaded_error after 3 events;
    drop: the connection drops after 3 events; stall: the stream stops after 2 events.
    A ``_once`` suffix makes it hit only the first request for that PR, round and call kind.
    """
    if not name:
        return None, False
    base, once = (name.removesuffix("_once"), True) if name.endswith("_once") else (name, False)
    faults = {
        "overloaded": Fault.http(529),
        "rate_limit": Fault.http(429, retry_after=1.0),
        "error": Fault.http(500),
        "midstream": Fault.event_error(after_events=3),
        "drop": Fault.drop(after_events=3),
        "stall": Fault.stall(STALL_SECONDS, after_events=2),
    }
    if base not in faults:
        known = ", ".join(SCENARIO_FAULTS)
        raise ValueError(f"unknown composer fault {name!r}: use one of {known} (optionally with _once)")
    return faults[base], once


def _task_from_prompt(prompt: str, title: str) -> str:
    """The task text of an unknown PR: a 'Task:' paragraph, else the first ordinary paragraph."""
    fenced = fenced_after(prompt, "Task")
    if fenced:
        return " ".join(fenced.split())[:600]
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower().startswith("task:"):
            rest = [line.split(":", 1)[1].strip()]
            for more in lines[i + 1 :]:
                if not more.strip():
                    break
                rest.append(more.strip())
            text = " ".join(r for r in rest if r)
            if text:
                return text[:600]
    for para in re.split(r"\n\s*\n", prompt):
        kept = [ln for ln in para.splitlines() if not PR_LINE.match(ln) and not ROUND_LINE.match(ln)]
        text = " ".join(ln.strip() for ln in kept if ln.strip())
        if text:
            return text[:600]
    return title


def markdown_brief(title: str, task: str) -> str:
    """A plausible composer brief for a task with no scripted one."""
    return (
        f"## {title}\n\n"
        f"**Goal.** {task}\n\n"
        "**Steps**\n\n"
        "1. Read the code the task touches and its tests.\n"
        "2. Make the smallest change that does what the task asks.\n"
        "3. Add or update tests that pin the new behaviour, and run the test suite.\n"
        "4. Commit with a message that says what changed and why.\n\n"
        "**Done when** the tests pass and the change does only what the task asks.\n"
    )


def decision_prose(action: str, fields: Mapping[str, Any]) -> str:
    """A decision in the sections the composer's decide prompt asks for (``DECISION:`` first).

    Also the answer of a model that ignored the decide tool. A section of several lines starts
    on the line after its heading, so it reads (and parses) whole.
    """
    parts = [f"DECISION: {action}"]
    for key in ("rationale", "commit_message", "brief", "digest"):
        value = str(fields.get(key) or "").strip()
        label = key.replace("_", " ").upper()
        if value:
            parts.append(f"{label}:\n{value}" if "\n" in value else f"{label}: {value}")
    return "\n".join(parts) + "\n"


def asks_for_decision(body: dict[str, Any]) -> bool:
    """A decide call without the tool: its system prompt names the ``DECISION:`` section."""
    system = body.get("system")
    blocks = (
        [system] if isinstance(system, str) else [b.get("text") for b in system or [] if isinstance(b, dict)]
    )
    return any(isinstance(t, str) and "\nDECISION: " in t for t in blocks)


def _sample_input(schema: Any) -> Any:
    """A minimal value of a JSON schema (for a forced tool the scenario does not know)."""
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _sample_input(props.get(k)) for k in schema.get("required") or [] if k in props}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


class ScenarioResponder:
    """Answer composer calls from a scenario: briefs, decisions (tool or prose) and faults.

    The PR is found from the ``PR <n>: <title>`` line of the last user message (by exact title,
    else by number), the round from ``Round <r>``. With the ``decide`` tool offered the round's
    ``DecisionScript`` answers (as text when the system prompt asks for sections, or when the
    script says ``as_text``); otherwise the PR's brief does. Unknown PRs get a generic brief
    or a merge. Pacing comes from the scenario, divided by ``speed`` (0 = no pauses).
    """

    def __init__(self, scenario: Scenario | None = None, *, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.scenario = scenario or Scenario()
        self.speed = speed
        self._faulted: set[tuple[str, int, str]] = set()
        for pr in self.scenario.pr:  # a bad fault word fails now, not in the middle of a demo
            for rnd in pr.round:
                scenario_fault(rnd.decision.fault)

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = request_text(body)
        found = locate(self.scenario, prompt)
        pr, title, number, round_no = found.pr, found.title, found.number, found.round
        pacing = self.scenario.pacing
        pace: dict[str, Any] = {
            "chunk_s": Pacing.scaled(pacing.chunk_s, self.speed),
            "chunk_chars": max(1, pacing.chunk_chars),
            "think_s": Pacing.scaled(pacing.think_s, self.speed),
        }
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        choice = body.get("tool_choice") or {"type": "auto"}
        decide = next((t for t in tools if t.get("name") == "decide"), None)
        if decide is None and choice.get("type") in ("tool", "any") and tools:
            forced = next((t for t in tools if t.get("name") == choice.get("name")), tools[0])
            return Reply.tool(str(forced["name"]), _sample_input(forced.get("input_schema")) or {}, **pace)
        in_text = decide is None and asks_for_decision(body)
        if decide is None and not in_text:
            return Reply.text(self._brief(pr, title or "The task", prompt, round_no), **pace)
        d = (
            pr.round_script(round_no).decision
            if pr is not None
            else DecisionScript(rationale="The reviewers raise no blocking issues.")
        )
        key = (pr.title if pr else title or str(number), round_no, "decide")
        fault, once = scenario_fault(d.fault)
        if fault is not None and once:
            if key in self._faulted:
                fault = None
            self._faulted.add(key)
        decision_input = self._decision_input(d, pr, title)
        if d.action in ("merge", "abandon"):
            memory = last_user_text(body)[: -len(prompt)] if prompt else ""
            decision_input["digest"] = simulated_digest(
                memory, number, d.action, str(decision_input["rationale"])
            )
        if d.as_text or in_text:
            return Reply.text(decision_prose(d.action, decision_input), fault=fault, **pace)
        preface = ""
        if choice.get("type", "auto") == "auto":
            preface = {
                "merge": "The reviewers agree; merging.",
                "fix": "The reviewers found problems worth fixing first.",
                "abandon": "This PR is not worth pursuing.",
            }[d.action]
        return Reply.tool("decide", decision_input, preface=preface, fault=fault, **pace)

    def _brief(self, pr: PrScript | None, title: str, prompt: str, round_no: int) -> str:
        if pr is None:
            return markdown_brief(title, _task_from_prompt(prompt, title))
        if round_no > 1:
            previous = pr.round_script(round_no - 1).decision.brief
            if previous:
                return previous
        return pr.brief or markdown_brief(pr.title, pr.task)

    @staticmethod
    def _decision_input(d: DecisionScript, pr: PrScript | None, title: str) -> dict[str, Any]:
        name = pr.title if pr is not None else title
        rationale = (
            d.rationale
            or {
                "merge": "The reviewers approve and found nothing blocking.",
                "fix": "The reviewers found problems that should be fixed before merging.",
                "abandon": "The change is not worth its cost.",
            }[d.action]
        )
        out: dict[str, Any] = {"action": d.action, "rationale": rationale}
        if d.action == "merge":
            out["commit_message"] = d.commit_message or name or "Apply the requested change"
        elif d.commit_message:
            out["commit_message"] = d.commit_message
        if d.action == "fix":
            out["brief"] = d.brief or "Address every finding the reviewers raised, then commit again."
        elif d.brief:
            out["brief"] = d.brief
        return out
