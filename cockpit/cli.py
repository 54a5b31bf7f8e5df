"""Command line: run, demo, sessions, init (and later doctor, replay, export).

Exit codes: 0 every PR reached merged / abandoned / skipped by decision; 1 a PR failed; 2 a
usage, config or repository problem (one line naming it); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from cockpit.config import CONFIG_NAME, CONFIG_TEMPLATE, Config, ConfigError, Pricing, load_config
from cockpit.journal import Journal, JournalError, default_journal_path

# Everything heavy (asyncio, pygit2, the engine, the backends' clients, Textual) is imported inside
# the command that needs it, so `cockpit --version` and `cockpit sessions` start fast (issue 15).
if TYPE_CHECKING:
    import asyncio

    from cockpit.backends.base import Backends
    from cockpit.engine.session import Session
    from cockpit.git.repo import Repo
    from cockpit.plan import PlanItem

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def die(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"cockpit: {message}", err=True)
    sys.exit(code)


def open_journal(path: Path | None) -> Journal:
    try:
        return Journal(path or default_journal_path())
    except JournalError as exc:
        die(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cockpit")
def main() -> None:
    """Supervise three-way dispatch coding sessions: a writer, reviewers, and a composer."""


_journal_option = click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal file (default: COCKPIT_JOURNAL, else the user data dir).",
)
_repo_option = click.option(
    "--repo",
    "repo_dir",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The repository.",
)


F = TypeVar("F", bound=Callable[..., Any])


def _config_option(
    help: str = f"Config file (default: {CONFIG_NAME} in the repository).",
) -> Callable[[F], F]:
    return click.option(
        "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help
    )


_no_prompt_option = click.option(
    "--no-prompt",
    is_flag=True,
    help="Headless: ask nothing here; gates wait for an answer from `cockpit attach` or `cockpit serve`.",
)


# --- run -------------------------------------------------------------------------------------


@main.command()
@_repo_option
@click.option("--task", "tasks", multiple=True, help="A task for one PR (repeat for several).")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A TOML plan with [[pr]] tables (title, task, review).",
)
@_config_option()
@click.option("--headless", is_flag=True, help="No screen: print a line per step.")
@click.option("--auto-approve", is_flag=True, help="Approve every gate (failures still fail).")
@_no_prompt_option
@click.option("-v", "--verbose", is_flag=True, help="Headless: also print the models' streamed text.")
@click.option("--no-preflight", is_flag=True, help="Start without first checking that every backend answers.")
@_journal_option
def run(
    repo_dir: Path,
    tasks: tuple[str, ...],
    plan_file: Path | None,
    config_file: Path | None,
    headless: bool,
    auto_approve: bool,
    no_prompt: bool,
    verbose: bool,
    no_preflight: bool,
    journal: Path | None,
) -> None:
    """Run a session over a repository."""
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo
    from cockpit.plan import PlanError, from_tasks, load_plan

    if bool(tasks) == bool(plan_file):
        die("give either --task (one or more) or --plan")
    try:
        repo = Repo.open(repo_dir)
        cfg = load_config(config_file, repo.workdir)
        plan, goal = load_plan(plan_file) if plan_file else (from_tasks(list(tasks)), "")
        from cockpit.backends.factory import build_backends

        backends = build_backends(cfg)
    except (GitError, ConfigError, PlanError, ValueError) as exc:
        die(str(exc))
    if not no_preflight:
        check_before_start(cfg, repo.workdir)
    from cockpit.families import family_warnings

    code = start_session(
        repo=repo,
        cfg=cfg,
        backends=backends,
        plan=plan,
        goal=goal,
        headless=headless,
        auto_approve=auto_approve,
        verbose=verbose,
        journal_path=journal,
        mode="run",
        prompt=not no_prompt,
        warnings=family_warnings(cfg),
    )
    sys.exit(code)


def check_before_start(cfg: Config, repo_dir: Path) -> None:
    """Exit 2 with one line per problem when a backend or the repository would fail (doctor's checks)."""
    from cockpit.doctor import preflight

    _refuse_on(preflight(cfg, repo_dir))


def _refuse_on(problems: Sequence[Any]) -> None:
    """Preflight's problems, one line each, then exit 2: nothing was started."""
    for problem in problems:
        click.echo(f"cockpit: {problem.line()}", err=True)
    if problems:
        die("nothing was started (fix the above, check with `cockpit doctor`, or pass --no-preflight)")


class _PreflightFailed(Exception):
    """Preflight found problems while the cockpit was already on screen; reported once it closes."""

    def __init__(self, problems: Sequence[Any]) -> None:
        super().__init__(f"{len(problems)} preflight problem(s)")
        self.problems = list(problems)


def start_session(
    *,
    repo: Repo,
    cfg: Config,
    backends: Backends,
    plan: Sequence[PlanItem],
    goal: str,
    headless: bool,
    auto_approve: bool,
    verbose: bool,
    journal_path: Path | None,
    mode: str,
    worktree_root: Path | None = None,
    warnings: Sequence[str] = (),
    gate_timeout: float = 0.0,
    resume_ref: str | None = None,
    prompt: bool = True,
) -> int:
    from cockpit.engine.session import Session, SessionError
    from cockpit.git.model import GitError
    from cockpit.secret import hide_own_environment

    hide_own_environment([cfg.composer.api_key_env])  # issue 9: writers cannot read our keys
    if not headless and cfg.keys:
        from cockpit.tui.actions import keymap_from_config

        _, problems = keymap_from_config(cfg.keys)
        if problems:
            die(f"{cfg.source or 'config'}: {problems[0]}")
    journal = open_journal(journal_path)
    try:
        if resume_ref is not None:
            session = Session.reopen(
                resume_ref,
                journal=journal,
                repo=repo,
                config=cfg,
                backends=backends,
                auto_approve=auto_approve,
                argv=sys.argv[1:],
                worktree_root=worktree_root,
            )
        else:
            session = Session(
                repo=repo,
                config=cfg,
                backends=backends,
                journal=journal,
                plan=plan,
                auto_approve=auto_approve,
                mode=mode,
                argv=sys.argv[1:],
                goal=goal,
                worktree_root=worktree_root,
                warnings=warnings,
            )
    except (SessionError, GitError, JournalError) as exc:
        journal.close()
        die(str(exc))
    if not headless:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            journal.close()
            die("the cockpit needs a terminal; pass --headless to print a line per step instead")
        from cockpit.tui.app import run_app

        try:
            code = _checked(
                session, run_app(session, gate_timeout=gate_timeout, keys=cfg.keys, pricing=cfg.pricing)
            )
            _print_closing(journal, session.id, journal_path, per_pr=True)  # the screen is restored
            return code
        except JournalError as exc:
            die(str(exc))
        finally:
            journal.close()
    if not auto_approve and prompt and not sys.stdin.isatty():
        die(
            "without --auto-approve, gates need a terminal to answer them (or pass --auto-approve, "
            "or --no-prompt to answer from `cockpit attach` or `cockpit serve`)"
        )
    if not auto_approve and not prompt:
        click.echo(
            f"cockpit: session {session.id}: gates wait for an answer from "
            f"`cockpit attach {session.id}` or `cockpit serve`",
            err=True,
        )
    try:
        import asyncio

        code = _checked(session, asyncio.run(_run_headless(session, verbose, prompt)))
    except JournalError as exc:
        die(str(exc))
    except (asyncio.CancelledError, KeyboardInterrupt):  # a forced quit (Ctrl-C twice)
        code = EXIT_INTERRUPTED
    try:
        _print_closing(journal, session.id, journal_path, per_pr=False)  # the table has each PR
    finally:
        journal.close()
    return code


def _print_closing(journal: Journal, session_id: str, journal_path: Path | None, *, per_pr: bool) -> None:
    """The session's id, each PR's outcome and the replay command, read back from the journal."""
    from cockpit.headless import closing_lines
    from cockpit.state import fold

    try:
        state = fold(journal.read_events(session_id, skip_kinds=("dispatch_output",)))
    except JournalError as exc:
        click.echo(f"cockpit: session {session_id}: {exc}", err=True)
        return
    command = f"cockpit replay {session_id}"
    if journal_path is not None:
        command += f" --journal {shlex.quote(str(journal_path))}"
    for line in closing_lines(state, command, per_pr=per_pr):
        click.echo(line)


def _checked(session: Session, code: int) -> int:
    """Say so when the journal could not write everything (the exit code stays the session's)."""
    lost = session.recorder.lost if hasattr(session, "recorder") else 0  # none before run() starts
    if lost:
        click.echo(f"cockpit: warning: {lost} events could not be written to the journal", err=True)
    return code


async def _run_headless(session: Session, verbose: bool, prompt: bool = True) -> int:
    import asyncio

    from cockpit.headless import HeadlessPrinter, answer_gates_on_terminal

    printer = HeadlessPrinter(verbose=verbose, pricing=session.config.pricing)
    if session.history:  # a resumed session: the summary counts what happened before the crash too
        from cockpit.state import fold

        printer.state = fold(session.history)
    session.bus.subscribe(printer.on_event)
    loop = asyncio.get_running_loop()
    _install_stop_signals(loop, session.stop)
    prompter = None
    if not session.auto_approve and prompt:
        prompter = asyncio.create_task(answer_gates_on_terminal(session, printer))
    try:
        result = await session.run()
    finally:
        if prompter is not None:
            prompter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prompter
    printer.print_summary()
    code: int = result.exit_code
    return code


def _install_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """First Ctrl-C stops the session gracefully (writers are killed, the journal says why)."""
    import asyncio
    import signal

    calls = {"n": 0}

    def handler() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            click.echo("\ncockpit: stopping (Ctrl-C again to force)…", err=True)
            stop()
        else:
            for task in asyncio.all_tasks(loop):
                task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)


