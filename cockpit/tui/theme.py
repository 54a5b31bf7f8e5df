"""The cockpit's two themes: calm, low-contrast surfaces with one colour per role.

Roles keep their colour everywhere: composer = secondary (mauve), writer = primary (blue),
reviewers = accent (teal). Warning is reserved for "waiting for you" and error for failures, so
the eye goes where a human is needed. In a 16-colour terminal the app switches to ``ansi-dark``,
whose colours the terminal itself defines.
"""

from __future__ import annotations

from textual.theme import Theme

COCKPIT_DARK = Theme(
    name="cockpit-dark",
    primary="#6CA6D9",
    secondary="#B48EAD",
    accent="#5FB3B3",
    warning="#E5C07B",
    error="#E06C75",
    success="#98C379",
    foreground="#D4D8DE",
    background="#1B1F24",
    surface="#21262D",
    panel="#2A313A",
    dark=True,
    variables={
        "footer-key-foreground": "#6CA6D9",
        "block-cursor-text-style": "none",
        "input-selection-background": "#6CA6D9 35%",
    },
)

COCKPIT_LIGHT = Theme(
    name="cockpit-light",
    primary="#1F5F99",
    secondary="#7A4988",
    accent="#1C7470",
    warning="#9A6700",
    error="#B42318",
    success="#2E7D32",
    foreground="#1F2328",
    background="#FAFAF8",
    surface="#F1F2F0",
    panel="#E3E6E8",
    dark=False,
    variables={
        "footer-key-foreground": "#1F5F99",
        "block-cursor-text-style": "none",
    },
)

THEMES = (COCKPIT_DARK, COCKPIT_LIGHT)
DEFAULT_THEME = COCKPIT_DARK.name
ANSI_THEME = "ansi-dark"
