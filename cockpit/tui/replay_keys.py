# ruff: noqa: E501  (a table reads best one row a line)
"""The replay player's keys, declared once: bindings, footer, help screen and palette come from here.

The rows have the shape of the cockpit's table of actions (name, key, footer label, palette title,
help line, group "Replay", the ``ReplayScreen`` method it runs), so they move into that table as
they are once it exists on main.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class ReplayKey:
    name: str  # the action's id (binding id ``cockpit.replay-<name>``)
    key: str  # Textual key names, comma separated
    label: str  # the footer's word ("" = not in the footer)
    title: str  # the command palette's title
    help: str  # the help screen's and the README's line
    command: str  # a ``ReplayScreen`` action, with its arguments
    shown_key: str = ""  # how help and README write the key, when not ``key``
    priority: bool = False  # before a focused pane's own keys (arrows scroll a pane otherwise)
    group: str = "Replay"


REPLAY_KEYS: tuple[ReplayKey, ...] = (
    ReplayKey("play", "space", "play/pause", "Play / pause replay", "play / pause the replay", "play_pause"),
    ReplayKey("faster", "plus,equals_sign", "faster", "Replay faster", "faster: 0.25× … 64×, then as fast as possible", "speed(1)", shown_key="+"),
    ReplayKey("slower", "minus", "slower", "Replay slower", "slower", "speed(-1)", shown_key="-"),
    ReplayKey("idle", "i", "skip idle", "Skip idle time", "skip idle: a gap over 2 s of session time plays as 2 s (toggle)", "skip_idle"),
    ReplayKey("back", "left", "", "Step back", "one event back (pauses)", "step_event(-1)", shown_key="←", priority=True),
    ReplayKey("forward", "right", "", "Step forward", "one event forward (pauses)", "step_event(1)", shown_key="→", priority=True),
    ReplayKey("prev_mark", "left_square_bracket", "", "Previous milestone", "previous milestone: commit, verdict, decision, answer, merge, error", "milestone(-1)", shown_key="["),
    ReplayKey("next_mark", "right_square_bracket", "milestone", "Next milestone", "next milestone", "milestone(1)", shown_key="]"),
    ReplayKey("goto_pr", "g", "go to PR", "Go to a PR", "go to where a PR starts (asks which)", "goto_pr"),
    ReplayKey("home", "home", "", "Replay start", "the session's start", "home", priority=True),
    ReplayKey("end", "end", "", "Replay end", "the session's end", "end", priority=True),
)  # fmt: skip


def bindings() -> list[Binding]:
    return [
        Binding(
            k.key,
            k.command,
            k.label or k.title.lower(),
            show=bool(k.label),
            priority=k.priority,
            id=f"cockpit.replay-{k.name}",
        )
        for k in REPLAY_KEYS
    ]


def help_rows() -> tuple[tuple[str, str, str], ...]:
    """(group, key, what) rows for the help screen, the group named on the first."""
    return tuple(
        ("Replay" if i == 0 else "", k.shown_key or k.key, k.help) for i, k in enumerate(REPLAY_KEYS)
    )
