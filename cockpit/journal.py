"""The journal: an append-only SQLite (WAL) store of sessions and their events.

Appends go through a ``JournalWriter``: a thread with its own connection that commits whatever
has queued up since its last commit (group commit), so a burst costs one fsync and a quiet
event is durable within milliseconds. Only after a batch is committed are its events handed to
``on_committed``: views never see an event the journal does not hold (docs/architecture.md, invariant 1).

Several cockpit processes may share one journal file: WAL lets readers run beside a writer, and
writers serialize on ``BEGIN IMMEDIATE`` with a busy timeout. Each session is written by the one
process that owns it, so sequence numbers never collide.

Other processes (``attach``, ``serve``) never write events: they write *requests* (a gate answer,
pause, interrupt, ...) into the ``requests`` table, and the owner applies each one and settles
its row (``cockpit.engine.requests``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

from cockpit import checkpoints
from cockpit.events import (
    AnyEvent,
    Event,
    EventDecodeError,
    SessionFinished,
    SessionStarted,
    decode,
    encode,
    kind_of,
)
from cockpit.state import SessionState

SCHEMA_VERSION = 3  # 2: sessions.owner_start; 3: the requests table
BUSY_TIMEOUT_MS = 15_000
ENV_JOURNAL = "COCKPIT_JOURNAL"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    repo        TEXT NOT NULL,
    base_branch TEXT NOT NULL DEFAULT '',
    mode        TEXT NOT NULL DEFAULT 'run',
    started_at  REAL NOT NULL,
    finished_at REAL,
    status      TEXT NOT NULL DEFAULT 'running',
    owner_pid   INTEGER,
    owner_host  TEXT,
    updated_at  REAL,
    last_seq    INTEGER NOT NULL DEFAULT -1,
    owner_start INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    session TEXT NOT NULL REFERENCES sessions(id),
    seq     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    t       REAL NOT NULL,
    pr      INTEGER,
    data    BLOB NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events(session, kind, seq);
CREATE TABLE IF NOT EXISTS requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    gate       TEXT NOT NULL DEFAULT '',
    pr         INTEGER,
    answer     TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL DEFAULT '',
    text       TEXT,
    by         TEXT NOT NULL,
    t          REAL NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    message    TEXT NOT NULL DEFAULT '',
    settled_at REAL
);
CREATE INDEX IF NOT EXISTS requests_by_status ON requests(session, status, id);
"""


class JournalError(Exception):
    """The journal cannot be opened or written; the message names the file."""


class ImportError_(JournalError):
    """An export that cannot be imported; the message names the file and the line."""


@dataclass(frozen=True)
class SessionRow:
    id: str
    repo: str
    base_branch: str
    mode: str
    started_at: float
    finished_at: float | None
    status: str  # running | completed | failed | interrupted | unfinished (owner gone, no end)
    last_seq: int
    owner_pid: int | None = None
    owner_host: str = ""


_COLUMNS = (
    "id, repo, base_branch, mode, started_at, finished_at, status, owner_pid, owner_host, last_seq,"
    " owner_start"
)


RequestKind = Literal["answer", "pause", "resume", "interrupt", "skip"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("answer", "pause", "resume", "interrupt", "skip")


@dataclass(frozen=True)
class RequestRow:
    """A request from a process that does not own the session; only the owner settles it."""

    id: int
    session: str
    kind: str
    gate: str
    pr: int | None
    answer: str
    action: str
    text: str | None
    by: str
    t: float
    status: str  # pending | applying | applied | rejected
    message: str
    settled_at: float | None


def default_journal_path() -> Path:
    env = os.environ.get(ENV_JOURNAL)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("cockpit", appauthor=False)) / "journal.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # WAL + FULL: a commit is on disk when it returns
    return conn


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (field 22 of /proc/<pid>/stat).

    A pid can be reused by another process; the pair (pid, start time) cannot. None where there
    is no /proc or the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rfind(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def is_owner_alive(pid: int | None, host: str | None, start: int | None) -> bool:
    """Whether the process that owns a session still runs.

    Another host cannot be checked from here, so its sessions count as alive (never taken over
    by mistake). On this host the pid must exist and, when the journal knows its start time,
    have started then: a reused pid is not the owner.
    """
    if not isinstance(pid, int) or pid <= 0:
        return False
    if host and host != socket.gethostname():
        return True
    if not _pid_alive(pid):
        return False
    if start is None:
        return True
    now = process_start_ticks(pid)
    return now is None or now == start


@dataclass(frozen=True)
class Owner:
    """The process that owns (writes) a session."""

    pid: int | None
    host: str
    start: int | None

    @property
    def alive(self) -> bool:
        return is_owner_alive(self.pid, self.host, self.start)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host or 'an unknown host'}"


