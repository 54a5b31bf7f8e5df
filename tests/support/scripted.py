"""In-process scripted backends for tests: deterministic stand-ins for every role, driven by a scenario.

They exist so a whole session can run with no network, no keys and no subprocess model: the
writer really edits files and really commits (with the ``git`` CLI, as any writer would) in its
worktree, the reviewers stream the scenario's raw verdict texts, and the composer answers with
the scenario's briefs and decisions. Pacing is the scenario's, divided by ``speed`` (0 = none).
Usage is the scenario's when it gives one, else estimated from the real prompt and answer sizes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cockpit.backends.base import (
    Backends,
    ComposeJob,
    ComposeResult,
    DispatchError,
    Output,
    OutputSink,
    ReviewJob,
    ReviewResult,
    WriteJob,
    WriteResult,
)
from cockpit.config import ComposerConfig, Config, ReviewerConfig, WriterConfig
from cockpit.demo.scenario import PatchError, Scenario, WriterScript, apply_patches, edited_paths
from cockpit.demo.sim.anthropic_responders import decision_prose
from cockpit.events import Usage
from cockpit.tokens import estimate_tokens


@dataclass
class Pacer:
    scenario: Scenario
    speed: float

    def scale(self, seconds: float) -> float:
        return 0.0 if self.speed <= 0 else seconds / self.speed

    async def pause(self, seconds: float) -> None:
        s = self.scale(seconds)
        await asyncio.sleep(s)  # sleep(0) still yields, so a flood never starves the loop

    async def stream(self, out: OutputSink, channel: str, text: str) -> None:
        p = self.scenario.pacing
        size = max(1, p.chunk_chars)
        for i in range(0, len(text), size):
            out(Output(channel, text[i : i + size]))
            await self.pause(p.chunk_s)


def _usage(given: Usage, prompt: str, answer: str) -> Usage:
    if given != Usage():
        return given
    return Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(answer))


class ScriptedComposer:
    backend = "scripted"

    def __init__(
        self,
        scenario: Scenario,
        speed: float = 1.0,
        model: str = "scripted-composer",
        timeout_s: float = 300.0,
    ) -> None:
        self.scenario = scenario
        self.pacer = Pacer(scenario, speed)
        self.model = model
        self.timeout_s = timeout_s

    async def compose(self, job: ComposeJob, out: OutputSink) -> ComposeResult:
        prompt = "\n".join([job.system, *job.context, job.request])
        if job.tool is not None:
            prompt += json.dumps(job.tool.input_schema)
        pr = self.scenario.find_pr(job.title)
        await self.pacer.pause(self.scenario.pacing.think_s)
        if job.purpose == "brief":
            text = (pr.brief if pr and pr.brief else _generic_brief(job.title, job.request)).strip() + "\n"
            await self.pacer.stream(out, "text", text)
            return ComposeResult(
                text, _usage(pr.brief_usage if pr else Usage(), prompt, text), stop_reason="end_turn"
            )
        script = pr.round_script(job.round).decision if pr else None
        if script is not None and script.fault:
            raise DispatchError(f"composer fault: {script.fault}", hint="scripted fault from the scenario")
        if script is None:
            action, rationale, message, brief = _generic_decision(job.request, job.title)
        else:
            action, rationale = script.action, script.rationale
            message, brief = script.commit_message, script.brief
        tool_input = {"action": action, "rationale": rationale}
        if message:
            tool_input["commit_message"] = message
        if brief:
            tool_input["brief"] = brief
        if job.tool is None and not (script is not None and script.as_text):  # decide_with = "text"
            answer = decision_prose(action, tool_input)  # the sections the prompt asks for
            await self.pacer.stream(out, "text", answer)
            usage = _usage(script.usage if script else Usage(), prompt, answer)
            return ComposeResult(answer, usage, stop_reason="end_turn")
        rendered = f"**Decision: {action}**\n\n{rationale}\n"
        if action == "merge" and message:
            rendered += f"\nCommit message:\n\n    {message.replace(chr(10), chr(10) + '    ')}\n"
        if action == "fix" and brief:
            rendered += f"\nBrief:\n\n{brief}\n"
        await self.pacer.stream(out, "text", rendered)
        usage = _usage(script.usage if script else Usage(), prompt, json.dumps(tool_input))
        if script is not None and script.as_text:
            return ComposeResult(
                rendered.replace("**Decision:", "Decision:").replace("**", ""), usage, stop_reason="end_turn"
            )
        return ComposeResult(rendered, usage, tool_input=tool_input, stop_reason="tool_use")


def _generic_brief(title: str, request: str) -> str:
    task = request.split("Task:", 1)[-1].split("Write the brief", 1)[0].strip()
    return (
        f"## {title}\n\n{task}\n\n- Keep the change small and focused.\n"
        "- Add or update tests for the new behaviour.\n- Commit when the tests pass."
    )


def _generic_decision(request: str, title: str) -> tuple[str, str, str, str]:
    verdicts = request.split("Verdicts:", 1)[-1]
    if re.search(r"— (CHANGES|BLOCK)\b|: (CHANGES|BLOCK) —", verdicts):
        round_line = re.search(r"^Round (\d+) of (\d+)", request, re.MULTILINE)
        if round_line and int(round_line.group(1)) >= int(round_line.group(2)):
            return "abandon", "Reviewers still ask for changes on the last round.", "", ""
        return "fix", "A reviewer asked for changes.", "", "Address every finding the reviewers listed."
    return "merge", "All reviewers approve.", title, ""


class ScriptedReviewer:
    backend = "scripted"

    def __init__(
        self,
        name: str,
        scenario: Scenario,
        speed: float = 1.0,
        framing: str = "",
        model: str = "scripted-reviewer",
        timeout_s: float = 900.0,
    ) -> None:
        self.name = name
        self.framing = framing or name
        self.scenario = scenario
        self.pacer = Pacer(scenario, speed)
        self.model = model
        self.timeout_s = timeout_s

    async def review(self, job: ReviewJob, out: OutputSink) -> ReviewResult:
        pr = self.scenario.find_pr(job.title)
        await self.pacer.pause(self.scenario.pacing.think_s)
        if pr is None:
            text = '{"verdict": "approve", "summary": "No problems found.", "findings": []}'
            usage = Usage()
        else:
            script = self.scenario.review_script(pr, job.round, self.name)
            if script.fault == "timeout":
                await asyncio.Event().wait()  # hang until the engine's timeout cancels us
            if script.fault == "missing_model":
                raise DispatchError(f"model {self.model!r} not found", hint=f"ollama pull {self.model}")
            if script.fault:
                raise DispatchError(
                    f"reviewer fault: {script.fault}", hint="scripted fault from the scenario"
                )
            text, usage = script.text, script.usage
        await self.pacer.stream(out, "text", text)
        return ReviewResult(text, _usage(usage, job.system + job.prompt, text))


class ScriptedWriter:
    backend = "scripted"

    def __init__(
        self,
        scenario: Scenario,
        speed: float = 1.0,
        model: str = "scripted-writer",
        timeout_s: float = 1800.0,
    ) -> None:
        self.scenario = scenario
        self.pacer = Pacer(scenario, speed)
        self.model = model
        self.timeout_s = timeout_s
        self._threads = 0

    async def write(self, job: WriteJob, out: OutputSink) -> WriteResult:
        pr = self.scenario.find_pr(job.title)
        script = pr.round_script(job.round).writer if pr else _generic_writer(job)
        thread = job.resume_thread
        if not thread:
            self._threads += 1
            thread = f"scripted-{job.pr}-{self._threads}"
        written: set[str] = set()
        p = self.scenario.pacing
        await self.pacer.pause(p.think_s)
        for i, step in enumerate(script.steps):
            if step.think is not None:
                await self.pacer.stream(out, "reasoning", step.think.rstrip() + "\n")
            elif step.say is not None:
                await self.pacer.stream(out, "text", step.say.rstrip() + "\n")
            elif step.run is not None:
                out(Output("command", step.run, {"id": f"cmd{i}"}))
                await self.pacer.pause(p.step_s)
                out(Output("command_output", step.output, {"id": f"cmd{i}", "exit_code": step.exit_code}))
            elif step.edit is not None:
                if script.outcome == "no_commit":
                    continue  # no_commit: the writer changed nothing (dirty = changed, not committed)
                kind = self._write_file(job.worktree, step.edit, script)
                written.add(step.edit)
                out(Output("file_change", step.edit, {"changes": [{"path": step.edit, "kind": kind}]}))
            elif step.plan is not None:
                out(
                    Output(
                        "plan",
                        "\n".join(step.plan),
                        {"items": [{"text": t, "completed": False} for t in step.plan]},
                    )
                )
            await self.pacer.pause(p.step_s)
        for path in edited_paths(script) if script.outcome != "no_commit" else ():
            if path not in written:
                kind = self._write_file(job.worktree, path, script)
                out(Output("file_change", path, {"changes": [{"path": path, "kind": kind}]}))
        for path in script.delete:
            target = self._safe_path(job.worktree, path)
            if target.exists():
                target.unlink()
                out(Output("file_change", path, {"changes": [{"path": path, "kind": "delete"}]}))
        if script.outcome == "hang":
            out(Output("status", "waiting for the model…"))
            await asyncio.Event().wait()
        if script.outcome == "fail":
            raise DispatchError(
                script.error or "the writer failed", hint="scripted failure from the scenario"
            )
        if script.outcome == "commit":
            message = script.commit_message or job.title
            await _git_commit(job.worktree, message, out)
        await self.pacer.stream(out, "text", script.message.rstrip() + "\n")
        answer = " ".join(s.say or s.think or s.output for s in script.steps) + script.message
        return WriteResult(script.message, _usage(script.usage, job.prompt, answer), thread)

    def _safe_path(self, worktree: Path, rel: str) -> Path:
        target = (worktree / rel).resolve()
        if worktree.resolve() not in target.parents:
            raise DispatchError(f"scenario path {rel!r} leaves the worktree")
        return target

    def _write_file(self, worktree: Path, rel: str, script: WriterScript) -> str:
        target = self._safe_path(worktree, rel)
        exists = target.exists()
        if rel in script.files:
            content = script.files[rel]
        else:
            content = target.read_text(encoding="utf-8") if exists else ""
        try:
            content = apply_patches(rel, content, script.patches)
        except PatchError as exc:
            raise DispatchError(
                f"scripted edit failed: {exc}", hint="the scenario's patch does not fit"
            ) from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return "update" if exists else "add"


def _generic_writer(job: WriteJob) -> WriterScript:
    """A writer for a PR the scenario does not know: a small, real, committed change."""
    from cockpit.demo.scenario import Step

    slug = re.sub(r"[^a-z0-9]+", "-", job.title.lower()).strip("-")[:40] or "task"
    path = f"notes/{slug}.md"
    return WriterScript(
        steps=[Step(think="The scenario has no script for this PR; writing a note for it."), Step(edit=path)],
        files={path: f"# {job.title}\n\n{job.prompt.strip()}\n"},
        message=f"Wrote {path}.",
        commit_message=job.title,
    )


_GIT_ENV = {
    "GIT_AUTHOR_NAME": "cockpit scripted writer",
    "GIT_AUTHOR_EMAIL": "writer@cockpit.invalid",
    "GIT_COMMITTER_NAME": "cockpit scripted writer",
    "GIT_COMMITTER_EMAIL": "writer@cockpit.invalid",
}


async def _git_commit(worktree: Path, message: str, out: OutputSink) -> None:
    cmd = f"git add -A && git commit -q -m {json.dumps(message)}"
    out(Output("command", cmd, {"id": "commit"}))
    env = {**os.environ, **_GIT_ENV}
    proc = await asyncio.create_subprocess_shell(
        "git add -A && git commit -q -F -",
        cwd=worktree,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate(message.encode())
    text = output.decode("utf-8", "replace")
    # A failed commit is not a failed dispatch: like a real writer, it ends without a commit,
    # and the engine reports that ("exited without committing").
    out(Output("command_output", text, {"id": "commit", "exit_code": proc.returncode}))


def scripted_config(reviewers: tuple[str, ...] = ("correctness", "quality")) -> Config:
    """A config to go with the scripted backends: the session reads models, limits and reviewer
    names from it, while the backends themselves come from ``scripted_backends``."""
    return Config(
        composer=ComposerConfig(model="scripted-composer"),
        writer=WriterConfig(model="scripted-writer"),
        reviewers=[ReviewerConfig(name=n, model="scripted-reviewer", framing=n) for n in reviewers],
        source="<scripted>",
    )


def scripted_backends(cfg: Config, scenario: Scenario, speed: float = 0.0) -> Backends:
    """Every role of ``cfg`` played in process from ``scenario`` (its models, timeouts, framings)."""
    c, w = cfg.composer, cfg.writer
    return Backends(
        composer=ScriptedComposer(scenario, speed, model=c.model, timeout_s=c.timeout_s),
        writer=ScriptedWriter(scenario, speed, model=w.model or "scripted-writer", timeout_s=w.timeout_s),
        reviewers=[
            ScriptedReviewer(
                r.name, scenario, speed, framing=r.effective_framing(), model=r.model, timeout_s=r.timeout_s
            )
            for r in cfg.reviewers
        ],
    )
