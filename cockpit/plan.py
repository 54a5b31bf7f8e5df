"""The session plan: the PRs to run, from ``--task`` texts or a TOML file of ``[[pr]]`` tables."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from cockpit.text import read_text_file


class PlanError(ValueError):
    pass


class PlanItem(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    title: str
    task: str
    review: bool = True  # False: a solo PR (no reviewers, no composer decision)


class _PlanFile(msgspec.Struct, forbid_unknown_fields=True):
    pr: list[PlanItem] = []
    goal: str = ""


def title_from_task(task: str, limit: int = 60) -> str:
    first = task.strip().splitlines()[0].strip().rstrip(".") if task.strip() else "task"
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def from_tasks(tasks: list[str]) -> list[PlanItem]:
    items = [PlanItem(title=title_from_task(t), task=t.strip()) for t in tasks if t.strip()]
    if not items:
        raise PlanError("every --task was empty")
    return items


def parse_plan(text: str, source: str = "plan") -> tuple[list[PlanItem], str]:
    """Return the PRs and the plan's optional one-line ``goal``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML: {exc}") from exc
    try:
        plan = msgspec.convert(raw, type=_PlanFile)
    except msgspec.ValidationError as exc:
        raise PlanError(f"{source}: {str(exc).replace('$.', '')}") from exc
    if not plan.pr:
        raise PlanError(f"{source}: no [[pr]] tables (each needs a title and a task)")
    for i, item in enumerate(plan.pr):
        if not item.title.strip():
            raise PlanError(f"{source}: pr[{i}].title is empty")
        if not item.task.strip():
            raise PlanError(f"{source}: pr[{i}].task is empty")
    return list(plan.pr), plan.goal


def load_plan(path: Path) -> tuple[list[PlanItem], str]:
    return parse_plan(read_text_file(path, "plan", PlanError), str(path))
