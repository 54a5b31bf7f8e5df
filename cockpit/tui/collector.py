"""Python's cyclic garbage collector, run on the person's time instead of in the middle of a key.

Measured in the cockpit (bench/tui_keys_tmux.py, docs/performance.md): now and then a full
collection of the whole heap (the session's state, Textual's widgets, every imported module)
took 30-40 ms in the middle of a keypress, the largest part of the keys' p95. So, while the
app runs:

- everything alive once the app has started (modules, the app, the session so far) is moved out
  of the collector's sight (``gc.freeze``): it is long-lived and scanning it again finds nothing;
- the young generations keep CPython's thresholds: their collections are small (0.1-1 ms) and
  raising them only made fewer, larger pauses (measured: a 20,000 threshold gave 6 ms young and
  35 ms middle collections inside keys, and a worse p95);
- a full collection never starts by itself in practice (the oldest generation's threshold is
  raised); the app runs one when nobody has pressed a key for a second, at most every 30 s.

Reference counting still frees almost everything at once, and the young collections still
find most cycles; only cyclic garbage that outlived them waits for the next quiet second (or,
for someone typing without a pause, for CPython's own full collection, 1,000 middle ones on).
``stop`` puts the interpreter back as it was (tests start many apps in one process).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

OLD_THRESHOLD = 1_000  # middle collections per automatic full one: the app runs its own instead
QUIET_S = 1.0  # no key or click for this long: a full collection cannot delay one
EVERY_S = 30.0


class IdleCollector:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._saved: tuple[int, int, int] | None = None
        self._last_input = clock()
        self._last_full = clock()
        self.full_runs = 0  # full collections this collector ran (tests, bench)

    @property
    def active(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        """Freeze what is alive now and take over the thresholds; again after a long setup."""
        if self._saved is None:
            self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, OLD_THRESHOLD)
        self._last_full = self.clock()

    def touched(self) -> None:
        """A key or a click: someone is here."""
        self._last_input = self.clock()

    def tick(self) -> bool:
        """Called about once a second: a full collection if it is quiet and due. True if one ran."""
        if self._saved is None:
            return False
        now = self.clock()
        if now - self._last_input < QUIET_S or now - self._last_full < EVERY_S:
            return False
        gc.collect()
        self._last_full = self.clock()
        self.full_runs += 1
        return True

    def stop(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None