# --- demo ------------------------------------------------------------------------------------


@main.command()
@click.option("--headless", is_flag=True, help="No screen: print a line per step.")
@click.option("--prs", type=click.IntRange(1, 50), default=4, show_default=True, help="How many PRs.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Pacing factor; 0 runs without pauses.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to make the scratch repository (default: a temp dir).",
)
@click.option("--keep", is_flag=True, help="Keep the scratch repository afterwards.")
@click.option(
    "--gate-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="An open gate approves itself after this long (any key stops the countdown; 0 waits for you).",
)
@_no_prompt_option
@click.option("-v", "--verbose", is_flag=True, help="Headless: also print the models' streamed text.")
@_journal_option
def demo(
    headless: bool,
    prs: int,
    speed: float,
    workdir: Path | None,
    keep: bool,
    gate_timeout: float,
    no_prompt: bool,
    verbose: bool,
    journal: Path | None,
) -> None:
    """A whole session, offline, in a scratch repository.

    The models are simulated; everything else is real: the anthropic and ollama clients talk HTTP
    to local simulators, the writer is driven like `codex exec --json` and really edits and
    commits in git worktrees, and the merges land on the scratch repository's main branch.
    """
    if not headless:
        sys.exit(_demo_in_cockpit(prs, speed, workdir, keep, gate_timeout, no_prompt, journal))
    from cockpit.backends.factory import build_backends
    from cockpit.demo import DemoError, setup_demo
    from cockpit.demo.stack import start_sims
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo

    stack = start_sims("builtin:demo", speed)
    try:
        setup = setup_demo(workdir=workdir, prs=prs, config=stack.config())
        check_before_start(stack.config(), setup.repo)  # as run does; the simulators answer at once
        # The writer CLI keeps its threads inside the scratch folder, so cleaning up removes them.
        setup = dataclasses.replace(setup, config=stack.config(codex_home=setup.root / "codex-home"))
        backends = build_backends(setup.config)
        repo = Repo.open(setup.repo)
    except (DemoError, ConfigError, GitError, OSError) as exc:
        stack.close()
        die(str(exc))
    except SystemExit:
        stack.close()
        if setup.temporary and not keep:
            shutil.rmtree(setup.root, ignore_errors=True)
        raise

    code = EXIT_FAILED
    try:
        code = start_session(
            repo=repo,
            cfg=setup.config,
            backends=backends,
            plan=setup.plan,
            goal="",
            headless=headless,
            # The live cockpit's gate countdown approves instead; --no-prompt waits for attach / serve.
            auto_approve=headless and not no_prompt,
            prompt=not no_prompt,
            verbose=verbose,
            journal_path=journal,
            mode="demo",
            worktree_root=setup.worktrees,
            gate_timeout=gate_timeout,
        )
    finally:
        stack.close()
        if keep or not setup.temporary:
            click.echo(
                f"\nscratch repository kept at {setup.repo}  (try: git -C {setup.repo} log --graph --oneline)"
            )
        else:
            shutil.rmtree(setup.root, ignore_errors=True)
    sys.exit(code)


