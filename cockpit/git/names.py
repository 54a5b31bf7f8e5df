"""Branch and worktree names for a session's PRs.

Branch names are git refs (``cockpit/<session>/<n>-<slug>``); worktree names must be a single path
component because libgit2 uses them as the admin folder name under ``.git/worktrees/``.
"""

from __future__ import annotations

import re
import unicodedata

import pygit2

SLUG_MAX = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_WORKTREE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def slugify(text: str, limit: int = SLUG_MAX, fallback: str = "pr") -> str:
    """Lowercase ascii words joined by ``-``, cut at a word boundary when one is near the limit."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        cut = slug[:limit]
        boundary = cut.rfind("-")
        slug = cut[:boundary] if boundary >= limit // 2 else cut
        slug = slug.strip("-")
    return slug or fallback


def _component(text: str, what: str) -> str:
    """A ref- and path-safe single component: keeps letters, digits, ``_`` and ``-``."""
    safe = _NOT_SAFE.sub("-", text).strip("-")
    if not safe:
        raise ValueError(f"{what} {text!r} has no usable characters (letters, digits, '-' or '_')")
    return safe


def branch_name(session: str, n: int, title: str) -> str:
    """``cockpit/<session>/<n>-<slug>`` for PR number ``n`` of ``session``."""
    if n < 0:
        raise ValueError(f"PR number must not be negative, got {n}")
    name = f"cockpit/{_component(session, 'session')}/{n}-{slugify(title)}"
    if not pygit2.reference_is_valid_name(
        f"refs/heads/{name}"
    ):  # pragma: no cover - guarded by the rules above
        raise ValueError(f"{name!r} is not a valid branch name")
    return name


def worktree_name(session: str, n: int) -> str:
    """One path component naming the worktree of PR ``n`` of ``session``."""
    if n < 0:
        raise ValueError(f"PR number must not be negative, got {n}")
    return f"{_component(session, 'session')}-{n}"


def check_worktree_name(name: str) -> None:
    """Raise ValueError unless ``name`` can name a worktree (one path component, no dot start)."""
    if not _WORKTREE_NAME.fullmatch(name) or name.endswith(".lock"):
        raise ValueError(
            f"worktree name {name!r} must be one path component of letters, digits, '.', '_' or '-' "
            "that does not start with '.' and does not end with '.lock'"
        )
