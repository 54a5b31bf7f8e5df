"""One session in a process of its own, for the crash tests to kill (``COCKPIT_FAULT_KILL``).

``python -m tests.resume.crash_run SPEC.json``: the spec names the temp dir (holding ``repo``,
where the journal and worktrees go), the scenario (``builtin:demo`` or a TOML file) and
overrides for the ``[session]`` and ``[writer]`` config. Every gate is auto-approved.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from cockpit.backends.factory import build_backends, resolve_scenario
from cockpit.config import Config, SessionConfig, WriterConfig, scripted_config
from cockpit.engine.session import Session
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem


def config_of(spec: dict[str, Any]) -> Config:
    base = scripted_config(spec["scenario"], 0.0)
    return msgspec.structs.replace(
        base,
        session=msgspec.structs.replace(SessionConfig(), **spec.get("session", {})),
        writer=msgspec.structs.replace(
            WriterConfig(backend="scripted", model="scripted-writer"), **spec.get("writer", {})
        ),
    )


def plan_of(spec: dict[str, Any]) -> list[PlanItem]:
    scenario = resolve_scenario(spec["scenario"])
    return [PlanItem(p.title, p.task, p.review) for p in scenario.pr]


def build(spec: dict[str, Any]) -> Session:
    tmp = Path(spec["tmp"])
    cfg = config_of(spec)
    return Session(
        repo=Repo.open(tmp / "repo"),
        config=cfg,
        backends=build_backends(cfg),
        journal=Journal(tmp / "journal.sqlite3"),
        plan=plan_of(spec),
        auto_approve=True,
        worktree_root=tmp / "worktrees",
    )


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    result = asyncio.run(build(spec).run())
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
