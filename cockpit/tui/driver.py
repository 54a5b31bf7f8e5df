"""Textual's Linux driver, with the escape key answered when ``ESCDELAY`` says, not up to 100 ms later.

A lone escape byte may be the start of a sequence, so the parser waits ``ESCDELAY`` (cockpit
sets 20 ms) for more before it calls it the escape key. But the driver's input thread only asks
the parser again when its ``select`` returns, and that waits up to 100 ms with nothing to read:
measured from outside in tmux, every dialog, Textual's own included, took 110-120 ms to close
with escape (bench/tui_keys_tmux.py; docs/performance.md). Here the wait after input is
``ESCDELAY``, so a pending escape is delivered on time; with nothing pending the thread goes
back to Textual's 100 ms.

The loop is Textual 8's ``LinuxDriver.run_input_thread`` with that one change (a test in
tests/tui/test_driver.py runs it in a real terminal, so a Textual release that renames what it
uses fails there, not in front of a person).
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import constants
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

IDLE_WAIT_S = 0.1  # Textual's own


class QuickEscapeDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        wait = IDLE_WAIT_S

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> bool:
            """Feed what was read; True if anything was."""
            got = False
            for i, (_key, mask) in enumerate(events):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(self.fileno, 1024 * 4), final=final and i == len(events) - 1)
                    if not data:
                        break  # stdin is a pipe
                    got = True
                    for message in parser.feed(data):
                        self.process_message(message)
            for message in parser.tick():
                self.process_message(message)
            return got

        try:
            while not self.exit_event.is_set():
                # After input, wake when an escape byte would become the escape key.
                wait = (
                    min(IDLE_WAIT_S, constants.ESCAPE_DELAY)
                    if process(selector.select(wait))
                    else IDLE_WAIT_S
                )
            selector.unregister(self.fileno)
            process(selector.select(IDLE_WAIT_S), final=True)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def driver_class(base: type[Driver]) -> type[Driver]:
    """The driver to use where Textual chose ``base``: ours in place of its Linux driver only."""
    return QuickEscapeDriver if base is LinuxDriver else base
