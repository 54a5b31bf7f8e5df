"""Containers that settle in one layout pass.

After each layout pass Textual sets every widget's virtual size as a layout reactive, so any
widget whose size changed (a pane that was maximised, a card with a new verdict) asks for a
second full pass, and often a third: on the main screen that was two or three extra layouts and
repaints after every key (docs/performance.md). The pass that measured a widget has already
placed its children, so for these widgets the virtual size is recorded without asking again.
The one thing that does need a new pass, a scrollbar appearing or going, asks for it by itself
(Textual sets the scrollbar's ``display``).

The Textual class comes first in each: Textual gathers a widget's default CSS along the first
base only, so ``Row(OnePass, Horizontal)`` would lose ``layout: horizontal``.
"""

from __future__ import annotations

from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.widget import Widget


class OnePass(Widget):
    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class Row(Horizontal, OnePass):
    pass


class Column(Vertical, OnePass):
    pass


class Scroll(VerticalScroll, OnePass):
    pass
