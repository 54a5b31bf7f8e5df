"""Deliberate crashes for the crash tests: ``COCKPIT_FAULT_KILL`` names a point to die at.

The crash tests must kill a session at exact places (after an event is on disk, halfway
through a merge's checkout), which a timer outside the process cannot hit on a loaded machine.
A process whose environment has ``COCKPIT_FAULT_KILL=<point>`` sends itself SIGKILL when it
reaches that point, exactly as ``kill -9`` would. Points:

- ``event:<kind>[:<n>]``: once the n-th (default first) event of that kind is committed to
  the journal; ``gate_opened.<gate kind>`` counts only the gates of that kind (which gate comes
  n-th overall depends on how concurrent PRs interleave);
- ``checkout:<n>``: after a merge's checkout has written n files into a working tree;
- ``point:<name>``: where the code calls ``at("<name>")`` (``merge_done``: the merge is in git,
  its ``merged`` event not yet journaled).

Unset (always, outside tests), every check is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "COCKPIT_FAULT_KILL"

_counts: dict[str, int] = {}


def _target() -> tuple[str, str, int] | None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return None
    head, _, rest = spec.partition(":")
    if head == "point":
        return head, rest, 1
    name, _, n = rest.partition(":") if head == "event" else ("", "", rest)
    try:
        count = int(n) if n else 1
    except ValueError:
        return None
    return head, name, count


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def at_event(kind: str, detail: str = "") -> None:
    """Called for each committed event (``detail``: a gate's kind); dies at the configured one."""
    target = _target()
    if target is None or target[0] != "event" or target[1] not in (kind, f"{kind}.{detail}"):
        return
    _counts[target[1]] = _counts.get(target[1], 0) + 1
    if _counts[target[1]] == target[2]:
        die()


def at_checkout(files_done: int) -> None:
    """Called as a checkout writes files; dies after the configured number."""
    target = _target()
    if target is not None and target[0] == "checkout" and files_done >= target[2]:
        die()


def at(point: str) -> None:
    """A named point; dies when the environment names it."""
    target = _target()
    if target is not None and target[0] == "point" and target[1] == point:
        die()
