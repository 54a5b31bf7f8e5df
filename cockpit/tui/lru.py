"""A least-recently-used cache that leaves no reference cycle behind.

Textual's ``LRUCache`` keeps its entries in a ring of linked lists; ``clear()`` drops the ring
whole, so every value it held (for a stream view, hundreds of lines of strips, each with seven
caches of its own) becomes cyclic garbage that only a full collection frees. Cleared on every
PR switch under a flood, that garbage made one full collection take over a second
(docs/performance.md, "Garbage that only a full collection frees"). An ``OrderedDict`` frees
what it drops at once, by reference counting.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    __slots__ = ("_data", "maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
