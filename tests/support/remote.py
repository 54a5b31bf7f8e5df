"""A demo session owned by another process, for attach and serve tests.

The owner is ``cockpit demo --headless --no-prompt`` in a subprocess: real simulators, real git,
the real journal, and gates that wait for an answer through the journal. Waits are bounded by a
number of polls, never asserted on time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cockpit.events import Event, GateOpened, HumanDecision
from cockpit.journal import Journal, RequestRow, SessionRow
from cockpit.state import fold

T = TypeVar("T")
POLLS = 600  # x 0.1 s: generous on a loaded 2-core machine; a hang fails, it never slows a pass


def wait_for(what: str, probe: Callable[[], T | None], polls: int = POLLS, step: float = 0.1) -> T:
    for _ in range(polls):
        got = probe()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"gave up waiting for {what}")


@dataclass
class Owner:
    proc: subprocess.Popen[str]
    journal_path: Path
    row: SessionRow

    def journal(self) -> Journal:
        return Journal(self.journal_path)

    def events(self, cls: type[Event]) -> list[Event]:
        with self.journal() as j:
            return [e for e in j.read_events(self.row.id) if isinstance(e, cls)]

    def decisions(self, gate: str) -> list[HumanDecision]:
        return [e for e in self.events(HumanDecision) if isinstance(e, HumanDecision) and e.gate == gate]

    def open_gate(self) -> GateOpened | None:
        with self.journal() as j:
            gates = fold(j.read_events(self.row.id, skip_kinds=("dispatch_output",))).waiting_for_human()
        return gates[0] if gates else None

    def wait_gate(self, not_in: set[str] = frozenset()) -> GateOpened:  # type: ignore[assignment]
        def probe() -> GateOpened | None:
            g = self.open_gate()
            return g if g is not None and g.gate not in not_in else None

        return wait_for("a gate to open", probe)

    def settled(self, request_id: int) -> RequestRow:
        def probe() -> RequestRow | None:
            with self.journal() as j:
                rows = j.requests([request_id])
            return rows[0] if rows and rows[0].status in ("applied", "rejected") else None

        return wait_for(f"request {request_id} to be settled", probe)

    def running(self) -> bool:
        with self.journal() as j:
            return self.proc.poll() is None and j.get_session(self.row.id).status == "running"


@contextlib.contextmanager
def run_owner(tmp_path: Path) -> Iterator[Owner]:
    journal_path = tmp_path / "journal.sqlite3"
    env = {**os.environ, "COCKPIT_JOURNAL": str(journal_path)}
    log = (tmp_path / "owner.log").open("w")  # a file, not a pipe: nobody has to drain it
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "cockpit", "demo", "--headless", "--no-prompt", "--speed", "0"),
            *("--prs", "2", "--workdir", str(tmp_path / "demo"), "--journal", str(journal_path)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )

    def started() -> SessionRow | None:
        assert proc.poll() is None, (tmp_path / "owner.log").read_text()
        if not journal_path.exists():
            return None
        with Journal(journal_path) as j:
            rows = j.list_sessions()
        return rows[0] if rows else None

    try:
        row = wait_for("the owner to start its session", started)
        yield Owner(proc, journal_path, row)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
