"""Named states of the cockpit, drawn from the recorded demo session (fixtures/demo_session.jsonl).

The snapshot tests and ``scripts/screenshots.py`` both use these, so the SVGs in ``screenshots/``
and the snapshots under ``tests/tui/__snapshots__`` show the same moments. A scene publishes a
prefix of the recorded events to the app's bus (no backends run), freezes the clock at the last
event, and presses keys. Gate keys need controls: a real ``Session`` over a scratch demo
repository, built but never run (so nothing can change the recorded story).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cockpit.bus import EventBus
from cockpit.demo.stack import DEMO_PRICING
from cockpit.engine.controls import SessionControls
from cockpit.events import AnyEvent, DispatchStarted, FileStat, decode
from cockpit.git.model import Diff
from cockpit.tui.app import CockpitApp

FIXTURES = Path(__file__).parent / "fixtures"


@cache
def recorded_events() -> tuple[AnyEvent, ...]:
    lines = (FIXTURES / "demo_session.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(decode(line) for line in lines if line.strip())


@cache
def recorded_diff() -> tuple[str, str, Diff]:
    data = json.loads((FIXTURES / "demo_diff.json").read_text(encoding="utf-8"))
    files = [FileStat(*f) for f in data["files"]]
    return data["base"], data["head"], Diff(data["text"], files, data["insertions"], data["deletions"])


def diff_source(base: str, head: str) -> Diff:
    """The recorded repository's diff for PR 2's first round (the only diff the scenes open)."""
    _, rec_head, diff = recorded_diff()
    if head != rec_head:
        raise LookupError(f"no recorded diff for {head[:8]}")
    return diff


def index_of(kind: str, **match: object) -> int:
    for i, ev in enumerate(recorded_events()):
        if ev.__struct_config__.tag == kind and all(getattr(ev, k) == v for k, v in match.items()):
            return i
    raise LookupError(f"no {kind} {match} in the recording")


@dataclass(frozen=True)
class Scene:
    name: str
    upto: int  # publish events[:upto]
    size: tuple[int, int] = (120, 40)
    press: tuple[str, ...] = ()
    theme: str | None = None
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    gate_timeout: float = 0.0  # > 0: the demo's countdown runs (the clock is frozen: it shows the full time)
    replay: bool = False  # shown by `cockpit replay`: the player seeks to ``upto`` instead

    @property
    def events(self) -> tuple[AnyEvent, ...]:
        return recorded_events()[: self.upto]

    @property
    def now(self) -> float:
        return self.events[-1].t + 1.5


def _gate_split() -> int:
    return index_of("gate_opened", gate="g5") + 1


def mid_session_writer() -> DispatchStarted:
    """PR 2's fix-round writer: the dispatch that streams at mid-session."""
    ev = recorded_events()[index_of("dispatch_started", pr=2, round=2, role="writer")]
    assert isinstance(ev, DispatchStarted)
    return ev


def mid_session() -> int:
    """How many events make mid-session: the fix-round writer 12 events into its stream."""
    return index_of("dispatch_started", pr=2, round=2, role="writer") + 12


def mid_session_app() -> tuple[CockpitApp, EventBus, int]:
    """An app for the mid-session events (not yet published), its clock at the last of them."""
    upto = mid_session()
    t = recorded_events()[upto - 1].t
    bus = EventBus()
    return CockpitApp(bus=bus, clock=lambda: t, diff_source=diff_source, follow=False), bus, upto


