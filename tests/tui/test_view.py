"""The view's parts without a live session: transcripts, the model's fold, the countdown, the
stream view's scrolling, model text shown literally, and a replay (no controls) staying read-only."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, ComposeResult

from cockpit.bus import EventBus
from cockpit.events import (
    DispatchFinished,
    DispatchOutput,
    DispatchStarted,
    Event,
    FileStat,
    Finding,
    GateOpened,
    HumanDecision,
    PrClosed,
    PrOpened,
    RoundStarted,
    SessionFinished,
    SessionStarted,
    Usage,
    VerdictParsed,
    Warn,
)
from cockpit.git.model import Diff
from cockpit.git.repo import Repo
from cockpit.headless import summary_lines
from cockpit.state import DispatchState
from cockpit.tui.app import CockpitApp
from cockpit.tui.countdown import Countdown
from cockpit.tui.diff_render import MAX_BAND_WIDTH, MAX_LINE_CHARS, render_file
from cockpit.tui.model import CLOSED_LINES, ComposerDoc, StreamText, ViewModel
from cockpit.tui.screens.diff import DiffScreen
from cockpit.tui.screens.editor import EditorScreen
from cockpit.tui.transcript import Transcript
from cockpit.tui.widgets.composer import ComposerPane
from cockpit.tui.widgets.gate_banner import BannerView, GateBanner, done_content, keys_content
from cockpit.tui.widgets.header import header_content
from cockpit.tui.widgets.keys_footer import KeysFooter
from cockpit.tui.widgets.reviewers import TAIL_LINE_CHARS, ReviewerCard, card_content
from cockpit.tui.widgets.stream_view import StreamView
from tests.tui.scenes import index_of, recorded_events, scratch_controls

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


def test_only_the_gate_on_the_banner_counts_down_and_a_stop_is_for_good() -> None:
    now = [0.0]
    c = Countdown(10, lambda: now[0])
    c.target("g1")
    assert c.remaining("g2") is None  # open, but not on the banner: it does not count down
    now[0] = 9.5
    assert c.due() == []
    assert c.remaining("g1") == 0.5
    c.target("g2")  # the banner moved on: g2 gets its full time from now, g1 stops counting
    assert c.remaining("g1") is None
    now[0] = 19
    assert c.due() == []
    now[0] = 19.5
    assert c.due() == ["g2"]
    assert c.due() == []
    c.closed("g2")
    c.target("g3")
    assert c.stop()
    c.target("g4")
    now[0] = 100
    assert c.due() == []
    assert not c.stop()


# --- diff ------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_each_file_keeps_its_own_patch_non_ascii_paths_included(tmp_path: Path) -> None:
    """git quotes a non-ASCII path in the header (``"a/\\303\\251.txt"``): its hunk stays its own."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    (tmp_path / "é.txt").write_text("x\n", encoding="utf-8")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    _git(tmp_path, "checkout", "-qb", "pr")
    (tmp_path / "a.txt").write_text("a2\n", encoding="utf-8")
    (tmp_path / "é.txt").write_text("y\n", encoding="utf-8")
    _git(tmp_path, "commit", "-qam", "two")
    diff = Repo.open(tmp_path).diff("main", "pr")
    assert '"a/\\303\\251.txt"' in diff.text  # the quoted header the old splitter missed
    assert sorted(diff.patches) == sorted(f.path for f in diff.files) == ["a.txt", "é.txt"]
    assert "+y" in diff.patches["é.txt"] and "+y" not in diff.patches["a.txt"]
    shown = render_file("é.txt", diff.patches["é.txt"]).plain.splitlines()
    assert any(ln.split() == ["1", "+", "y"] for ln in shown)


def test_a_patch_renders_with_line_numbers_and_literal_text() -> None:
    a = "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
    lines = render_file("a.py", a).plain.splitlines()
    assert any(ln.split() == ["1", "1", "x", "=", "1"] for ln in lines)
    assert any(ln.split() == ["2", "-", "y", "=", "2"] for ln in lines)
    assert any(ln.split() == ["2", "+", "y", "=", "3"] for ln in lines)
    b = "diff --git a/b.md b/b.md\n--- /dev/null\n+++ b/b.md\n@@ -0,0 +1 @@\n+[bold]hi \x1b]2;t\x07\n"
    assert "[bold]hi ␛]2;t␇" in render_file("b.md", b).plain


