"""Switching PRs under a streaming writer leaves no strips for a full collection to find.

Two sources made a full garbage collection take over a second after a minute of `j`/`k` while
a writer streamed (bench/tui_keys_tmux.py, docs/performance.md): the stream view's strip cache
(Textual's ``LRUCache`` drops a ring of links on ``clear``) and Textual's strips that cache
themselves (``cockpit/tui/strips.py``). Here the app runs the recorded mid-session scene, a
writer streams, PRs are switched, and the collector is asked what it had to free.
"""

from __future__ import annotations

import gc
from collections import Counter

from cockpit.events import DispatchOutput
from tests.tui.scenes import mid_session_app, mid_session_writer, recorded_events


async def test_switching_prs_while_a_writer_streams_leaves_no_cyclic_strips() -> None:
    app, bus, upto = mid_session_app()
    events = recorded_events()[:upto]
    writer = mid_session_writer()
    t = events[-1].t
    n = 0

    def stream(lines: int) -> None:
        nonlocal n
        text = "".join(
            f"line {n + i}: the writer reads a module, then edits one function\n" for i in range(lines)
        )
        n += lines
        bus.publish([DispatchOutput(pr=2, t=t, dispatch=writer.dispatch, channel="text", text=text)])

    async with app.run_test(size=(160, 45)) as pilot:
        bus.publish(events)
        await app.settled()
        app.pick(2)
        stream(600)
        await app.settled()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(12):
                for key in ("j", "k"):
                    stream(40)
                    await pilot.press(key)
                    await app.settled()
            gc.collect()
            kinds = Counter(type(o).__name__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert app.selected == 2 and n == 600 + 24 * 40
    assert kinds["Strip"] == 0, kinds.most_common(8)
    assert kinds["FIFOCache"] == 0, kinds.most_common(8)
