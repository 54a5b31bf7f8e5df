"""What a writer does in one round, as the ordered actions both writer simulators play.

The Responses simulator plays a plan as model output that the real Codex CLI acts on; the
codex-compatible CLI plays the same plan as the events the real CLI would then print. One plan,
so the two paths agree on which files change, in what order, what is committed and how the
round ends; where they once differed, this follows what the real CLI shows when the Responses
simulator drives it:

- a file is written at its first ``edit`` step; files the steps never name, then deletions,
  follow the steps (for ``fail`` and ``hang`` too: the model did its work, then the turn broke);
- a file's new content is its ``files`` entry, else its content when it is written, with the
  round's ``patches`` for it applied; a patch that does not fit leaves the file alone, silently
  (the model "reads" the file, sees the text is not there, and moves on);
- an ``edit`` of a path with neither content nor patches, or of one already written, changes
  nothing;
- the commit is ``git add -A && git commit -q -m MESSAGE``;
- ``no_commit`` writes nothing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from cockpit.demo.scenario import (
    Patch,
    Scenario,
    Step,
    WriterScript,
    apply_patches,
    edited_paths,
    locate,
)

DEFAULT_ERROR = "the writer failed"


@dataclass(frozen=True)
class Think:
    text: str


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class UpdatePlan:
    """The round's ``nth`` plan step (from 0): items before the nth are done, the nth is under way."""

    items: tuple[str, ...]
    nth: int


@dataclass(frozen=True)
class Run:
    """A command with its scripted output (the real CLI runs it; the CLI simulator reports it)."""

    command: str
    output: str = ""
    exit_code: int = 0


@dataclass(frozen=True)
class Write:
    path: str
    base: str | None  # the round's full content for it, if any
    patches: tuple[Patch, ...]

    def content(self, current: str | None) -> str:
        """The new content, given what the file holds now (None: absent).

        Raises PatchError when one of its patches does not fit."""
        text = self.base if self.base is not None else (current or "")
        return apply_patches(self.path, text, list(self.patches))


@dataclass(frozen=True)
class Delete:
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Commit:
    message: str

    @property
    def command(self) -> str:
        return f"git add -A && git commit -q -m {shlex.quote(self.message)}"


Action = Think | Say | UpdatePlan | Run | Write | Delete | Commit
Ending = Literal["completed", "failed", "hang"]


@dataclass(frozen=True)
class WriterTurn:
    """What the writer does in this turn: the script, and the PR/round it was found for."""

    title: str
    round: int
    script: WriterScript
    known: bool  # False: the PR is not in the scenario and the script is the generic one

    @property
    def actions(self) -> list[Action]:
        return plan_actions(self.script, self.title)

    @property
    def ending(self) -> Ending:
        if self.script.outcome == "fail":
            return "failed"
        return "hang" if self.script.outcome == "hang" else "completed"

    @property
    def final_text(self) -> str:
        """The final message of a completed round, the error of a failed one."""
        if self.script.outcome == "fail":
            return self.script.error or DEFAULT_ERROR
        return self.script.message


def plan_actions(script: WriterScript, title: str) -> list[Action]:
    """The ordered actions of a round (its ending is ``WriterTurn.ending``)."""
    writes = script.outcome != "no_commit"
    actions: list[Action] = []
    written: set[str] = set()
    plans = 0

    def write(path: str) -> None:
        patches = tuple(p for p in script.patches if p.path == path)
        if path in script.files or patches:
            written.add(path)
            actions.append(Write(path, script.files.get(path), patches))

    for step in script.steps:
        if step.think is not None:
            actions.append(Think(step.think))
        elif step.say is not None:
            actions.append(Say(step.say))
        elif step.plan is not None:
            actions.append(UpdatePlan(tuple(step.plan), plans))
            plans += 1
        elif step.run is not None:
            actions.append(Run(step.run, step.output, step.exit_code))
        elif step.edit is not None and writes and step.edit not in written:
            write(step.edit)
    if writes:
        for path in edited_paths(script):
            if path not in written:
                write(path)
        if script.delete:
            actions.append(Delete(tuple(script.delete)))
    if script.outcome == "commit":
        actions.append(Commit(script.commit_message or title or "Update"))
    return actions


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:40].rstrip("-") or "task"


def find_writer_turn(scenario: Scenario, prompt: str) -> WriterTurn:
    """The scenario's script for the PR and round ``prompt`` names; a generic one for a PR it lacks."""
    found = locate(scenario, prompt)
    if found.pr is not None:
        return WriterTurn(found.pr.title, found.round, found.pr.round_script(found.round).writer, True)
    first_line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    title = (found.title or first_line)[:60] or "task"
    return WriterTurn(title, found.round, generic_script(title, found.round, prompt), False)


def generic_script(title: str, round_no: int, prompt: str) -> WriterScript:
    """A plausible writer for a task the scenario does not know: note the task, commit it."""
    path = f"NOTES/{slug(title)}.md"
    task = "\n".join(ln for ln in prompt.strip().splitlines()[:60])
    content = f"# {title}\n\nRound {round_no}.\n\n## Task\n\n{task}\n"
    return WriterScript(
        outcome="commit",
        steps=[
            Step(think=f"Reading the task for {title!r} and writing down what it asks."),
            Step(edit=path),
        ],
        files={path: content},
        message=f"Wrote {path} with the task notes and committed it.",
        commit_message=f"{title}: task notes (round {round_no})",
    )
