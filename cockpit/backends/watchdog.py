"""The session watchdog: ``python -m cockpit.backends.watchdog <session>:<owner pid>``.

Started by a session with a pipe on its stdin. When the pipe closes (the cockpit exited, or
died by ``kill -9``), it kills every process whose environment carries
``COCKPIT_SESSION=<session>:<owner pid>`` and exits. It imports only the process helpers, so it
starts fast and holds little memory while it waits.
"""

from __future__ import annotations

import os
import sys

from cockpit.backends.process import kill_session_processes


def main(argv: list[str]) -> int:
    session_id, _, owner = (argv[1] if len(argv) == 2 else "").rpartition(":")
    if not session_id or not owner.isdigit():
        print("usage: python -m cockpit.backends.watchdog <session>:<owner pid>", file=sys.stderr)
        return 2
    try:
        while os.read(0, 4096):  # until the cockpit closes the pipe or dies
            pass
    except OSError:
        pass
    kill_session_processes(session_id, only_owner=int(owner))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
