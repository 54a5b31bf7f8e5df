"""The live cockpit (Textual). Only ``cockpit.cli`` imports this package; nothing below it may.

Textual waits ``ESCDELAY`` milliseconds (default 100) after a lone escape byte before it takes
it for the escape key, in case more of a sequence follows; every dialog closes with escape. A
terminal sends a sequence in one write, so 20 ms is plenty (tmux since 3.5 waits 10 ms); the
input driver (``driver.py``) makes the wait this long and no longer. Read when Textual is first
imported, which is here; a user's own ESCDELAY wins.
"""

import os

os.environ.setdefault("ESCDELAY", "20")
