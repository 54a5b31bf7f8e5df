"""The session plan: the PRs to run, from ``--task`` texts or a TOML file of ``[[pr]]`` tables."""

from __future__ import annotations

import difflib
import re
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


def _pr_where(source: str, text: str, index: int, key: str | None) -> str:
    """``plan.toml:12: PR 2: `` for the 0-based ``index``-th [[pr]] table (and its key's line)."""
    lines = text.splitlines()
    starts = [k for k, ln in enumerate(lines) if re.match(r"^\s*\[\[\s*pr\s*\]\]", ln)]
    line = None
    if index < len(starts):
        line = starts[index] + 1
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        for k in range(starts[index], end):
            if key and re.match(rf"^\s*{re.escape(key)}\s*=", lines[k]):
                line = k + 1
                break
    where = f"{source}:{line}" if line else source
    return f"{where}: PR {index + 1}: "


def parse_plan(text: str, source: str = "plan") -> tuple[list[PlanItem], str]:
    """Return the PRs and the plan's optional one-line ``goal``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML: {exc}") from exc
    try:
        plan = msgspec.convert(raw, type=_PlanFile)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = re.search(r" - at `\$\.pr\[(\d+)\](?:\.(\w+))?`$", msg)
        if m is None:
            raise PlanError(f"{source}: {msg.replace('$.', '')}") from exc
        detail = msg[: m.start()]
        if "unknown field" in detail.lower():
            unknown = re.search(r"`([^`]+)`", detail)
            key = unknown.group(1) if unknown else None
            near = difflib.get_close_matches(key or "", ["title", "task", "review"], n=1)
            hint = f" (did you mean `{near[0]}`?)" if near else "; a [[pr]] has title, task, review"
            where = _pr_where(source, text, int(m.group(1)), key)
            raise PlanError(f"{where}unknown key `{key}`{hint}") from exc
        key = m.group(2)
        where = _pr_where(source, text, int(m.group(1)), key)
        raise PlanError(f"{where}{key + ': ' if key else ''}{detail}") from exc
    if not plan.pr:
        raise PlanError(f"{source}: no [[pr]] tables (each needs a title and a task)")
    for i, item in enumerate(plan.pr):
        if not item.title.strip():
            raise PlanError(f"{_pr_where(source, text, i, 'title')}the title is empty")
        if not item.task.strip():
            raise PlanError(f"{_pr_where(source, text, i, 'task')}the task is empty")
    return list(plan.pr), plan.goal


def load_plan(path: Path) -> tuple[list[PlanItem], str]:
    return parse_plan(read_text_file(path, "plan", PlanError), str(path))
