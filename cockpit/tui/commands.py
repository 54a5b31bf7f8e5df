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
from cockpit.state import PRState, RoundState
from cockpit.text import sanitize
from cockpit.tui.actions import BY_NAME
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

READONLY = "This is a replay: nothing can be changed here."


def skip_consequence(pr: PRState) -> str:
    """What skipping does to this PR: one that never started has no branch to keep."""
    if pr.commits:
        return "It closes as skipped; its branch and commits are kept, nothing is merged."
    if any(r.writer for r in pr.rounds.values()):
        return "It closes as skipped; the writer made no commit, its worktree is kept if it left work."
    return "It closes as skipped before it started: no branch or worktree was made."


def fix_draft(title: str, rnd: RoundState | None) -> str:
    """A fix brief to edit: what to fix, the composer's rationale, each reviewer's findings."""
    parts = [f"Fix: {title}", ""]
    if rnd is not None and rnd.decision is not None and rnd.decision.rationale.strip():
        parts += ["The composer's reading:", rnd.decision.rationale.strip(), ""]
    findings = []
    for name, v in sorted(rnd.verdicts.items()) if rnd is not None else []:
        for f in v.findings:
            where = f.file or ""
            if where and f.line is not None:
                where = f"{where}:{f.line}"
            findings.append(f"- [{name}, {f.severity}] " + (f"{where}: " if where else "") + f.text.strip())
        if not v.findings and v.summary.strip():
            findings.append(f"- [{name}, {v.verdict}] {v.summary.strip()}")
    if findings:
        parts += ["Fix what the reviewers found:", *findings, ""]
    return "\n".join(parts)


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

    def applies(self, name: str) -> bool:
        """Whether the action called ``name`` applies now: the footer shows it, the palette offers
        it, its key runs it. The action's kind decides first (see ``cockpit.tui.actions``), then
        its own ``when``."""
        action = BY_NAME.get(name)
        if action is None:
            return False
        app = self.app
        if action.kind == "replay" and app.replay is None:
            return False
        if action.kind in ("gate", "change"):
            if app.controls is None:
                return False
            if action.kind == "gate":
                target = app.target_gate()
                if target is None or name not in target[0].options:
                    return False
            elif app.model.state.status != "running":
                return False
        return not action.when or bool(getattr(self, action.when)())

    def run(self, name: str) -> None:
        """Run the action called ``name`` (a key, a footer or banner click, the palette)."""
        action = BY_NAME[name]
        command = getattr(self, action.command)
        if action.arg:
            command(action.arg)
        else:
            command()

    def can_pause(self) -> bool:
        app = self.app
        if app.controls is None:
            return app.replay is not None and not app.session_done and not app.replay.paused
        s = app.model.state
        return s.status == "running" and not s.paused

    def can_resume(self) -> bool:
        app = self.app
        if app.controls is None:
            return app.replay is not None and not app.session_done and app.replay.paused
        s = app.model.state
        return s.status == "running" and s.paused

    def can_interrupt(self) -> bool:
        pr = self.pr
        return pr is not None and self.app.model.state.running_writer(pr.n) is not None

    def can_skip(self) -> bool:
        pr = self.pr
        return pr is not None and not pr.closed

    def can_diff(self) -> bool:
        pr = self.pr
        return pr is not None and bool(pr.commits)

    # --- gates ---------------------------------------------------------------------------

    def approve(self) -> None:
        got = self._gate("approve")
        if got is not None and self._settled(got[1], "a"):
            self._answer(*got, GateAnswer("approve"))

    def retry(self) -> None:
        got = self._gate("retry")
        if got is not None and self._settled(got[1], "r"):
            self._answer(*got, GateAnswer("retry"))

    def abandon(self) -> None:
        got = self._gate("abandon")
        if got is None:
            return
        c, gate = got

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._answer(c, gate, GateAnswer("abandon"))

        pr = self.app.model.state.prs.get(gate.pr) if gate.pr is not None else None
        title = sanitize(pr.title) if pr is not None else ""
        body = f"{title}\n\nIt closes as abandoned; nothing of it is merged."
        self.app.push_screen(ConfirmScreen(f"Abandon PR {gate.pr}?", body, "Abandon"), confirmed)

    def fail(self) -> None:
        got = self._gate("fail")
        if got is None:
            return
        c, gate = got

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._answer(c, gate, GateAnswer("fail"))

        pr = self.app.model.state.prs.get(gate.pr) if gate.pr is not None else None
        title = sanitize(pr.title) if pr is not None else ""
        body = f"{title}\n\nIt closes as failed (the session exits 1); nothing of it is merged."
        self.app.push_screen(ConfirmScreen(f"Fail PR {gate.pr}?", body, "Fail"), confirmed)

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
        """Where the fix brief starts: the composer's own brief when it wrote one; else, for a
        failed step, the round's brief; else the composer's rationale and the reviewers' findings,
        so the human edits a draft instead of facing an empty editor."""
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
        if gate.gate_kind in ("failure", "conflict") and rnd is not None and rnd.brief:
            return rnd.brief
        return fix_draft(pr.title, rnd)

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
                f"{sanitize(pr.title)}\n\n{skip_consequence(pr)}",
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
        """One help screen, installed: closing an uninstalled screen removes it, and Textual then
        lays out and repaints the whole screen behind it a second time (issue 15)."""
        if not self.app.is_screen_installed("help"):
            self.app.install_screen(HelpScreen(self.app.key_of), "help")
        self.app.push_screen("help")

    def timeline(self) -> None:
        self.app.show_timeline()

    def palette(self) -> None:
        self.app.action_command_palette()

    def quit(self) -> None:
        self.app.request_quit()

    def step(self, delta: str) -> None:
        if self.app.main is not None:
            n = self.app.main.pr_list.step(int(delta))
            if n is not None:
                self.app.pick(n)

    def zoom(self, pane: str) -> None:
        if self.app.main is not None:
            self.app.main.zoom(pane)

    def unzoom(self) -> None:
        if self.app.main is not None:
            self.app.main.unzoom()
