"""The offline demo: a real scratch repository and a scenario that writes, reviews and merges in it.

Everything the demo needs lives in this package, above every product layer: the scenario format
(``scenario``), the protocol simulators it starts (``sim/``, ``stack``) and the textkit project
and scenarios (``data/``). No product module imports it (an import-linter contract).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pygit2

from cockpit.config import Config
from cockpit.demo.scenario import Scenario, builtin_scenario, project_files
from cockpit.plan import PlanItem

DEMO_GITIGNORE = "__pycache__/\n.pytest_cache/\n"
DEMO_AUTHOR = pygit2.Signature("cockpit demo", "demo@cockpit.invalid")


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class DemoSetup:
    root: Path  # the scratch folder (removed afterwards unless --keep / --workdir)
    repo: Path
    worktrees: Path
    scenario: Scenario
    plan: list[PlanItem]
    config: Config
    temporary: bool


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at ``path`` on branch ``main`` whose first commit holds ``files``."""
    if path.exists() and any(path.iterdir()):
        raise DemoError(f"{path} already exists and is not empty; pick another --workdir")
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in {**files, ".gitignore": DEMO_GITIGNORE}.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = DEMO_AUTHOR.name
    repo.config["user.email"] = DEMO_AUTHOR.email
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    repo.create_commit("HEAD", DEMO_AUTHOR, DEMO_AUTHOR, "Initial commit: textkit 0.1.0", tree, [])
    return path


def demo_plan(scenario: Scenario, prs: int) -> list[PlanItem]:
    """The scenario's PRs, first ``prs`` of them; more than it has are plain extra tasks."""
    if prs < 1:
        raise DemoError("--prs must be at least 1")
    items = [PlanItem(title=p.title, task=p.task, review=p.review) for p in scenario.pr[:prs]]
    for k in range(len(items) + 1, prs + 1):
        items.append(
            PlanItem(
                title=f"Document module {k}",
                task=f"Write notes/module-{k}.md describing one textkit module and its edge cases.",
            )
        )
    return items


def setup_demo(*, workdir: Path | None, prs: int, config: Config, scenario_name: str = "demo") -> DemoSetup:
    """The scratch repository and the plan; ``config`` is the simulators' (``stack.SimStack.config``),
    so the demo runs the production adapters."""
    scenario = builtin_scenario(scenario_name)
    temporary = workdir is None
    root = (
        Path(tempfile.mkdtemp(prefix="cockpit-demo-")) if workdir is None else workdir.expanduser().absolute()
    )
    try:
        repo = make_repo(root / (scenario.project or "project"), project_files(scenario.project))
    except BaseException:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return DemoSetup(root, repo, root / "worktrees", scenario, demo_plan(scenario, prs), config, temporary)