def scenes() -> dict[str, Scene]:
    gate, mid = _gate_split(), mid_session()
    out = [
        Scene(
            "mid-session", mid, description="PR 2's fix round streaming; round 1's split verdicts beside it"
        ),
        Scene("gate-split", gate, description="the composer proposes a fix after a split verdict: the gate"),
        Scene("override", gate, press=("o",), description="the override modal at the split-verdict gate"),
        Scene("diff", gate, press=("d",), description="PR 2's diff, read from git"),
        Scene("help", mid, press=("question_mark",), description="every key"),
        Scene(
            "gate-split-80x24",
            gate,
            size=(80, 24),
            gate_timeout=10,
            description="the gate in an 80×24 terminal, counting down",
        ),
        Scene("help-80x24", mid, size=(80, 24), press=("question_mark",), description="every key, 80×24"),
        Scene("mid-session-80x24", mid, size=(80, 24), description="mid-session in an 80×24 terminal"),
        Scene("gate-split-200x50", gate, size=(200, 50), description="the gate in a 200×50 terminal"),
        Scene("mid-session-200x50", mid, size=(200, 50), description="mid-session in a 200×50 terminal"),
        Scene("gate-split-light", gate, size=(200, 50), theme="cockpit-light", description="the light theme"),
        Scene("gate-split-ansi16", gate, theme="ansi-dark", description="a 16-colour terminal (ANSI theme)"),
        Scene("finished", len(recorded_events()), description="the session completed"),
        Scene(
            "replay-mid-session",
            gate,
            size=(120, 40),
            replay=True,
            description="cockpit replay, paused at the split-verdict gate, with its timeline bar",
        ),
        Scene(
            "timeline",
            len(recorded_events()),
            press=("t",),
            description="the timeline view (t): one lane per PR, brief n+1 composed while PR n is written",
        ),
    ]
    return {s.name: s for s in out}


def scratch_controls(workdir: Path) -> SessionControls:
    """A real Session over a scratch demo repository, never run: gate keys show, nothing changes."""
    from cockpit.demo import setup_demo
    from cockpit.engine.session import Session
    from cockpit.git.repo import Repo
    from cockpit.journal import Journal
    from tests.support.scripted import scripted_backends, scripted_config

    setup = setup_demo(workdir=workdir / "scene", prs=1, config=scripted_config())
    return Session(
        repo=Repo.open(setup.repo),
        config=setup.config,
        backends=scripted_backends(setup.config, setup.scenario),
        journal=Journal(workdir / "scene.sqlite3"),
        plan=setup.plan,
        worktree_root=setup.worktrees,
        mode="demo",
    )


def build(scene: Scene, controls: SessionControls | None) -> tuple[CockpitApp, EventBus]:
    bus = EventBus()
    now = scene.now
    app = CockpitApp(
        bus=bus,
        controls=controls,
        clock=lambda: now,
        diff_source=diff_source,
        theme=scene.theme,
        gate_timeout=scene.gate_timeout,
        pricing=DEMO_PRICING,
    )
    return app, bus


def build_replay(scene: Scene, workdir: Path) -> tuple[CockpitApp, EventBus]:
    """The recorded session journaled in ``workdir`` and opened by a paused replay player."""
    from cockpit.journal import Journal
    from cockpit.replay import ReplayDriver

    events = recorded_events()
    path = workdir / "replay.sqlite3"
    with Journal(path) as j:
        j.begin_session(events[0].session, "/gone/textkit", "main", "demo", started_at=events[0].t)
        w = j.writer(events[0].session, checkpoint_every=100)
        for ev in events:
            w.append(ev)
        w.flush()
        w.close()
    bus = EventBus()
    driver = ReplayDriver(path, events[0].session, bus, speed=5, hold=True)
    driver.pause()
    now = scene.now

    async def runner() -> int:
        return await driver.run()

    app = CockpitApp(
        bus=bus, controls=None, runner=runner, replay=driver, clock=lambda: now, theme=scene.theme
    )
    return app, bus


async def play(app: CockpitApp, bus: EventBus, scene: Scene) -> None:
    """Publish the scene's events, let every pane catch up, then press its keys and let it settle."""
    from textual.pilot import Pilot

    from cockpit.tui.screens.diff import DiffScreen

    pilot = Pilot(app)
    if scene.replay and app.replay is not None:
        app.replay.seek(scene.upto)
    else:
        bus.publish(scene.events)
    await app.settled()
    if not scene.press:
        return
    await pilot.press(*scene.press)
    for _ in range(500):
        screen = app.screen
        if not isinstance(screen, DiffScreen) or screen.diff is not None:
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await app.settled()
