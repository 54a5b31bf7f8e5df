"""``cockpit clean`` over a repository a real session left things in: list, remove, keep what matters.

One session, four PRs: merged, abandoned (its commit on no other branch), failed after a commit
(its worktree left clean), failed with an uncommitted edit in its worktree. Real git, the real
journal, the real command line.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.clean import apply_clean, plan_clean
from cockpit.events import DispatchStarted, WorktreeCreated
from cockpit.git.repo import Repo
from cockpit.journal import Journal
from tests.engine.test_sessions import one_pr
from tests.support.sessions import SessionHarness, git

pytestmark = pytest.mark.slow

FAULT = '[[pr.round.review]]\nreviewer = "*"\nfault = "error"\n'


def cockpit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def pr_branches(repo: Path) -> list[str]:
    return [
        b for b in git("branch", "--format=%(refname:short)", cwd=repo).split() if b.startswith("cockpit/")
    ]


@pytest.fixture
def leftovers(tmp_path: Path) -> tuple[SessionHarness, dict[int, str], dict[int, Path]]:
    scenario = (
        one_pr(title="Merged", path="m.txt")
        + one_pr(title="Abandoned", path="a.txt", decision="abandon")
        + one_pr(title="Review broke", path="f.txt", review=FAULT)
        + one_pr("dirty", title="Left dirty", path="d.txt")
    )
    h = SessionHarness.build(tmp_path, scenario, auto_approve=True)
    result = asyncio.run(h.run())
    assert h.state().prs[1].outcome == "merged", result
    assert [h.state().prs[n].outcome for n in (1, 2, 3, 4)] == ["merged", "abandoned", "failed", "failed"]
    branches = {pr.n: pr.branch for pr in h.state().prs.values()}
    worktrees = {e.pr: Path(e.path) for e in h.of(WorktreeCreated)}
    h.journal.close()
    return h, branches, worktrees


def test_clean_lists_removes_and_keeps_the_edit(
    leftovers: tuple[SessionHarness, dict[int, str], dict[int, Path]],
) -> None:
    h, branches, worktrees = leftovers
    repo, journal = h.repo_dir, h.tmp / "journal.sqlite3"
    base = ["--repo", str(repo), "--journal", str(journal)]
    # Before: merged and abandoned PRs already lost their worktrees at close.
    assert not worktrees[1].exists() and not worktrees[2].exists()
    assert worktrees[3].exists() and (worktrees[4] / "d.txt").read_text() == "notes\n"
    assert sorted(pr_branches(repo)) == sorted(branches.values())

    listed = cockpit("clean", *base)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert f"remove  worktree {worktrees[3]}  (PR 3 failed)" in out
    assert f"remove  branch   {branches[1]}  (PR 1 merged)" in out
    assert f"keep    branch   {branches[2]}  (PR 2 abandoned; 1 commit on no other branch" in out
    assert f"; to remove it anyway: cockpit clean --yes {branches[2]})" in out
    assert f"keep    branch   {branches[3]}  (PR 3 failed; 1 commit on no other branch" in out
    assert f"keep    worktree {worktrees[4]}  (PR 4 failed; 1 file (d.txt) uncommitted)" in out
    assert f"keep    branch   {branches[4]}  (PR 4 failed; its worktree is kept)" in out
    assert "2 to remove: run `cockpit clean --yes`" in out
    # Listing changed nothing.
    assert worktrees[3].exists() and sorted(pr_branches(repo)) == sorted(branches.values())

    done = cockpit("clean", "--yes", *base)
    assert done.returncode == 0, done.stderr
    assert f"removed worktree {worktrees[3]}" in done.stdout
    assert f"removed branch   {branches[1]}" in done.stdout
    assert f"kept    worktree {worktrees[4]}" in done.stdout
    assert not worktrees[3].exists()
    assert sorted(pr_branches(repo)) == sorted([branches[2], branches[3], branches[4]])
    assert (worktrees[4] / "d.txt").read_text() == "notes\n"  # the edit is kept
    assert str(worktrees[4]) in git("worktree", "list", cwd=repo)
    assert "Add m.txt" in git("log", "--oneline", "main", cwd=repo)  # merged work stays on main

    again = cockpit("clean", "--yes", *base)
    assert "removed" not in again.stdout  # nothing more goes without a name

    # Named explicitly, an abandoned branch goes, commits and all.
    named = cockpit("clean", "--yes", branches[2], *base)
    assert named.returncode == 0, named.stderr
    assert (
        f"removed branch   {branches[2]}  (PR 2 abandoned; drops 1 commit(s) on no other branch)"
        in named.stdout
    )
    assert branches[3] not in named.stdout  # naming limits clean to what is named
    assert branches[2] not in pr_branches(repo)


def test_naming_the_session_removes_everything_and_its_empty_folder(
    leftovers: tuple[SessionHarness, dict[int, str], dict[int, Path]],
) -> None:
    h, _branches, worktrees = leftovers
    repo, journal = h.repo_dir, h.tmp / "journal.sqlite3"
    session_folder = worktrees[4].parent
    assert session_folder.name == h.session.id
    done = cockpit("clean", "--yes", h.session.id, "--repo", str(repo), "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    assert f"removed worktree {worktrees[4]}  (PR 4 failed; discards 1 file (d.txt))" in done.stdout
    assert f"removed folder   {session_folder}  (an empty session folder)" in done.stdout
    assert pr_branches(repo) == [] and not session_folder.exists()
    assert git("worktree", "list", cwd=repo).count("\n") == 1


def test_a_name_that_matches_nothing_is_a_usage_error(tmp_path: Path) -> None:
    from cockpit.demo import make_repo

    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    done = cockpit("clean", "nope", "--repo", str(repo), "--journal", str(tmp_path / "j.sqlite3"))
    assert done.returncode == 2 and "no cockpit branch or session named nope" in done.stderr
    empty = cockpit("clean", "--repo", str(repo), "--journal", str(tmp_path / "j.sqlite3"))
    assert empty.returncode == 0 and "nothing to clean" in empty.stdout


def test_running_resumable_and_unknown_work_is_kept(tmp_path: Path) -> None:
    """In process: a session still running, a PR interrupted (resumable) and a branch no session
    in the journal knows are listed as kept, never removed, unless named (running: never)."""
    h = SessionHarness.build(tmp_path, one_pr("hang"), auto_approve=True)

    async def interrupted() -> None:
        task = asyncio.create_task(h.run())
        await h.wait_event(DispatchStarted, lambda e: e.role == "writer")
        h.session.stop()
        await task

    asyncio.run(interrupted())
    stopped = h.state().prs[1]
    assert stopped.outcome == "interrupted" and Path(stopped.worktree).exists()  # it had written files
    repo = Repo.open(h.repo_dir)
    live = "20990101-000000-beef"
    h.journal.begin_session(live, str(repo.workdir), "main", "run")  # owned by this (live) process
    git("branch", f"cockpit/{live}/1-live", cwd=h.repo_dir)
    git("branch", "cockpit/19990101-000000-dead/1-lost", cwd=h.repo_dir)

    plan = plan_clean(repo, h.journal)
    said = {i.target: (i.remove, i.why) for i in plan.items}
    assert (
        said[stopped.branch][0] is False
        and "PR 1 interrupted: its session may be resumed" in said[stopped.branch][1]
    )
    assert said[stopped.worktree][0] is False
    assert said[f"cockpit/{live}/1-live"] == (False, f"session {live} is still running")
    lost = said["cockpit/19990101-000000-dead/1-lost"]
    assert lost[0] is False and lost[1].startswith("no session 19990101-000000-dead in the journal")
    assert plan.removals == []

    named = plan_clean(
        repo, h.journal, names=[f"cockpit/{live}/1-live", "cockpit/19990101-000000-dead/1-lost"]
    )
    assert {i.target: i.remove for i in named.items if i.kind == "branch"} == {
        f"cockpit/{live}/1-live": False,  # a running session is never touched
        "cockpit/19990101-000000-dead/1-lost": True,
    }
    done, _ = apply_clean(named)
    assert not done.failed
    assert "cockpit/19990101-000000-dead/1-lost" not in pr_branches(h.repo_dir)
    assert f"cockpit/{live}/1-live" in pr_branches(h.repo_dir)


def test_clean_sweeps_the_processes_of_the_sessions_it_cleans(
    leftovers: tuple[SessionHarness, dict[int, str], dict[int, Path]],
) -> None:
    """The hook for the orphan-process sweep gets each session whose leftovers go, once."""
    h, _branches, _worktrees = leftovers
    with Journal(h.tmp / "journal.sqlite3") as j:
        plan = plan_clean(Repo.open(h.repo_dir), j)
    swept: list[str] = []

    def sweep(session_id: str) -> list[str]:
        swept.append(session_id)
        return [f"stopped pid 1 left by session {session_id}: codex"]

    _done, notes = apply_clean(plan, sweep)
    assert swept == [h.session.id]
    assert notes == [f"stopped pid 1 left by session {h.session.id}: codex"]
