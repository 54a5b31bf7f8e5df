"""How numbers read in every view: tokens, usage, durations, money.

One module below the views, so the headless printer, the report, the CLI and the TUI show the
same figure the same way.
"""

from __future__ import annotations

from cockpit.events import Usage


def fmt_tokens(n: int) -> str:
    """A token count in at most five characters: 950, 1.2k, 42k, 1.3M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def fmt_count(n: int, noun: str, plural: str = "") -> str:
    """``1 file``, ``2 files``: a count with its noun in the right number (``plural`` when not
    the noun plus s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def fmt_usage(u: Usage) -> str:
    """Tokens in and out, and cached input when there was any."""
    s = f"{fmt_tokens(u.input_tokens)} in / {fmt_tokens(u.output_tokens)} out"
    if u.cached_input_tokens:
        s += f", {fmt_tokens(u.cached_input_tokens)} cached"
    return s


def fmt_duration(seconds: float) -> str:
    """Seconds to 12.3s, 4m05s or 1h02m: short enough for a list column."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_money(amount: float) -> str:
    """Dollars with one precision for every amount a session shows side by side (a tenth of a
    cent: small dispatches must not read as $0.00 beside $0.032); sums of $100 and more in cents."""
    return f"${amount:,.3f}" if amount < 99.9995 else f"${amount:,.2f}"
