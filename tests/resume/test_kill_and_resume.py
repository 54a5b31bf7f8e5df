"""Kill a session with SIGKILL at many points of every stage, resume it, and check it kept its word.

Each case runs a session in a process of its own (``crash_run``) with scripted models at speed 0
and ``COCKPIT_FAULT_KILL`` naming where it dies: once a given event is on disk, halfway through
a merge's checkout, or after a merge is in git but before it is journaled. The test then resumes
it in this process and checks: the session completes with the outcomes an uninterrupted run
has; the journal holds every event up to the kill, numbered without a gap; every uncommitted
change a worktree held at the kill still exists (in its worktree, or as an object in git); no
process of the dead session is running; ``git fsck`` finds nothing wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pygit2
import pytest

from cockpit.backends.process import session_processes
from cockpit.demo import make_repo
from cockpit.demo.scenario import project_files
from cockpit.engine.session import Session
from cockpit.events import DispatchOutput, PrClosed, SessionFinished, SessionReopened
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from cockpit.state import fold
from tests.resume.crash_run import backends_of, config_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

DEMO_OUTCOMES = {1: "merged", 2: "merged", 3: "abandoned", 4: "merged"}

# Where the demo session (4 PRs: a merge, a fix then merge, an abandon, a solo merge) is killed.
DEMO_POINTS = [
    ("event:dispatch_started:1", "composing the first brief"),
    ("event:dispatch_output:1", "the composer streaming"),
    ("event:gate_opened:1", "at a brief gate"),
    ("event:human_decision:1", "a brief gate answered, nothing done yet"),
    ("event:worktree_intent:1", "about to create a worktree"),
    ("event:worktree_created:1", "worktree made, writer not started"),
    ("event:round_started:1", "round started, writer not started"),
    ("event:dispatch_output:12", "writing"),
    ("event:commit_seen:1", "right after a commit"),
    ("event:verdict_parsed:1", "reviewing, one verdict in"),
    ("event:dispatch_started:6", "a later dispatch in flight"),
    ("event:decision_proposed:1", "deciding: the decision is out"),
    ("event:gate_opened:3", "at a decision gate"),
    ("event:merge_intent:1", "about to merge"),
    ("point:merge_done", "merged in git, not yet journaled"),
    ("event:merged:1", "merged, PR not closed"),
    ("event:pr_closed:1", "between PRs"),
    ("event:round_started:3", "a fix round started"),
    ("event:commit_seen:3", "after the fix commit"),
    ("event:decision_proposed:2", "the second decision"),
    ("event:human_decision:5", "a later gate answered"),
    ("event:merge_intent:2", "about to merge the fixed PR"),
    ("event:worktree_intent:4", "about to remove a worktree"),
    ("event:pr_closed:2", "between PRs again"),
    ("event:decision_proposed:4", "the abandon decision"),
    ("event:pr_closed:3", "after the abandon"),
    ("event:round_started:5", "the solo PR's writer about to start"),
    ("event:gate_opened:8", "at the solo PR's merge gate"),
    ("event:merge_intent:3", "about to merge the solo PR"),
]

MANY_FILES = 240
_DATA_FILES = "\n".join(f'"data/f{i:03}.txt" = "file {i}\\n"' for i in range(MANY_FILES))
BIG_MERGE = f"""
[[pr]]
title = "Add many data files"
task = "Add {MANY_FILES} data files."
[[pr.round]]
[pr.round.writer]
commit_message = "Add data files"
[pr.round.writer.files]
{_DATA_FILES}
[pr.round.decision]
action = "merge"
commit_message = "Add data files"

[[pr]]
title = "Add a note"
task = "Add NOTE.md."
[[pr.round]]
[pr.round.writer]
commit_message = "Add a note"
[pr.round.writer.files]
"NOTE.md" = "a note\\n"
[pr.round.decision]
action = "merge"
"""

NO_COMMIT = """
[[pr]]
title = "Nothing happens"
task = "The writer commits nothing."
[[pr.round]]
[pr.round.writer]
outcome = "no_commit"
"""

# Both writers run at once, so either PR may merge first; the other one conflicts and takes the
# merged greeting in its second round (the PR that merged first never uses its second round).
CONFLICT = """
[[pr]]
title = "Greeting A"
task = "Write hello.txt."
[[pr.round]]
[pr.round.writer]
commit_message = "hello A"
[pr.round.writer.files]
"hello.txt" = "hello from A\\n"
[pr.round.decision]
action = "merge"
[[pr.round]]
[pr.round.writer]
commit_message = "take B's greeting"
[pr.round.writer.files]
"hello.txt" = "hello from B\\n"
[pr.round.decision]
action = "merge"

