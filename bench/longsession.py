"""A synthetic session of any length, shaped like a real one, for the replay benchmark and tests.

Each PR: a brief (composer, streamed), its gate and answer, a worktree, a writer streaming most
of the PR's events, a commit, two reviewers and their verdicts, a decision, its gate and answer,
the merge and the close. Gates wait 30 s of session time (idle for ``i`` to skip).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cockpit import events as E
from cockpit.journal import Journal

PER_PR_FIXED = 60  # events of a PR that are not the writer's stream


def synthetic_events(
    total: int, prs: int, session: str = "bench", t0: float = 1_700_000_000.0
) -> Iterator[E.Event]:
    """About ``total`` events over ``prs`` PRs, ending with ``session_finished``."""
    seq = 0
    t = t0
    writer_outputs = max(1, total // max(1, prs) - PER_PR_FIXED)

    def ev(cls: type[E.Event], pr: int | None = None, dt: float = 0.05, **kw: object) -> E.Event:
        nonlocal seq, t
        t += dt
        out = cls(session=session, seq=seq, t=t, pr=pr, **kw)  # type: ignore[call-arg]
        seq += 1
        return out

    yield ev(
        E.SessionStarted,
        repo="/tmp/bench-repo",
        base_branch="main",
        base_sha="0" * 40,
        worktree_root="/tmp/bench-wt",
        reviewers=["correctness", "quality"],
        backends={"composer": "anthropic:claude-sonnet-4-6", "writer": "codex:gpt-5-codex"},
    )
    for n in range(1, prs + 1):
        yield ev(
            E.PrOpened, n, title=f"PR number {n}", task=f"Do task {n} well.", branch=f"cockpit/bench/{n}"
        )
        did = f"c{n}b"
        yield ev(
            E.DispatchStarted,
            n,
            dispatch=did,
            role="composer",
            backend="anthropic",
            model="claude-sonnet-4-6",
            round=1,
            purpose="brief",
            name="composer",
        )
        for i in range(15):
            yield ev(E.DispatchOutput, n, dispatch=did, channel="text", text=f"brief words {i} ")
        yield ev(
            E.DispatchFinished,
            n,
            dispatch=did,
            role="composer",
            status="ok",
            usage=E.Usage(1200, 300),
            final_text=f"Brief for PR {n}",
        )
        yield ev(E.RoundStarted, n, round=1, brief=f"Brief for PR {n}")
        yield ev(
            E.GateOpened,
            n,
            gate=f"g{n}a",
            gate_kind="brief",
            round=1,
            proposal="write",
            text="brief",
            options=["approve", "edit", "skip"],
        )
        yield ev(E.HumanDecision, n, dt=30.0, gate=f"g{n}a", answer="approve", by="human")
        yield ev(
            E.WorktreeCreated, n, path=f"/tmp/bench-wt/{n}", branch=f"cockpit/bench/{n}", base_sha="0" * 40
        )
        wid = f"w{n}"
        yield ev(
            E.DispatchStarted,
            n,
            dispatch=wid,
            role="writer",
            backend="codex",
            model="gpt-5-codex",
            round=1,
            purpose="write",
            name="writer",
        )
        for i in range(writer_outputs):
            if i % 50 == 0:
                yield ev(
                    E.DispatchOutput, n, dispatch=wid, channel="command", text=f"pytest -q tests/test_{i}.py"
                )
            else:
                yield ev(
                    E.DispatchOutput,
                    n,
                    dispatch=wid,
                    channel="text",
                    text=f"writing line {i} of the change; ",
                )
        yield ev(
            E.DispatchFinished,
            n,
            dispatch=wid,
            role="writer",
            status="ok",
            usage=E.Usage(40000, 4000, 30000),
            final_text="Done.",
        )
        sha = f"{n:040x}"
        yield ev(
            E.CommitSeen,
            n,
            sha=sha,
            parents=["0" * 40],
            message=f"PR {n}",
            branch=f"cockpit/bench/{n}",
            files=[E.FileStat("M", "src/mod.py", 10, 2), E.FileStat("A", "tests/test_mod.py", 20, 0)],
            insertions=30,
            deletions=2,
        )
        for name in ("correctness", "quality"):
            rid = f"r{n}{name[0]}"
            yield ev(
                E.DispatchStarted,
                n,
                dispatch=rid,
                role="reviewer",
                backend="ollama",
                model="glm-4.6",
                round=1,
                purpose="review",
                name=name,
            )
            for i in range(10):
                yield ev(E.DispatchOutput, n, dispatch=rid, channel="text", text=f"review {i} ")
            yield ev(
                E.DispatchFinished, n, dispatch=rid, role="reviewer", status="ok", usage=E.Usage(15000, 800)
            )
            yield ev(
                E.VerdictParsed,
                n,
                dispatch=rid,
                round=1,
                reviewer=name,
                commit=sha,
                verdict="approve",
                summary="fine",
            )
        cid = f"c{n}d"
        yield ev(
            E.DispatchStarted,
            n,
            dispatch=cid,
            role="composer",
            backend="anthropic",
            model="claude-sonnet-4-6",
            round=1,
            purpose="decide",
            name="composer",
        )
        yield ev(E.DispatchFinished, n, dispatch=cid, role="composer", status="ok", usage=E.Usage(1500, 200))
        yield ev(
            E.DecisionProposed,
            n,
            dispatch=cid,
            round=1,
            commit=sha,
            action="merge",
            rationale="both approve",
            commit_message=f"PR {n}",
        )
        yield ev(
            E.GateOpened,
            n,
            gate=f"g{n}b",
            gate_kind="decision",
            round=1,
            proposal="merge",
            commit=sha,
            options=["approve", "override", "skip"],
        )
        yield ev(E.HumanDecision, n, dt=30.0, gate=f"g{n}b", answer="approve", commit=sha, by="human")
        yield ev(
            E.Merged, n, sha=sha, merge_sha=sha, base_branch="main", fast_forward=True, message=f"PR {n}"
        )
        yield ev(E.PrClosed, n, outcome="merged")
    yield ev(E.SessionFinished, status="completed")


def write_session(path: Path, total: int, prs: int, session: str = "bench", every: int | None = None) -> int:
    """Journal a synthetic session through the real writer (checkpoints included); returns its length."""
    j = Journal(path)
    j.begin_session(session, "/tmp/bench-repo", "main", "run", started_at=1_700_000_000.0)
    w = j.writer(session) if every is None else j.writer(session, checkpoint_every=every)
    n = 0
    for ev in synthetic_events(total, prs, session):
        w.append(ev)
        n += 1
        if n % 20_000 == 0:
            w.flush(timeout=300)
    w.flush(timeout=300)
    w.close()
    j.close()
    return n
