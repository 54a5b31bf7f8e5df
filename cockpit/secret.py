"""What counts as a secret, how it is kept from writers, and how it is cut out of text.

A secret is recognised three ways (docs/architecture.md, invariant 6): by the name of the variable holding it
(KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL anywhere in the name), by the shape of the value
(the well-known API token prefixes below), and by being named in the config (``api_key_env``,
or a writer ``env`` entry with such a name). Writers never inherit such variables; a ``Redactor``
replaces known values and token shapes in any text before it is journaled, shown, or sent to a
reviewer.

Cockpit's own environment is hidden from the processes it starts (``hide_own_environment``):
on Linux the process is marked non-dumpable, so another process of the same user cannot read
``/proc/<pid>/environ``, and because root (or a holder of CAP_SYS_PTRACE) can read it anyway,
secret variables are also moved out of the process environment into a private table and their
bytes in the kernel-visible environment block are overwritten. ``getenv`` reads that table.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8  # a shorter value is too likely to be an ordinary word to cut everywhere

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
"""A variable whose name matches holds a secret."""

# Token shapes: Anthropic, OpenAI (project, service account, legacy), GitHub (classic and
# fine-grained), Slack, AWS access key ids. The characters allowed never include a quote or a
# backslash, so the same pattern finds a token inside JSON text and replacing it keeps the JSON valid.
TOKEN_SHAPE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-ant-[A-Za-z0-9_-]{16,}"
    r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{16,}"
    r"|sk-[A-Za-z0-9]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"
    r")"
)
"""A value of one of these shapes is a secret wherever it appears."""

_vault: dict[str, str] = {}  # secret variables taken out of os.environ by hide_own_environment


def is_secret(name: str, value: str, extra_names: Iterable[str] = ()) -> bool:
    """Whether the variable ``name=value`` is a secret (by name, by named config, or by shape)."""
    return bool(SECRET_NAME.search(name)) or name in set(extra_names) or bool(TOKEN_SHAPE.search(value))


def secret_names(environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> set[str]:
    """The names in ``environ`` that hold secrets."""
    extra = set(extra_names)
    return {k for k, v in environ.items() if is_secret(k, v, extra)}


def getenv(name: str, default: str = "") -> str:
    """A variable from the environment, or from the secrets ``hide_own_environment`` took out of it."""
    return os.environ.get(name) or _vault.get(name, default)


def environ_with_secrets() -> dict[str, str]:
    """The process environment as it was, secrets included: what ``${NAME}`` references resolve in."""
    return {**_vault, **os.environ}


def secret_values(environ: Mapping[str, str] | None = None, extra_names: Iterable[str] = ()) -> list[str]:
    """The values of every secret variable (the hidden ones included), longest first."""
    env = environ_with_secrets() if environ is None else environ
    names = secret_names(env, extra_names)
    values = {env[n] for n in names if len(env[n]) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


class Redactor:
    """Replaces known secret values and token shapes in text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = sorted({v for v in values if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        escaped = [re.escape(v) for v in self.values]
        self._known = re.compile("|".join(escaped)) if escaped else None

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        if not text:
            return text
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def has_secret(self, text: str) -> bool:
        return bool((self._known is not None and self._known.search(text)) or TOKEN_SHAPE.search(text))


# --- cockpit's own environment -------------------------------------------------------------------

PR_SET_DUMPABLE = 4


def hide_own_environment(extra_names: Iterable[str] = ()) -> list[str]:
    """Keep this process's secret variables from the processes it starts; the names hidden.

    Marks the process non-dumpable (Linux), moves secret variables from ``os.environ`` into a
    private table (``getenv`` still finds them) and overwrites them in the environment block the
    kernel shows at ``/proc/<pid>/environ``. Idempotent; does nothing it cannot do.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    names = sorted(secret_names(os.environ, extra_names))
    for name in names:
        _vault[name] = os.environ.pop(name)  # unsetenv: the C environ no longer points at it
    if names and sys.platform.startswith("linux"):
        _scrub_environ_block(names)
    return names


def _scrub_environ_block(names: list[str]) -> None:
    """Overwrite ``NAME=value`` in the initial environment block with ``x``; best effort."""
    try:
        stat = Path("/proc/self/stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (proc(5) fields 50, 51)
        block = Path("/proc/self/environ").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    if not start or end - start != len(block):
        return  # the block is not where the kernel says (moved by someone): leave it alone
    offset = 0
    for entry in block.split(b"\0"):
        name = entry.split(b"=", 1)[0].decode("utf-8", "replace")
        if name in names and entry:
            ctypes.memset(start + offset, ord("x"), len(entry))
        offset += len(entry) + 1
