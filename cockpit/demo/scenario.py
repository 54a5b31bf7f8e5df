"""Scenarios: what each PR's writer changes, what each reviewer says, what the composer decides.

One data format serves the protocol simulators and the tests' scripted backends, so the
demo tells the same story whichever path runs it. A scenario is TOML; see
``cockpit/demo/data/scenarios/demo.toml`` for a commented example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from cockpit.events import Usage
from cockpit.text import read_text_file

WriterOutcome = Literal["commit", "no_commit", "dirty", "fail", "hang"]


class Pacing(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Delays in seconds at speed 1; the run's ``speed`` divides them (0 = no pauses)."""

    chunk_s: float = 0.03  # between streamed text chunks
    step_s: float = 0.5  # between writer steps (commands, edits)
    think_s: float = 0.8  # before a model starts answering
    chunk_chars: int = 12  # characters per streamed chunk

    @staticmethod
    def scaled(seconds: float, speed: float) -> float:
        """``seconds`` at ``speed`` (a divisor; 0 = no pauses at all)."""
        return seconds / speed if speed > 0 and seconds > 0 else 0.0


class Step(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """One writer step. Exactly one of say / think / run / edit / plan is set."""

    say: str | None = None  # an agent message
    think: str | None = None  # reasoning (shown dimmed)
    run: str | None = None  # a shell command (its output is scripted, not executed)
    output: str = ""
    exit_code: int = 0
    edit: str | None = None  # a path; its new content comes from the round's files and patches
    plan: list[str] | None = None  # a todo list


class Patch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Replace the first ``find`` in ``path`` by ``replace``: an edit that composes with other PRs."""

    path: str
    find: str
    replace: str


class PatchError(ValueError):
    pass


def apply_patches(path: str, content: str, patches: list[Patch]) -> str:
    """``content`` with every patch for ``path`` applied in order; PatchError when one does not apply."""
    for p in patches:
        if p.path != path:
            continue
        if p.find not in content:
            raise PatchError(f"{path}: the text to replace is not there: {p.find[:60]!r}")
        content = content.replace(p.find, p.replace, 1)
    return content


class WriterScript(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    outcome: WriterOutcome = "commit"  # no_commit: changes nothing; dirty: changes, no commit
    steps: list[Step] = []
    files: dict[str, str] = {}  # path -> full new content
    patches: list[Patch] = []  # applied after files, in order
    delete: list[str] = []
    message: str = "Done."  # the writer's final message
    commit_message: str = ""
    error: str = ""  # for outcome = "fail"
    usage: Usage = Usage()


def edited_paths(script: WriterScript) -> list[str]:
    """Every path the script writes (files, then patched ones), in a stable order."""
    out = list(script.files)
    out += [p.path for p in script.patches if p.path not in out]
    return out


class ReviewScript(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    reviewer: str = "*"  # a reviewer name, or "*" for any reviewer without its own entry
    text: str = '{"verdict": "approve", "summary": "Looks good.", "findings": []}'
    fault: str = ""  # "" | "timeout" | "error" | "missing_model"
    usage: Usage = Usage()


class DecisionScript(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    action: Literal["merge", "fix", "abandon"] = "merge"
    rationale: str = ""
    commit_message: str = ""
    brief: str = ""
    as_text: bool = False  # answer in prose instead of calling the decide tool
    fault: str = ""
    usage: Usage = Usage()


class RoundScript(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    writer: WriterScript = WriterScript()
    review: list[ReviewScript] = []
    decision: DecisionScript = DecisionScript()


class PrScript(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    title: str
    task: str
    review: bool = True  # False: a solo PR, no reviewers and no composer decision
    brief: str = ""  # the composer's brief for round 1 (default: made from the task)
    brief_usage: Usage = Usage()
    round: list[RoundScript] = []

    def round_script(self, n: int) -> RoundScript:
        """The script for round ``n`` (1-based); rounds past the last reuse the last one."""
        if not self.round:
            return RoundScript()
        return self.round[min(n, len(self.round)) - 1]


class Scenario(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str = "scenario"
    description: str = ""
    project: str = ""  # a folder under cockpit/demo/data/projects/ holding the initial files
    pacing: Pacing = Pacing()
    pr: list[PrScript] = []

    def find_pr(self, title: str) -> PrScript | None:
        for pr in self.pr:
            if pr.title == title:
                return pr
        return None

    def review_script(self, pr: PrScript, round_no: int, reviewer: str) -> ReviewScript:
        scripts = pr.round_script(round_no).review
        for s in scripts:
            if s.reviewer == reviewer:
                return s
        for s in scripts:
            if s.reviewer == "*":
                return s
        return ReviewScript()


class ScenarioError(ValueError):
    pass


# --- finding a prompt's PR ---------------------------------------------------------------------

PR_LINE = re.compile(r"^PR (\d+): (.+?)[ \t]*$", re.MULTILINE)
ROUND_LINE = re.compile(r"^Round (\d+)\b", re.MULTILINE)
REVIEWER_LINE = re.compile(r"^Reviewer:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Located:
    """What a prompt's markers say, and the scenario PR they name (None: a PR it does not know)."""

    pr: PrScript | None
    number: int = 0  # n of the ``PR <n>: <title>`` line; 0 when there is none
    title: str = ""  # as the prompt writes it; "" when there is no PR line
    round: int = 1
    reviewer: str = ""  # from a ``Reviewer: <name>`` line of the system prompt


def locate(scenario: Scenario, prompt: str, system: str = "") -> Located:
    """The PR a prompt is about, by the markers the engine writes (``PR <n>: <title>`` and
    ``Round <r>`` in ``prompt``, ``Reviewer: <name>`` in ``system``): by exact title, else by
    number n (1-based)."""
    pr_line = PR_LINE.search(prompt)
    round_line = ROUND_LINE.search(prompt)
    reviewer = REVIEWER_LINE.search(system)
    number, title = (int(pr_line.group(1)), pr_line.group(2)) if pr_line else (0, "")
    found = scenario.find_pr(title) if title else None
    if found is None and 1 <= number <= len(scenario.pr):
        found = scenario.pr[number - 1]
    return Located(
        pr=found,
        number=number,
        title=title,
        round=max(1, int(round_line.group(1))) if round_line else 1,
        reviewer=reviewer.group(1) if reviewer else "",
    )


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        return msgspec.toml.decode(text, type=Scenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from exc


def load_scenario(path: Path) -> Scenario:
    return parse_scenario(read_text_file(path, "scenario", ScenarioError), str(path))


def builtin_scenario(name: str = "demo") -> Scenario:
    ref = resources.files("cockpit.demo") / "data" / "scenarios" / f"{name}.toml"
    return parse_scenario(ref.read_text(encoding="utf-8"), f"builtin scenario {name!r}")


def project_files(name: str) -> dict[str, str]:
    """The initial files of a packaged demo project, by relative path."""
    root = resources.files("cockpit.demo") / "data" / "projects" / name
    out: dict[str, str] = {}

    def walk(node: object, prefix: str) -> None:
        for child in node.iterdir():  # type: ignore[attr-defined]
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, rel + "/")
            else:
                out[rel] = child.read_text(encoding="utf-8")

    walk(root, "")
    return out