def test_minified_lines_and_huge_hunks_are_cut() -> None:
    head = "diff --git a/x.js b/x.js\n--- a/x.js\n+++ b/x.js\n"
    minified = head + "@@ -1 +1,3 @@\n-" + "var a=1;" * 25_000 + "\n+short\n+also short\n"
    rows = render_file("x.js", minified).plain.splitlines()
    long_row = next(r for r in rows if "var a=1;" in r)
    assert long_row.endswith("…") and len(long_row) <= MAX_LINE_CHARS + 20
    short_row = next(r for r in rows if r.rstrip().endswith("+ short"))
    assert len(short_row) <= MAX_BAND_WIDTH  # padded into a band, not to the minified line's width
    huge = head + "@@ -0,0 +1,100000 @@\n" + "".join(f"+x_{i} = {i}\n" for i in range(100_000))
    rows = render_file("x.py", huge, max_lines=500).plain.splitlines()
    assert len(rows) == 501
    assert rows[-2].split() == ["497", "+", "x_496", "=", "496"]  # after 2 header rows and the hunk's
    assert rows[-1].startswith("… cut at 500 lines")


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


async def test_a_replay_offers_only_the_keys_that_apply_and_changes_nothing() -> None:
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 0.0)
    upto = index_of("gate_opened", gate="g5") + 1
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        bus.publish(recorded_events()[:upto])
        await app.settled()
        await pilot.pause()
        footer = {name for name, *_ in app.footer_keys()}
        changes = {"approve", "override", "edit", "retry", "skip", "abandon", "interrupt", "add_pr"}
        assert not changes & footer  # a replay changes nothing: its footer does not offer to
        assert {"diff", "follow", "quit", "help"} <= footer
        assert "q quit" in app.screen.query_one(KeysFooter).render().plain  # fits, not cut off
        await pilot.press("a", "x", "p")
        await pilot.pause()
        assert app.model.state.gates  # still open: nothing was answered
        app.commands.approve()  # the command palette still reaches it, and says why not
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages and all("replay" in m for m in messages)


