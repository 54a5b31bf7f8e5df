"""One writer plan, two players: the Responses simulator (driving the real Codex CLI) and the
codex-compatible CLI simulator show the same files, commands, messages and commit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pygit2
import pytest

from cockpit.backends.codex_events import unwrap_command
from cockpit.demo.scenario import Patch, Step, WriterScript, parse_scenario
from cockpit.demo.sim.writer_plan import (
    Commit,
    Delete,
    Run,
    Say,
    Think,
    UpdatePlan,
    Write,
    find_writer_turn,
    plan_actions,
)
from tests.support.real_codex import (
    CodexRun,
    GitCheckout,
    branch_tip,
    codex_bin,
    exec_args,
    make_codex_home,
    make_repo_with_worktree,
    run_codex,
    sim_server,
)

SCENARIO_TEXT = """
[[pr]]
title = "Agree"
task = "every case the two players once disagreed on"
[[pr.round]]
[pr.round.writer]
message = "Done, both ways."
commit_message = "Agree on everything"
delete = ["OLD.txt"]
steps = [
  { think = "Start with the module." },
  { plan = ["Module", "Docs"] },
  { run = "echo checked", output = "checked\\n" },
  { edit = "src/a.py" },
  { edit = "README.md" },
  { edit = "no-content.txt" },
  { edit = "notes.txt" },
  { edit = "src/a.py" },
  { plan = ["Module", "Docs"] },
  { say = "Docs next." },
]
files = { "src/a.py" = "A = 1\\n", "src/b.py" = "B = 2\\n" }
patches = [
  { path = "README.md", find = "# Test project", replace = "# Agreed project" },
  { path = "notes.txt", find = "text that is not there", replace = "x" },
]