def _demo_in_cockpit(
    prs: int,
    speed: float,
    workdir: Path | None,
    keep: bool,
    gate_timeout: float,
    no_prompt: bool,
    journal_path: Path | None,
) -> int:
    """The demo with a screen: the cockpit shows first and names each setup step (simulators,
    scratch repository, preflight) while a thread does it; the session starts when they are done.
    Preflight still runs before anything is spent, and its problems are printed once the screen
    is gone, with the same exit code as ``run``."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        die("the cockpit needs a terminal; pass --headless to print a line per step instead")
    from cockpit.demo import DemoError, DemoSetup
    from cockpit.demo.stack import DEMO_PRICING, SimStack
    from cockpit.engine.session import Session, SessionError
    from cockpit.git.model import GitError
    from cockpit.tui.app import run_app_after_setup

    journal = open_journal(journal_path)
    made: dict[str, Any] = {}  # what the setup made, for tidying up afterwards

    def prepare(step: Callable[[str], None]) -> Session:
        from cockpit.backends.factory import build_backends
        from cockpit.demo import setup_demo
        from cockpit.demo.stack import start_sims
        from cockpit.doctor import preflight
        from cockpit.git.repo import Repo
        from cockpit.secret import hide_own_environment

        step("starting the simulators")
        stack = made["stack"] = start_sims("builtin:demo", speed)
        step("making the scratch repository")
        setup = made["setup"] = setup_demo(workdir=workdir, prs=prs, config=stack.config())
        step("checking the backends")
        problems = preflight(stack.config(), setup.repo)  # as run does; the simulators answer at once
        if problems:
            raise _PreflightFailed(problems)
        # The writer CLI keeps its threads inside the scratch folder, so cleaning up removes them.
        setup = made["setup"] = dataclasses.replace(
            setup, config=stack.config(codex_home=setup.root / "codex-home")
        )
        step("starting the session")
        backends = build_backends(setup.config)
        hide_own_environment([setup.config.composer.api_key_env])  # issue 9: writers cannot read our keys
        return Session(
            repo=Repo.open(setup.repo),
            config=setup.config,
            backends=backends,
            journal=journal,
            plan=setup.plan,
            auto_approve=False,  # the cockpit's gate countdown approves; --no-prompt: attach / serve
            mode="demo",
            argv=sys.argv[1:],
            worktree_root=setup.worktrees,
        )

    code = EXIT_FAILED
    session: Session | None = None
    try:
        try:
            code, live = run_app_after_setup(prepare, gate_timeout=gate_timeout, pricing=DEMO_PRICING)
        except _PreflightFailed as exc:
            _refuse_on(exc.problems)
        except (DemoError, ConfigError, GitError, OSError, SessionError, JournalError) as exc:
            die(str(exc))
        if isinstance(live, Session):
            session = live
            code = _checked(session, code)
            _print_closing(journal, session.id, journal_path, per_pr=True)  # the screen is restored
        return code
    finally:
        journal.close()
        stack: SimStack | None = made.get("stack")
        setup: DemoSetup | None = made.get("setup")
        if stack is not None:
            stack.close()
        if setup is not None:
            if session is not None and (keep or not setup.temporary):
                kept = setup.repo
                click.echo(f"\nscratch repository kept at {kept}  (try: git -C {kept} log --graph --oneline)")
            elif setup.temporary and not keep:
                shutil.rmtree(setup.root, ignore_errors=True)


def _pricing_lookup(config_file: Path | None) -> Callable[[str], dict[str, Pricing]]:
    """[pricing] from --config, else from each session's repository's cockpit.toml, when it is
    still there and readable (else no prices: costs show as unpriced, never as $0)."""
    try:
        fixed = load_config(config_file).pricing if config_file else None
    except ConfigError as exc:
        die(str(exc))
    cache: dict[str, dict[str, Pricing]] = {}

    def pricing_for(repo: str) -> dict[str, Pricing]:
        if fixed is not None:
            return fixed
        if repo not in cache:
            try:
                cache[repo] = load_config(None, Path(repo)).pricing
            except (ConfigError, OSError):
                cache[repo] = {}
        return cache[repo]

    return pricing_for


# --- resume ----------------------------------------------------------------------------------


@main.command()
@click.argument("session_ref", default="last", metavar="[SESSION]")
@click.option("--headless", is_flag=True, help="No screen: print a line per step.")
@click.option("--auto-approve", is_flag=True, help="Approve every gate (failures still fail).")
@_config_option("Config file (default: cockpit.toml in the session's repository).")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=None,
    help="Demo sessions: the pacing factor (default: the one it ran with).",
)
@click.option(
    "--gate-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Demo sessions: an open gate approves itself after this long (0 waits for you).",
)
@click.option("-v", "--verbose", is_flag=True, help="Headless: also print the models' streamed text.")
@_journal_option
def resume(
    session_ref: str,
    headless: bool,
    auto_approve: bool,
    config_file: Path | None,
    speed: float | None,
    gate_timeout: float,
    verbose: bool,
    journal: Path | None,
) -> None:
    """Carry on a session whose process died, or that was quit with work in flight (SESSION: an
    id, a unique prefix, or "last": the newest such one). Demo sessions restart their simulators."""
    from cockpit.events import SessionStarted
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo

    j = open_journal(journal)
    try:
        if session_ref in ("last", "latest"):
            rows = [r for r in j.list_sessions() if r.status in ("unfinished", "interrupted")]
            if not rows:
                die(f"no unfinished or interrupted session in {j.path}; nothing to resume")
            row = rows[0]
        else:
            row = j.get_session(session_ref)
        if row.status == "running":
            owner = j.owner(row.id)
            die(f"session {row.id} is still running ({owner.describe()}); stop it first")
        if row.status not in ("unfinished", "interrupted"):
            die(f"session {row.id} is {row.status}; there is nothing to resume")
        first = next(iter(j.read_events(row.id)), None)
    except JournalError as exc:
        die(str(exc))
    finally:
        j.close()
    if not isinstance(first, SessionStarted):
        die(f"session {row.id} has no session_started event; it cannot be resumed")
    from cockpit.backends.factory import build_backends

    if row.mode == "demo":
        sys.exit(_resume_demo(row.id, first, headless, auto_approve, speed, gate_timeout, verbose, journal))
    try:
        repo = Repo.open(Path(first.repo))
        cfg = load_config(config_file, repo.workdir)
        backends = build_backends(cfg)
    except (GitError, ConfigError, ValueError) as exc:
        die(str(exc))
    code = start_session(
        repo=repo,
        cfg=cfg,
        backends=backends,
        plan=(),
        goal="",
        headless=headless,
        auto_approve=auto_approve,
        verbose=verbose,
        journal_path=journal,
        mode=row.mode,
        resume_ref=row.id,
    )
    sys.exit(code)


def _argv_speed(argv: Sequence[str]) -> float:
    """The ``--speed`` a demo was started with (1.0 when it is not on its command line)."""
    for i, arg in enumerate(argv):
        value = arg.removeprefix("--speed=") if arg.startswith("--speed=") else None
        if arg == "--speed" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            with contextlib.suppress(ValueError):
                return max(0.0, float(value))
    return 1.0


def _resume_demo(
    session_id: str,
    first: Any,
    headless: bool,
    auto_approve: bool,
    speed: float | None,
    gate_timeout: float,
    verbose: bool,
    journal: Path | None,
) -> int:
    """A demo session resumes with the same scenario's simulators, in its scratch repository."""
    from cockpit.backends.factory import build_backends
    from cockpit.demo.stack import start_sims
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo

    pace = _argv_speed(first.argv) if speed is None else speed
    worktrees = Path(first.worktree_root)
    root = worktrees.parent
    if not Path(first.repo).is_dir():
        die(f"the demo's scratch repository {first.repo} is gone; the session cannot be resumed")
    stack = start_sims("builtin:demo", pace)
    try:
        cfg = stack.config(codex_home=root / "codex-home")
        backends = build_backends(cfg)
        repo = Repo.open(Path(first.repo))
        return start_session(
            repo=repo,
            cfg=cfg,
            backends=backends,
            plan=(),
            goal="",
            headless=headless,
            auto_approve=auto_approve or headless,  # as `cockpit demo` does
            verbose=verbose,
            journal_path=journal,
            mode="demo",
            worktree_root=worktrees,
            gate_timeout=gate_timeout,
            resume_ref=session_id,
        )
    except (ConfigError, GitError, OSError) as exc:
        die(str(exc))
    finally:
        stack.close()
        click.echo(f"\nscratch repository kept at {first.repo}")


