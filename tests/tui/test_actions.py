"""The table of actions: every key, footer entry, help line, palette command and README row comes
from it, keys remap through `[keys]`, and the palette offers only what applies."""

from __future__ import annotations

import re
from pathlib import Path

from cockpit.bus import EventBus
from cockpit.events import HumanDecision
from cockpit.tui.actions import ACTIONS, BY_NAME, keymap_from_config, readme_table
from cockpit.tui.app import CockpitApp
from cockpit.tui.commands import Commands
from cockpit.tui.screens.help import HelpScreen, HelpText
from cockpit.tui.widgets.gate_banner import GateBanner
from tests.tui.harness import live
from tests.tui.scenes import index_of, recorded_events, scratch_controls

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_action_names_a_real_command_and_a_key_means_one_thing() -> None:
    assert len(BY_NAME) == len(ACTIONS)
    for a in ACTIONS:
        assert callable(getattr(Commands, a.command, None)), a.command
        assert not a.when or callable(getattr(Commands, a.when, None)), a.when
    by_key: dict[str, set[str]] = {}
    for a in ACTIONS:
        for key in a.key.split(","):
            by_key.setdefault(key, set()).add(a.keymap or a.name)
    shared = {k: names for k, names in by_key.items() if len(names) > 1}
    assert not shared  # pause and resume share `p` through one keymap name, nothing else shares


def test_the_readme_key_table_is_the_table_of_actions() -> None:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^\| key \| does \|\n(?:\|.*\|\n)+", text, re.MULTILINE)
    assert m is not None, "README has no key table"
    assert m.group(0).rstrip("\n") == readme_table()


def test_keys_config_names_unknown_actions_with_the_nearest_one() -> None:
    keymap, problems = keymap_from_config({"aprove": "y", "interrupt": "ctrl+x", "help": " "})
    assert keymap == {"cockpit.interrupt": "ctrl+x"}
    assert problems[0].startswith("keys.aprove: no such action (did you mean `approve`?)")
    assert problems[1] == "keys.help: empty key"


async def test_a_remapped_key_answers_the_gate_and_every_view_shows_it(tmp_path: Path) -> None:
    async with live(tmp_path, prs=1, keys={"approve": "y"}) as h:
        g = await h.gate("PR 1's brief", lambda g: g.pr == 1 and g.gate_kind == "brief")
        banner = h.app.screen.query_one(GateBanner)
        assert "y approve" in banner.content.plain
        assert ("approve", "y", "approve", 2) in h.app.footer_keys()
        await h.press("a")  # the old key does nothing now
        assert not h.events(HumanDecision, gate=g.gate)
        await h.press("y")
        ev = await h.journaled(HumanDecision, gate=g.gate)
        assert ev.answer == "approve"
        await h.press("question_mark")
        help_screen = await h.screen(HelpScreen)
        lines = help_screen.query_one(HelpText).render().plain.splitlines()
        assert any(line.split()[:2] == ["y", "approve"] for line in lines)


async def test_the_palette_offers_only_what_applies(tmp_path: Path) -> None:
    upto = index_of("gate_opened", gate="g5") + 1
    for controls in (None, scratch_controls(tmp_path)):
        bus = EventBus()
        app = CockpitApp(bus=bus, controls=controls, clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            bus.publish(recorded_events()[:upto])
            await app.settled()
            await pilot.pause()
            titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Diff", "Keys", "Quit cockpit", "Maximise Writer"} <= titles
        gate_titles = {"Approve", "Override", "Edit", "Retry"}
        if controls is None:  # a replay: nothing that changes the session
            assert not titles & (gate_titles | {"Skip PR", "Add PR", "Abandon PR", "Interrupt writer"})
        else:  # the split-verdict decision gate is open: its answers are offered
            assert gate_titles <= titles
            assert "Interrupt writer" not in titles  # no writer runs at a gate


def test_a_fix_draft_holds_the_rationale_and_every_finding() -> None:
    from cockpit.events import DecisionProposed, Finding, VerdictParsed
    from cockpit.state import RoundState
    from cockpit.tui.commands import fix_draft

    rnd = RoundState(n=1)
    rnd.decision = DecisionProposed(
        pr=2, dispatch="c", round=1, commit="abc", action="merge", rationale="Both approve; merge."
    )
    rnd.verdicts["correctness"] = VerdictParsed(
        pr=2, dispatch="r1", round=1, reviewer="correctness", commit="abc", verdict="changes",
        findings=[Finding("major", "off by one at <width>", "textkit/wrap.py", 6)],
    )  # fmt: skip
    rnd.verdicts["quality"] = VerdictParsed(
        pr=2,
        dispatch="r2",
        round=1,
        reviewer="quality",
        commit="abc",
        verdict="approve",
        summary="Looks fine.",
    )
    draft = fix_draft("Add wrap()", rnd)
    assert draft.splitlines()[0] == "Fix: Add wrap()"
    assert "Both approve; merge." in draft
    assert "- [correctness, major] textkit/wrap.py:6: off by one at <width>" in draft
    assert "- [quality, approve] Looks fine." in draft


def test_the_headless_prompt_gives_each_letter_the_cockpits_meaning() -> None:
    from cockpit.headless import _KEYS

    for letter, answer in _KEYS.items():
        assert BY_NAME[answer].key == letter, (letter, answer)
    tui_letters = {a.key: a.name for a in ACTIONS if len(a.key) == 1}
    for letter, answer in _KEYS.items():
        assert tui_letters[letter] == answer  # no letter means one thing here and another there
