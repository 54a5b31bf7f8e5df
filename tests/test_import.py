"""cockpit import: an export loads into another journal, once, byte for byte; bad input is an error
naming its line, and nothing is imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.longsession import write_session
from cockpit.journal import ImportError_, Journal
from cockpit.state import fold


def cockpit(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, timeout=120)


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    write_session(tmp_path / "a.sqlite3", 3000, 3, session="s-exported", every=500)
    out = tmp_path / "s.jsonl"
    done = cockpit("export", "s-exported", "-o", str(out), "--journal", str(tmp_path / "a.sqlite3"))
    assert done.returncode == 0, done.stderr
    return out


def test_round_trip_is_byte_identical_and_idempotent(tmp_path: Path, exported: Path) -> None:
    b = tmp_path / "b.sqlite3"
    first = cockpit("import", str(exported), "--journal", str(b))
    assert first.returncode == 0 and b"imported session s-exported" in first.stdout, first.stderr
    again = cockpit("import", str(exported), "--journal", str(b))
    assert again.returncode == 0 and b"nothing added" in again.stdout
    back = cockpit("export", "s-exported", "--journal", str(b))
    assert back.stdout == exported.read_bytes()
    with Journal(b) as j, Journal(tmp_path / "a.sqlite3") as a:
        assert j.count_events("s-exported") == a.count_events("s-exported")
        row = j.get_session("s-exported")
        assert row.status == "completed" and row.finished_at is not None
        # Checkpoints and the summary come with it: a seek or `sessions` folds nothing whole.
        assert j.checkpoint_before("s-exported", 10**9)[1] == fold(a.read_events("s-exported"))
        assert j.summary("s-exported") == a.summary("s-exported")


def test_a_continuation_adds_the_rest(tmp_path: Path, exported: Path) -> None:
    lines = exported.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"".join(lines[:1000]))
    b = tmp_path / "b.sqlite3"
    with Journal(b) as j:
        assert j.import_jsonl(part) == ("s-exported", 1000)
        assert j.get_session("s-exported").status == "unfinished"  # no owner, no end yet
        assert j.import_jsonl(exported) == ("s-exported", len(lines) - 1000)
    assert cockpit("export", "s-exported", "--journal", str(b)).stdout == exported.read_bytes()


@pytest.mark.parametrize(
    ("damage", "line", "why"),
    [
        (lambda ls: [*ls[:5], b'{"kind": "nonsense"}\n', *ls[6:]], 6, "not an event"),
        (lambda ls: [*ls[:-1], ls[-1][:-20]], -1, "truncated"),
        (lambda ls: [*ls[:7], ls[8], ls[7], *ls[9:]], 8, "seq 8, expected 7"),
        (lambda ls: [b"garbage\n", *ls], 1, "not an event"),
    ],
)
def test_bad_lines_are_named_and_nothing_is_imported(
    tmp_path: Path, exported: Path, damage: object, line: int, why: str
) -> None:
    lines = exported.read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(damage(lines)))  # type: ignore[operator]
    n = len(lines) if line == -1 else line
    b = tmp_path / "b.sqlite3"
    done = cockpit("import", str(bad), "--journal", str(b))
    assert done.returncode == 2
    assert f"line {n}:".encode() in done.stderr and why.encode() in done.stderr
    with Journal(b) as j:
        assert j.list_sessions() == [] and j._conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    with pytest.raises(ImportError_):
        Journal(b).import_jsonl(bad)
