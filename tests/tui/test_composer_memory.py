"""The person sees the composer's memory: the Composer pane shows the digest, the header counts it."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.widgets import Static

from cockpit.bus import EventBus
from cockpit.events import DigestUpdated, Event, PrClosed, PrOpened, SessionStarted
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.header import header_content

E = TypeVar("E", bound=Event)


def _ev(cls: type[E], seq: int, **kw: Any) -> E:
    return cls(session="s", seq=seq, t=100.0 + seq, **kw)


async def test_the_composer_pane_shows_the_latest_digest_and_the_header_counts_it() -> None:
    bus = EventBus()
    app = CockpitApp(bus=bus, clock=lambda: 200.0)
    async with app.run_test(size=(120, 40)) as pilot:
        bus.publish(
            [
                _ev(SessionStarted, 0, repo="/r", base_branch="main", base_sha="b" * 40, worktree_root="/w"),
                _ev(PrOpened, 1, pr=1, title="PR 1", task="t", branch="b1"),
            ]
        )
        await app.settled()
        await pilot.pause()
        assert not app.screen.query("#composer-memory")  # no digest yet: the pane is as it was
        assert "digest" not in header_content(app.model.state, 200.0, 1).plain
        bus.publish(
            [
                _ev(PrClosed, 2, pr=1, outcome="merged"),
                _ev(
                    DigestUpdated,
                    3,
                    pr=1,
                    text="Merged 1 PR.\nKeep the API.\x1b[2J",
                    source="composer",
                    words=5,
                ),
            ]
        )
        await app.settled()
        await pilot.pause()
        box = app.screen.query_one("#composer-memory", Static)
        shown = str(box.render())
        assert box.display and "memory after PR 1 (composer; 1 PR closed: 1 merged)" in shown
        assert "Keep the API." in shown and "\x1b" not in shown  # model text is shown, never interpreted
        assert "context 0 digest 5w" in header_content(app.model.state, 200.0, 1).plain