# --- sessions --------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=int, default=None, help="Only the newest N sessions (N >= 1).")
@_config_option("Config whose [pricing] prices the sessions (default: each session's repository's).")
@_journal_option
def sessions(as_json: bool, limit: int | None, config_file: Path | None, journal: Path | None) -> None:
    """List the sessions in the journal, newest first, with what they cost."""
    from cockpit.fmt import fmt_duration, fmt_tokens
    from cockpit.pricing import fmt_cost, spend_cost

    if limit is not None and limit < 1:
        die(f"--limit must be at least 1 (got {limit}); leave it out to list every session")
    pricing_for = _pricing_lookup(config_file)

    j = open_journal(journal)
    out: list[dict[str, Any]] = []
    try:
        for row in j.list_sessions(limit):
            summary = dict(j.summary(row.id))
            summary["id"], summary["repo"], summary["started_at"] = row.id, row.repo, row.started_at
            summary["finished_at"], summary["status"] = row.finished_at, row.status
            costs = spend_cost(summary.pop("spend", []), pricing_for(row.repo))
            summary["cost"] = {
                "usd": round(costs.total, 6) if costs.by_role or not costs.unpriced else None,
                "unpriced": sorted(costs.unpriced),
                "text": fmt_cost(costs),
            }
            out.append(summary)
    except JournalError as exc:
        die(str(exc))
    finally:
        j.close()
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    if not out:
        click.echo(f"no sessions in {j.path}")
        return
    import datetime as dt

    rows = [("SESSION", "STARTED", "STATUS", "WALL", "TOKENS", "COST", "PRS", "REPOSITORY")]
    for s in out:
        started = dt.datetime.fromtimestamp(s["started_at"]).strftime("%Y-%m-%d %H:%M")
        outcomes: dict[str, int] = {}
        for pr in s["prs"]:
            outcomes[pr["outcome"]] = outcomes.get(pr["outcome"], 0) + 1
        prs = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no PRs"
        tokens = sum(u["input_tokens"] + u["output_tokens"] for u in s["usage"].values())
        rows.append(
            (
                s["id"],
                started,
                s["status"],
                fmt_duration(s["wall_s"]),
                fmt_tokens(tokens),
                s["cost"]["text"],
                prs,
                s["repo"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    right = {3, 4, 5}  # figures line up on the right
    for r in rows:
        pairs = enumerate(zip(r[:-1], widths, strict=True))
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        click.echo("  ".join([*cells, r[-1]]).rstrip())


# --- replay and export ------------------------------------------------------------------------


@main.command()
@click.argument("session_ref", default="last", metavar="[SESSION]")
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="How much faster than it happened (0: as fast as possible).",
)
@click.option("--headless", is_flag=True, help="No screen: print a line per step.")
@click.option("--follow", is_flag=True, help="Keep following a session that is still running.")
@click.option("-v", "--verbose", is_flag=True, help="Headless: also print the models' streamed text.")
@_config_option("Config whose [pricing] prices the replay (default: the session's repository's).")
@_journal_option
def replay(
    session_ref: str,
    speed: float,
    headless: bool,
    follow: bool,
    verbose: bool,
    config_file: Path | None,
    journal: Path | None,
) -> None:
    """Watch a past session again (SESSION: an id, a unique prefix, or "last")."""
    import asyncio

    from cockpit.bus import EventBus
    from cockpit.headless import HeadlessPrinter
    from cockpit.replay import ReplayDriver

    j = open_journal(journal)
    try:
        row = j.get_session(session_ref)
        if row.status != "running" and j.stored_summary(row.id) is None:
            # A journal from before checkpoints: index the session once, so seeks stay quick.
            click.echo(f"cockpit: indexing session {row.id} once (checkpoints for seeking)…", err=True)
            j.summary(row.id)
    except JournalError as exc:
        die(str(exc))
    finally:
        j.close()
    pricing = _pricing_lookup(config_file)(row.repo)
    bus = EventBus()
    # Headless and quiet, the streamed text is never printed: it is not even read (commands are).
    quiet = ("text", "reasoning", "stderr", "plan", "status") if headless and not verbose else ()
    driver = ReplayDriver(
        j.path, row.id, bus, speed=speed, follow=follow, hold=not headless, skip_channels=quiet
    )
    if not headless:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            die("the cockpit needs a terminal; pass --headless to print a line per step instead")
        from cockpit.tui.app import run_replay

        sys.exit(run_replay(driver, diff_source=_replay_diff(row.repo), pricing=pricing))
    printer = HeadlessPrinter(verbose=verbose, pricing=pricing)
    bus.subscribe(printer.on_event)

    async def go() -> None:
        _install_stop_signals(asyncio.get_running_loop(), driver.skip_to_end)
        await driver.run()

    asyncio.run(go())
    printer.print_summary()


def _replay_diff(repo_path: str) -> Callable[[str, str], Any]:
    """Diffs for a replay come from the repository, as long as it (and its commits) still exist."""

    def diff(base: str, head: str) -> Any:
        from cockpit.git.repo import Repo

        return Repo.open(repo_path).diff(base, head)

    return diff


# --- attach and serve ------------------------------------------------------------------------


def _running_session(j: Journal, session_ref: str) -> Any:
    """The session to attach to: the one named, else the newest one still running."""
    if session_ref:
        return j.get_session(session_ref)
    running = [r for r in j.list_sessions(limit=200) if r.status == "running"]
    if not running:
        raise JournalError(f"no session is running in journal {j.path} (`cockpit sessions` lists them)")
    return running[0]


@main.command()
@click.argument("session_ref", default="", metavar="[SESSION]")
@click.option("--read-only", is_flag=True, help="Watch only: answers and controls are refused.")
@_journal_option
def attach(session_ref: str, read_only: bool, journal: Path | None) -> None:
    """Open the live cockpit on a session another process owns (default: the newest running one).

    Gate answers, pause, interrupt and skip go to the owner through the journal; leaving (q)
    never stops the session."""
    from cockpit.engine.requests import attach_identity

    j = open_journal(journal)
    try:
        row = _running_session(j, session_ref)
    except JournalError as exc:
        die(str(exc))
    finally:
        j.close()
    if row.status != "running":
        hint = "`cockpit replay` watches it again" + (
            ", `cockpit resume` continues it" if row.status == "unfinished" else ""
        )
        die(f"session {row.id} is {row.status}, nobody is running it: {hint}")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        die("the cockpit needs a terminal (`cockpit replay --follow --headless` prints a line per step)")
    from cockpit.tui.attach import run_attach

    sys.exit(run_attach(j.path, row, by=attach_identity(), read_only=read_only))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port.")
@click.option("--read-only", is_flag=True, help="Browsers watch only: answers and controls are refused.")
@_journal_option
def serve(host: str, port: int, read_only: bool, journal: Path | None) -> None:
    """Serve the cockpit to a browser: pick a session, watch it, answer its gates.

    The URL carries a random token; any request without it gets 403. Closing the browser leaves
    the session running."""
    try:
        from cockpit.tui.serve import CockpitServer, is_loopback
    except ImportError as exc:
        die(f"cockpit serve needs textual-serve ({exc.name} is missing): pip install textual-serve")
    j = open_journal(journal)
    j.close()
    server = CockpitServer(j.path, host=host, port=port, read_only=read_only)
    if not is_loopback(host):
        click.echo(
            f"cockpit: warning: serving on {host}, not loopback: anyone who can reach this address "
            "and has the URL can answer your sessions' gates (plain http: the token is not encrypted)",
            err=True,
        )
    click.echo(f"cockpit: serving {j.path}{' (read-only)' if read_only else ''}")
    click.echo(f"open {server.url}", nl=True)
    click.echo("Ctrl-C stops the server (sessions keep running)", err=True)
    try:
        server.serve()
    except OSError as exc:
        die(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


@main.command("web-app", hidden=True)
@click.option("--by", required=True)
@click.option("--read-only", is_flag=True)
@_journal_option
def web_app(by: str, read_only: bool, journal: Path | None) -> None:
    """One browser's cockpit (started by `cockpit serve` for each connection)."""
    from cockpit.tui.attach import WebCockpitApp

    j = open_journal(journal)
    j.close()
    WebCockpitApp(j.path, by=by, read_only=read_only).run()


@main.command()
@click.argument("session_ref", default="last", metavar="[SESSION]")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "md"]), default="jsonl", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@_config_option("Config whose [pricing] prices the Markdown report.")
@_journal_option
def export(
    session_ref: str, fmt: str, output: Path | None, config_file: Path | None, journal: Path | None
) -> None:
    """Export a session: its events as JSONL (docs/events.md), or a Markdown audit report."""
    from cockpit.report import markdown

    j = open_journal(journal)
    try:
        row = j.get_session(session_ref)
        pricing = load_config(config_file).pricing if config_file else None
    except (JournalError, ConfigError) as exc:
        die(str(exc))
    stream = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115 - closed below
    try:
        if fmt == "jsonl":  # the journal holds each event's JSON: copied as it is, byte for byte
            for chunk in j.export_chunks(row.id):
                stream.write(chunk)
        else:
            # The report never shows the streamed output: it is not even read.
            events = j.read_events(row.id, skip_kinds=("dispatch_output",), batch=5000)
            stream.write(
                markdown(
                    events, pricing, event_count=row.last_seq + 1, owner_gone=row.status == "unfinished"
                ).encode()
            )
    finally:
        if output:
            stream.close()
        j.close()


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_journal_option
def import_(file: Path, journal: Path | None) -> None:
    """Load a JSONL export (docs/events.md) into the journal; importing it again adds nothing."""
    j = open_journal(journal)
    try:
        session, added = j.import_jsonl(file)
    except JournalError as exc:
        die(str(exc))
    finally:
        j.close()
    if added:
        click.echo(f"imported session {session}: {added} events into {j.path}")
    else:
        click.echo(f"session {session} is already in {j.path}; nothing added")


# --- clean -----------------------------------------------------------------------------------


@main.command()
@_repo_option
@click.argument("names", nargs=-1, metavar="[BRANCH|SESSION]...")
@click.option("--yes", is_flag=True, help="Remove them (without it, only list what would go).")
@_config_option("Config whose [session] worktree_root is searched for empty session folders.")
@_journal_option
def clean(
    repo_dir: Path, names: tuple[str, ...], yes: bool, config_file: Path | None, journal: Path | None
) -> None:
    """List, and with --yes remove, the worktrees and cockpit/* branches finished sessions left.

    Kept, with the reason: a worktree with uncommitted files, a branch with commits on no other
    branch, anything of a running or resumable session. Naming a branch or a session removes
    its branches and worktrees even so (and only those).
    """
    from cockpit.clean import CleanError, apply_clean, default_sweeper, describe, plan_clean
    from cockpit.engine.session import default_data_dir
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo

    try:
        repo = Repo.open(repo_dir)
        cfg = load_config(config_file, repo.workdir)
    except (GitError, ConfigError) as exc:
        die(str(exc))
    roots = [repo.default_worktree_root(default_data_dir())]
    if cfg.session.worktree_root:
        roots.append(Path(cfg.session.worktree_root).expanduser())
    j = open_journal(journal)
    try:
        plan = plan_clean(repo, j, roots, names)
    except (CleanError, GitError, JournalError) as exc:
        die(str(exc))
    finally:
        j.close()
    notes: list[str] = []
    if yes:
        plan, notes = apply_clean(plan, default_sweeper())
    for line in [*notes, *describe(plan, done=yes)]:
        click.echo(line)
    if plan.failed:
        sys.exit(EXIT_FAILED)


# --- doctor ----------------------------------------------------------------------------------


@main.command()
@_repo_option
@_config_option()
def doctor(repo_dir: Path, config_file: Path | None) -> None:
    """Check the configured backends and the repository; say exactly what is wrong."""
    from cockpit.doctor import run_doctor

    try:
        cfg = load_config(config_file, repo_dir if (repo_dir / CONFIG_NAME).is_file() else None)
    except ConfigError as exc:
        die(str(exc))
    checks = run_doctor(cfg, repo_dir)
    marks = {
        "ok": click.style("✓", fg="green"),
        "warn": click.style("!", fg="yellow"),
        "fail": click.style("✗", fg="red"),
    }
    for c in checks:
        click.echo(f"{marks[c.level]} {c.what}" + (f"\n    {c.detail}" if c.detail else ""))
    failed = sum(c.level == "fail" for c in checks)
    warned = sum(c.level == "warn" for c in checks)
    click.echo(f"\n{failed} problem(s), {warned} warning(s)")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


# --- init ------------------------------------------------------------------------------------


@main.command()
@_repo_option
@click.option("--force", is_flag=True, help="Overwrite an existing cockpit.toml.")
def init(repo_dir: Path, force: bool) -> None:
    """Write a commented cockpit.toml into the repository."""
    from cockpit.git.model import GitError
    from cockpit.git.repo import Repo

    target = repo_dir / CONFIG_NAME
    if not repo_dir.is_dir():
        die(f"{repo_dir} is not a directory")
    try:
        top = Repo.open(repo_dir).workdir
    except GitError:
        die(f"{repo_dir} is not a git repository (cockpit.toml belongs in one: `git init` first)")
    if top.resolve() != repo_dir.resolve():
        die(f"{repo_dir} is inside the repository {top}: cockpit.toml goes at its top (--repo {top})")
    if target.exists() and not force:
        die(f"{target} exists (use --force to overwrite)")
    try:
        target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    except OSError as exc:
        die(f"cannot write {target}: {exc.strerror or exc}")
    click.echo(f"wrote {target}; check it with `cockpit doctor` (commit it to share it with others)")


if __name__ == "__main__":  # pragma: no cover
    main()