def test_transcripts_of_prs_closed_long_ago_shrink() -> None:
    m = ViewModel()
    m.apply(_ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"))
    seq = 1
    for n in range(1, 12):
        m.apply(_ev(PrOpened, seq, pr=n, title=f"PR {n}", task="t", branch=f"b{n}"))
        m.composer[n] = ComposerDoc(f"decision-{n}", "Decision · round 1", "x" * 20_000)
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
    assert all(len(m.composer[n].text) < 5_000 for n in (1, 2, 3))  # their documents too
    assert all(len(m.composer[n].text) == 20_000 for n in range(4, 12))


# --- composer pane -----------------------------------------------------------------------------


class _ComposerApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ComposerPane(id="composer")


async def _until_settled(pane: ComposerPane, pilot: Any) -> None:
    for _ in range(500):
        if pane.settled.is_set():
            return
        await pilot.pause(0.01)
    raise AssertionError("the composer pane never caught up")


async def test_the_composer_pane_draws_a_new_document_and_its_stream_in_the_same_frame() -> None:
    """A document handed to the pane is on screen in the next refresh, and more text under the same
    document is appended to it: nothing is drawn later, so nothing can lag or be lost."""
    app = _ComposerApp()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(ComposerPane)
        await pilot.pause()
        pane.show(ComposerDoc("a", "Decision · round 1", "### Proposes MERGE\n\nPR 1's verdicts.\n"), 1)
        pane.show(ComposerDoc("b", "Brief · round 1", "# Slugs\n\nPR 3's brief.\n", streaming=True), 3)
        assert "PR 3's brief" in pane.text.content.plain
        brief = ComposerDoc("b", "Brief · round 1", "# Slugs\n\nPR 3's brief.\n", streaming=True)
        brief.add("More of it, streamed.\n")
        pane.show(brief, 3)
        assert pane.text.content.plain.endswith("More of it, streamed.")


async def test_a_composer_call_that_wrote_nothing_does_not_wait_forever() -> None:
    app = _ComposerApp()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(ComposerPane)
        doc = ComposerDoc("c1", "Brief · round 1", streaming=True)
        pane.show(doc, 1)
        await pilot.pause()
        assert "Waiting for the composer" in pane.source
        doc.streaming = False
        pane.show(doc, 1)
        assert pane.source == "*The composer wrote nothing.*"


async def test_angle_bracket_text_in_the_composer_pane_stays_visible() -> None:
    """Markdown may style the text, but every character the model wrote is on the screen."""
    app = _ComposerApp()
    text = (
        "## Set the key\n\nRun `export ANTHROPIC_API_KEY=<your key>` first, then <b>not bold</b>.\n\n"
        "- keep <angle> text\n- and a <br> tag\n\n```sh\necho <placeholder> & done\n```\n"
    )
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(ComposerPane)
        pane.show(ComposerDoc("b", "Brief · round 1", text), 1)
        await pilot.pause()
        svg = app.export_screenshot()
        shown = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
        pieces = (
            "ANTHROPIC_API_KEY=<your key>",
            "<b>not bold</b>",
            "<angle>",
            "<br>",
            "echo <placeholder> & done",
        )
        for piece in pieces:
            assert piece in shown, piece


def test_a_reviewer_streaming_one_long_line_keeps_a_short_card_showing_the_end() -> None:
    d = DispatchState("d1", "reviewer", "ollama", "glm", pr=1, round=1, name="correctness")
    stream = StreamText()
    stream.add("text", '{"verdict": "changes", "findings": [' + '{"severity": "minor"}, ' * 700 + '"END"]}')
    _, body = card_content(d, None, stream)
    rows = body.plain.splitlines()
    assert len(rows) == 1 and len(rows[0]) <= TAIL_LINE_CHARS
    assert rows[0].startswith("…") and rows[0].endswith('"END"]}')


# --- review fixes: the model -------------------------------------------------------------------


def _gate(seq: int, pr: int, gate: str, **kw: Any) -> GateOpened:
    fields: dict[str, Any] = {"gate_kind": "brief", "round": 1, "proposal": "write", "options": ["approve"]}
    return _ev(GateOpened, seq, pr=pr, gate=gate, **(fields | kw))


def test_once_the_focused_pr_is_answered_the_oldest_waiting_gate_takes_the_view() -> None:
    m = ViewModel()
    _started_session(m)
    m.apply(_gate(3, 2, "g2"))
    m.apply(_gate(4, 1, "g1", gate_kind="decision", proposal="merge", options=["approve", "override"]))
    assert m.focus_pr == 2  # PR 2 waits for you: it keeps the view
    m.apply(_ev(HumanDecision, 5, pr=2, gate="g2", answer="approve"))
    assert m.focus_pr == 1
    m.apply(_ev(PrClosed, 6, pr=1, outcome="skipped"))
    assert m.focus_pr == 1  # nothing else waits: the view stays


async def test_a_following_view_shows_the_gate_the_banner_asks_about() -> None:
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 200.0)
    async with app.run_test(size=(120, 40)) as pilot:
        bus.publish(
            [
                _ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"),
                _ev(PrOpened, 1, pr=1, title="PR 1", task="t", branch="b1"),
                _ev(PrOpened, 2, pr=2, title="PR 2", task="t", branch="b2"),
                _gate(3, 2, "g2"),
                _gate(4, 1, "g1", gate_kind="decision", proposal="merge", options=["approve"]),
                _ev(HumanDecision, 5, pr=2, gate="g2", answer="approve"),
            ]
        )
        await app.settled()
        await pilot.pause()
        assert app.selected == 1
        view = app.banner_view()
        assert view is not None and (view.gate.gate, view.why) == ("g1", "")


def test_a_parsed_verdict_redraws_the_reviewers_and_the_gate_at_once() -> None:
    m = ViewModel()
    _started_session(m)
    m.take_dirty()
    m.apply(_ev(VerdictParsed, 3, pr=1, dispatch="d2", round=1, reviewer="r", commit="c", verdict="approve"))
    d = m.take_dirty()
    assert d.reviewers == {1} and d.gates


