"""Fan-out of journaled events to the views that watch a session.

The live engine publishes a batch only after the journal committed it; the replay driver
publishes events read back from the journal. Views cannot tell the two apart
(docs/architecture.md, invariant 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from cockpit.events import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.published = 0
        # A view's bug must not starve the other views: log each failing subscriber once.
        self._logged: set[int] = set()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            self.published += 1
            for fn in list(self._subscribers):
                try:
                    fn(event)
                except Exception:
                    if id(fn) not in self._logged:
                        self._logged.add(id(fn))
                        log.exception("event subscriber %r failed on %s", fn, type(event).__name__)