class Journal:
    """One journal file. Safe to use from one thread; writers get their own connection."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or default_journal_path()).expanduser().absolute()
        self._create_file()
        try:
            self._conn = _connect(self.path)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc

    def _create_file(self) -> None:
        """Create the file 0600 before SQLite does. Only when it is missing: closing any other
        descriptor of a database file drops every POSIX lock this process holds on it, so a
        second Journal in a process that already writes the file would let another process
        think it is the last one open, checkpoint, and drop the WAL this one still writes to."""
        if self.path.exists():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        except OSError as exc:
            raise JournalError(f"cannot create journal {self.path}: {exc.strerror or exc}") from exc

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} has schema {version}; this cockpit knows {SCHEMA_VERSION} "
                "(upgrade cockpit, or use --journal for a new file)"
            )
        if version < SCHEMA_VERSION:
            # Idempotent DDL: two processes creating a new journal at once both succeed.
            self._conn.executescript(_SCHEMA)
            columns = {r[1] for r in self._conn.execute("PRAGMA table_info(sessions)")}
            if "owner_start" not in columns:  # a version 1 journal
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it
                    self._conn.execute("ALTER TABLE sessions ADD COLUMN owner_start INTEGER")
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Additive tables (checkpoints, summaries): created whenever missing, whatever the version.
        checkpoints.ensure_tables(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sessions ----------------------------------------------------------------------------

    def begin_session(
        self, session_id: str, repo: str, base_branch: str, mode: str, started_at: float | None = None
    ) -> None:
        now = time.time()
        try:
            self._conn.execute(
                "INSERT INTO sessions (id, repo, base_branch, mode, started_at, owner_pid, owner_host,"
                " updated_at, owner_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    repo,
                    base_branch,
                    mode,
                    started_at or now,
                    os.getpid(),
                    socket.gethostname(),
                    now,
                    process_start_ticks(os.getpid()),
                ),
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc

    def owner(self, session_id: str) -> Owner:
        row = self._conn.execute(
            "SELECT owner_pid, owner_host, owner_start FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise JournalError(f"no session {session_id!r} in journal {self.path}")
        pid, host, start = row
        return Owner(pid if isinstance(pid, int) else None, str(host or ""), start)

    def take_over(self, session_id: str) -> Owner:
        """Make this process the owner of a session whose owner is gone (``cockpit resume``).

        Checked and written in one write transaction, so two resumes of one session cannot both
        win. Raises JournalError naming the owner when it is still alive. Returns the old owner.
        """
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                old = self.owner(session_id)
                (status,) = conn.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()
                if status == "running" and old.alive:
                    raise JournalError(
                        f"session {session_id} is still running ({old.describe()}); "
                        "stop it first, or watch it with `cockpit replay --follow`"
                    )
                conn.execute(
                    "UPDATE sessions SET owner_pid = ?, owner_host = ?, owner_start = ?, status = 'running',"
                    " finished_at = NULL, updated_at = ? WHERE id = ?",
                    (
                        os.getpid(),
                        socket.gethostname(),
                        process_start_ticks(os.getpid()),
                        time.time(),
                        session_id,
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        return old

    def _row(self, r: sqlite3.Row | tuple[Any, ...]) -> SessionRow:
        (sid, repo, base, mode, started, finished, status, pid, host, last_seq, start) = r
        if status == "running" and not is_owner_alive(pid, host, start):
            status = "unfinished"
        return SessionRow(
            str(sid),
            str(repo),
            str(base),
            str(mode),
            float(started),
            None if finished is None else float(finished),
            str(status),
            int(last_seq),
            pid if isinstance(pid, int) else None,
            str(host or ""),
        )

    def list_sessions(self, limit: int | None = None) -> list[SessionRow]:
        sql = f"SELECT {_COLUMNS} FROM sessions ORDER BY started_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._row(r) for r in self._conn.execute(sql)]

    def get_session(self, ref: str) -> SessionRow:
        """A session by id, unique id prefix, or "last"."""
        if ref in ("last", "latest"):
            rows = self.list_sessions(limit=1)
            if not rows:
                raise JournalError(f"journal {self.path} holds no sessions")
            return rows[0]
        rows = [
            self._row(r)
            for r in self._conn.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE id = ? OR id LIKE ? ORDER BY started_at DESC",
                (ref, ref.replace("%", "") + "%"),
            )
        ]
        exact = [r for r in rows if r.id == ref]
        if exact:
            return exact[0]
        if not rows:
            raise JournalError(f"no session {ref!r} in journal {self.path}")
        if len(rows) > 1:
            raise JournalError(f"{ref!r} matches {len(rows)} sessions: {', '.join(r.id for r in rows[:5])}")
        return rows[0]

    # --- events ------------------------------------------------------------------------------

    def read_events(
        self,
        session: str,
        from_seq: int = 0,
        *,
        to_seq: int | None = None,
        skip_kinds: Iterable[str] = (),
        skip_channels: Iterable[str] = (),
        batch: int = 500,
    ) -> Iterator[AnyEvent]:
        """Stream a session's events in order, seq in ``[from_seq, to_seq)``, without loading
        them all."""
        rows = self.read_raw(
            session, from_seq, to_seq=to_seq, skip_kinds=skip_kinds, skip_channels=skip_channels, batch=batch
        )
        for data in rows:
            yield decode(data)

    def read_raw(
        self,
        session: str,
        from_seq: int = 0,
        *,
        to_seq: int | None = None,
        skip_kinds: Iterable[str] = (),
        skip_channels: Iterable[str] = (),
        batch: int = 500,
    ) -> Iterator[bytes]:
        """The events' stored JSON, undecoded (an export copies it as it is).

        ``skip_channels`` leaves out ``dispatch_output`` events of those channels without
        decoding them: the stored JSON is cockpit's own encoding, in which the key
        ``"channel":"text"`` can only be the field (a quote inside a string is escaped)."""
        skip = tuple(skip_kinds)
        where = "session = ? AND seq >= ?"
        params: list[object] = [session, from_seq]
        if to_seq is not None:
            where += " AND seq < ?"
            params.append(to_seq)
        if skip:
            where += f" AND kind NOT IN ({', '.join('?' * len(skip))})"
            params += skip
        channels = tuple(skip_channels)
        if channels:
            where += (
                " AND NOT (kind = 'dispatch_output' AND ("
                + " OR ".join(["instr(data, ?) > 0"] * len(channels))
                + "))"
            )
            params += [f'"channel":"{c}"' for c in channels]
        cur = self._conn.execute(f"SELECT data FROM events WHERE {where} ORDER BY seq", params)
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for (data,) in rows:
                yield data.encode() if isinstance(data, str) else bytes(data)

    def export_chunks(self, session: str, chunk: int = 20_000) -> Iterator[bytes]:
        """The session's JSONL export: the stored JSON of each event, a newline after each,
        joined by SQLite a chunk at a time (a million events copy in a couple of seconds)."""
        last = self.get_session(session).last_seq
        for lo in range(0, last + 1, chunk):
            (data,) = self._conn.execute(
                "SELECT CAST(group_concat(data, char(10)) AS BLOB) FROM"
                " (SELECT data FROM events WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq)",
                (session, lo, lo + chunk),
            ).fetchone()
            if data:
                yield bytes(data) + b"\n"

    def count_events(self, session: str) -> int:
        return int(
            self._conn.execute("SELECT count(*) FROM events WHERE session = ?", (session,)).fetchone()[0]
        )

    # --- the replay index: checkpoints, summaries, milestones (cockpit/checkpoints.py) ------

    def checkpoint_before(self, session: str, seq: int) -> tuple[int, SessionState | None]:
        """The nearest reduced state folding at most ``seq`` events, and how many it folds."""
        return checkpoints.checkpoint_before(self._conn, session, seq)

    def state_at(self, session: str, seq: int | None = None) -> SessionState:
        """The session's state after its first ``seq`` events (all of them by default)."""
        if seq is None:
            seq = self.get_session(session).last_seq + 1
        return checkpoints.state_at(self._conn, session, seq)

    def summary(self, session: str) -> dict[str, Any]:
        """What ``cockpit sessions`` shows: stored once the session finished, else from the
        nearest checkpoint; a session journaled without checkpoints is indexed once here."""
        row = self.get_session(session)
        stored = checkpoints.read_summary(self._conn, session)
        if stored is not None and stored[0] >= row.last_seq + 1 and row.status != "unfinished":
            return stored[1]
        if row.status != "running" and self.checkpoint_before(session, row.last_seq + 1)[1] is None:
            with contextlib.suppress(sqlite3.Error):  # a read-only journal, say: fold without storing
                checkpoints.rebuild(self._conn, session)
        state = self.state_at(session, row.last_seq + 1)
        if row.status == "unfinished":  # its owner died: open PRs are interrupted, not "writing"
            state.mark_owner_gone()
        return checkpoints.summary_of(state)

    def stored_summary(self, session: str) -> dict[str, Any] | None:
        """The summary stored when the session finished, if any (never folds anything)."""
        stored = checkpoints.read_summary(self._conn, session)
        return stored[1] if stored is not None else None

    def time_span(self, session: str) -> tuple[float, float]:
        """The times of a session's first and last events (its clock on a timeline)."""
        first = self._conn.execute(
            "SELECT t FROM events WHERE session = ? ORDER BY seq LIMIT 1", (session,)
        ).fetchone()
        last = self._conn.execute(
            "SELECT t FROM events WHERE session = ? ORDER BY seq DESC LIMIT 1", (session,)
        ).fetchone()
        if first is None or last is None:
            return (0.0, 0.0)
        return float(first[0]), float(last[0])

    def event_index(self, session: str, kinds: Iterable[str]) -> list[tuple[int, float, str, int | None]]:
        """(seq, t, kind, pr) of the session's events of these kinds, in order (by index)."""
        out: list[tuple[int, float, str, int | None]] = []
        for kind in dict.fromkeys(kinds):  # one indexed range per kind (events_by_kind), then merged
            out += [
                (int(seq), float(t), kind, None if pr is None else int(pr))
                for seq, t, pr in self._conn.execute(
                    "SELECT seq, t, pr FROM events WHERE session = ? AND kind = ? ORDER BY seq",
                    (session, kind),
                )
            ]
        out.sort()
        return out

    def first_event_of_pr(self, session: str, pr: int) -> int | None:
        row = self._conn.execute(
            "SELECT seq FROM events WHERE session = ? AND kind = 'pr_opened' AND pr = ? ORDER BY seq LIMIT 1",
            (session, pr),
        ).fetchone()
        return None if row is None else int(row[0])

    # --- import (cockpit import): a JSONL export into this journal ---------------------------

    def import_jsonl(self, path: Path) -> tuple[str, int]:
        """Load an export (docs/events.md) as a session; returns (session id, events added).

        Every line is checked before anything is written, and everything is written in one
        transaction: a malformed or truncated line is an ``ImportError_`` naming it, and nothing
        is imported. Importing what the journal already holds adds nothing; an export that
        continues a session the journal holds part of adds the rest.
        """
        session, count, first, finished = self._check_export(path)
        existing: SessionRow | None = None
        with contextlib.suppress(JournalError):
            existing = self.get_session(session)
            if existing.id != session:
                existing = None
        have = 0
        if existing is not None:
            have = existing.last_seq + 1
            if have > count:
                raise ImportError_(
                    f"{path}: the journal holds more of session {session} ({have} events) than it"
                )
            stored = self.read_raw(session, 0, to_seq=have)
            for n, (line, data) in enumerate(zip(self._lines(path), stored, strict=False), 1):
                if encode(decode(line)) != data:
                    raise ImportError_(
                        f"{path}, line {n}: differs from session {session} already in the journal {self.path}"
                    )
            if have == count:
                return session, 0
        conn = self._conn
        ckpt = checkpoints.Checkpointer(session)
        try:
            conn.execute("BEGIN IMMEDIATE")
            if existing is None:
                conn.execute(
                    "INSERT INTO sessions (id, repo, base_branch, mode, started_at, updated_at, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'running')",
                    (session, first.repo, first.base_branch, first.mode, first.t, time.time()),
                )
            batch: list[tuple[Event, bytes]] = []
            for n, line in enumerate(self._lines(path)):
                if n < have:
                    continue
                ev = decode(line)
                batch.append((ev, encode(ev)))
                if len(batch) >= 5000:
                    self._insert(conn, session, batch, ckpt)
                    batch = []
            self._insert(conn, session, batch, ckpt)
            params: list[object] = [count - 1, time.time()]
            sql = "UPDATE sessions SET last_seq = ?, updated_at = ?"
            if finished is not None:
                sql += ", finished_at = ?, status = ?"
                params += [finished.t, finished.status]
            conn.execute(sql + " WHERE id = ?", (*params, session))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
            raise
        return session, count - have

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        session: str,
        batch: list[tuple[Event, bytes]],
        ckpt: checkpoints.Checkpointer,
    ) -> None:
        conn.executemany(
            "INSERT INTO events (session, seq, kind, t, pr, data) VALUES (?, ?, ?, ?, ?, ?)",
            [(session, ev.seq, kind_of(ev), ev.t, ev.pr, data) for ev, data in batch],
        )
        ckpt.add(conn, ((ev, len(data)) for ev, data in batch))

    @staticmethod
    def _lines(path: Path) -> Iterator[bytes]:
        with open(path, "rb") as f:
            for line in f:
                yield line.rstrip(b"\r\n")

    def _check_export(self, path: Path) -> tuple[str, int, SessionStarted, SessionFinished | None]:
        """One pass over the file: every line an event of one session, seq 0, 1, 2, ... in order."""
        session = ""
        count = 0
        first: SessionStarted | None = None
        finished: SessionFinished | None = None
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImportError_(f"cannot read {path}: {exc.strerror or exc}") from exc
        with f:
            for n, raw in enumerate(f, 1):
                if not raw.endswith(b"\n"):
                    raise ImportError_(f"{path}, line {n}: truncated (no end of line); nothing imported")
                try:
                    ev = decode(raw.rstrip(b"\r\n"))
                except EventDecodeError as exc:
                    raise ImportError_(f"{path}, line {n}: not an event ({exc}); nothing imported") from exc
                if n == 1:
                    if not isinstance(ev, SessionStarted):
                        raise ImportError_(f"{path}, line 1: an export starts with session_started")
                    session, first = ev.session, ev
                if ev.session != session:
                    raise ImportError_(f"{path}, line {n}: session {ev.session!r}, not {session!r}")
                if ev.seq != n - 1:
                    raise ImportError_(f"{path}, line {n}: seq {ev.seq}, expected {n - 1}")
                if finished is not None:
                    raise ImportError_(f"{path}, line {n}: an event after session_finished")
                if isinstance(ev, SessionFinished):
                    finished = ev
                count = n
        if first is None or not session:
            raise ImportError_(f"{path}: no events")
        return session, count, first, finished

    # --- requests (written by any process, settled only by the session's owner) -------------

    _REQUEST_COLS = "id, session, kind, gate, pr, answer, action, text, by, t, status, message, settled_at"

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc

    def add_request(
        self,
        session: str,
        kind: RequestKind,
        *,
        by: str,
        gate: str = "",
        pr: int | None = None,
        answer: str = "",
        action: str = "",
        text: str | None = None,
    ) -> int:
        """Queue a request for the session's owner; returns its id."""
        if kind not in REQUEST_KINDS:
            raise JournalError(f"unknown request kind {kind!r} (known: {', '.join(REQUEST_KINDS)})")
        cur = self._write(
            "INSERT INTO requests (session, kind, gate, pr, answer, action, text, by, t)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session, kind, gate, pr, answer, action, text, by, time.time()),
        )
        return int(cur.lastrowid or 0)

    def _request(self, r: tuple[Any, ...]) -> RequestRow:
        (rid, session, kind, gate, pr, answer, action, text, by, t, status, message, settled) = r
        return RequestRow(
            int(rid),
            str(session),
            str(kind),
            str(gate or ""),
            pr if isinstance(pr, int) else None,
            str(answer or ""),
            str(action or ""),
            None if text is None else str(text),
            str(by),
            float(t),
            str(status),
            str(message or ""),
            None if settled is None else float(settled),
        )

    def pending_requests(self, session: str) -> list[RequestRow]:
        """The session's unsettled requests, oldest first (the order they are applied in)."""
        rows = self._conn.execute(
            f"SELECT {self._REQUEST_COLS} FROM requests WHERE session = ? AND status = 'pending' ORDER BY id",
            (session,),
        )
        return [self._request(r) for r in rows]

    def requests(self, ids: Iterable[int]) -> list[RequestRow]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return []
        rows = self._conn.execute(
            f"SELECT {self._REQUEST_COLS} FROM requests WHERE id IN ({', '.join('?' * len(wanted))})"
            " ORDER BY id",
            wanted,
        )
        return [self._request(r) for r in rows]

    def session_requests(self, session: str) -> list[RequestRow]:
        rows = self._conn.execute(
            f"SELECT {self._REQUEST_COLS} FROM requests WHERE session = ? ORDER BY id", (session,)
        )
        return [self._request(r) for r in rows]

    def claim_request(self, request_id: int) -> bool:
        """Mark a pending request as being applied; False when someone settled it first.

        The claim is one conditional UPDATE, so a request is applied at most once even when two
        processes race for it."""
        cur = self._write(
            "UPDATE requests SET status = 'applying' WHERE id = ? AND status = 'pending'", (request_id,)
        )
        return cur.rowcount == 1

    def settle_request(
        self, request_id: int, status: Literal["applied", "rejected"], message: str = ""
    ) -> bool:
        """Record a request's outcome; False when it was already settled."""
        cur = self._write(
            "UPDATE requests SET status = ?, message = ?, settled_at = ?"
            " WHERE id = ? AND status IN ('pending', 'applying')",
            (status, message, time.time(), request_id),
        )
        return cur.rowcount == 1

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file: a free "anything new?" check."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def writer(
        self,
        session: str,
        on_committed: Callable[[list[Event]], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        checkpoint_every: int = checkpoints.CHECKPOINT_EVERY,
    ) -> JournalWriter:
        return JournalWriter(self.path, session, on_committed, on_error, checkpoint_every=checkpoint_every)