[[pr]]
title = "Greeting B"
task = "Write hello.txt too."
[[pr.round]]
[pr.round.writer]
commit_message = "hello B"
[pr.round.writer.files]
"hello.txt" = "hello from B\\n"
[pr.round.decision]
action = "merge"
[[pr.round]]
[pr.round.writer]
commit_message = "take A's greeting"
[pr.round.writer.files]
"hello.txt" = "hello from A\\n"
[pr.round.decision]
action = "merge"
"""


def _spec(tmp: Path, scenario: str, **extra: Any) -> dict[str, Any]:
    if not scenario.startswith("builtin:"):
        path = tmp / "scenario.toml"
        path.write_text(scenario)
        scenario = str(path)
    return {"tmp": str(tmp), "scenario": scenario, **extra}


def crash(tmp: Path, spec: dict[str, Any], fault: str, files: dict[str, str] | None = None) -> str:
    """Run the session until it kills itself at ``fault``; returns the session id."""
    make_repo(tmp / "repo", files if files is not None else project_files("textkit"))
    (tmp / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "COCKPIT_FAULT_KILL": fault, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.resume.crash_run", str(tmp / "spec.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, f"the fault {fault} was not reached: {done.stderr[-2000:]}"
    with Journal(tmp / "journal.sqlite3") as j:
        rows = j.list_sessions()
        assert len(rows) == 1 and rows[0].status == "unfinished"
        return rows[0].id


def uncommitted(tmp: Path) -> dict[Path, str]:
    """Every file that differs from HEAD in any PR worktree: path -> blob id of its content."""
    found: dict[Path, str] = {}
    root = tmp / "worktrees"
    if not root.exists():
        return found
    for wt in (p for p in root.glob("*/*") if (p / ".git").exists()):
        repo = pygit2.Repository(str(wt))
        for rel, flags in repo.status().items():
            path = wt / rel
            if flags != pygit2.enums.FileStatus.CURRENT and path.is_file():
                found[path] = str(pygit2.hash(path.read_bytes()))
    return found


def wait_no_processes(session_id: str, limit_s: float = 10.0) -> list[tuple[int, str]]:
    deadline = time.monotonic() + limit_s
    while (left := session_processes(session_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def resume(tmp: Path, spec: dict[str, Any], session_id: str) -> Session:
    cfg = config_of(spec)
    journal = Journal(tmp / "journal.sqlite3")
    session = Session.reopen(
        session_id,
        journal=journal,
        repo=Repo.open(tmp / "repo"),
        config=cfg,
        backends=backends_of(spec, cfg),
        auto_approve=True,
    )
    asyncio.run(asyncio.wait_for(session.run(), 120))
    return session


def check(tmp: Path, spec: dict[str, Any], fault: str, outcomes: dict[int, str]) -> None:
    sid = crash(tmp, spec, fault)
    with Journal(tmp / "journal.sqlite3") as j:
        before = list(j.read_events(sid))
    assert [e.seq for e in before] == list(range(len(before))), "the journal has a gap"
    if fault.startswith("event:"):
        kind, _, gate_kind = fault.split(":")[1].partition(".")  # gate_opened.conflict: a kind of gate
        assert any(
            type(e).__struct_config__.tag == kind and gate_kind in ("", getattr(e, "gate_kind", ""))
            for e in before
        ), "the last event was lost"
    assert not wait_no_processes(sid), "a process of the dead session is still running"
    dirty = uncommitted(tmp)

    session = resume(tmp, spec, sid)

    with Journal(tmp / "journal.sqlite3") as j:
        after = list(j.read_events(sid))
        assert j.get_session(sid).status in ("completed", "failed")
    assert after[: len(before)] == before, "resume rewrote the journal"
    assert [e.seq for e in after] == list(range(len(after)))
    assert sum(isinstance(e, SessionReopened) for e in after) == 1, [
        e for e in after[len(before) :] if type(e).__name__ in ("Error", "Warn", "SessionFinished")
    ]
    assert isinstance(after[-1], SessionFinished)
    state = fold(after)
    assert {n: p.outcome for n, p in state.prs.items()} == outcomes, [
        (e.pr, e.outcome, e.reason) for e in after if isinstance(e, PrClosed)
    ]
    assert state == session.recorder.state, "the engine's state is not the fold of its journal"
    repo = pygit2.Repository(str(tmp / "repo"))
    for path, blob in dirty.items():
        kept = path.is_file() and str(pygit2.hash(path.read_bytes())) == blob
        assert kept or blob in repo, f"the uncommitted change to {path} was lost"
    assert not wait_no_processes(sid)
    fsck = subprocess.run(["git", "fsck", "--no-progress"], cwd=tmp / "repo", capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp / "repo", capture_output=True, text=True, check=True
    )
    assert status.stdout == "", f"the user's checkout was left changed: {status.stdout[:500]}"
    assert not list((tmp / "repo" / ".git").glob("**/*.lock"))


@pytest.mark.parametrize(("fault", "where"), DEMO_POINTS, ids=[w for _, w in DEMO_POINTS])
def test_the_demo_session_survives_a_kill(tmp_path: Path, fault: str, where: str) -> None:
    check(tmp_path, _spec(tmp_path, "builtin:demo"), fault, DEMO_OUTCOMES)


@pytest.mark.parametrize("files_done", [1, MANY_FILES // 2, MANY_FILES - 1])
def test_a_kill_in_the_middle_of_a_big_merge_is_repaired(tmp_path: Path, files_done: int) -> None:
    """The base branch is checked out in the user's repository, so the merge writes hundreds of
    files into it; the kill leaves some written, a ref lock, perhaps the index. Resume puts the
    files back, drops the lock, and merges again."""
    check(tmp_path, _spec(tmp_path, BIG_MERGE), f"checkout:{files_done}", {1: "merged", 2: "merged"})
    assert len(list((tmp_path / "repo" / "data").iterdir())) == MANY_FILES


def test_a_kill_at_a_failure_gate(tmp_path: Path) -> None:
    check(tmp_path, _spec(tmp_path, NO_COMMIT), "event:gate_opened:2", {1: "failed"})


def test_a_kill_at_a_conflict_gate(tmp_path: Path) -> None:
    spec = _spec(tmp_path, CONFLICT, session={"concurrent_writers": 2})
    check(tmp_path, spec, "event:gate_opened.conflict", {1: "merged", 2: "merged"})


ONE_PR = """
[[pr]]
title = "Add cmd.txt"
task = "Write cmd.txt."
[[pr.round]]
[pr.round.decision]
action = "merge"
commit_message = "Add cmd.txt"
"""

# A writer that starts a process in a session of its own (out of its process group, as the
# Codex CLI does with its commands), sleeps, then commits.
SLOW_WRITER = (
    "echo started; setsid sleep 300 & "
    "sleep 1.5; echo written >> cmd.txt; git add -A; git commit -qm 'command writer'; echo done"
)


def test_a_command_writer_and_what_it_started_die_with_the_cockpit(tmp_path: Path) -> None:
    """kill -9 of the cockpit while a `command` writer sleeps: the writer dies with it (parent
    death signal), the process it started in another session is killed by the watchdog, and the
    resumed session runs the writer again and merges its commit."""
    spec = _spec(
        tmp_path,
        ONE_PR,
        writer={"backend": "command", "command": ["sh", "-c", SLOW_WRITER], "brief_via": "stdin"},
    )
    make_repo(tmp_path / "repo", {"README.md": "# r\n"})
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.resume.crash_run", str(tmp_path / "spec.json")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal = tmp_path / "journal.sqlite3"
    sid = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if not journal.exists():
            continue
        with Journal(journal) as j:
            rows = j.list_sessions()
            if rows and any(
                isinstance(e, DispatchOutput) and e.text.startswith("started")
                for e in j.read_events(rows[0].id)
            ):
                sid = rows[0].id
                break
    assert sid, "the writer never started"
    writers = session_processes(sid)
    assert any("sleep 300" in cmd for _, cmd in writers), writers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not wait_no_processes(sid), "the writer or what it started outlived the cockpit"

    resume(tmp_path, spec, sid)
    with Journal(journal) as j:
        state = fold(j.read_events(sid))
    assert state.status == "completed" and state.prs[1].outcome == "merged"
    assert (tmp_path / "repo" / "cmd.txt").read_text() == "written\n"
    assert not wait_no_processes(sid)


async def test_a_session_quit_with_work_in_flight_resumes(tmp_path: Path) -> None:
    """A human stop (q, Ctrl-C) closes open PRs as interrupted; resume carries them on."""
    from cockpit.events import DispatchStarted
    from tests.support.scripted import scripted_backends
    from tests.support.sessions import SessionHarness

    h = SessionHarness.build(tmp_path, auto_approve=True)
    task = asyncio.create_task(h.run())
    await h.wait_event(DispatchStarted, lambda e: e.role == "writer" and e.pr == 2)
    h.session.stop()
    result = await task
    assert result.status == "interrupted"
    assert "interrupted" in {p.outcome for p in h.state().prs.values()}
    session = Session.reopen(
        "last",
        journal=h.journal,
        repo=Repo.open(h.repo_dir),
        config=h.config,
        backends=scripted_backends(h.config, h.scenario),
        auto_approve=True,
    )
    done = await asyncio.wait_for(session.run(), 60)
    assert done.status == "completed"
    assert {n: p.outcome for n, p in h.state().prs.items()} == DEMO_OUTCOMES
    assert h.session.recorder.state != session.recorder.state  # the second run held the whole fold
    assert fold(h.events()) == session.recorder.state
