"""cockpit.toml → typed config, with errors that name the key and its line.

Every key is optional. Unknown keys are errors (a typo must not silently fall back to a
default). ``cockpit init`` writes ``CONFIG_TEMPLATE``, a commented file with every default.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from cockpit import secret
from cockpit.text import read_text_file

CONFIG_NAME = "cockpit.toml"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


class ConfigError(ValueError):
    """A config problem, phrased for one line of terminal output."""


class SessionConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    base_branch: str = ""  # "" = the branch checked out in the repository
    max_rounds: int = 3
    concurrent_writers: int = 1
    composer_budget_tokens: int = 5000
    worktree_root: str = ""  # "" = under the platformdirs user data dir
    max_diff_bytes: int = 200_000  # a larger diff reaches reviewers cut, with a marker
    goal: str = ""  # one line about the session, kept in the composer's thread


class ComposerConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    backend: Literal["anthropic"] = "anthropic"
    model: str = "claude-sonnet-4-6"
    base_url: str = ""  # "" = the SDK default (ANTHROPIC_BASE_URL also works)
    api_key_env: str = "ANTHROPIC_API_KEY"
    max_tokens: int = 4096
    timeout_s: float = 300.0
    max_retries: int = 2
    # "text": the decision in sections the prompt names (fewer tokens a call); "tool": the decide
    # tool, forced (a schema the API checks, at the price of the tool on every call)
    decide_with: Literal["text", "tool"] = "text"


class WriterConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    backend: Literal["codex", "command"] = "codex"
    command: str | list[str] = "codex"
    model: str = ""
    sandbox: Literal["read-only", "workspace-write", "danger-full-access"] = "workspace-write"
    args: list[str] = []
    env: dict[str, str] = {}
    timeout_s: float = 1800.0
    resume: bool = True  # a fix round resumes the writer's thread (codex exec resume)
    commit_uncommitted: bool = False  # commit what a writer left uncommitted, with its final message
    brief_via: Literal["arg", "stdin", "file"] = "arg"  # command writers: how the brief is passed
    shell: bool = False  # command writers: run a string command by /bin/sh -c (brief by stdin/file only)


class ReviewerConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str = "correctness"
    backend: Literal["ollama"] = "ollama"
    model: str = "glm-4.6"
    host: str = ""  # "" = OLLAMA_HOST, else http://127.0.0.1:11434
    framing: str = ""  # a built-in framing (correctness, quality, security, tests, performance) or text
    timeout_s: float = 900.0
    options: dict[str, Any] = {}
    think: bool | str = False
    keep_alive: str | int | None = None

    def effective_host(self) -> str:
        return self.host or os.environ.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST

    def effective_framing(self) -> str:
        return self.framing or self.name


class Pricing(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """US dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float = 0.0
    cache_write: float = 0.0


def _default_reviewers() -> list[ReviewerConfig]:
    return [
        ReviewerConfig(name="correctness", framing="correctness"),
        ReviewerConfig(name="quality", framing="quality"),
    ]


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    session: SessionConfig = SessionConfig()
    composer: ComposerConfig = ComposerConfig()
    writer: WriterConfig = WriterConfig()
    reviewers: list[ReviewerConfig] = msgspec.field(default_factory=_default_reviewers)
    pricing: dict[str, Pricing] = {}
    keys: dict[str, str] = {}  # the cockpit's keys: action name -> key(s), checked by the TUI
    source: str = ""  # where it was read from ("" = defaults); not a TOML key


def _check(cfg: Config, text: str) -> None:
    def fail(path: str, msg: str) -> None:
        raise ConfigError(f"{_where(cfg.source, text, path)}{path.removeprefix('$.')}: {msg}")

    s = cfg.session
    if s.max_rounds < 1:
        fail("$.session.max_rounds", "must be at least 1")
    if s.concurrent_writers < 1:
        fail("$.session.concurrent_writers", "must be at least 1")
    if s.composer_budget_tokens < 0:
        fail("$.session.composer_budget_tokens", "must not be negative")
    if s.max_diff_bytes < 1000:
        fail("$.session.max_diff_bytes", "must be at least 1000")
    timeouts = [("composer.timeout_s", cfg.composer.timeout_s), ("writer.timeout_s", cfg.writer.timeout_s)]
    timeouts += [(f"reviewers[{i}].timeout_s", r.timeout_s) for i, r in enumerate(cfg.reviewers)]
    for key, value in timeouts:
        if not math.isfinite(value) or value <= 0:
            fail(f"$.{key}", "must be a positive number of seconds")
    if cfg.composer.max_tokens < 1:
        fail("$.composer.max_tokens", "must be positive")
    if not cfg.reviewers:
        fail("$.reviewers", "at least one reviewer is needed (mark PRs `review = false` to skip review)")
    seen: set[str] = set()
    for i, r in enumerate(cfg.reviewers):
        if not r.name.strip():
            fail(f"$.reviewers[{i}].name", "must not be empty")
        if r.name in seen:
            fail(f"$.reviewers[{i}].name", f"{r.name!r} is used by two reviewers")
        seen.add(r.name)
        if r.host and not re.match(r"^https?://", r.host):
            fail(f"$.reviewers[{i}].host", f"{r.host!r} is not an http(s) URL")
    if cfg.writer.backend == "command" and not cfg.writer.command:
        fail("$.writer.command", "a command writer needs a command")
    if cfg.writer.backend == "command" and isinstance(cfg.writer.command, str) and not cfg.writer.shell:
        try:
            shlex.split(cfg.writer.command)
        except ValueError as exc:
            fail("$.writer.command", f"cannot be split into words ({exc}); cockpit runs no shell here")
    if cfg.writer.backend == "command" and cfg.writer.shell:
        w = cfg.writer
        words = [w.command] if isinstance(w.command, str) else list(w.command)
        if not isinstance(w.command, str):
            fail("$.writer.shell", "shell = true needs `command` as one string")
        elif any("{brief}" in x for x in [*words, *w.args]):
            fail(
                "$.writer.command",
                "with shell = true the brief cannot be in the command line; use {brief_file}",
            )
        elif w.brief_via == "arg":
            fail("$.writer.brief_via", 'with shell = true the brief goes by "stdin" or "file", never "arg"')


