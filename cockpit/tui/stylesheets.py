"""Where the ``.tcss`` files are.

They live in ``styles/`` at the top of the repository (the design card's layout). A wheel maps
that folder into the package as ``cockpit/tui/styles/`` (``package-dir`` in pyproject.toml), so
an installed cockpit finds them beside this module; a source checkout or an editable install
finds them two levels up.
"""

from __future__ import annotations

from pathlib import Path

SHEETS = ("app.tcss", "dialogs.tcss", "diff.tcss")


def styles_dir() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "styles"
    if (packaged / SHEETS[0]).is_file():
        return packaged
    return here.parent.parent / "styles"


STYLES = styles_dir()
