"""All simulators at once, on their own thread, and a config that points the real adapters at them.

The demo and the integration tests use this: the composer is the real ``anthropic`` client
talking SSE to the Anthropic simulator, the reviewers are the real ``ollama`` client talking
NDJSON to the ollama simulator, and the writer is driven exactly like ``codex exec --json``,
through the codex-compatible CLI. Every simulator plays the same scenario.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

from cockpit.config import (
    ComposerConfig,
    Config,
    Pricing,
    ReviewerConfig,
    SessionConfig,
    WriterConfig,
)
from cockpit.demo.scenario import Scenario, builtin_scenario, load_scenario
from cockpit.demo.sim.anthropic import AnthropicSimulator
from cockpit.demo.sim.anthropic import ScenarioResponder as ComposerResponder
from cockpit.demo.sim.http import ServerThread
from cockpit.demo.sim.ollama import OllamaSim, SimModel
from cockpit.demo.sim.ollama import ScenarioResponder as ReviewerResponder

SIM_KEY_ENV = "COCKPIT_SIM_ANTHROPIC_KEY"
SIM_KEY = "sk-ant-sim-0000-not-a-real-key"  # the simulator accepts any non-empty key
COMPOSER_MODEL = "claude-sonnet-4-6"
REVIEWER_MODELS = {"correctness": "glm-4.6", "quality": "qwen3-coder:30b"}
WRITER_MODEL = "gpt-5-codex"
# Example list prices ($ per million tokens) so the demo shows what a session would cost;
# local ollama models cost no API money.
DEMO_PRICING = {
    COMPOSER_MODEL: Pricing(input=3.0, output=15.0, cached_input=0.30, cache_write=3.75),
    WRITER_MODEL: Pricing(input=1.25, output=10.0, cached_input=0.125),
    **{model: Pricing() for model in REVIEWER_MODELS.values()},
    "glm-4.6": Pricing(),
}


def load_scenario_ref(ref: str) -> Scenario:
    if ref.startswith("builtin:"):
        return builtin_scenario(ref.removeprefix("builtin:"))
    return load_scenario(Path(ref))


@dataclass
class SimStack:
    scenario_ref: str
    speed: float
    thread: ServerThread
    anthropic: AnthropicSimulator
    ollama: OllamaSim
    reviewers: dict[str, str] = field(default_factory=dict)  # name -> model

    def config(
        self,
        session: SessionConfig | None = None,
        *,
        timeouts_s: float | None = None,
        codex_home: Path | None = None,
        decide_with: Literal["text", "tool"] = "text",
    ) -> Config:
        """A config whose composer, writer and reviewers are the real adapters, aimed at the sims.

        ``codex_home``: where the codex-compatible CLI keeps its threads (default: a temp dir).
        ``decide_with``: how the composer answers a decide call (``[composer] decide_with``).
        """
        composer = ComposerConfig(
            backend="anthropic",
            model=COMPOSER_MODEL,
            base_url=self.anthropic.url,
            api_key_env=SIM_KEY_ENV,
            decide_with=decide_with,
        )
        writer = WriterConfig(
            backend="codex",
            command=[sys.executable, "-m", "cockpit.demo.sim.codex"],
            model=WRITER_MODEL,
            env={
                "COCKPIT_SIM_SCENARIO": self.scenario_ref,
                "COCKPIT_SIM_SPEED": f"{self.speed:g}",
                **({"CODEX_HOME": str(codex_home)} if codex_home else {}),
            },
        )
        reviewers = [
            ReviewerConfig(name=name, backend="ollama", model=model, host=self.ollama.url, framing=name)
            for name, model in self.reviewers.items()
        ]
        if timeouts_s is not None:
            composer = msgspec.structs.replace(composer, timeout_s=timeouts_s)
            writer = msgspec.structs.replace(writer, timeout_s=timeouts_s)
            reviewers = [msgspec.structs.replace(r, timeout_s=timeouts_s) for r in reviewers]
        return Config(
            pricing=DEMO_PRICING,
            session=session or SessionConfig(),
            composer=composer,
            writer=writer,
            reviewers=reviewers,
            source="<simulators>",
        )

    def close(self) -> None:
        self.thread.stop()

    def __enter__(self) -> SimStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_sims(
    scenario_ref: str = "builtin:demo",
    speed: float = 1.0,
    reviewers: Sequence[str] = ("correctness", "quality"),
) -> SimStack:
    """Start the Anthropic and ollama simulators on a private thread; set the simulator key."""
    scenario = load_scenario_ref(scenario_ref)
    models = {name: REVIEWER_MODELS.get(name, "glm-4.6") for name in reviewers}
    thread = ServerThread().start()
    try:
        anthropic = AnthropicSimulator(ComposerResponder(scenario, speed=speed), models=None)
        ollama = OllamaSim(
            [SimModel(m) for m in sorted(set(models.values()))], ReviewerResponder(scenario, speed=speed)
        )
        thread.serve(anthropic.server)
        thread.serve(ollama.server)
    except BaseException:
        thread.stop()
        raise
    os.environ.setdefault(SIM_KEY_ENV, SIM_KEY)
    return SimStack(scenario_ref, speed, thread, anthropic, ollama, models)
