"""``cockpit clean``: what finished sessions left in a repository, and taking it away safely.

The journal says which PR a ``cockpit/<session>/...`` branch belongs to and how it ended; git
says what is there and what removing it could lose. A finished PR (merged, abandoned, failed,
skipped) loses its worktree and branch, except a worktree holding uncommitted files, and a
branch holding commits that no remaining branch has: those are kept, with the reason, unless
the branch (or its session) is named explicitly. A running session is never touched. Empty
session folders under the worktree roots go too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cockpit.fmt import fmt_count
from cockpit.git.cleanup import PrBranch, pr_branches, unique_commits
from cockpit.git.model import GitError
from cockpit.git.repo import Repo
from cockpit.journal import Journal, SessionRow
from cockpit.state import PRState, fold

FINISHED = ("merged", "abandoned", "failed", "skipped")
_SESSION_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")  # what new_session_id() makes

Kind = Literal["worktree", "branch", "folder"]
# Stops what a dead session left running; one line per process stopped
# (``cockpit.backends.process.sweep_orphans``; a test may pass its own).
Sweeper = Callable[[str], list[str]]


@dataclass(frozen=True)
class Item:
    """One thing to remove or keep, and why."""

    kind: Kind
    target: str  # a folder path or a branch name
    remove: bool
    why: str
    expected: str = ""  # a branch's tip when planned: it is not deleted if it moved since
    error: str = ""  # set when removing it failed (it is then kept)


@dataclass
class Plan:
    repo: Repo
    items: list[Item] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # finished sessions whose processes to sweep

    @property
    def removals(self) -> list[Item]:
        return [i for i in self.items if i.remove]

    @property
    def kept(self) -> list[Item]:
        return [i for i in self.items if not i.remove]

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if i.error]


class CleanError(Exception):
    """A name on the command line matches nothing; one line for the terminal."""


@dataclass(frozen=True)
class _Known:
    row: SessionRow
    prs: dict[str, PRState]  # by branch
    worktree_root: str


def _sessions(journal: Journal, repo: Repo) -> dict[str, _Known]:
    """This repository's sessions in the journal, each folded (without the streamed text)."""
    out: dict[str, _Known] = {}
    for row in journal.list_sessions():
        if Path(row.repo) != repo.workdir:
            continue
        state = fold(journal.read_events(row.id, skip_kinds=("dispatch_output",)))
        prs = {pr.branch: pr for pr in state.prs.values() if pr.branch}
        out[row.id] = _Known(row, prs, state.worktree_root)
    return out


def plan_clean(
    repo: Repo, journal: Journal, worktree_roots: Iterable[Path] = (), names: Sequence[str] = ()
) -> Plan:
    """What ``clean`` would remove and keep. ``names`` (branches or session ids) limits it to
    those, and lifts the two protections (uncommitted files, commits on no other branch)."""
    known = _sessions(journal, repo)
    branches = pr_branches(repo)
    wanted = set(names)
    unmatched = wanted - {b.name for b in branches} - {b.session for b in branches} - set(known)
    if unmatched:
        raise CleanError(
            f"no cockpit branch or session named {', '.join(sorted(unmatched))} in {repo.workdir}"
        )
    chosen = [b for b in branches if not wanted or b.name in wanted or b.session in wanted]
    plan = Plan(repo)
    decided = [(b, *_eligible(b, known.get(b.session), bool(wanted))) for b in chosen]
    leaving = {b.name for b, ok, _ in decided if ok}
    for b, ok, label in decided:
        plan.items += _branch_items(repo, b, ok, label, bool(wanted), leaving)
    # Sessions whose owner died without ending them may have left processes behind.
    plan.sessions = sorted(
        {b.session for b, ok, _ in decided if ok and b.session in known}
        | {sid for sid, k in known.items() if k.row.status == "unfinished" and not wanted}
    )
    roots = {Path(k.worktree_root) for k in known.values() if k.worktree_root} | set(worktree_roots)
    finished = {sid for sid, k in known.items() if k.row.status != "running"}
    running = set(known) - finished
    removed = {Path(i.target) for i in plan.removals}
    plan.items += _empty_folders(sorted(roots), finished, running, removed)
    return plan


def _eligible(b: PrBranch, known: _Known | None, named: bool) -> tuple[bool, str]:
    """Whether the branch's PR is finished (or named), and a label saying whose it is."""
    if known is None:
        return named, f"no session {b.session or '?'} in the journal" + ("" if named else _name_it(b))
    if known.row.status == "running":
        return False, f"session {b.session} is still running"
    pr = known.prs.get(b.name)
    if pr is None:
        return named, f"session {b.session} does not name this branch" + ("" if named else _name_it(b))
    outcome = pr.outcome or "unfinished"
    label = f"PR {pr.n} {outcome}"
    if outcome in FINISHED or named:
        return True, label
    return False, f"{label}: its session may be resumed" + _name_it(b)


