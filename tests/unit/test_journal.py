"""The journal: durable group commits, ordered reads, listing, permissions, two processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from cockpit import events as E
from cockpit.journal import SCHEMA_VERSION, Journal, JournalError


def ev(i: int, session: str = "s1", text: str = "x") -> E.DispatchOutput:
    return E.DispatchOutput(
        session=session, seq=i, t=1000.0 + i, pr=1, dispatch="d1", channel="text", text=text
    )


def test_round_trip_and_reads_from_any_seq(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.begin_session("s1", "/repo", "main", "run")
    w = j.writer("s1")
    all_events: list[E.Event] = [
        E.SessionStarted(
            session="s1", seq=0, t=1.0, repo="/repo", base_branch="main", base_sha="abc", worktree_root="/wt"
        )
    ]
    all_events += [ev(i) for i in range(1, 1200)]
    for e in all_events:
        w.append(e)
    w.flush()
    w.close()
    assert list(j.read_events("s1")) == all_events
    assert [e.seq for e in j.read_events("s1", from_seq=1150)] == list(range(1150, 1200))
    assert [e.seq for e in j.read_events("s1", skip_kinds=("dispatch_output",))] == [0]
    assert j.count_events("s1") == 1200
    assert j.list_sessions()[0].last_seq == 1199


def test_flushed_events_are_visible_to_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/repo", "main", "run")
    w = j.writer("s1")
    w.append(ev(0))
    w.flush()
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    w.close()


def test_on_committed_sees_only_committed_events_in_order(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/repo", "main", "run")
    reader = sqlite3.connect(path, check_same_thread=False)
    seen: list[int] = []
    missing: list[int] = []

    def committed(batch: list[E.Event]) -> None:
        for e in batch:
            row = reader.execute("SELECT 1 FROM events WHERE session = 's1' AND seq = ?", (e.seq,)).fetchone()
            if row is None:
                missing.append(e.seq)
            seen.append(e.seq)

    w = j.writer("s1", on_committed=committed)
    for i in range(3000):
        w.append(ev(i))
    w.flush()
    w.close()
    assert seen == list(range(3000)) and missing == []
    assert w.batches < 3000  # batched


def test_session_status_and_listing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.begin_session("a-1", "/r", "main", "run", started_at=10.0)
    j.begin_session("b-2", "/r", "main", "demo", started_at=20.0)
    w = j.writer("a-1")
    w.append(E.SessionFinished(session="a-1", seq=0, t=30.0, status="completed"))
    w.flush()
    w.close()
    rows = {r.id: r for r in j.list_sessions()}
    assert rows["a-1"].status == "completed" and rows["a-1"].finished_at == 30.0
    assert rows["b-2"].status == "running"  # owned by this live process
    assert [r.id for r in j.list_sessions()] == ["b-2", "a-1"]
    assert j.get_session("last").id == "b-2"
    assert j.get_session("a").id == "a-1"
    with pytest.raises(JournalError, match="no session"):
        j.get_session("zzz")


def test_a_session_whose_owner_died_is_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE sessions SET owner_pid = 999999999")
    conn.commit()
    assert j.list_sessions()[0].status == "unfinished"


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    w = j.writer("s1")
    w.append(ev(0))
    w.flush()
    for p in path.parent.iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    w.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    with pytest.raises(JournalError, match="schema"):
        Journal(path)


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalError, match="cannot create journal"):
        Journal(tmp_path / "file" / "j.sqlite3")


def _append_many(path: str, session: str, n: int) -> None:
    j = Journal(Path(path))
    j.begin_session(session, "/r", "main", "run")
    w = j.writer(session)
    for i in range(n):
        w.append(ev(i, session, text=f"{session}-{i}"))
        if i % 100 == 0:
            time.sleep(0.001)
    w.flush()
    w.close()
    j.close()


def test_two_processes_share_one_journal(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    Journal(Path(path)).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, f"p{k}", 2000)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    j = Journal(Path(path))
    for k in range(2):
        got = list(j.read_events(f"p{k}"))
        assert [e.seq for e in got] == list(range(2000))
        assert all(e.text == f"p{k}-{e.seq}" for e in got)  # type: ignore[attr-defined]
    assert j._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_bad_rows_are_reported_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO events (session, seq, kind, t, pr, data) VALUES ('s1', 0, 'x', 0, NULL, 'not json')"
    )
    conn.commit()
    with pytest.raises(E.EventDecodeError):
        list(j.read_events("s1"))


def test_a_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    """The owner is (pid, start time): a live process with the owner's pid but another start
    time is someone else, so the session is unfinished and can be taken over."""
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.begin_session("s1", "/r", "main", "run")
    assert j.owner("s1").alive and j.list_sessions()[0].status == "running"
    with pytest.raises(JournalError, match=r"still running \(pid \d+ on "):
        j.take_over("s1")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE sessions SET owner_start = owner_start + 1")  # same pid, other process
    conn.commit()
    assert not j.owner("s1").alive
    assert j.list_sessions()[0].status == "unfinished"
    old = j.take_over("s1")
    assert old.pid is not None and j.owner("s1").alive and j.list_sessions()[0].status == "running"


def test_a_version_1_journal_gains_the_owner_start_column(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, repo TEXT NOT NULL, base_branch TEXT NOT NULL DEFAULT '',"
        " mode TEXT NOT NULL DEFAULT 'run', started_at REAL NOT NULL, finished_at REAL,"
        " status TEXT NOT NULL DEFAULT 'running', owner_pid INTEGER, owner_host TEXT, updated_at REAL,"
        " last_seq INTEGER NOT NULL DEFAULT -1);"
        "INSERT INTO sessions (id, repo, started_at, owner_pid) VALUES ('old', '/r', 1.0, 999999999);"
        "PRAGMA user_version = 1;"
    )
    conn.commit()
    conn.close()
    j = Journal(path)
    assert j.get_session("old").status == "unfinished"
    assert j.owner("old").start is None