def test_the_model_forgets_what_no_view_needs_any_more() -> None:
    m = ViewModel()
    _started_session(m)
    m.apply(_ev(RoundStarted, 3, pr=1, round=1, brief="b"))
    m.apply(_ev(DispatchStarted, 4, pr=1, dispatch="w1", role="writer", backend="s", model="m", round=1))
    m.apply(_ev(DispatchOutput, 5, pr=1, dispatch="w1", channel="text", text="hi", meta={"id": "item1"}))
    m.apply(_ev(DispatchFinished, 6, pr=1, dispatch="w1", role="writer", status="ok"))
    assert not m._items  # the writer's stream item, once it finished
    for seq, did in ((7, "r1"), (8, "r2")):
        m.apply(
            _ev(DispatchStarted, seq, pr=1, dispatch=did, role="reviewer", backend="s", model="m", round=1)
        )
        m.apply(_ev(DispatchOutput, seq + 10, pr=1, dispatch=did, channel="text", text="looks fine"))
    m.apply(_ev(DispatchStarted, 30, pr=2, dispatch="r3", role="reviewer", backend="s", model="m", round=1))
    m.apply(_ev(DispatchOutput, 31, pr=2, dispatch="r3", channel="text", text="PR 2"))
    assert set(m.streams) == {"r1", "r2", "r3"}
    m.apply(_ev(RoundStarted, 32, pr=1, round=2, brief="fix it", reason="fix"))
    m.apply(_ev(DispatchStarted, 33, pr=1, dispatch="r4", role="reviewer", backend="s", model="m", round=2))
    assert set(m.streams) == {"r3", "r4"}  # round 1's tails went with round 2
    m.apply(_ev(PrClosed, 34, pr=1, outcome="merged"))
    assert set(m.streams) == {"r3"}
    # An answer's text is shown by the kind of gate it answered (read before the fold drops it).
    m.apply(_gate(35, 2, "g9"))
    m.apply(_ev(HumanDecision, 36, pr=2, gate="g9", answer="edit", text="# Better brief\n"))
    assert m.composer[2].text == "*Edited by you*\n\n# Better brief\n"  # a brief, not a fenced message


def test_every_view_counts_a_prs_composer_tokens_the_same_way() -> None:
    """Input + output, against the same per-PR budget: the header, the closing line, the summary."""
    m = ViewModel()
    _started_session(m)
    m.apply(_ev(DispatchStarted, 3, pr=1, dispatch="c1", role="composer", backend="s", model="m", round=1))
    usage = Usage(input_tokens=3000, output_tokens=500)
    m.apply(_ev(DispatchFinished, 4, pr=1, dispatch="c1", role="composer", status="ok", usage=usage))
    s = m.state
    assert s.composer_tokens(1) == 3500 and s.composer_tokens(2) == 0
    assert "composer PR 1 3.5k/5.0k" in header_content(s, 200.0, 1).plain
    m.apply(_ev(SessionFinished, 5, status="completed"))
    assert "composer 3.5k tokens per PR" in done_content(s).plain
    assert any("avg 3,500, max 3,500" in line for line in summary_lines(s))


def test_the_header_keeps_every_roles_tokens_at_80_columns_and_prices_what_it_can() -> None:
    """At 78 cells (80 columns less padding) each role's counts show; costs come from [pricing],
    and a model without a price is "unpriced", never $0."""
    from cockpit.config import Pricing

    m = ViewModel()
    _started_session(m)
    usages = (("c1", "composer", "claude-x", 3000, 500), ("w1", "writer", "gpt-x", 80_000, 7300))
    usages += (("r1", "reviewer", "glm-x", 3900, 1200),)
    for seq, (did, role, model, i, o) in enumerate(usages, 3):
        m.apply(
            _ev(DispatchStarted, seq * 2, pr=1, dispatch=did, role=role, backend="s", model=model, round=1)
        )
        usage = Usage(input_tokens=i, output_tokens=o)
        m.apply(_ev(DispatchFinished, seq * 2 + 1, pr=1, dispatch=did, role=role, status="ok", usage=usage))
    pricing = {"claude-x": Pricing(input=3.0, output=15.0), "glm-x": Pricing()}
    narrow = header_content(m.state, 200.0, 1, pricing=pricing, width=78).plain.splitlines()
    assert all(len(line) <= 78 for line in narrow)
    assert "composer 3.0k/500" in narrow[1] and "writer 80k/7.3k" in narrow[1]
    assert "reviewers 3.9k/1.2k" in narrow[1]
    wide = header_content(m.state, 200.0, 1, pricing=pricing).plain
    assert "composer 3.0k in 500 out $0.017" in wide
    assert "writer 80k in 7.3k out unpriced" in wide  # gpt-x has no price: not $0
    assert "reviewers 3.9k in 1.2k out $0.000" in wide  # priced at zero: free, and says so
    assert "cost $0.017 + unpriced" in wide