def _where(source: str, text: str, path: str) -> str:
    """``file:line: `` for a msgspec path like ``$.reviewers[1].model``, as near as TOML allows."""
    if not source:
        return ""
    line = _locate(text, path)
    return f"{source}:{line}: " if line else f"{source}: "


def _locate(text: str, path: str) -> int | None:
    parts = re.findall(r"\.(\w+)|\[(\d+)\]", path)
    keys = [(name, int(idx) if idx else None) for name, idx in parts]
    lines = text.splitlines()
    start = 0
    table: list[str] = []
    for j, (name, idx) in enumerate(keys):
        if idx is not None:
            continue
        nxt = keys[j + 1][1] if j + 1 < len(keys) else None
        is_last = all(i is not None for _, i in keys[j + 1 :])
        header = ".".join([*table, name])
        if nxt is not None:
            hits = [
                k for k, ln in enumerate(lines) if re.match(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]", ln)
            ]
            if len(hits) > nxt:
                start = hits[nxt]
                table = [*table, name]
                continue
        if not is_last:
            hits = [
                k
                for k, ln in enumerate(lines[start:], start)
                if re.match(rf"^\s*\[\s*{re.escape(header)}\s*\]", ln)
            ]
            if hits:
                start = hits[0]
                table = [*table, name]
                continue
        for k in range(start, len(lines)):
            if re.match(rf"^\s*{re.escape(name)}\s*=", lines[k]) or re.match(
                rf"^\s*\[+\s*{re.escape(header)}\s*\]", lines[k]
            ):
                return k + 1
        return start + 1 if start else None
    return start + 1 if start else None


def _type_at(path: str) -> msgspec.inspect.Type | None:
    """The config's type at a msgspec path such as ``$.reviewers[0].backend``."""
    t: msgspec.inspect.Type = msgspec.inspect.type_info(Config)
    for name, index in re.findall(r"\.(\w+)|\[([^\]]*)\]", path):
        while isinstance(t, msgspec.inspect.UnionType):  # str | list[str] and the like: the first kind
            t = next((x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)), t.types[0])
        if name and isinstance(t, msgspec.inspect.StructType):
            field = next((f for f in t.fields if f.name == name), None)
            if field is None:
                return None
            t = field.type
        elif index and isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.DictType)):
            t = t.item_type if isinstance(t, msgspec.inspect.ListType) else t.value_type
        else:
            return None
    return t


def nearest(name: str, names: list[str]) -> list[str]:
    """The name most like ``name``: the one sharing the longest start, four letters or more
    (``frame`` → ``framing``), else the closest spelling; [] when none is close."""

    def shared(n: str) -> int:
        return next(
            (i for i, (a, b) in enumerate(zip(n, name, strict=False)) if a != b), min(len(n), len(name))
        )

    best = max(names, key=lambda n: (shared(n), -abs(len(n) - len(name))), default="")
    if best and shared(best) >= min(4, len(name)):
        return [best]
    return difflib.get_close_matches(name, names, n=1, cutoff=0.6)


def _did_you_mean(table: str, name: str) -> str:
    """`` (did you mean `max_rounds`?)`` for a misspelt key, from the keys that table has."""
    t = _type_at(table)
    if not isinstance(t, msgspec.inspect.StructType):
        return ""
    keys = [f.name for f in t.fields if f.name != "source"]
    near = nearest(name, keys)
    if near:
        return f" (did you mean `{near[0]}`?)"
    where = table.removeprefix("$").removeprefix(".") or "the top level"
    return f"; {where} has: {', '.join(keys)}"


def _one_of(path: str) -> str:
    """``; one of: "a", "b"`` for a key that takes a fixed set of values."""
    t = _type_at(path)
    while isinstance(t, msgspec.inspect.UnionType):
        t = next((x for x in t.types if isinstance(x, msgspec.inspect.LiteralType)), None)
    if not isinstance(t, msgspec.inspect.LiteralType):
        return ""
    return "; one of: " + ", ".join(f'"{v}"' for v in t.values)


