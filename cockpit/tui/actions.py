"""Every action of the cockpit, declared once.

One row per action: its name, default key, footer label, palette title, help text, group, when it
applies and the command that runs it. The main screen's bindings, the footer, the help screen,
the command palette and the README's key table are all made from ``ACTIONS``; nothing else lists
keys. The table is plain data: ``command`` and ``when`` name methods of
``cockpit.tui.commands.Commands`` (a test checks that each exists), so the table needs no import
of what it drives.

Keys can be remapped in ``cockpit.toml`` (``[keys]``, action name = key or "key1,key2"); the
remap goes through Textual's keymap, keyed by each binding's id (``cockpit.<keymap name>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from textual.binding import Binding

from cockpit.config import nearest

Group = Literal["Gates", "Session", "View", "Replay"]
# When an action applies, before its own ``when``:
#   gate:   a gate is open (the banner's) and offers this answer; never in a replay
#   change: the live session is running; never in a replay
#   replay: only in a replay
#   view:   always
Kind = Literal["gate", "change", "replay", "view"]


@dataclass(frozen=True)
class Action:
    name: str  # the action's id: `[keys]` name, palette and screen action argument
    key: str  # default key(s), Textual names, comma separated ("question_mark", "ctrl+p")
    label: str  # the footer's word
    title: str  # the command palette's title
    help: str  # the help screen's and the README's line
    group: Group
    kind: Kind
    command: str  # a method of Commands, called with ``arg`` when it is not ""
    arg: str = ""
    when: str = ""  # a method of Commands returning whether it applies ("" = the kind decides)
    footer: int = 0  # 0: not in the footer; else its rank, the lowest kept longest when narrow
    keymap: str = ""  # the `[keys]` name when two rows share one key (pause / resume); "" = name
    in_help: bool = True

    @property
    def binding_id(self) -> str:
        return f"cockpit.{self.keymap or self.name}"


ACTIONS: tuple[Action, ...] = (
    # --- gates
    Action(
        "approve", "a", "approve", "Approve",
        "approve what the open gate proposes (the selected PR's gate, else the oldest)",
        "Gates", "gate", "approve", footer=2,
    ),
    Action(
        "override", "o", "override", "Override",
        "override: merge / fix / abandon instead (fix opens an editor with the brief and findings)",
        "Gates", "gate", "override", footer=3,
    ),
    Action(
        "edit", "e", "edit", "Edit",
        "edit the brief or commit message before it goes on (ctrl+s accepts, esc cancels)",
        "Gates", "gate", "edit", footer=4,
    ),
    Action(
        "retry", "r", "retry", "Retry", "retry a failed or interrupted step",
        "Gates", "gate", "retry", footer=5,
    ),
    Action(
        "abandon", "b", "abandon", "Abandon PR", "abandon the PR at the open gate (asks first)",
        "Gates", "gate", "abandon", footer=13,
    ),
    Action(
        "fail", "F", "fail", "Fail PR", "fail the PR at the open gate (a capital F; asks first)",
        "Gates", "gate", "fail", footer=14,
    ),
    Action(
        "skip", "s", "skip", "Skip PR", "skip the selected PR (asks first)",
        "Gates", "change", "skip", when="can_skip", footer=7,
    ),
    # --- the session
    Action(
        "interrupt", "x", "interrupt", "Interrupt writer",
        "interrupt the selected PR's running writer (asks first)",
        "Session", "change", "interrupt", when="can_interrupt", footer=6,
    ),
    Action(
        "pause", "p", "pause", "Pause",
        "pause / resume: running dispatches finish, no new ones start",
        "Session", "view", "pause", when="can_pause", footer=8,
    ),
    Action(
        "resume", "p", "resume", "Resume", "resume after a pause",
        "Session", "view", "resume", when="can_resume", footer=8, keymap="pause", in_help=False,
    ),
    Action(
        "add_pr", "n", "add PR", "Add PR", "add a PR (title and task) to the running session",
        "Session", "change", "add_pr", footer=10,
    ),
    Action(
        "quit", "q", "quit", "Quit cockpit",
        "quit (asks while work is in flight; the journal records the session as interrupted)",
        "Session", "view", "quit", footer=1,
    ),
    # --- views
    Action(
        "next_pr", "j", "next PR", "Next PR", "select the next PR (or click it)",
        "View", "view", "step", arg="1",
    ),
    Action(
        "prev_pr", "k", "previous PR", "Previous PR", "select the previous PR",
        "View", "view", "step", arg="-1",
    ),
    Action(
        "follow", "f", "follow", "Follow latest",
        "toggle following the PR with the latest activity (on at start)",
        "View", "view", "follow", footer=11,
    ),
    Action(
        "diff", "d", "diff", "Diff", "the selected PR's diff, from git, per file, highlighted",
        "View", "view", "diff", when="can_diff", footer=9,
    ),
    Action(
        "timeline", "t", "timeline", "Timeline view",
        "timeline view: one lane per PR, dispatches as bars, gates, commits and merges as marks",
        "View", "view", "timeline",
    ),
    Action(
        "max_writer", "1", "writer", "Maximise Writer", "maximise the Writer pane",
        "View", "view", "zoom", arg="writer",
    ),
    Action(
        "max_reviewers", "2", "reviewers", "Maximise Reviewers", "maximise the Reviewers pane",
        "View", "view", "zoom", arg="reviewers",
    ),
    Action(
        "max_composer", "3", "composer", "Maximise Composer", "maximise the Composer pane",
        "View", "view", "zoom", arg="composer",
    ),
    Action(
        "restore", "0", "restore", "Restore panes", "restore the three panes",
        "View", "view", "unzoom",
    ),
    Action(
        "palette", "ctrl+p", "palette", "Command palette",
        "command palette: every action that applies now, by name",
        "View", "view", "palette", footer=12,
    ),
    Action(
        "help", "question_mark", "help", "Keys", "every key and what it does",
        "View", "view", "help", footer=1,
    ),
)  # fmt: skip

BY_NAME: dict[str, Action] = {a.name: a for a in ACTIONS}
KEYMAP_NAMES: frozenset[str] = frozenset(a.keymap or a.name for a in ACTIONS)

# Shown in the help screen under the table: keys that are Textual's own, not actions.
HELP_NOTES: tuple[tuple[str, str], ...] = (
    ("tab", "move focus between the list and the panes (then scroll with arrows / pgup / pgdn)"),
)

_KEY_CHARS = {
    "question_mark": "?",
    "plus": "+",
    "minus": "-",
    "space": "space",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left": "←",
    "right": "→",
}


def bindings() -> list[Binding]:
    """The main screen's bindings: each action's key calls ``screen.do('<name>')``."""
    return [Binding(a.key, f"do('{a.name}')", a.label, show=False, id=a.binding_id) for a in ACTIONS]


def key_display(key: str) -> str:
    """How a key reads on screen: ``question_mark`` → ``?``; several keys joined by ``/``."""
    return " / ".join(_KEY_CHARS.get(k.strip(), k.strip()) for k in key.split(","))


def effective_key(action: Action, keymap: Mapping[str, str]) -> str:
    """The key(s) that run ``action`` once ``[keys]`` applied (``keymap`` is by binding id)."""
    return keymap.get(action.binding_id, action.key)


def keymap_from_config(keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """``[keys]`` (action name → keys) as a Textual keymap (binding id → keys), and the problems:
    an unknown name (with the nearest real one) or an empty key."""
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for name, key in keys.items():
        if name not in KEYMAP_NAMES:
            near = nearest(name, sorted(KEYMAP_NAMES))
            hint = f" (did you mean `{near[0]}`?)" if near else ""
            problems.append(f"keys.{name}: no such action{hint}; actions: {', '.join(sorted(KEYMAP_NAMES))}")
            continue
        if not key.strip():
            problems.append(f"keys.{name}: empty key")
            continue
        keymap[f"cockpit.{name}"] = ",".join(k.strip() for k in key.split(","))
    return keymap, problems


def readme_table(keymap: Mapping[str, str] | None = None) -> str:
    """The README's key table (a test keeps the README equal to it)."""
    rows = ["| key | does |", "| --- | --- |"]
    for a in ACTIONS:
        if a.in_help:
            key = key_display(effective_key(a, keymap or {}))
            rows.append(f"| `{key}` | {a.help} |")
    return "\n".join(rows)