# --- review fixes: the app ---------------------------------------------------------------------


def test_the_banner_offers_skip_only_for_the_selected_prs_gate() -> None:
    gate = _gate(3, 2, "g2", gate_kind="failure", proposal="fail", options=["approve", "retry", "skip"])
    view = BannerView(
        gate=gate, why="", open_count=1, countdown=None, countdown_stopped=False, readonly=False
    )
    assert "s skip" in keys_content(view).plain
    other = BannerView(gate, "not the selected PR", 1, None, False, False)
    assert "s skip" not in keys_content(other).plain  # `s` would skip the selected PR, not PR 2
    # A failure gate proposing fail: its approve key says what it does.
    assert "a fail the PR" in keys_content(other).plain and "r retry" in keys_content(other).plain


async def test_an_unknown_theme_falls_back_to_the_default_with_a_warning() -> None:
    app = CockpitApp(bus=EventBus(), clock=lambda: 0.0, theme="cockpit-drak")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert app.theme == "cockpit-dark"
        assert any("cockpit-drak" in n.message for n in app._notifications)


async def test_a_toast_quoting_markup_like_text_is_shown_as_text() -> None:
    async def failing() -> int:
        raise RuntimeError("bad [/] end tag and [@click=app.quit]a link[/]")

    app = CockpitApp(bus=EventBus(), clock=lambda: 0.0, runner=failing)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for _ in range(100):
            if app.session_done:
                break
            await pilot.pause(0.01)
        await pilot.pause(0.1)  # the toast is drawn
        assert app.is_running and app.exit_code == 1
        assert any("[/] end tag" in n.message for n in app._notifications)


async def test_zooming_a_pane_moves_the_focus_into_it() -> None:
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        bus.publish(recorded_events()[: index_of("gate_opened", gate="g5") + 1])
        await app.settled()
        for key, pane in (("3", "#composer"), ("2", "#reviewers"), ("1", "#writer")):
            await pilot.press(key)
            await pilot.pause()
            focused = app.focused
            assert focused is not None and app.screen.query_one(pane) in focused.ancestors_with_self


async def test_the_editor_gets_model_text_with_escapes_made_visible(tmp_path: Path) -> None:
    """TextArea draws what it is given: escapes reaching it would retitle or repaint the terminal."""
    bus = EventBus()
    app = CockpitApp(bus=bus, controls=scratch_controls(tmp_path), clock=lambda: 200.0, gate_settle_s=0)
    brief = "Add slugify()\x1b]2;pwned\x07 \x1b[41mred\x1b[0m\n\tindented\n"
    gate = _gate(
        2, 1, "g1", gate_kind="decision", proposal="fix", text=brief, options=["approve", "override", "edit"]
    )
    async with app.run_test(size=(120, 40)) as pilot:
        bus.publish(
            [
                _ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"),
                _ev(PrOpened, 1, pr=1, title="PR 1", task="t", branch="b1"),
                gate,
            ]
        )
        await app.settled()
        shown = "Add slugify()␛]2;pwned␇ ␛[41mred␛[0m\n\tindented\n"
        await pilot.press("e")  # edit the fix brief
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen) and app.screen.text == shown
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("o", "f")  # override: fix, with the brief in the editor
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen) and app.screen.text == shown
        await pilot.press("escape")
        await pilot.pause()


async def test_the_scrollbar_follows_a_growing_stream_without_a_layout_pass() -> None:
    """``StreamView`` grows its scroll area without a screen layout (the costly part of a flood)
    once its scrollbar is up: the scrollbar must still learn the new size and where the view is."""
    t = Transcript()
    app = _StreamApp(t)
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(StreamView)
        bar = view.vertical_scrollbar
        total = 0
        for more in (50, 60, 70):  # the scrollbar comes (and takes a column), then the cheap path
            for i in range(total, total + more):
                t.line((f"line {i}", ""))
            total += more
            width = view.virtual_size.width
            view.sync()
            await pilot.pause()
            assert view.virtual_size.height == bar.window_virtual_size == total
            assert view.scroll_y == view.max_scroll_y == total - view.scrollable_content_region.height
            assert bar.position == view.scroll_y  # the thumb is at the end too
        assert view.virtual_size.width == width  # the last growth took the cheap path


