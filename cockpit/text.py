"""Model output is shown as text, never interpreted.

Terminal escape sequences and other control characters in a model's output could move the
cursor, recolour the screen or retitle the terminal; they are replaced by visible stand-ins.
Newlines and tabs survive (tabs as spaces, so column math stays right).
"""

from __future__ import annotations

import re
from pathlib import Path

# C0 controls except \t and \n, DEL, and C1 controls (0x80-0x9f: 8-bit CSI and friends).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _visible(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch == "\x1b":
        return "␛"
    if ch == "\r":
        return ""
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ ␁ … ␟
    if code == 0x7F:
        return "␡"
    return f"\\x{code:02x}"


def sanitize(text: str, tab: str = "    ") -> str:
    """``text`` with every control character but newline made visible and harmless."""
    if not text:
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    text = text.replace("\t", tab)
    return _CONTROL.sub(_visible, text)


def cut_lines(text: str, width: int = 2000) -> str:
    """Every line of ``text`` at most ``width`` characters, a cut one saying how much was left out
    (a writer's 50 MB line is stored, within limits, but never printed whole)."""
    if len(text) <= width:
        return text
    out = []
    for line in text.split("\n"):
        if len(line) > width:
            line = f"{line[:width]}… [{len(line) - width:,} more characters]"
        out.append(line)
    return "\n".join(out)


def read_text_file(path: Path, what: str, error: type[ValueError]) -> str:
    """A UTF-8 text file (a byte-order mark is fine), or ``error`` naming the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}): is this the {what} file?") from exc
