"""docs/events.md is the public format: it must name every kind and every field."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from cockpit import events as E

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_kind_and_field_is_documented() -> None:
    text = DOC.read_text()
    headings = set(re.findall(r"^### `([a-z_]+)`", text, re.MULTILINE))
    headings |= set(re.findall(r"^### `[a-z_]+` / `([a-z_]+)`", text, re.MULTILINE))
    assert set(E.KINDS) <= headings, set(E.KINDS) - headings
    for kind, cls in E.KINDS.items():
        heading = re.search(rf"^### .*`{kind}`.*$", text, re.MULTILINE)
        assert heading is not None
        section = text[heading.end() :].split("\n### ", 1)[0]
        for f in msgspec.inspect.type_info(cls).fields:  # type: ignore[union-attr]
            if f.name in ("session", "seq", "t", "pr"):
                continue
            assert f"`{f.name}`" in section, f"{kind}.{f.name} is not documented"
