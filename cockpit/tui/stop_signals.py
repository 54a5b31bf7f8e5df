"""SIGTERM and SIGHUP (kill, a closed terminal) stop the session as `q` would, and the app leaves.

Running writers are stopped, the journal records the session's end, and the terminal is restored;
a second signal leaves at once. After a hangup there is no terminal: Textual's writer thread dies
on its first write to it, and restoring the terminal on exit then blocks for good on that thread's
full queue (seen in tmux), so the process ends without restoring anything, as soon as the session
has put its end on disk, and at the latest after ``HANGUP_GRACE_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HANGUP_GRACE_S = 15.0  # after a hangup, the longest the session gets to put its end on disk


class StopSignals:
    def __init__(self, on_signal: Callable[[], None], exit_app: Callable[[int], None]) -> None:
        self._on_signal = on_signal  # stop the session (or leave, if a stop is under way)
        self._exit_app = exit_app
        self.hung_up = False
        self._installed: list[signal.Signals] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._received, sig)
                self._installed.append(sig)

    def uninstall(self) -> None:
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for sig in self._installed:
                loop.remove_signal_handler(sig)
        self._installed.clear()

    def _received(self, sig: signal.Signals) -> None:
        if sig == signal.SIGHUP and not self.hung_up:
            self._hang_up()
        self._on_signal()

    def _hang_up(self) -> None:
        self.hung_up = True
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (1, 2):  # anything printed from here on goes nowhere instead of failing
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        os.close(devnull)
        watchdog = threading.Timer(HANGUP_GRACE_S, os._exit, args=(129,))
        watchdog.daemon = True
        watchdog.start()

    def leave(self, code: int) -> None:
        """Leave the app with ``code``; after a hangup, end the process (nothing to restore)."""
        if self.hung_up:
            os._exit(code)
        self._exit_app(code)
