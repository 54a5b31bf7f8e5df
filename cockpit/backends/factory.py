"""Config → backends. Adapters are imported only when a config names them."""

from __future__ import annotations

from cockpit.backends.base import Backends, Composer, Reviewer, Writer
from cockpit.config import Config


def build_backends(cfg: Config) -> Backends:
    """The adapters ``cfg`` names. (Tests that want in-process stand-ins build ``Backends`` directly.)"""
    from cockpit.backends.anthropic import AnthropicComposer

    c = cfg.composer
    composer: Composer = AnthropicComposer(
        c.model,
        api_key_env=c.api_key_env,
        base_url=c.base_url or None,
        max_tokens=c.max_tokens,
        timeout_s=c.timeout_s,
        max_retries=c.max_retries,
    )

    writer: Writer
    w = cfg.writer
    if w.backend == "codex":
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
