"""Model families, to warn when a reviewer shares the writer's blind spots.

Three-way dispatch works because the reviewers are a different family than the writer: a
GPT-family reviewer of a Codex writer tends to miss what the writer missed, and its approval
is theatre. The table is by name prefix; an unknown name is not guessed at.
"""

from __future__ import annotations

import re

from cockpit.config import Config

_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"^(gpt|chatgpt|o[1-9]|codex|gpt-oss|text-davinci)", "OpenAI GPT"),
    (r"^claude", "Anthropic Claude"),
    (r"^(glm|chatglm|codegeex)", "Zhipu GLM"),
    (r"^(qwen|qwq|codeqwen)", "Alibaba Qwen"),
    (r"^(llama|codellama|meta-llama)", "Meta Llama"),
    (r"^(mistral|mixtral|codestral|devstral|magistral|ministral)", "Mistral"),
    (r"^(gemma|gemini|codegemma)", "Google Gemini/Gemma"),
    (r"^deepseek", "DeepSeek"),
    (r"^(phi)\d", "Microsoft Phi"),
    (r"^(granite)", "IBM Granite"),
    (r"^(kimi|moonshot)", "Moonshot Kimi"),
    (r"^(grok)", "xAI Grok"),
)


def model_family(model: str) -> str | None:
    """The family of a model name (``gpt-oss:20b`` → OpenAI GPT), or None when unknown."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    for pattern, family in _FAMILIES:
        if re.match(pattern, name):
            return family
    return None


def writer_family(cfg: Config) -> tuple[str | None, str]:
    """The writer's family and how it was told: its model, else what its backend implies."""
    w = cfg.writer
    if w.model:
        return model_family(w.model), w.model
    if w.backend == "codex":
        return "OpenAI GPT", "codex (default model)"
    command = " ".join(w.command) if isinstance(w.command, list) else w.command
    if re.search(r"\bclaude\b", command):
        return "Anthropic Claude", command
    return None, command


def family_warnings(cfg: Config) -> list[str]:
    """One warning per reviewer of the writer's own family."""
    family, source = writer_family(cfg)
    if family is None:
        return []
    out = []
    for r in cfg.reviewers:
        if model_family(r.model) == family:
            out.append(
                f"reviewer {r.name!r} ({r.model}) is of the writer's model family "
                f"({family}, writer {source}): "
                "it shares the writer's blind spots, so its approval says little; pick a reviewer model "
                "from another family"
            )
    return out
