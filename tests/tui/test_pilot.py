"""The cockpit driven by keys against a real session (scripted backends, real git, real journal).

Each test asserts on the journal's events, not only on the screen: a key counts when the
session recorded what it asked for.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import TextArea

from cockpit.events import (
    DispatchFinished,
    DispatchStarted,
    GateOpened,
    HumanDecision,
    InterruptRequested,
    Merged,
    PrClosed,
    PrOpened,
    RoundStarted,
    SessionFinished,
    SessionPaused,
    SessionResumed,
)
from cockpit.tui.screens.add_pr import AddPrScreen
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.diff import DiffScreen
from cockpit.tui.screens.editor import EditorScreen
from cockpit.tui.screens.help import HelpScreen
from cockpit.tui.screens.main import MainScreen
from cockpit.tui.screens.override import OverrideScreen
from cockpit.tui.widgets.gate_banner import GateBanner
from tests.tui.harness import HANG_SCENARIO, Clock, live


async def test_approve_answers_the_gate_and_the_journal_says_so(tmp_path: Path) -> None:
    async with live(tmp_path) as h:
        g = await h.gate("PR 1's brief", lambda g: g.pr == 1 and g.gate_kind == "brief")
        banner = h.app.screen.query_one(GateBanner)
        assert banner.has_class("-open")
        await h.press("a")
        ev = await h.journaled(HumanDecision, gate=g.gate)
        assert (ev.answer, ev.by) == ("approve", "human")
        await h.journaled(RoundStarted, pr=1, round=1)


async def test_override_to_fix_with_an_edited_brief(tmp_path: Path) -> None:
    async with live(tmp_path, prs=1) as h:
        g = await h.gate("PR 1's decision", lambda g: g.pr == 1 and g.gate_kind == "decision")
        assert g.proposal == "merge"
        await h.press("o")
        modal = await h.screen(OverrideScreen)
        assert modal.actions == ["merge", "fix", "abandon"]
        await h.press("f")
        editor = await h.screen(EditorScreen)
        # The composer proposed merge and wrote no fix brief: the editor starts from a draft made
        # of its rationale and the reviewers' findings, not empty.
        rnd1 = h.app.model.state.prs[1].rounds[1]
        assert rnd1.decision is not None and rnd1.decision.rationale
        assert editor.text.startswith("Fix: ")
        assert rnd1.decision.rationale.strip().splitlines()[0] in editor.text
        editor.query_one(TextArea).text = ""
        await h.type_text("Handle empty titles.")
        await h.press("ctrl+s")
        ev = await h.journaled(HumanDecision, gate=g.gate)
        assert (ev.answer, ev.action, ev.text) == ("override", "fix", "Handle empty titles.")
        rnd = await h.journaled(RoundStarted, pr=1, round=2)
        assert (rnd.reason, rnd.brief) == ("fix", "Handle empty titles.")


async def test_edit_the_commit_message_before_the_merge(tmp_path: Path) -> None:
    async with live(tmp_path, prs=1) as h:
        g = await h.gate("PR 1's decision", lambda g: g.pr == 1 and g.gate_kind == "decision")
        await h.press("e")
        editor = await h.screen(EditorScreen)
        assert editor.text == g.text  # the composer's commit message
        area = editor.query_one(TextArea)
        area.move_cursor(area.document.end)
        await h.type_text("\n\nReviewed-by: a human")
        await h.press("ctrl+s")
        ev = await h.journaled(HumanDecision, gate=g.gate)
        assert ev.answer == "edit"
        assert ev.text == g.text + "\n\nReviewed-by: a human"
        merged = await h.journaled(Merged, pr=1)
        assert merged.message == ev.text


async def test_interrupt_the_writer_then_retry(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the writer to run", lambda: h.app.commands.applies("interrupt"))
        await h.press("x")
        await h.screen(ConfirmScreen)
        await h.press("y")
        await h.journaled(InterruptRequested, pr=1)
        done = await h.journaled(DispatchFinished, pr=1, role="writer")
        assert done.status == "interrupted"
        gate = await h.journaled(GateOpened, pr=1, gate_kind="failure")
        assert "retry" in gate.options
        await h.until("the failure gate on screen", lambda: h.app.target_gate() is not None)
        await h.press("r")
        ev = await h.journaled(HumanDecision, gate=gate.gate)
        assert ev.answer == "retry"
        await h.journaled(RoundStarted, pr=1, reason="retry")
        await h.until("the writer to run again", lambda: len(h.events(DispatchStarted, role="writer")) == 2)


async def test_skip_closes_the_pr_as_skipped(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the writer to run", lambda: h.app.commands.applies("interrupt"))
        await h.press("s")
        await h.screen(ConfirmScreen)
        await h.press("y")
        closed = await h.journaled(PrClosed, pr=1)
        assert closed.outcome == "skipped"


async def test_pause_and_resume(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the session to start", lambda: h.app.model.state.status == "running")
        await h.press("p")
        await h.journaled(SessionPaused, by="human")
        await h.until("the header to say paused", lambda: h.app.model.state.paused)
        await h.press("p")
        await h.journaled(SessionResumed, by="human")


async def test_add_a_pr_to_the_running_session(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the session to start", lambda: h.app.model.state.status == "running")
        await h.press("n")
        await h.screen(AddPrScreen)
        await h.type_text("Add a changelog")
        await h.press("tab")
        await h.type_text("Write CHANGES.md with one line per PR.")
        await h.press("ctrl+s")
        ev = await h.journaled(PrOpened, pr=2)
        assert (ev.title, ev.task, ev.added_by) == (
            "Add a changelog",
            "Write CHANGES.md with one line per PR.",
            "human",
        )
        await h.until("the PR in the list", lambda: 2 in h.app.model.state.prs)


async def test_diff_and_help_open_and_close_without_changing_anything(tmp_path: Path) -> None:
    async with live(tmp_path, prs=1) as h:
        g = await h.gate("PR 1's decision", lambda g: g.pr == 1 and g.gate_kind == "decision")
        answers = len(h.events(HumanDecision))
        await h.press("d")
        diff_screen = await h.screen(DiffScreen)
        await h.until("the diff to load", lambda: diff_screen.diff is not None)
        expected = h.repo.diff(h.app.model.state.prs[1].base_sha, g.commit)
        assert diff_screen.diff is not None
        assert [f.path for f in diff_screen.diff.files] == [f.path for f in expected.files]
        assert "textkit/slug.py" in [f.path for f in expected.files]
        await h.until("a file's patch", lambda: "+" in diff_screen.shown_text)
        await h.press("escape")
        await h.screen(MainScreen)
        await h.press("question_mark")
        await h.screen(HelpScreen)
        await h.press("escape")
        await h.screen(MainScreen)
        assert len(h.events(HumanDecision)) == answers
        assert h.open_gate(lambda x: x.gate == g.gate) is not None  # still waiting for the human


async def test_quit_with_work_in_flight_journals_the_session_as_interrupted(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the writer to run", lambda: h.app.commands.applies("interrupt"))
        await h.press("q")
        await h.screen(ConfirmScreen)
        await h.press("y")
        await h.until("the app to exit", lambda: h.app.return_value is not None)
        assert h.app.return_value == 130
        finished = h.events(SessionFinished)
        assert [e.status for e in finished] == ["interrupted"]
        closed = h.events(PrClosed, pr=1)
        assert [e.outcome for e in closed] == ["interrupted"]
        writer = h.events(DispatchFinished, role="writer")
        assert [e.status for e in writer] == ["cancelled"]


async def test_demo_countdown_approves_by_itself_until_a_key_stops_it(tmp_path: Path) -> None:
    clock = Clock()
    async with live(tmp_path, prs=2, gate_timeout=10, clock=clock) as h:
        g1 = await h.journaled(GateOpened, pr=1, gate_kind="brief")
        await h.until("the countdown", lambda: h.app.countdown.remaining(g1.gate) is not None)
        clock.now += 9
        await h.pilot.pause(0.1)
        assert not h.events(HumanDecision, gate=g1.gate)  # 1 s to go
        clock.now += 2
        ev = await h.journaled(HumanDecision, gate=g1.gate)
        assert (ev.answer, ev.by) == ("approve", "timeout")
        g2 = await h.journaled(GateOpened, pr=2, gate_kind="brief")
        await h.press("j")  # any key
        assert h.app.countdown.stopped
        clock.now += 60
        await h.pilot.pause(0.1)
        assert not h.events(HumanDecision, gate=g2.gate)
        await h.until("the banner", lambda: h.app.target_gate() is not None)
        await h.press("a")
        ev2 = await h.journaled(HumanDecision, gate=g2.gate)
        assert ev2.by == "human"


async def test_the_command_palette_reaches_the_actions(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the session to start", lambda: h.app.model.state.status == "running")
        await h.press("ctrl+p")
        await h.screen(CommandPalette)
        await h.type_text("Pause")
        await h.pilot.pause(0.3)  # the palette searches its providers
        await h.press("enter")
        await h.journaled(SessionPaused, by="human")


async def test_sigterm_stops_the_session_and_leaves(tmp_path: Path) -> None:
    async with live(tmp_path, scenario=HANG_SCENARIO) as h:
        await h.until("the writer to run", lambda: h.app.commands.applies("interrupt"))
        # Without the app's handler a real SIGTERM would end the test run itself: check first.
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        os.kill(os.getpid(), signal.SIGTERM)
        await h.until("the app to exit", lambda: h.app.return_value is not None)
        assert h.app.return_value == 130
        assert [e.status for e in h.events(SessionFinished)] == ["interrupted"]
        assert [e.outcome for e in h.events(PrClosed, pr=1)] == ["interrupted"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # given back when the app is gone


async def test_a_gate_that_just_came_up_is_not_answered_by_a_double_tap(tmp_path: Path) -> None:
    clock = Clock()
    async with live(tmp_path, prs=1, clock=clock, gate_settle_s=0.3) as h:
        g = await h.journaled(GateOpened, pr=1, gate_kind="brief")
        banner = h.app.screen.query_one(GateBanner)
        await h.until("the banner", lambda: "Waiting for you · PR 1" in banner.content.plain)
        await h.press("a")  # the second tap of a double tap meant for an earlier gate
        assert any("just came up" in n.message for n in h.app._notifications)
        assert g.gate not in h.app.gates.answered
        clock.now += 0.5  # the banner has been up long enough to be read
        await h.press("a")
        ev = await h.journaled(HumanDecision, gate=g.gate)
        assert (ev.answer, ev.by) == ("approve", "human")


async def test_the_countdown_holds_under_a_dialog_and_a_click_stops_it(tmp_path: Path) -> None:
    clock = Clock()
    async with live(tmp_path, prs=1, gate_timeout=10, clock=clock) as h:
        g1 = await h.journaled(GateOpened, pr=1, gate_kind="brief")
        await h.until("the countdown", lambda: h.app.countdown.remaining(g1.gate) is not None)
        h.app.push_screen(HelpScreen())  # a dialog up without a key press (the countdown still runs)
        await h.screen(HelpScreen)
        clock.now += 11
        await h.pilot.pause(0.1)
        assert not h.events(HumanDecision, gate=g1.gate)  # nothing approves itself under a dialog
        h.app.pop_screen()
        ev = await h.journaled(HumanDecision, gate=g1.gate)
        assert ev.by == "timeout"
        g2 = await h.journaled(GateOpened, pr=1, gate_kind="decision")
        await h.until("the countdown", lambda: h.app.countdown.remaining(g2.gate) is not None)
        await h.pilot.pause()
        banner = h.app.screen.query_one(GateBanner)
        rows = banner.content.plain.split("\n")
        x = rows[-1].index("e edit") + 2  # the banner's left border and padding
        await h.pilot.click(GateBanner, offset=(x, len(rows) - 1))
        await h.screen(EditorScreen)  # the click opened the editor ...
        assert h.app.countdown.stopped  # ... and stopped the countdown
        clock.now += 60
        await h.pilot.pause(0.1)
        assert not h.events(HumanDecision, gate=g2.gate)
        await h.press("escape")