class JournalWriter:
    """Group-commit appender for one session, on a thread with its own connection."""

    def __init__(
        self,
        path: Path,
        session: str,
        on_committed: Callable[[list[Event]], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        checkpoint_every: int = checkpoints.CHECKPOINT_EVERY,
    ) -> None:
        self.path = path
        self.session = session
        self.on_committed = on_committed
        self.on_error = on_error
        self._pending: list[Event] = []
        self._cond = threading.Condition()
        self._appended = 0
        self._committed = 0
        self._closing = False
        self._error: BaseException | None = None
        self.lost = 0  # events that could not be written before close gave up (disk gone, say)
        self._checkpoint_every = checkpoint_every
        self._checkpoints: checkpoints.Checkpointer | None = checkpoints.Checkpointer(
            session, checkpoint_every
        )
        self.batches = 0
        try:
            self._conn = _connect(path)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write journal {path}: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name=f"journal-{session}", daemon=True)
        self._thread.start()

    def append(self, event: Event) -> None:
        """Queue an event; it is committed (and handed to on_committed) within milliseconds."""
        with self._cond:
            if self._closing:
                raise JournalError("journal writer is closed")
            self._pending.append(event)
            self._appended += 1
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Block until every event appended so far is committed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._appended
            while self._committed < target:
                if self._error is not None and not self._thread.is_alive():
                    raise JournalError(f"journal writer failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise JournalError(f"journal flush timed out ({target - self._committed} events pending)")
                self._cond.wait(min(left, 0.5))

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._closing:
                        self._cond.wait()
                    if not self._pending and self._closing:
                        return
                    batch, self._pending = self._pending, []
                written = self._commit_with_retry(batch)
                if written and self.on_committed is not None:
                    # Published before flush() returns, so "drained" means "views have it".
                    try:
                        self.on_committed(batch)
                    except Exception as exc:  # a view's bug must not stop the journal
                        self._report(exc)
                with self._cond:
                    self._committed += len(batch)
                    self._cond.notify_all()
        except BaseException as exc:  # an encoding bug, say: say so loudly, never die silently
            self._error = exc
            self._report(JournalError(f"journal writer for {self.path} stopped: {exc!r}"))
            with self._cond:
                self._cond.notify_all()

    def _commit_with_retry(self, batch: list[Event], give_up_s: float = 10.0) -> bool:
        """Commit, retrying a failing database; gives up only once closing has waited ``give_up_s``."""
        delay = 0.05
        closing_since: float | None = None
        while True:
            try:
                self._commit(batch)
                return True
            except sqlite3.Error as exc:
                # Locked past the busy timeout, disk full, I/O error: keep the batch, say so, retry.
                self._error = exc
                if self._closing:
                    closing_since = closing_since or time.monotonic()
                    if time.monotonic() - closing_since > give_up_s:
                        self.lost += len(batch)
                        self._report(
                            JournalError(f"journal {self.path}: {exc}; {len(batch)} events not written")
                        )
                        return False
                self._report(JournalError(f"journal {self.path}: {exc}; retrying"))
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _commit(self, batch: list[Event]) -> None:
        rows = [(self.session, ev.seq, kind_of(ev), ev.t, ev.pr, encode(ev)) for ev in batch]
        ckpt = self._checkpoints
        finished = [ev for ev in batch if isinstance(ev, SessionFinished)]
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR IGNORE INTO events (session, seq, kind, t, pr, data) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            params: list[object] = [time.time(), max(ev.seq for ev in batch)]
            sql = "UPDATE sessions SET updated_at = ?, last_seq = max(last_seq, ?)"
            if finished:
                sql += ", finished_at = ?, status = ?"
                params += [finished[-1].t, finished[-1].status]
            conn.execute(sql + " WHERE id = ?", (*params, self.session))
            if ckpt is not None:
                try:
                    conn.execute("SAVEPOINT checkpoint")
                    ckpt.add(conn, ((ev, len(r[5])) for ev, r in zip(batch, rows, strict=True)))
                    conn.execute("RELEASE checkpoint")
                except Exception as exc:  # the index must never cost an event: drop it, say so
                    conn.execute("ROLLBACK TO checkpoint")
                    conn.execute("RELEASE checkpoint")
                    self._checkpoints = None
                    self._report(JournalError(f"journal {self.path}: checkpoints stopped ({exc!r})"))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # The fold is not undone; a fresh checkpointer catches up from the journal instead.
            if self._checkpoints is not None:
                self._checkpoints = checkpoints.Checkpointer(self.session, self._checkpoint_every)
            raise
        self.batches += 1
        self._error = None

    def _report(self, exc: BaseException) -> None:
        if self.on_error is not None:
            with contextlib.suppress(Exception):
                self.on_error(exc)