def _name_it(b: PrBranch) -> str:
    return f"; to remove it anyway: cockpit clean --yes {b.name}"


def _branch_items(
    repo: Repo, b: PrBranch, ok: bool, label: str, named: bool, leaving: set[str]
) -> list[Item]:
    items: list[Item] = []
    if not ok:
        items += [Item("worktree", str(w.path), False, label) for w in b.worktrees]
        return [*items, Item("branch", b.name, False, label)]
    kept_worktree = False
    for w in b.worktrees:
        if not w.exists:
            items.append(Item("worktree", str(w.path), True, f"{label}; its folder is already gone"))
        elif w.dirty and not named:
            kept_worktree = True
            items.append(Item("worktree", str(w.path), False, f"{label}; {_files(w.dirty)} uncommitted"))
        elif w.dirty:
            items.append(Item("worktree", str(w.path), True, f"{label}; discards {_files(w.dirty)}"))
        else:
            items.append(Item("worktree", str(w.path), True, label))
    if b.in_main_checkout:
        return [*items, Item("branch", b.name, False, f"{label}; checked out in your checkout")]
    if kept_worktree:
        return [*items, Item("branch", b.name, False, f"{label}; its worktree is kept")]
    try:
        unique = unique_commits(repo, b.name, leaving)
    except (GitError, KeyError, ValueError) as exc:
        return [*items, Item("branch", b.name, False, f"{label}; cannot read it: {exc}")]
    if unique and not named:
        on = f"{fmt_count(unique, 'commit')} on no other branch"
        return [*items, Item("branch", b.name, False, f"{label}; {on}{_name_it(b)}")]
    why = label + (f"; drops {unique} commit(s) on no other branch" if unique else "")
    return [*items, Item("branch", b.name, True, why, expected=b.tip)]


def _files(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:5]) + (" …" if len(paths) > 5 else "")
    return f"{fmt_count(len(paths), 'file')} ({shown})"


def _empty_folders(
    roots: Sequence[Path], finished: set[str], running: set[str], removed: set[Path]
) -> list[Item]:
    """Session folders under the roots that are empty, or will be once the removals are done.

    A folder counts as a session's when the journal knows the session as finished, or when its
    name has the shape of a session id (the journal may be another one); never a running one's.
    """
    items: list[Item] = []
    for root in roots:
        try:
            folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            continue
        for folder in folders:
            if folder.name in running:
                continue
            if folder.name not in finished and not _SESSION_ID.fullmatch(folder.name):
                continue
            try:
                left = [p for p in folder.iterdir() if p not in removed]
            except OSError:
                continue
            if not left:
                items.append(Item("folder", str(folder), True, "an empty session folder"))
    return items


def describe(plan: Plan, *, done: bool) -> list[str]:
    """The listing: each removal and each thing kept with its reason."""
    if not plan.items:
        return [f"nothing to clean in {plan.repo.workdir}"]
    verb = "removed" if done else "remove"
    lines = [f"{verb:<8}{i.kind:<9}{i.target}  ({i.why})" for i in plan.removals]
    lines += [
        f"{'kept' if done else 'keep':<8}{i.kind:<9}{i.target}  ({i.why}{': ' + i.error if i.error else ''})"
        for i in plan.kept
    ]
    if not done and plan.removals:
        lines.append(f"{len(plan.removals)} to remove: run `cockpit clean --yes` to remove them")
    return lines


def default_sweeper() -> Sweeper:
    """The orphan-process sweep ``cockpit resume`` uses too: stop what a dead owner left running."""
    from cockpit.backends.process import sweep_orphans

    return sweep_orphans


def apply_clean(plan: Plan, sweep: Sweeper | None = None) -> tuple[Plan, list[str]]:
    """Remove what the plan says, worktrees first, then branches, then folders.

    Returns the plan as done (an item that could not be removed turns into a kept one, with
    the error) and any lines from the process sweep.
    """
    notes: list[str] = []
    if sweep is not None:
        for sid in plan.sessions:
            try:
                notes += sweep(sid)
            except OSError as exc:
                notes.append(f"could not look for processes of session {sid}: {exc}")
    done: list[Item] = []
    order = {"worktree": 0, "branch": 1, "folder": 2}
    for item in sorted(plan.items, key=lambda i: order[i.kind]):
        if not item.remove:
            done.append(item)
            continue
        try:
            _remove(plan.repo, item)
        except (GitError, OSError) as exc:
            done.append(
                Item(item.kind, item.target, False, f"{item.why}; could not remove it", error=str(exc))
            )
        else:
            done.append(item)
    return Plan(plan.repo, done, plan.sessions), notes


def _remove(repo: Repo, item: Item) -> None:
    if item.kind == "worktree":
        repo.remove_worktree(Path(item.target))
    elif item.kind == "branch":
        repo.delete_branch(item.target, expected=item.expected or None)
    else:
        os.rmdir(item.target)  # only if still empty