async def test_the_diff_screen_shows_a_minified_file_cut_and_each_file_its_own_patch() -> None:
    minified = "var a=1;" * 25_000
    text = (
        "diff --git a/app.min.js b/app.min.js\nindex 1111111..2222222 100644\n--- a/app.min.js\n"
        f"+++ b/app.min.js\n@@ -1 +1 @@\n-{minified}\n+{minified}x\n"
        'diff --git "a/\\303\\251.txt" "b/\\303\\251.txt"\nindex 3333333..4444444 100644\n'
        '--- "a/\\303\\251.txt"\n+++ "b/\\303\\251.txt"\n@@ -1 +1 @@\n-x\n+y\n'
    )
    files = [FileStat("M", "app.min.js", 1, 1), FileStat("M", "é.txt", 1, 1)]
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 0.0, diff_source=lambda base, head: Diff(text, files, 2, 2))
    async with app.run_test(size=(120, 40)) as pilot:
        bus.publish(recorded_events()[: index_of("gate_opened", gate="g5") + 1])
        await app.settled()
        await pilot.press("d")
        for _ in range(500):
            if isinstance(app.screen, DiffScreen) and "var a=1;" in app.screen.shown_text:
                break
            await pilot.pause(0.01)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        rows = screen.shown_text.splitlines()
        assert max(len(r) for r in rows) <= MAX_LINE_CHARS + 20 and any(r.endswith("…") for r in rows)
        await pilot.press("j")
        for _ in range(500):
            if "+ y" in screen.shown_text:
                break
            await pilot.pause(0.01)
        assert "+ y" in screen.shown_text and "var a=1;" not in screen.shown_text


def test_a_paused_pr_whose_writer_finished_does_not_say_writing() -> None:
    from cockpit.events import SessionPaused
    from cockpit.tui.widgets.pr_list import pr_prompt

    m = ViewModel()
    _started_session(m)
    m.apply(_ev(RoundStarted, 3, pr=1, round=1, brief="b"))
    m.apply(_ev(DispatchStarted, 4, pr=1, dispatch="w1", role="writer", backend="s", model="m", round=1))
    m.apply(_ev(SessionPaused, 5, by="human"))
    assert m.take_dirty().prs  # a pause redraws the list
    pr = m.state.prs[1]
    running = frozenset(d.pr for d in m.state.running_dispatches() if d.pr is not None)
    assert "writing" in pr_prompt(pr, 200.0, 40, paused=True, running=1 in running).plain
    m.apply(_ev(DispatchFinished, 6, pr=1, dispatch="w1", role="writer", status="ok", usage=Usage()))
    running = frozenset(d.pr for d in m.state.running_dispatches() if d.pr is not None)
    shown = pr_prompt(m.state.prs[1], 200.0, 40, paused=m.state.paused, running=1 in running).plain
    assert "written · paused" in shown and "writing" not in shown


def test_the_skip_dialog_says_what_skipping_does_to_this_pr() -> None:
    from cockpit.tui.commands import skip_consequence

    m = ViewModel()
    _started_session(m)
    assert "before it started: no branch" in skip_consequence(m.state.prs[2])
    m.apply(_ev(RoundStarted, 3, pr=1, round=1, brief="b"))
    m.apply(_ev(DispatchStarted, 4, pr=1, dispatch="w1", role="writer", backend="s", model="m", round=1))
    assert "no commit" in skip_consequence(m.state.prs[1])


def test_a_failure_gate_names_what_approve_does() -> None:
    from cockpit.tui.format import gate_options

    fail = _gate(3, 1, "g3", gate_kind="failure", proposal="fail", options=["approve", "retry", "abandon"])
    retry = _gate(4, 1, "g4", gate_kind="failure", proposal="retry", options=["approve", "abandon"])
    assert ("approve", "a", "fail the PR") in gate_options(fail)
    assert ("approve", "a", "retry") in gate_options(retry)
    assert ("abandon", "b", "abandon") in gate_options(retry)