[[pr]]
title = "Broken"
task = "fails after writing"
[[pr.round]]
[pr.round.writer]
outcome = "fail"
error = "the model fell over"
steps = [{ edit = "half.txt" }]
files = { "half.txt" = "half\\n", "rest.txt" = "rest\\n" }
"""
SCENARIO = parse_scenario(SCENARIO_TEXT)
FILES = {"README.md": "# Test project\n", "notes.txt": "notes\n", "OLD.txt": "remove me\n"}
SIM = [sys.executable, "-m", "cockpit.demo.sim.codex"]


def test_a_round_becomes_ordered_actions() -> None:
    script = SCENARIO.pr[0].round[0].writer
    readme = (Patch("README.md", "# Test project", "# Agreed project"),)
    notes = (Patch("notes.txt", "text that is not there", "x"),)
    assert plan_actions(script, "Agree") == [
        Think("Start with the module."),
        UpdatePlan(("Module", "Docs"), 0),
        Run("echo checked", "checked\n", 0),
        Write("src/a.py", "A = 1\n", ()),
        Write("README.md", None, readme),
        Write("notes.txt", None, notes),  # no-content.txt and the second src/a.py change nothing
        UpdatePlan(("Module", "Docs"), 1),
        Say("Docs next."),
        Write("src/b.py", "B = 2\n", ()),  # named by no step: after the steps
        Delete(("OLD.txt",)),
        Commit("Agree on everything"),
    ]
    assert Commit("it's done").command == "git add -A && git commit -q -m 'it'\"'\"'s done'"
    nothing = WriterScript(
        outcome="no_commit", steps=[Step(edit="src/a.py"), Step(say="No.")], files={"a": "x"}
    )
    assert plan_actions(nothing, "t") == [Say("No.")]


def test_write_content_comes_from_files_then_patches_against_the_current_text() -> None:
    patch = (Patch("f", "old", "new"),)
    assert Write("f", None, patch).content("an old line") == "an new line"
    assert Write("f", "old base", patch).content("ignored") == "new base"
    assert Write("f", "whole\n", ()).content(None) == "whole\n"
    with pytest.raises(ValueError, match="not there"):
        Write("f", None, patch).content(None)


def test_the_turn_and_its_ending() -> None:
    agree = find_writer_turn(SCENARIO, "PR 1: Agree\nRound 1\n")
    assert (agree.title, agree.known, agree.ending, agree.final_text) == (
        "Agree",
        True,
        "completed",
        "Done, both ways.",
    )
    broken = find_writer_turn(SCENARIO, "PR 9: Broken\nRound 3\n")  # by title, whatever the number
    assert (broken.ending, broken.final_text, broken.round) == ("failed", "the model fell over", 3)
    unknown = find_writer_turn(SCENARIO, "PR 7: Tidy up\nRound 2\n\nMake it tidy.")
    assert not unknown.known and unknown.title == "Tidy up"
    assert unknown.actions[-1] == Commit("Tidy up: task notes (round 2)")


# --- the two players side by side ---------------------------------------------------------------


def observed(run: CodexRun, worktree: Path) -> dict[str, Any]:
    """What a caller of either CLI sees, minus what only the real path has (the model's file reads)."""
    commands = [unwrap_command(c["command"]) for c in run.items("command_execution")]
    todo = [e["item"]["items"] for e in run.events if e.get("item", {}).get("type") == "todo_list"]
    return {
        "rc": run.returncode,
        "ending": [e["type"] for e in run.events if e["type"] in ("turn.completed", "turn.failed")],
        "failure": [e["error"]["message"] for e in run.of_type("turn.failed")],
        "changes": [
            (Path(c["path"]).relative_to(worktree).as_posix(), c["kind"])
            for item in run.items("file_change")
            for c in item["changes"]
        ],
        "commands": [c for c in commands if not c.startswith("cat -- ")],
        "messages": [m["text"] for m in run.items("agent_message")],
        "reasoning": [r["text"] for r in run.items("reasoning")],
        "plans": [[(i["text"], i["completed"]) for i in items] for items in todo],
    }


def tree_of(checkout: GitCheckout) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(checkout.worktree.rglob("*")):
        rel = path.relative_to(checkout.worktree).as_posix()
        if path.is_file() and not rel.startswith(".git"):
            files[rel] = path.read_text()
    return files


@pytest.mark.codex
@pytest.mark.parametrize(("n", "title"), [(1, "Agree"), (2, "Broken")])
def test_the_real_cli_and_the_cli_simulator_play_a_round_alike(tmp_path: Path, n: int, title: str) -> None:
    prompt = f"PR {n}: {title}\nRound 1\n\nDo the task, then commit."
    real = make_repo_with_worktree(tmp_path / "real", files=FILES)
    with sim_server(SCENARIO, speed=0) as sim:
        _home, env = make_codex_home(tmp_path / "real", sim.base_url, writable_tmp=False)
        argv = exec_args(real.worktree, prompt, binary=codex_bin(), add_dirs=real.git_dirs)
        real_run = run_codex(argv, {**env, **real.env})

    played = make_repo_with_worktree(tmp_path / "sim", files=FILES)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO_TEXT, encoding="utf-8")
    sim_env = {
        **os.environ,
        **played.env,
        "CODEX_HOME": str(tmp_path / "sim" / "codex-home"),
        "COCKPIT_SIM_SCENARIO": str(scenario),
        "COCKPIT_SIM_SPEED": "0",
    }
    argv = [*SIM, "exec", "--json", "--cd", str(played.worktree), "--sandbox", "workspace-write"]
    for d in played.git_dirs:
        argv += ["--add-dir", str(d)]
    sim_run = run_codex([*argv, prompt], sim_env)

    seen_real, seen_sim = observed(real_run, real.worktree), observed(sim_run, played.worktree)
    # `run` steps really run on the real path and are reported from the script by the simulator
    assert seen_real == seen_sim
    assert tree_of(real) == tree_of(played)
    if title == "Agree":
        assert seen_sim["changes"] == [
            ("src/a.py", "add"),
            ("README.md", "update"),
            ("src/b.py", "add"),
            ("OLD.txt", "delete"),
        ]
        tips = [branch_tip(c.repo, c.branch) for c in (real, played)]
        assert [t.message.strip() for t in tips] == ["Agree on everything"] * 2
        assert tips[0].tree.id == tips[1].tree.id  # the very same committed tree
        assert pygit2.Repository(str(played.worktree)).status() == {}
    else:
        assert seen_sim["changes"] == [("half.txt", "add"), ("rest.txt", "add")]
        assert seen_sim["failure"] and "the model fell over" in seen_sim["failure"][0]
