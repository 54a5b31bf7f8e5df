"""A ``cockpit.toml`` that aims the real adapters at simulators running in the test process.

The CLI tests run ``cockpit`` as a user would, in a subprocess, so they cannot hand it backends;
they hand it a config file instead. The composer and reviewer simulators serve from a thread of
the test process; the writer is the codex-compatible CLI simulator the config names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from cockpit.config import Config
from cockpit.demo.stack import SimStack, start_sims

WriteConfig = Callable[..., Path]


def _s(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def config_toml(cfg: Config) -> str:
    """The TOML for the parts of ``cfg`` a simulator stack sets (roles, endpoints, the writer's env)."""
    c, w = cfg.composer, cfg.writer
    lines = [
        "[composer]",
        f"model = {_s(c.model)}",
        f"base_url = {_s(c.base_url)}",
        f"api_key_env = {_s(c.api_key_env)}",
        "[writer]",
        f"backend = {_s(w.backend)}",
        f"command = {_s(w.command)}",
        f"model = {_s(w.model)}",
        "env = { " + ", ".join(f"{k} = {_s(v)}" for k, v in w.env.items()) + " }",
        f"brief_via = {_s(w.brief_via)}",
        f"timeout_s = {w.timeout_s}",
    ]
    for r in cfg.reviewers:
        lines += [
            "[[reviewers]]",
            f"name = {_s(r.name)}",
            f"model = {_s(r.model)}",
            f"host = {_s(r.host)}",
            f"framing = {_s(r.framing)}",
        ]
    return "\n".join(lines) + "\n"


def sim_configs(tmp: Path) -> Iterator[WriteConfig]:
    """Yield ``write(path, scenario_ref, reviewers=("correctness",))``: start simulators playing
    the scenario, write their config to ``path``; every stack stops when the test ends."""
    stacks: list[SimStack] = []

    def write(path: Path, scenario: str | Path, reviewers: tuple[str, ...] = ("correctness",)) -> Path:
        stack = start_sims(str(scenario), speed=0, reviewers=reviewers)
        stacks.append(stack)
        path.write_text(config_toml(stack.config(codex_home=tmp / f"codex-home-{len(stacks)}")))
        return path

    try:
        yield write
    finally:
        for stack in stacks:
            stack.close()