def parse_config(text: str, source: str = "") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source or 'config'}: not valid TOML: {exc}") from exc
    raw.pop("source", None)
    try:
        cfg = msgspec.convert(raw, type=Config, strict=False)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = re.search(r" - at `(\$[^`]*)`$", msg)
        path, detail = (m.group(1), msg[: m.start()]) if m else ("$", msg)
        if "unknown field" in detail.lower():
            unknown = re.search(r"`([^`]+)`", detail)
            name = unknown.group(1) if unknown else "?"
            key = f"{path}.{name}"
            raise ConfigError(
                f"{_where(source, text, key)}{key.removeprefix('$.')}: unknown key{_did_you_mean(path, name)}"
            ) from exc
        if "invalid enum value" in detail.lower():
            detail += _one_of(path)
        if m:
            raise ConfigError(f"{_where(source, text, path)}{path.removeprefix('$.')}: {detail}") from exc
        raise ConfigError(f"{source or 'config'}: {msg}") from exc
    cfg = msgspec.structs.replace(cfg, source=source)
    _check(cfg, text)
    return cfg


def load_config(path: Path | None, repo: Path | None = None) -> Config:
    """``path`` if given, else ``<repo>/cockpit.toml`` if it exists, else the defaults."""
    if path is None and repo is not None and (repo / CONFIG_NAME).is_file():
        path = repo / CONFIG_NAME
    if path is None:
        return Config()
    return parse_config(read_text_file(path, "config", ConfigError), str(path))


CONFIG_TEMPLATE = """\
# cockpit.toml: how cockpit runs a three-way dispatch session in this repository.
# Every key is optional; the values shown are the defaults. `cockpit doctor` checks this file.

[session]
# base_branch = "main"          # default: the branch checked out in the repository
max_rounds = 3                  # writer rounds per PR before a fix becomes an abandon
concurrent_writers = 1          # writers running at once, each in its own worktree
composer_budget_tokens = 5000   # the composer's tokens per PR shown against this budget
# worktree_root = "..."         # default: under the user data dir, one folder per repository
max_diff_bytes = 200000         # larger diffs reach the reviewers cut, with a marker
# goal = "one line about this session, kept in the composer's thread"

[composer]
backend = "anthropic"
model = "claude-sonnet-4-6"
# base_url = "https://..."      # optional; the SDK's ANTHROPIC_BASE_URL also works
api_key_env = "ANTHROPIC_API_KEY"
max_tokens = 4096
timeout_s = 300
decide_with = "text"            # "text": the decision in named sections; "tool": a forced decide tool
                                # (its schema, and the API's tool prompt, go with every decide call)

[writer]
backend = "codex"               # or "command": any CLI that takes the brief
command = "codex"
# model = "gpt-5-codex"
sandbox = "workspace-write"     # read-only | workspace-write | danger-full-access
args = []                       # extra arguments, placed before the prompt
env = {}                        # extra environment for the writer ("${NAME}" passes cockpit's NAME on;
                                # model API keys are not inherited otherwise)
timeout_s = 1800
resume = true                   # a fix round resumes the writer's thread
commit_uncommitted = false      # commit what the writer left uncommitted, with its final message
# brief_via = "arg"             # command writers: "arg" | "stdin" | "file" ({brief} / {brief_file} in args)
# shell = false                 # command writers: a string command is split into words, never run by a
                                # shell; shell = true runs it by /bin/sh -c, brief_via "stdin" or "file" only

[[reviewers]]
name = "correctness"
backend = "ollama"
model = "glm-4.6"
# host = "http://127.0.0.1:11434"   # default: OLLAMA_HOST, else this
framing = "correctness"         # correctness | quality | security | tests | performance | your own text
timeout_s = 900
options = {}                    # passed to ollama: num_ctx, temperature, ...

[[reviewers]]
name = "quality"
backend = "ollama"
model = "glm-4.6"
framing = "quality"
timeout_s = 900

# [pricing."claude-sonnet-4-6"]   # optional: $ per million tokens, per model name
# input = 3.0
# output = 15.0
# cached_input = 0.3
# cache_write = 3.75

# [keys]                          # optional: remap the cockpit's keys (action = "key" or "key1,key2")
# approve = "y"                   # names: the cockpit's help screen (?) and README; e.g. ctrl+a, f5
"""


def secret_values(cfg: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values to redact: every secret-looking variable (by name or shape), the composer's key
    variable whatever its name, and secret-looking literal values in the writer's ``env``."""
    env = secret.environ_with_secrets() if environ is None else environ
    values = set(secret.secret_values(env, [cfg.composer.api_key_env]))
    values |= {
        v
        for k, v in cfg.writer.env.items()
        if secret.is_secret(k, v) and not v.startswith("${") and len(v) >= secret.MIN_SECRET_CHARS
    }
    return sorted(values, key=len, reverse=True)
