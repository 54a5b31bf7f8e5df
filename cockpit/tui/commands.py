"""What each key does. Keys, banner links and the command palette all call these.

Commands read the view model and act only through the session's controls; the result shows up
later as journaled events, like everything else. Without controls (a replay) only the views and
the replay's own pause apply; a command that would change something says so and does nothing.
Toasts are plain text: what they quote (an error, a title) may look like markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from cockpit.engine.controls import SessionControls
from cockpit.engine.gates import GateAnswer, GateError
from cockpit.engine.session import SessionError
from cockpit.events import GateOpened
from cockpit.state import PRState
from cockpit.text import sanitize
from cockpit.tui.format import edit_label
from cockpit.tui.screens.add_pr import AddPrScreen, NewPr
from cockpit.tui.screens.confirm import ConfirmScreen
from cockpit.tui.screens.diff import DiffScreen
from cockpit.tui.screens.editor import EditorScreen
from cockpit.tui.screens.help import HelpScreen
from cockpit.tui.screens.override import OverrideScreen
from cockpit.tui.widgets.gate_banner import split_line

if TYPE_CHECKING:
    from cockpit.tui.app import CockpitApp

_GATE_ANSWERS = frozenset({"approve", "override", "edit", "retry"})  # action name == answer name
_CHANGES = _GATE_ANSWERS | {"skip", "interrupt", "pause", "resume", "add_pr"}
READONLY = "This is a replay: nothing can be changed here."


class Commands:
    def __init__(self, app: CockpitApp) -> None:
        self.app = app

    # --- helpers -------------------------------------------------------------------------

    def _say(self, message: str, severity: SeverityLevel = "information") -> None:
        self.app.notify(message, severity=severity, markup=False)

    @property
    def pr(self) -> PRState | None:
        n = self.app.selected
        return self.app.model.state.prs.get(n) if n is not None else None

    def _controls(self) -> SessionControls | None:
        c = self.app.controls
        if c is None:
            self._say(READONLY, severity="warning")
            return None
        if c.finished:
            self._say("The session has ended: nothing left to change.", severity="warning")
            return None
        return c

    def _gate(self, answer: str) -> tuple[SessionControls, GateOpened] | None:
        c = self._controls()
        if c is None:
            return None
        target = self.app.target_gate()
        if target is None:
            self._say("No gate is open.", severity="warning")
            return None
        gate = target[0]
        if answer not in gate.options:
            self._say(f"{answer} does not apply to PR {gate.pr}'s {gate.gate_kind} gate.", severity="warning")
            return None
        return c, gate

    def _answer(self, c: SessionControls, gate: GateOpened, answer: GateAnswer) -> bool:
        try:
            c.answer(gate.gate, answer)
        except GateError as exc:
            self._say(str(exc), severity="error")
            return False
        self.app.answered(gate.gate)
        return True

    def applies(self, action: str) -> bool | None:
        """Whether a key applies now (False hides it from the footer)."""
        app = self.app
        s = app.model.state
        pr = self.pr
        if app.controls is None:  # a replay: its own pause and the views, nothing that changes things
            replay = app.replay
            if action in ("pause", "resume"):
                return replay is not None and not app.session_done and replay.paused == (action == "resume")
            if action in _CHANGES:
                return False
        elif action in _GATE_ANSWERS:
            target = app.target_gate()
            return target is not None and action in target[0].options
        elif action in _CHANGES and s.status != "running":
            return False
        if action == "pause":
            return not s.paused
        if action == "resume":
            return s.paused
        if action == "interrupt":
            return pr is not None and s.running_writer(pr.n) is not None
        if action == "skip":
            return pr is not None and not pr.closed
        if action == "diff":
            return pr is not None and bool(pr.commits)
        return True

    # --- gates ---------------------------------------------------------------------------

    def approve(self) -> None:
        got = self._gate("approve")
        if got is not None and self._settled(got[1], "a"):
            self._answer(*got, GateAnswer("approve"))

    def retry(self) -> None:
        got = self._gate("retry")
        if got is not None and self._settled(got[1], "r"):
            self._answer(*got, GateAnswer("retry"))

    def _settled(self, gate: GateOpened, key: str) -> bool:
        """False (and says so) when the gate only just came on the banner: a double tap meant for
        the last gate must not answer the next one unseen."""
        if not self.app.just_shown(gate.gate):
            return True
        self._say(f"PR {gate.pr}'s {gate.gate_kind} gate just came up: read it, then press {key} again.")
        return False

    def edit(self) -> None:
        got = self._gate("edit")
        if got is None:
            return
        c, gate = got
        label = edit_label(gate)
        title = f"PR {gate.pr}: {label}" if label != "edit" else f"PR {gate.pr}: edit the text"

        def done(text: str | None) -> None:
            if text is None:
                return
            if not text.strip():
                self._say("Empty text: nothing sent, the gate is still open.", severity="warning")
                return
            self._answer(c, gate, GateAnswer("edit", text=text))

        # Model text reaches the terminal only through sanitize: TextArea draws escapes as they are.
        text = sanitize(gate.text, tab="\t")
        self.app.push_screen(
            EditorScreen(title, text, "ctrl+s sends it on · esc cancels (the gate stays open)"), done
        )

    def override(self) -> None:
        got = self._gate("override")
        if got is None:
            return
        c, gate = got

        def picked(action: str | None) -> None:
            if action is None:
                return
            if action != "fix":
                self._answer(c, gate, GateAnswer("override", action=action))
                return
            self.app.push_screen(
                EditorScreen(
                    f"PR {gate.pr}: the fix brief",
                    sanitize(self._fix_brief(gate), tab="\t"),
                    "the writer gets this brief for the next round · ctrl+s sends · esc cancels",
                ),
                lambda text: self._override_fix(c, gate, text),
            )

        note = split_line(self.app.model.state, gate)
        self.app.push_screen(OverrideScreen(gate, note), picked)

    def _fix_brief(self, gate: GateOpened) -> str:
        """The composer's brief when it wrote one, else the round's brief for a failed step, else empty."""
        if gate.pr is None:
            return ""
        pr = self.app.model.state.prs.get(gate.pr)
        if pr is None:
            return ""
        rnd = pr.rounds.get(gate.round)
        if rnd is not None and rnd.decision is not None and rnd.decision.brief:
            return rnd.decision.brief
        if gate.proposal == "fix" and gate.text:
            return gate.text
        if gate.gate_kind in ("failure", "conflict") and rnd is not None:
            return rnd.brief
        return ""

    def _override_fix(self, c: SessionControls, gate: GateOpened, text: str | None) -> None:
        if text is None:
            return
        if not text.strip() and gate.gate_kind == "failure":
            self._say("A fix after a failure needs a brief; the gate is still open.", severity="warning")
            return
        self._answer(c, gate, GateAnswer("override", action="fix", text=text if text.strip() else None))

    # --- PRs and the session -------------------------------------------------------------

    def skip(self) -> None:
        c = self._controls()
        pr = self.pr
        if c is None or pr is None:
            return
        if pr.closed:
            self._say(f"PR {pr.n} is already {pr.status}.", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes and not c.skip(pr.n):
                self._say(f"PR {pr.n} could not be skipped (it has closed).", severity="warning")

        self.app.push_screen(
            ConfirmScreen(
                f"Skip PR {pr.n}?",
                f"{sanitize(pr.title)}\n\nIt closes as skipped; its branch is kept.",
                "Skip",
            ),
            confirmed,
        )

    def interrupt(self) -> None:
        c = self._controls()
        pr = self.pr
        if c is None or pr is None:
            return
        writer = self.app.model.state.running_writer(pr.n)
        if writer is None:
            self._say(f"PR {pr.n} has no writer running.", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes and not c.interrupt(pr.n):
                self._say(f"PR {pr.n}'s writer had already finished.", severity="warning")

        body = (
            f"{sanitize(pr.title)}\n\nThe writer ({writer.id}) is stopped; what it left in the worktree "
            "is kept. A gate then asks whether to retry."
        )
        self.app.push_screen(ConfirmScreen(f"Interrupt PR {pr.n}'s writer?", body, "Interrupt"), confirmed)

    def pause(self) -> None:
        if self._toggle_replay():
            return
        c = self._controls()
        if c is not None and c.pause():
            self._say("Paused: running dispatches finish, no new ones start.")

    def resume(self) -> None:
        if self._toggle_replay():
            return
        c = self._controls()
        if c is not None:
            c.resume()

    def _toggle_replay(self) -> bool:
        """In a replay, p pauses and resumes the replay itself; True when it did."""
        replay = self.app.replay
        if replay is None or self.app.session_done:
            return False
        if replay.paused:
            replay.resume()
            self._say("Replay resumed.")
        else:
            replay.pause()
            self._say("Replay paused: p resumes.")
        self.app.refresh_header()
        return True

    def add_pr(self) -> None:
        c = self._controls()
        if c is None:
            return

        def added(new: NewPr | None) -> None:
            if new is None:
                return
            try:
                n = c.add_pr(new.title, new.task, new.solo)
            except SessionError as exc:
                self._say(str(exc), severity="error")
                return
            self._say(f"PR {n} added.")

        self.app.push_screen(AddPrScreen(), added)

    # --- views ---------------------------------------------------------------------------

    def diff(self) -> None:
        pr = self.pr
        if pr is None:
            return
        if not pr.commits:
            self._say(f"PR {pr.n} has no commits yet.", severity="warning")
            return
        load = self.app.diff_loader(pr)
        if load is None:
            self._say("No repository to read the diff from.", severity="warning")
            return
        self.app.push_screen(DiffScreen(f"PR {pr.n} · {sanitize(pr.title)} · {pr.head[:8]}", load))

    def follow(self) -> None:
        self.app.follow = not self.app.follow
        self._say("Following the latest activity." if self.app.follow else "Not following: j / k select.")

    def help(self) -> None:
        self.app.push_screen(HelpScreen())
