"""The recorder with the real journal: bounded output per dispatch, secrets cut from every event."""

from __future__ import annotations

from pathlib import Path

from cockpit.backends.base import Output
from cockpit.bus import EventBus
from cockpit.engine.recorder import MAX_BUFFER_CHARS, MAX_DISPATCH_OUTPUT_CHARS, Recorder
from cockpit.events import CommitSeen, DispatchFinished, DispatchOutput
from cockpit.journal import Journal


async def recorded(tmp_path: Path, feed: list[Output], cap: int, secrets: tuple[str, ...] = ()) -> list:  # type: ignore[type-arg]
    journal = Journal(tmp_path / "j.sqlite3")
    journal.begin_session("s", str(tmp_path), "main", "test")
    rec = Recorder(journal, "s", EventBus(), secrets=secrets)
    rec.max_output_chars = cap
    for out in feed:
        rec.output("d1", 1, out)
    rec.emit(DispatchFinished(pr=1, dispatch="d1", role="writer", status="ok"))
    await rec.aclose()
    events = list(journal.read_events("s"))
    journal.close()
    return events


def test_the_documented_limit() -> None:
    assert MAX_DISPATCH_OUTPUT_CHARS == 8 * 1024 * 1024


async def test_output_past_the_cap_is_dropped_counted_and_marked(tmp_path: Path) -> None:
    feed = [Output("text", "a" * 600), Output("text", "b" * 600), Output("stderr", "c" * 300)]
    events = await recorded(tmp_path, feed, cap=1000)
    outs = [e for e in events if isinstance(e, DispatchOutput)]
    stored = "".join(e.text for e in outs if e.channel in ("text", "stderr"))
    assert stored == "a" * 600 + "b" * 400
    markers = [e for e in outs if e.meta.get("type") == "output_cut"]
    assert len(markers) == 2
    assert "output cut at 1,000 characters" in markers[0].text
    assert markers[1].meta["dropped"] == 200 + 300 and "500 characters of output dropped" in markers[1].text
    assert isinstance(events[-1], DispatchFinished)  # the count comes before the dispatch's end


async def test_a_huge_piece_is_stored_in_slices(tmp_path: Path) -> None:
    events = await recorded(tmp_path, [Output("text", "x" * (5 * MAX_BUFFER_CHARS + 7))], cap=10**9)
    texts = [e.text for e in events if isinstance(e, DispatchOutput)]
    assert all(len(t) <= MAX_BUFFER_CHARS for t in texts) and sum(map(len, texts)) == 5 * MAX_BUFFER_CHARS + 7


async def test_secrets_are_cut_from_every_field(tmp_path: Path) -> None:
    token = "sk-ant-api03-" + "Q" * 30
    journal = Journal(tmp_path / "j.sqlite3")
    journal.begin_session("s", str(tmp_path), "main", "test")
    rec = Recorder(journal, "s", EventBus(), secrets=["named-secret-value"])
    rec.emit(
        CommitSeen(
            pr=1, sha="a", parents=[], message=f"oops {token}", branch="b", author="named-secret-value"
        )
    )
    await rec.aclose()
    (ev,) = journal.read_events("s")
    journal.close()
    assert isinstance(ev, CommitSeen) and ev.message == "oops [redacted]" and ev.author == "[redacted]"
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite3*"))
    assert token.encode() not in blob and b"named-secret-value" not in blob
