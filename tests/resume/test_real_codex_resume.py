"""kill -9 of the cockpit while the real Codex CLI writes; the resumed round continues its thread.

The writer is the real ``codex exec --json`` against the Responses simulator (see
tests/sim/test_real_codex.py); the composer and reviewers are scripted. The cockpit is killed
once the writer's thread id is in the journal; codex dies with it; ``resume`` runs the round
again with ``codex exec resume <thread>`` and the PR merges.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.backends.process import session_processes
from cockpit.demo import make_repo
from cockpit.demo.scenario import parse_scenario
from cockpit.events import DispatchFinished, DispatchOutput, DispatchStarted, SessionReopened
from cockpit.journal import Journal
from cockpit.state import fold
from tests.resume.test_kill_and_resume import ROOT, resume, wait_no_processes
from tests.support.real_codex import codex_bin, make_codex_home, sim_server

pytestmark = [pytest.mark.codex, pytest.mark.slow]

SCENARIO = """
[[pr]]
title = "Add greeting"
task = "Add a greeting module."
[[pr.round]]
[pr.round.writer]
commit_message = "Add greeting module"
message = "Added greet.py."
[[pr.round.writer.steps]]
think = "One small module."
[[pr.round.writer.steps]]
run = "ls"
[[pr.round.writer.steps]]
run = "ls -a"
[[pr.round.writer.steps]]
edit = "greet.py"
[pr.round.writer.files]
"greet.py" = "def greet(name: str) -> str:\\n    return f'hello {name}'\\n"
[pr.round.decision]
action = "merge"
commit_message = "Add greeting module"
"""


def test_the_resumed_codex_round_continues_the_same_thread(tmp_path: Path) -> None:
    codex = codex_bin()
    scenario_file = tmp_path / "scenario.toml"
    scenario_file.write_text(SCENARIO)
    make_repo(tmp_path / "repo", {"README.md": "# r\n"})
    with sim_server(parse_scenario(SCENARIO), speed=1.0) as sim:
        _home, codex_env = make_codex_home(tmp_path, sim.base_url)
        env = {k: codex_env[k] for k in ("CODEX_HOME", "LOCAL_API_KEY")}
        spec = {
            "tmp": str(tmp_path),
            "scenario": str(scenario_file),
            "writer": {"backend": "codex", "command": [str(codex)], "env": env, "timeout_s": 120.0},
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.resume.crash_run", str(tmp_path / "spec.json")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        journal = tmp_path / "journal.sqlite3"
        sid, thread, ran = "", "", False
        deadline = time.monotonic() + 90
        # Killed once codex has run a command: by then it has written the thread to CODEX_HOME
        # (killed right at thread.started, it may not have, and resume then starts a new thread).
        while not (thread and ran) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not journal.exists():
                continue
            with Journal(journal) as j:
                rows = j.list_sessions()
                for ev in j.read_events(rows[0].id) if rows else ():
                    if isinstance(ev, DispatchOutput) and ev.meta.get("thread_id"):
                        sid, thread = rows[0].id, str(ev.meta["thread_id"])
                    if thread and isinstance(ev, DispatchOutput) and ev.channel == "command_output":
                        ran = True
        assert thread and ran, "codex never reported its thread or ran a command"
        assert any("codex" in cmd for _, cmd in session_processes(sid))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not wait_no_processes(sid), "codex (or what it ran) outlived the cockpit"

        resume(tmp_path, spec, sid)

    with Journal(journal) as j:
        events = list(j.read_events(sid))
    state = fold(events)
    assert state.status == "completed" and state.prs[1].outcome == "merged"
    reopened = next(i for i, e in enumerate(events) if isinstance(e, SessionReopened))
    after = events[reopened:]
    writer = next(e for e in after if isinstance(e, DispatchStarted) and e.role == "writer")
    done = next(e for e in after if isinstance(e, DispatchFinished) and e.dispatch == writer.dispatch)
    assert done.status == "ok" and done.thread_id == thread  # `codex exec resume <thread>`
    assert done.usage.input_tokens > 0
    assert not wait_no_processes(sid)
