"""The view's parts without a live session: transcripts, the model's fold, the countdown, the
stream view's scrolling, model text shown literally, and a replay (no controls) staying read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, ComposeResult

from cockpit.bus import EventBus
from cockpit.events import (
    DispatchOutput,
    DispatchStarted,
    Event,
    Finding,
    GateOpened,
    PrClosed,
    PrOpened,
    RoundStarted,
    SessionStarted,
    VerdictParsed,
    Warn,
)
from cockpit.tui.app import CockpitApp
from cockpit.tui.countdown import Countdown
from cockpit.tui.diff_render import render_file, split_patch
from cockpit.tui.model import CLOSED_LINES, ViewModel
from cockpit.tui.transcript import Transcript
from cockpit.tui.widgets.gate_banner import GateBanner
from cockpit.tui.widgets.reviewers import ReviewerCard
from cockpit.tui.widgets.stream_view import StreamView
from tests.tui.scenes import index_of, recorded_events

E = TypeVar("E", bound=Event)

# --- transcript ------------------------------------------------------------------------------


def test_partial_lines_continue_and_new_lines_start_fresh() -> None:
    t = Transcript()
    t.write("Hello, ", ".stream--text")
    t.write("world\nSecond", ".stream--text")
    t.write(" line\n", ".stream--text")
    assert t.plain_tail(5) == ["Hello, world", "Second line"]
    assert not t.open


def test_a_complete_line_mid_sentence_goes_above_the_partial_line() -> None:
    t = Transcript()
    t.write("Added slug.py and ", ".stream--text")
    t.line(("● commit 0ec4729a", ".stream--commit"))
    t.write("its tests.\n", ".stream--text")
    assert t.plain_tail(5) == ["● commit 0ec4729a", "Added slug.py and its tests."]


def test_the_transcript_is_capped_and_ids_keep_counting() -> None:
    t = Transcript(max_lines=100)
    for i in range(250):
        t.line((f"line {i}", ""))
    assert len(t.lines) == 100
    assert t.first == 150
    assert t.plain_tail(1) == ["line 249"]


def test_long_lines_are_cut_and_escapes_are_made_visible() -> None:
    t = Transcript(max_line_chars=50)
    t.write("x" * 500 + "\n", "")
    t.write("\x1b[2J\x1b]0;pwned\x07[bold]not markup[/]\n", "")
    cut, escaped = t.plain_tail(2)
    assert cut.startswith("x" * 50) and cut.endswith("(line cut)")
    assert "\x1b" not in escaped and "\x07" not in escaped
    assert escaped == "␛[2J␛]0;pwned␇[bold]not markup[/]"


# --- model -----------------------------------------------------------------------------------


def _ev(cls: type[E], seq: int, **kw: Any) -> E:
    return cls(session="s", seq=seq, t=100.0 + seq, **kw)


def _started_session(model: ViewModel) -> None:
    model.apply(_ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"))
    for n in (1, 2):
        model.apply(_ev(PrOpened, n, pr=n, title=f"PR {n}", task="t", branch=f"b{n}"))


def test_focus_follows_activity_but_a_pr_waiting_for_you_keeps_it() -> None:
    m = ViewModel()
    _started_session(m)
    m.apply(_ev(DispatchStarted, 3, pr=1, dispatch="d1", role="writer", backend="s", model="m", round=1))
    assert m.focus_pr == 1
    m.apply(
        _ev(GateOpened, 4, pr=2, gate="g1", gate_kind="brief", round=1, proposal="write", options=["approve"])
    )
    assert m.focus_pr == 2
    m.apply(_ev(DispatchOutput, 5, pr=1, dispatch="d1", channel="text", text="busy\n"))
    m.apply(_ev(DispatchStarted, 6, pr=1, dispatch="d2", role="reviewer", backend="s", model="m", round=1))
    assert m.focus_pr == 2


def test_writer_outputs_become_styled_transcript_lines() -> None:
    m = ViewModel()
    _started_session(m)
    m.apply(_ev(RoundStarted, 3, pr=1, round=1, brief="b"))
    m.apply(_ev(DispatchStarted, 4, pr=1, dispatch="d1", role="writer", backend="s", model="m", round=1))
    m.apply(_ev(DispatchOutput, 5, pr=1, dispatch="d1", channel="reasoning", text="thinking\n"))
    m.apply(_ev(DispatchOutput, 6, pr=1, dispatch="d1", channel="command", text="pytest -q"))
    m.apply(
        _ev(
            DispatchOutput,
            7,
            pr=1,
            dispatch="d1",
            channel="command_output",
            text="1 failed\n",
            meta={"exit_code": 1},
        )
    )
    tail = m.transcript(1).plain_tail(4)
    assert tail == ["thinking", "$ pytest -q", "  1 failed", "  ✗ exit 1"]
    reasoning = m.transcript(1).lines[-4]
    assert [s.style for s in reasoning.spans] == [".stream--reasoning"]


# --- countdown -------------------------------------------------------------------------------


def test_countdown_fires_once_and_a_stop_is_for_good() -> None:
    now = [0.0]
    c = Countdown(10, lambda: now[0])
    c.opened("g1")
    now[0] = 9.5
    assert c.due() == []
    assert c.remaining("g1") == 0.5
    now[0] = 10
    assert c.due() == ["g1"]
    assert c.due() == []
    c.opened("g2")
    assert c.stop()
    c.opened("g3")
    now[0] = 100
    assert c.due() == []
    assert not c.stop()


# --- diff ------------------------------------------------------------------------------------


def test_a_patch_splits_per_file_and_renders_with_line_numbers() -> None:
    patch = (
        "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n"
        "@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
        "diff --git a/b.md b/b.md\nnew file mode 100644\n--- /dev/null\n+++ b/b.md\n@@ -0,0 +1 @@\n+[bold]hi\n"
    )
    files = split_patch(patch)
    assert [f.path for f in files] == ["a.py", "b.md"]
    lines = render_file(files[0]).plain.splitlines()
    assert any(ln.split() == ["1", "1", "x", "=", "1"] for ln in lines)
    assert any(ln.split() == ["2", "-", "y", "=", "2"] for ln in lines)
    assert any(ln.split() == ["2", "+", "y", "=", "3"] for ln in lines)
    assert "[bold]hi" in render_file(files[1]).plain


# --- widgets ---------------------------------------------------------------------------------


def _following(view: StreamView) -> bool:
    return view.following


class _StreamApp(App[None]):
    def __init__(self, t: Transcript) -> None:
        super().__init__()
        self.t = t

    def compose(self) -> ComposeResult:
        yield StreamView(self.t)


async def test_stream_view_follows_the_end_until_the_user_scrolls_up() -> None:
    t = Transcript()
    app = _StreamApp(t)
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(StreamView)
        for i in range(50):
            t.line((f"line {i}", ""))
        view.sync()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        view.scroll_to(y=5, animate=False, immediate=True)
        await pilot.pause()
        assert not _following(view)
        for i in range(50, 60):
            t.line((f"line {i}", ""))
        view.sync()
        await pilot.pause()
        assert view.scroll_y == 5  # stays where the reader is
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert _following(view)
        t.line(("line 60", ""))
        view.sync()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y


async def test_model_text_is_shown_literally_everywhere(tmp_path: Path) -> None:
    """Markup-like text and escape sequences from models reach the screen as typed, harmlessly."""
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 200.0)
    evil = "[bold red]x[/] [/] [@click=app.quit]q[/] \x1b[31mred\x1b[0m"
    async with app.run_test(size=(120, 40)) as pilot:
        events: list[Event] = [
            _ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"),
            _ev(PrOpened, 1, pr=1, title=evil, task=evil, branch="b"),
            _ev(DispatchStarted, 2, pr=1, dispatch="d1", role="writer", backend="s", model="m", round=1),
            _ev(DispatchOutput, 3, pr=1, dispatch="d1", channel="text", text=evil + "\n"),
            _ev(
                DispatchStarted,
                4,
                pr=1,
                dispatch="d2",
                role="reviewer",
                backend="s",
                model="m",
                round=1,
                name="r",
            ),
            _ev(
                VerdictParsed,
                5,
                pr=1,
                dispatch="d2",
                round=1,
                reviewer="r",
                commit="c",
                verdict="changes",
                summary=evil,
                findings=[Finding("major", evil, "[x].py", 3)],
            ),
            _ev(
                GateOpened,
                6,
                pr=1,
                gate="g1",
                gate_kind="decision",
                round=1,
                proposal="fix",
                summary=evil,
                options=["approve"],
            ),
        ]
        bus.publish(events)
        await app.settled()
        await pilot.pause()
        shown = "␛[31mred␛[0m"
        assert "[bold red]x[/] [/] [@click=app.quit]q[/] " + shown in app.model.transcript(1).plain_tail(1)[0]
        card = app.screen.query_one(ReviewerCard)
        body = card._body.content
        assert "[bold red]x[/]" in str(getattr(body, "plain", body))
        banner = app.screen.query_one(GateBanner)
        assert "[@click=app.quit]q[/]" in str(getattr(banner.content, "plain", banner.content))
        assert app.is_running  # nothing was interpreted as an action or broke the layout


async def test_a_replay_without_controls_says_keys_are_read_only() -> None:
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 0.0)
    upto = index_of("gate_opened", gate="g5") + 1
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        bus.publish(recorded_events()[:upto])
        await app.settled()
        await pilot.press("a", "x", "p")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages and all("replay" in m for m in messages)
        assert app.model.state.gates  # still open: nothing was answered


def test_transcripts_of_prs_closed_long_ago_shrink() -> None:
    m = ViewModel()
    m.apply(_ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"))
    seq = 1
    for n in range(1, 12):
        m.apply(_ev(PrOpened, seq, pr=n, title=f"PR {n}", task="t", branch=f"b{n}"))
        seq += 1
        for i in range(600):
            m.apply(_ev(Warn, seq, pr=n, message=f"line {i}"))
            seq += 1
        m.apply(_ev(PrClosed, seq, pr=n, outcome="merged"))
        seq += 1
    sizes = {n: len(m.transcripts[n].lines) for n in range(1, 12)}
    assert all(sizes[n] <= CLOSED_LINES for n in (1, 2, 3))
    assert all(sizes[n] > 600 for n in range(4, 12))
    assert m.transcripts[1].plain_tail(1)[0].startswith("■ closed merged")
