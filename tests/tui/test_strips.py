"""``cockpit/tui/strips.py``: the same strips as Textual's, without a strip caching itself."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from cockpit.bus import EventBus
from cockpit.tui import strips
from cockpit.tui.app import CockpitApp
from cockpit.tui.lru import Lru


def strip_of(parts: list[str]) -> Strip:
    return Strip([Segment(p, Style(bold=i % 2 == 1)) for i, p in enumerate(parts)])


def test_textual_still_caches_a_whole_line_strip_in_itself() -> None:
    """If this fails, a Textual release fixed the cycles: cockpit/tui/strips.py can go."""
    strips.uninstall()
    try:
        s = strip_of(["abc", "def"])
        before = sys.getrefcount(s)
        s.divide([6])
        s.crop_extend(0, 6, None)
        assert sys.getrefcount(s) == before + 2  # [s] in its divide cache, s in its crop_extend cache
    finally:
        strips.install()


def test_installed_a_whole_line_strip_keeps_no_reference_to_itself() -> None:
    strips.install()
    s = strip_of(["abc", "def"])
    before = sys.getrefcount(s)
    assert list(s.divide(iter([6, 9]))) == [s]  # an iterator of cuts is read once
    assert s.crop_extend(0, 6, None) is s and s.crop_extend(-2, 6, None) is s
    assert sys.getrefcount(s) == before


def test_the_app_installs_it() -> None:
    strips.uninstall()
    CockpitApp(bus=EventBus())
    assert Strip.divide is strips._divide and Strip.crop_extend is strips._crop_extend


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.text("ab é世", min_size=1, max_size=6), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 30), max_size=4),
    start=st.integers(-3, 30),
    end=st.integers(0, 30),
)
def test_installed_results_are_textuals(parts: list[str], cuts: list[int], start: int, end: int) -> None:
    s = strip_of(parts)
    cuts = [*sorted(set(cuts)), s.cell_length]
    strips.uninstall()
    try:
        want_divide = [x.text for x in s.divide(cuts)]
        want_crop = strip_of(parts).crop_extend(start, end, None)
    finally:
        strips.install()
    assert [x.text for x in strip_of(parts).divide(cuts)] == want_divide
    got = strip_of(parts).crop_extend(start, end, None)
    assert (got.text, got.cell_length) == (want_crop.text, want_crop.cell_length)


def test_lru_evicts_the_least_recently_used_and_frees_what_it_drops() -> None:
    cache: Lru[int, list[str]] = Lru(2)
    a, b, c = ["a"], ["b"], ["c"]
    cache[1], cache[2] = a, b
    assert cache.get(1) is a  # 1 is now the most recent
    cache[3] = c  # so 2 goes
    assert 2 not in cache and cache.get(1) is a and cache.get(3) is c and len(cache) == 2
    cache.discard(1)
    cache.discard(99)
    assert 1 not in cache and len(cache) == 1
    before = sys.getrefcount(c)
    cache.clear()
    assert len(cache) == 0 and sys.getrefcount(c) == before - 1  # freed at once: no ring of links
