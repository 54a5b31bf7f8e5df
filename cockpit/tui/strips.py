"""Textual's ``Strip`` without the two caches that point a strip at itself.

``Strip.divide`` caches ``[self]`` when a line needs no cut, and ``Strip.crop_extend`` caches
``self`` when the crop is the whole line. The compositor does both for most lines of every
frame, so each such strip (with its seven caches) is a reference cycle: when the frame is done
with it, only a full garbage collection frees it. Under a streaming writer with keys being
pressed, that garbage piled up to one full collection of over a second (docs/performance.md,
"Garbage that only a full collection frees"). Returning the strip itself without caching it
gives the same results and leaves no cycle; every other case goes to Textual unchanged.

``install`` is called once by the app; ``tests/tui/test_strips.py`` says so when a Textual
release no longer has the cycles (then this module can go) or renames what it wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_divide_original: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
_crop_extend_original: Callable[[Strip, int, int, Style | None], Strip] = Strip.crop_extend


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    length = self.cell_length
    kept = [cut for cut in cuts if cut <= length]  # Textual's own first step (cuts may be an iterator)
    if kept == [length]:
        return [self]  # what Textual returns here, without keeping it in self's cache
    return _divide_original(self, kept)  # filtering again keeps kept as it is


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self  # the whole line: Textual returns the strip itself, and caches it in itself
    return _crop_extend_original(self, start, end, style)


def install() -> None:
    """Idempotent."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]


def uninstall() -> None:
    Strip.divide = _divide_original  # type: ignore[method-assign,assignment]
    Strip.crop_extend = _crop_extend_original  # type: ignore[method-assign,assignment]
