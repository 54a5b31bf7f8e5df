"""Reduced-state checkpoints and stored summaries: what keeps long sessions quick to open.

A checkpoint is the reducer's ``SessionState`` after folding a session's events ``[0, seq)``,
serialised with msgspec (MessagePack, zlib). A seek starts from the nearest one at or before its
target and folds only what lies between. A summary is the shape ``cockpit sessions`` prints,
plus the usage per model its costs are computed from; ``sessions`` and a finished session's
header read it instead of folding the whole session.

Both live in their own tables beside ``events`` (created if missing whenever a journal opens: a
journal from before them simply gains them, and an older cockpit ignores them). A row carries a
fingerprint of the state's shape and the reducer's version; a row whose fingerprint differs is
ignored and rebuilt, never misread. They are an index: dropping them loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from cockpit.events import Event, SessionFinished, Usage, decode
from cockpit.state import SessionState, session_summary

REDUCER_VERSION = 1  # bump when the fold changes meaning without changing the state's shape
CHECKPOINT_EVERY = 2000  # events between checkpoints, at least
SIZE_FACTOR = 4  # ...and at least this many times the last checkpoint's size in event bytes

DDL = """
CREATE TABLE IF NOT EXISTS checkpoints (
    session TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    version TEXT NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE TABLE IF NOT EXISTS summaries (
    session TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL,
    version TEXT NOT NULL,
    data    BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Milestone:
    """A point of a session worth jumping to: its event's seq, time, kind and PR."""

    seq: int
    t: float
    kind: str
    pr: int | None


def _fingerprint() -> str:
    schema = msgspec.json.encode(msgspec.json.schema(SessionState))
    return f"{REDUCER_VERSION}:" + hashlib.sha256(schema).hexdigest()[:16]


VERSION = _fingerprint()
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SessionState)


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Idempotent: two processes opening an old journal at once both succeed."""
    conn.executescript(DDL)


def encode_state(state: SessionState) -> bytes:
    return zlib.compress(_encoder.encode(state), 1)


def decode_state(blob: bytes) -> SessionState | None:
    """None for a blob this cockpit cannot read (it is rebuilt from the events instead)."""
    try:
        return _decoder.decode(zlib.decompress(blob))
    except (zlib.error, msgspec.DecodeError, ValueError, TypeError):
        return None


def spend(state: SessionState) -> list[dict[str, Any]]:
    """Usage per (role, model): what costs are computed from without the dispatches."""
    by: dict[tuple[str, str], Usage] = {}
    for d in state.dispatches.values():
        if d.usage != Usage():
            key = (d.role, d.model or d.backend)
            by[key] = by.get(key, Usage()) + d.usage
    return [
        {"role": role, "model": model, "usage": msgspec.to_builtins(u)}
        for (role, model), u in sorted(by.items())
    ]


def summary_of(state: SessionState) -> dict[str, Any]:
    out = session_summary(state)
    out["events"] = state.events
    out["spend"] = spend(state)
    return out


# --- reading ---------------------------------------------------------------------------------


def checkpoint_before(conn: sqlite3.Connection, session: str, seq: int) -> tuple[int, SessionState | None]:
    """The newest readable checkpoint folding at most ``seq`` events: (its seq, its state)."""
    rows = conn.execute(
        "SELECT seq, data FROM checkpoints WHERE session = ? AND seq <= ? AND version = ?"
        " ORDER BY seq DESC LIMIT 3",
        (session, seq, VERSION),
    ).fetchall()
    for ck_seq, blob in rows:
        state = decode_state(blob)
        if state is not None:
            return int(ck_seq), state
    return 0, None


def read_summary(conn: sqlite3.Connection, session: str) -> tuple[int, dict[str, Any]] | None:
    row = conn.execute(
        "SELECT seq, data FROM summaries WHERE session = ? AND version = ?", (session, VERSION)
    ).fetchone()
    if row is None:
        return None
    try:
        data = json.loads(row[1])
    except ValueError:
        return None
    return (int(row[0]), data) if isinstance(data, dict) else None


def state_at(conn: sqlite3.Connection, session: str, seq: int) -> SessionState:
    """The state after events ``[0, seq)``: the nearest checkpoint, then the events after it."""
    start, state = checkpoint_before(conn, session, seq)
    state = state if state is not None else SessionState()
    for (data,) in conn.execute(
        "SELECT data FROM events WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq",
        (session, start, seq),
    ):
        state.apply(decode(data))
    return state


# --- writing ---------------------------------------------------------------------------------


class Checkpointer:
    """Folds the events a writer commits and stores checkpoints (and, at the end, the summary)
    inside the same transaction, so the index never runs ahead of the events."""

    def __init__(self, session: str, every: int = CHECKPOINT_EVERY) -> None:
        self.session = session
        self.every = every
        self.state = SessionState()
        self.folded = 0  # events [0, folded) are in state
        self._since = 0
        self._bytes_since = 0
        self._last_size = 0
        self._loaded = False

    def _catch_up(self, conn: sqlite3.Connection, seq: int) -> None:
        """A writer that starts mid-session (resume, import) begins from what is journaled."""
        self._loaded = True
        if seq <= 0:
            return
        start, state = checkpoint_before(conn, self.session, seq)
        self.state = state if state is not None else SessionState()
        self.folded = start
        for (data,) in conn.execute(
            "SELECT data FROM events WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (self.session, start, seq),
        ):
            self.state.apply(decode(data))
            self.folded += 1
        self.folded = max(self.folded, seq)

    def add(self, conn: sqlite3.Connection, events: Iterable[tuple[Event, int]]) -> None:
        """Fold committed (event, encoded size) pairs; call inside the writer's transaction."""
        finished = False
        for ev, size in events:
            if not self._loaded:
                self._catch_up(conn, ev.seq)
            if ev.seq < self.folded:
                continue  # already journaled (an idempotent re-import)
            self.state.apply(ev)
            self.folded = ev.seq + 1
            self._since += 1
            self._bytes_since += size
            finished = finished or isinstance(ev, SessionFinished)
            if self._since >= self.every and self._bytes_since >= SIZE_FACTOR * self._last_size:
                self._checkpoint(conn)
        if finished:
            self.store_summary(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        blob = encode_state(self.state)
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints (session, seq, version, data) VALUES (?, ?, ?, ?)",
            (self.session, self.folded, VERSION, blob),
        )
        self._since = self._bytes_since = 0
        self._last_size = len(blob)

    def store_summary(self, conn: sqlite3.Connection) -> None:
        """The final state's summary, and a checkpoint at the very end (a jump to the end)."""
        if self._since:
            self._checkpoint(conn)
        conn.execute(
            "INSERT OR REPLACE INTO summaries (session, seq, version, data) VALUES (?, ?, ?, ?)",
            (self.session, self.folded, VERSION, json.dumps(summary_of(self.state)).encode()),
        )


def rebuild(conn: sqlite3.Connection, session: str, every: int = CHECKPOINT_EVERY) -> dict[str, Any]:
    """Index a session the journal holds no (readable) checkpoints for: a journal written before
    checkpoints existed, or by another version. One fold, in one transaction; returns its summary."""
    ck = Checkpointer(session, every)
    ck._loaded = True
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM checkpoints WHERE session = ? AND version != ?", (session, VERSION))
        cur = conn.execute("SELECT data FROM events WHERE session = ? ORDER BY seq", (session,))
        while rows := cur.fetchmany(1000):
            ck.add(conn, ((decode(data), len(data)) for (data,) in rows))
        ck.store_summary(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return summary_of(ck.state)
