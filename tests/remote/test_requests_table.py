"""The journal's requests table: written by anyone, claimed and settled once, by the owner."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit import events as E
from cockpit.journal import Journal, JournalError


def test_a_request_is_claimed_once_and_settled_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    a, b = Journal(path), Journal(path)
    a.begin_session("s", "/repo", "main", "run")
    rid = b.add_request("s", "answer", by="attach:1@h", gate="g1", answer="approve")
    assert [r.id for r in a.pending_requests("s")] == [rid]
    assert a.claim_request(rid) and not b.claim_request(rid)  # two owners racing: one wins
    assert a.pending_requests("s") == []
    assert a.settle_request(rid, "applied")
    assert not b.settle_request(rid, "rejected", "late")  # settled stays settled
    (row,) = b.requests([rid])
    assert (row.status, row.message, row.by, row.gate) == ("applied", "", "attach:1@h", "g1")
    with pytest.raises(JournalError, match="unknown request kind"):
        b.add_request("s", "merge", by="x")  # type: ignore[arg-type]
    a.close()
    b.close()


def test_a_schema_1_journal_gains_the_requests_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, repo TEXT NOT NULL, base_branch TEXT NOT NULL DEFAULT '',"
        " mode TEXT NOT NULL DEFAULT 'run', started_at REAL NOT NULL, finished_at REAL,"
        " status TEXT NOT NULL DEFAULT 'running', owner_pid INTEGER, owner_host TEXT, updated_at REAL,"
        " last_seq INTEGER NOT NULL DEFAULT -1);"
        "INSERT INTO sessions (id, repo, started_at) VALUES ('old', '/r', 1.0);"
        "PRAGMA user_version = 1;"
    )
    conn.close()
    with Journal(path) as j:
        assert j.get_session("old").status == "unfinished"
        rid = j.add_request("old", "pause", by="attach:1@h")
        assert [r.kind for r in j.requests([rid])] == ["pause"]


def _count_elsewhere(path: Path) -> int:
    """Another process opens the journal, counts the events, and closes it (the last one open?)."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM events').fetchone()[0]); c.close()"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_a_second_journal_in_a_writing_process_keeps_its_events_visible(tmp_path: Path) -> None:
    """The owner opens a second Journal for its request poller. Opening must not close another
    descriptor of the file: that drops the process's SQLite locks, a reader elsewhere then takes
    itself for the last connection and removes the WAL the owner still writes to."""
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s", "/repo", "main", "run")
    w = j.writer("s")
    w.append(E.Warn(session="s", seq=0, t=1.0, code="x", message="one"))
    w.flush()
    second = Journal(path)
    assert _count_elsewhere(path) == 1
    w.append(E.Warn(session="s", seq=1, t=2.0, code="x", message="two"))
    w.flush()
    assert _count_elsewhere(path) == 2
    w.close()
    second.close()
    j.close()
