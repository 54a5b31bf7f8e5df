"""Every prompt cockpit sends, in one place.

The composer's context is the scarce resource, so its prompts are built from short pieces:
the task, the writer's final message, the reviewers' verdicts and a one-line-per-PR thread of
the session. There is no parameter through which a diff could reach it (docs/architecture.md, invariant 3).
The first lines of each request are ``PR <n>: <title>`` and ``Round <r>``: people reading a log
see at once what a call was about, and the simulators key their scripts on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cockpit.events import Finding, VerdictParsed

COMPOSER_SYSTEM = """\
You are the composer in a three-way dispatch coding session. A writer model implements each PR \
in its own git worktree; reviewer models review its diff; you hold the thread of the session.

You never read code or diffs. You write briefs, and you decide from the reviewers' verdicts.

A brief tells the writer: the goal, the constraints (keep the public API, add tests, no new \
dependencies unless the task says so), and how the result will be checked. Markdown, at most \
200 words, no preamble.

A decision is one call to the decide tool:
- merge: the reviewers found nothing that must change. Give a commit message (imperative \
subject under 60 characters, blank line, one short paragraph).
- fix: a reviewer found a real defect. Give a fix brief naming each defect and what done looks like.
- abandon: the task cannot be done well within its constraints, or the change does more harm \
than good. Say why.
Reviewers can be wrong: weigh a finding by its evidence, not its severity label. When reviewers \
disagree, say which finding you believe and why."""

REVIEWER_SYSTEM = """\
You review one pull request as part of a team of independent reviewers.
Reviewer: {name}
Focus: {framing}

Read the task, the writer's note and the diff. Report only real problems you can point to, \
each with its file and line. Answer with one JSON object and nothing else:
{{"verdict": "approve" | "changes" | "block", "summary": "<one sentence>", \
"findings": [{{"severity": "blocker" | "major" | "minor" | "info", "file": "<path>", \
"line": <n>, "text": "<what is wrong and why>"}}]}}
approve: nothing must change (minor and info findings allowed). changes: at least one finding \
must be fixed before merge. block: the change must not be merged in any form."""

FRAMINGS: dict[str, str] = {
    "correctness": "correctness: does the code do what the task asks, for every input? Edge cases, "
    "off-by-one errors, error handling, broken callers, tests that do not test.",
    "quality": "code quality: readability, naming, duplication, structure, dead code, and whether "
    "the change is the simplest one that does the job.",
    "security": "security: injection, unsafe deserialization, path traversal, secrets in code or logs, "
    "unsafe subprocess use, missing input validation at trust boundaries.",
    "tests": "tests: is the new behaviour tested, can the tests fail, are edge cases covered, "
    "are the tests deterministic and fast?",
    "performance": "performance: algorithmic complexity, needless I/O or allocation on hot paths, "
    "blocking calls in async code.",
}

WRITER_FOOTER = """\
Work only inside this repository checkout. When you are done, commit your work with git \
(`git add -A && git commit -m "<message>"`); several commits are fine, uncommitted work is lost. \
Finish with a short note: what you changed and how you checked it."""

MAX_NOTE_CHARS = 1200
MAX_BRIEF_CHARS = 1500
MAX_FINDINGS = 8
DIFF_CUT_MARKER = "\n[… diff cut by cockpit: {cut} of {total} bytes not shown …]\n"


def framing_text(framing: str) -> str:
    """A built-in framing by name, or the user's own text as it is."""
    return FRAMINGS.get(framing.strip().lower(), framing.strip())


def _header(pr: int, title: str, round_no: int, max_rounds: int | None = None) -> str:
    rounds = f"Round {round_no}" + (f" of {max_rounds}" if max_rounds else "")
    return f"PR {pr}: {title}\n{rounds}\n"


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when there is one, marked with …."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-—") + "…"


@dataclass(frozen=True)
class ThreadEntry:
    """One closed PR, as the composer remembers it."""

    pr: int
    title: str
    outcome: str
    rounds: int
    note: str = ""

    def line(self) -> str:
        s = "" if self.rounds == 1 else "s"
        tail = f": {self.note}" if self.note else ""
        return f"PR {self.pr} ({self.title}) {self.outcome} after {self.rounds} round{s}{tail}"


def session_thread(goal: str, entries: Sequence[ThreadEntry]) -> tuple[str, ...]:
    """The composer's stable prefix: what the session is about and how earlier PRs ended."""
    lines = [f"Session: {goal}"] if goal else []
    if entries:
        lines.append("Earlier PRs in this session:")
        lines += [f"- {e.line()}" for e in entries]
    return ("\n".join(lines),) if lines else ()


