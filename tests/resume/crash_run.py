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

from cockpit.backends.base import Backends
from cockpit.config import Config, SessionConfig, WriterConfig
from cockpit.demo.scenario import Scenario, builtin_scenario, load_scenario
from cockpit.engine.session import Session
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.plan import PlanItem
from tests.support.scripted import scripted_backends, scripted_config


def scenario_of(spec: dict[str, Any]) -> Scenario:
    ref: str = spec["scenario"]
    return (
        builtin_scenario(ref.removeprefix("builtin:"))
        if ref.startswith("builtin:")
        else load_scenario(Path(ref))
    )


def config_of(spec: dict[str, Any]) -> Config:
    return msgspec.structs.replace(
        scripted_config(),
        session=msgspec.structs.replace(SessionConfig(), **spec.get("session", {})),
        writer=msgspec.structs.replace(WriterConfig(model="scripted-writer"), **spec.get("writer", {})),
    )


def backends_of(spec: dict[str, Any], cfg: Config) -> Backends:
    """Scripted models from the scenario; a ``command`` writer when the spec names one."""
    backends = scripted_backends(cfg, scenario_of(spec))
    if cfg.writer.backend == "codex" and "command" in spec.get("writer", {}):
        from cockpit.backends.codex import CodexWriter

        w = cfg.writer
        backends.writer = CodexWriter(w.command, env=w.env, timeout_s=w.timeout_s, grace_s=1.0)
    elif "command" in spec.get("writer", {}):
        from cockpit.backends.command import CommandWriter

        w = cfg.writer
        backends.writer = CommandWriter(
            w.command, args=w.args, env=w.env, timeout_s=w.timeout_s, brief_via=w.brief_via
        )
    return backends


def plan_of(spec: dict[str, Any]) -> list[PlanItem]:
    return [PlanItem(p.title, p.task, p.review) for p in scenario_of(spec).pr]


def build(spec: dict[str, Any]) -> Session:
    tmp = Path(spec["tmp"])
    cfg = config_of(spec)
    return Session(
        repo=Repo.open(tmp / "repo"),
        config=cfg,
        backends=backends_of(spec, cfg),
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
