"""CommitWatcher on real repositories: commits by the git CLI and by pygit2, gc, amend, worktrees.

The periodic safety-net rescan is set to a minute, so every callback here comes from a file
event (or from an explicit ``rescan()``), never from the timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cockpit.events import FileStat
from cockpit.git import CommitInfo, CommitWatcher, Repo, branch_name, worktree_name

if TYPE_CHECKING:
    from conftest import GitKit

WAIT = 10.0  # generous guard against hanging; tests never assert on elapsed time
SETTLE = 0.3  # long after debounce (10 ms) + follow-up check (50 ms): a late duplicate would be here


@dataclass
class Seen:
    calls: asyncio.Queue[tuple[str, list[CommitInfo], bool]] = field(default_factory=asyncio.Queue)

    async def __call__(self, branch: str, commits: list[CommitInfo], rewritten: bool) -> None:
        await self.calls.put((branch, commits, rewritten))

    async def next(self) -> tuple[str, list[CommitInfo], bool]:
        return await asyncio.wait_for(self.calls.get(), WAIT)

    async def assert_quiet(self) -> None:
        await asyncio.sleep(SETTLE)
        assert self.calls.empty(), f"unexpected callback: {self.calls.get_nowait()}"


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def watcher(repo_dir: Path, seen: Seen) -> AsyncIterator[CommitWatcher]:
    w = CommitWatcher(repo_dir, seen, rescan_ms=60_000)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


def add_pr(repo: Repo, wt_root: Path, n: int, session: str = "s1") -> tuple[str, Path]:
    branch = branch_name(session, n, f"task {n}")
    path = repo.create_worktree(
        worktree_name(session, n), wt_root / worktree_name(session, n), branch, "main"
    )
    return branch, path


async def rearmed(watcher: CommitWatcher, before: int) -> None:
    """Wait until the watch has been re-armed after ``before``."""
    for _ in range(int(WAIT / 0.01)):
        if watcher.restarts > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the watch was not re-armed")


async def run_git(kit: GitKit, *args: str, cwd: Path) -> str:
    return await asyncio.to_thread(kit.git, *args, cwd=cwd)


async def commit(kit: GitKit, cwd: Path, rel: str, text: str, message: str) -> str:
    return await asyncio.to_thread(kit.commit_file, cwd, rel, text, message)


async def test_a_git_commit_in_a_worktree_gives_one_callback_with_stats(
    repo: Repo, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    watcher.worktrees_changed()
    watcher.track(branch, repo.tip(branch), "main")
    sha = await commit(kit, path, "src/app.py", "def main():\n    return 2\n\n# done\n", "change main")
    got_branch, commits, rewritten = await seen.next()
    assert (got_branch, rewritten) == (branch, False)
    assert [c.sha for c in commits] == [sha]
    assert commits[0].files == [FileStat("M", "src/app.py", 3, 1)]
    assert (commits[0].insertions, commits[0].deletions) == (3, 1)
    assert commits[0].message == "change main\n"
    await seen.assert_quiet()
    assert watcher.tracked() == {branch: sha}


async def test_several_commits_landing_at_once_give_one_callback(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    watcher.worktrees_changed()
    watcher.track(branch, repo.tip(branch), "main")
    # Commit three times on a detached HEAD (HEAD and its reflog move, the branch does not),
    # then move the branch once, as a rebase or cherry-pick sequence does at its end.
    await run_git(kit, "checkout", "-q", "--detach", cwd=path)
    shas = [await commit(kit, path, f"f{i}.txt", f"{i}\n", f"commit {i}") for i in range(3)]
    await seen.assert_quiet()
    await run_git(kit, "checkout", "-q", branch, cwd=path)
    await run_git(kit, "merge", "-q", "--ff-only", shas[-1], cwd=path)
    got_branch, commits, rewritten = await seen.next()
    assert got_branch == branch and not rewritten
    assert [c.sha for c in commits] == shas
    assert [c.files for c in commits] == [[FileStat("A", f"f{i}.txt", 1, 0)] for i in range(3)]
    await seen.assert_quiet()


async def test_amend_is_reported_as_rewritten(
    repo: Repo, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    watcher.worktrees_changed()
    watcher.track(branch, repo.tip(branch), "main")
    first = await commit(kit, path, "a.txt", "a\n", "first try")
    assert [c.sha for c in (await seen.next())[1]] == [first]
    kit.write(path / "a.txt", "a, better\n")
    await run_git(kit, "commit", "-q", "-a", "--amend", "-m", "second try", cwd=path)
    amended = repo.tip(branch)
    got_branch, commits, rewritten = await seen.next()
    assert got_branch == branch and rewritten
    assert [c.sha for c in commits] == [amended] and commits[0].message == "second try\n"
    assert commits[0].parents == [repo.tip("main")]
    await seen.assert_quiet()


async def test_pack_refs_and_gc_give_no_callback_and_later_commits_are_still_seen(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)  # cockpit/s1/1-task-1: a slash branch
    watcher.worktrees_changed()
    watcher.track(branch, repo.tip(branch), "main")
    for round_ in range(4):
        sha = await commit(kit, path, "log.txt", f"round {round_}\n", f"round {round_}")
        got = await seen.next()
        assert (got[0], [c.sha for c in got[1]], got[2]) == (branch, [sha], False)
        await run_git(kit, "pack-refs", "--all", cwd=repo_dir)
        assert not (repo.common_dir / "refs" / "heads" / "cockpit").exists()  # the folder is gone
        await seen.assert_quiet()
    await run_git(kit, "gc", "-q", cwd=repo_dir)
    await seen.assert_quiet()
    sha = await commit(kit, path, "log.txt", "after gc\n", "after gc")
    assert [c.sha for c in (await seen.next())[1]] == [sha]


async def test_a_persons_commit_and_a_pygit2_commit_on_two_branches(
    repo: Repo, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    b1, p1 = add_pr(repo, wt_root, 1)
    b2, p2 = add_pr(repo, wt_root, 2)
    watcher.worktrees_changed()
    watcher.track(b1, repo.tip(b1), "main")
    watcher.track(b2, repo.tip(b2), "main")
    await seen.assert_quiet()  # nothing happens: nothing reported
    by_hand = await commit(kit, p1, "hand.txt", "typed\n", "a person typed git commit")
    kit.write(p2 / "lib.txt", "library\n")
    by_code = await asyncio.to_thread(repo.commit_all, p2, "written by the scripted writer")
    got = {}
    for _ in range(2):
        branch, commits, rewritten = await seen.next()
        assert not rewritten
        got[branch] = [c.sha for c in commits]
    assert got == {b1: [by_hand], b2: [by_code]}
    await seen.assert_quiet()


async def test_tracking_without_a_tip_reports_everything_since_the_fork(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    early = [await commit(kit, path, f"e{i}.txt", "e\n", f"early {i}") for i in range(2)]
    await commit(kit, repo_dir, "main.txt", "m\n", "main moves on")
    watcher.worktrees_changed()
    watcher.track(branch, None, "main")
    got_branch, commits, rewritten = await seen.next()  # track() itself triggers a check
    assert got_branch == branch and [c.sha for c in commits] == early and not rewritten
    await seen.assert_quiet()


async def test_a_worktree_added_after_start_is_seen(
    repo: Repo, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    assert not (repo.common_dir / "worktrees").exists()
    branch, path = add_pr(repo, wt_root, 1)
    armed = watcher.restarts
    watcher.worktrees_changed()
    await rearmed(watcher, armed)
    watcher.track(branch, repo.tip(branch), "main")
    sha = await commit(kit, path, "x.txt", "x\n", "x")
    assert [c.sha for c in (await seen.next())[1]] == [sha]
    # The last worktree goes (pruning deletes .git/worktrees/), then a new one comes.
    watcher.untrack(branch)
    repo.remove_worktree(path)
    await run_git(kit, "worktree", "prune", cwd=repo.workdir)  # git deletes the empty .git/worktrees/
    assert not (repo.common_dir / "worktrees").exists()
    watcher.worktrees_changed()
    branch2, path2 = add_pr(repo, wt_root, 2)
    watcher.worktrees_changed()
    watcher.track(branch2, repo.tip(branch2), "main")
    sha2 = await commit(kit, path2, "y.txt", "y\n", "y")
    got = await seen.next()
    assert got[0] == branch2 and [c.sha for c in got[1]] == [sha2]
    await seen.assert_quiet()


async def test_the_watch_rearms_itself_when_its_roots_change(
    repo: Repo, wt_root: Path, kit: GitKit, watcher: CommitWatcher, seen: Seen
) -> None:
    armed = watcher.restarts
    branch, path = add_pr(repo, wt_root, 1)  # creates .git/worktrees/; nobody tells the watcher
    watcher.track(branch, repo.tip(branch), "main")
    await rearmed(watcher, armed)
    first = await commit(kit, path, "a.txt", "a\n", "a")
    assert [c.sha for c in (await seen.next())[1]] == [first]
    # Detached-HEAD commits touch only worktrees/W/{HEAD,logs/HEAD}; the branch never moves.
    await run_git(kit, "checkout", "-q", "--detach", cwd=path)
    await commit(kit, path, "b.txt", "b\n", "detached")
    await seen.assert_quiet()


async def test_rescan_delivers_without_waiting_for_events(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, seen: Seen
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    lazy = CommitWatcher(repo_dir, seen, debounce_ms=60_000, step_ms=300, rescan_ms=60_000)
    await lazy.start()
    try:
        lazy.track(branch, repo.tip(branch), "main")
        sha = await commit(kit, path, "r.txt", "r\n", "r")
        await lazy.rescan()
        assert seen.calls.qsize() == 1
        got = seen.calls.get_nowait()
        assert got[0] == branch and [c.sha for c in got[1]] == [sha]
        await lazy.rescan()
        assert seen.calls.empty()
    finally:
        await lazy.stop()
    idle = CommitWatcher(repo_dir, seen)  # never started: rescan still works
    idle.track(branch, repo.tip("main"), "main")
    await idle.rescan()
    assert [c.sha for c in seen.calls.get_nowait()[1]] == [sha]


async def test_callbacks_for_a_branch_are_ordered_and_never_concurrent(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    delivered: list[str] = []
    active = 0
    most = 0
    done = asyncio.Event()
    expected: list[str] = []

    async def slow(b: str, commits: list[CommitInfo], rewritten: bool) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.03)
        delivered.extend(c.sha for c in commits)
        active -= 1
        if expected and delivered[-1:] == expected[-1:]:
            done.set()

    w = CommitWatcher(repo_dir, slow, rescan_ms=60_000)
    await w.start()
    try:
        w.track(branch, repo.tip(branch), "main")
        for i in range(6):
            expected.append(await commit(kit, path, "n.txt", f"{i}\n", f"n{i}"))
            if i % 2:
                await asyncio.gather(w.rescan(), w.rescan())
        await asyncio.wait_for(done.wait(), WAIT)
    finally:
        await w.stop()
    assert delivered == expected and most == 1


async def test_untracked_branches_are_not_reported_and_a_failing_callback_is_survived(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit, seen: Seen
) -> None:
    b1, p1 = add_pr(repo, wt_root, 1)
    b2, p2 = add_pr(repo, wt_root, 2)
    failures = 0

    async def flaky(branch: str, commits: list[CommitInfo], rewritten: bool) -> None:
        nonlocal failures
        if branch == b1 and failures == 0:
            failures += 1
            raise RuntimeError("engine bug")
        await seen(branch, commits, rewritten)

    w = CommitWatcher(repo_dir, flaky, rescan_ms=60_000)
    await w.start()
    try:
        w.track(b1, repo.tip(b1), "main")
        w.track(b2, repo.tip(b2), "main")
        w.untrack(b2)
        await commit(kit, p2, "ignored.txt", "i\n", "not tracked")
        await commit(kit, p1, "one.txt", "1\n", "raises in the callback")
        for _ in range(200):
            if failures:
                break
            await asyncio.sleep(0.01)
        second = await commit(kit, p1, "two.txt", "2\n", "after the failure")
        got = await seen.next()
        assert got[0] == b1 and [c.sha for c in got[1]] == [second]
        await seen.assert_quiet()
    finally:
        await w.stop()


async def test_rescan_from_inside_a_callback_is_refused(
    repo: Repo, repo_dir: Path, wt_root: Path, kit: GitKit
) -> None:
    branch, path = add_pr(repo, wt_root, 1)
    errors: list[BaseException] = []
    w: CommitWatcher

    async def reentrant(b: str, commits: list[CommitInfo], rewritten: bool) -> None:
        try:
            await w.rescan()
        except RuntimeError as exc:
            errors.append(exc)

    w = CommitWatcher(repo_dir, reentrant)
    w.track(branch, repo.tip(branch), "main")
    await commit(kit, path, "z.txt", "z\n", "z")
    await asyncio.wait_for(w.rescan(), WAIT)
    assert len(errors) == 1 and "inside on_commits" in str(errors[0])