def brief_request(pr: int, title: str, task: str) -> str:
    return _header(pr, title, 1) + f"\nTask:\n{task.strip()}\n\nWrite the brief for the writer."


def decide_request(
    *,
    pr: int,
    title: str,
    round_no: int,
    max_rounds: int,
    task: str,
    brief: str,
    writer_note: str,
    commits: Sequence[tuple[str, str]],
    files_changed: int,
    insertions: int,
    deletions: int,
    verdicts: Sequence[VerdictParsed],
    failed_reviewers: Sequence[str] = (),
) -> str:
    """The decision request: task, brief, writer's note, commit subjects and verdicts — no code."""
    parts = [_header(pr, title, round_no, max_rounds)]
    parts.append(f"Task:\n{clip(task, MAX_BRIEF_CHARS)}")
    if round_no > 1:
        parts.append(f"Brief for this round:\n{clip(brief, MAX_BRIEF_CHARS)}")
    parts.append(f"Writer's note:\n{clip(writer_note, MAX_NOTE_CHARS) or '(none)'}")
    subjects = "; ".join(f"{sha[:8]} {msg.splitlines()[0] if msg else ''}".strip() for sha, msg in commits)
    parts.append(f"Commits: {subjects or '(none)'} — {files_changed} files, +{insertions} −{deletions}")
    lines = ["Verdicts:"]
    for v in verdicts:
        lines.append(f"- {v.reviewer}: {v.verdict.upper()} — {clip(v.summary, 300) or '(no summary)'}")
        lines += [f"  - {_finding_line(f)}" for f in v.findings[:MAX_FINDINGS]]
        if len(v.findings) > MAX_FINDINGS:
            lines.append(f"  - … {len(v.findings) - MAX_FINDINGS} more")
        if v.verdict == "unparsed":
            lines.append(f"  - (answer not parsed; it began: {clip(v.raw, 200)!r})")
    for name in failed_reviewers:
        lines.append(f"- {name}: FAILED — this reviewer gave no verdict")
    parts.append("\n".join(lines))
    parts.append("Decide: call the decide tool once.")
    return "\n\n".join(parts)


def _finding_line(f: Finding) -> str:
    where = f.file or ""
    if where and f.line is not None:
        where += f":{f.line}"
    return f"[{f.severity}] {where + ' ' if where else ''}{clip(f.text, 240)}"


def review_system(name: str, framing: str) -> str:
    return REVIEWER_SYSTEM.format(name=name, framing=framing_text(framing))


def cut_diff(diff: str, max_bytes: int) -> str:
    """Cut a diff to ``max_bytes`` at a line boundary, with a marker a reviewer cannot miss."""
    data = diff.encode("utf-8")
    if len(data) <= max_bytes:
        return diff
    head = data[:max_bytes].decode("utf-8", "ignore")
    head = head[: head.rfind("\n") + 1] if "\n" in head else head
    cut = len(data) - len(head.encode("utf-8"))
    return head + DIFF_CUT_MARKER.format(cut=cut, total=len(data))


def review_request(
    *,
    pr: int,
    title: str,
    round_no: int,
    task: str,
    writer_note: str,
    diff: str,
    files_changed: int,
    insertions: int,
    deletions: int,
    max_diff_bytes: int,
) -> str:
    body = cut_diff(diff, max_diff_bytes)
    return (
        _header(pr, title, round_no)
        + f"\nTask:\n{task.strip()}\n\nWriter's note:\n{clip(writer_note, MAX_NOTE_CHARS) or '(none)'}\n\n"
        + f"Diff ({files_changed} files, +{insertions} −{deletions}):\n```diff\n{body}```\n"
    )


def writer_prompt(pr: int, title: str, round_no: int, brief: str, reason: str = "first") -> str:
    if reason == "fix":
        lead = "The reviewers found problems with your last commit on this branch. Fix them:\n\n"
    elif reason == "conflict":
        lead = "Your branch no longer merges cleanly into the base branch. Resolve it:\n\n"
    else:
        lead = ""
    return _header(pr, title, round_no) + "\n" + lead + brief.strip() + "\n\n" + WRITER_FOOTER + "\n"


def default_brief(title: str, task: str) -> str:
    """The brief a solo PR's writer gets: the task as the human wrote it."""
    return f"## {title}\n\n{task.strip()}\n"


def conflict_brief(base_branch: str, files: Sequence[str]) -> str:
    listed = ", ".join(files[:20]) or "(git did not say which)"
    return (
        f"Merge the latest `{base_branch}` into this branch (`git merge {base_branch}`), resolve the "
        f"conflicts in {listed} keeping both intents, run the tests, and commit the merge."
    )
