"""Config → backends. Adapters are imported only when a config names them."""

from __future__ import annotations

from pathlib import Path

from cockpit.backends.base import Backends, Composer, Reviewer, Writer
from cockpit.config import Config, ConfigError
from cockpit.scenario import Scenario, ScenarioError, builtin_scenario, load_scenario


def resolve_scenario(ref: str) -> Scenario:
    """``builtin:NAME`` or a path to a scenario TOML file."""
    try:
        if ref.startswith("builtin:"):
            return builtin_scenario(ref.removeprefix("builtin:"))
        return load_scenario(Path(ref).expanduser())
    except FileNotFoundError as exc:  # a missing builtin
        raise ConfigError(f"scripted.scenario: no scenario {ref!r}") from exc
    except ScenarioError as exc:
        raise ConfigError(str(exc)) from exc


def build_backends(cfg: Config, *, speed: float | None = None) -> Backends:
    scenario: Scenario | None = None
    pace = cfg.scripted.speed if speed is None else speed

    def scen() -> Scenario:
        nonlocal scenario
        if scenario is None:
            scenario = resolve_scenario(cfg.scripted.scenario)
        return scenario

    composer: Composer
    c = cfg.composer
    if c.backend == "scripted":
        from cockpit.backends.scripted import ScriptedComposer

        composer = ScriptedComposer(scen(), pace, model=c.model, timeout_s=c.timeout_s)
    else:
        from cockpit.backends.anthropic import AnthropicComposer

        composer = AnthropicComposer(
            c.model,
            api_key_env=c.api_key_env,
            base_url=c.base_url or None,
            max_tokens=c.max_tokens,
            timeout_s=c.timeout_s,
            max_retries=c.max_retries,
        )

    writer: Writer
    w = cfg.writer
    if w.backend == "scripted":
        from cockpit.backends.scripted import ScriptedWriter

        writer = ScriptedWriter(scen(), pace, model=w.model or "scripted-writer", timeout_s=w.timeout_s)
    elif w.backend == "codex":
        from cockpit.backends.codex import CodexWriter

        writer = CodexWriter(
            w.command,
            model=w.model,
            sandbox=w.sandbox,
            args=w.args,
            env=w.env,
            timeout_s=w.timeout_s,
            resume=w.resume,
            drop_env=(cfg.composer.api_key_env,),  # the composer's key is not the writer's business
        )
    else:
        from cockpit.backends.command import CommandWriter

        writer = CommandWriter(
            w.command,
            args=w.args,
            env=w.env,
            timeout_s=w.timeout_s,
            brief_via=w.brief_via,
            drop_env=(cfg.composer.api_key_env,),
            shell=w.shell,
        )

    reviewers: list[Reviewer] = []
    for r in cfg.reviewers:
        if r.backend == "scripted":
            from cockpit.backends.scripted import ScriptedReviewer

            reviewers.append(
                ScriptedReviewer(
                    r.name, scen(), pace, framing=r.effective_framing(), model=r.model, timeout_s=r.timeout_s
                )
            )
        else:
            from cockpit.backends.ollama import OllamaReviewer

            reviewers.append(
                OllamaReviewer(
                    r.name,
                    r.effective_framing(),
                    r.model,
                    host=r.effective_host(),
                    timeout_s=r.timeout_s,
                    options=dict(r.options),
                    think=r.think,
                    keep_alive=r.keep_alive,
                )
            )
    return Backends(composer=composer, writer=writer, reviewers=reviewers)
