"""The wheel carries what an installed cockpit needs: every package, the demo's data, and the
stylesheets that live in the top-level ``styles/`` folder (mapped into the package)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_package_list_matches_the_source_tree() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "cockpit").rglob("__init__.py")
        if "data" not in p.relative_to(ROOT / "cockpit").parts  # the demo's project files
    }
    assert listed == found | {"cockpit.tui.styles"}


def test_a_source_checkout_finds_the_top_level_styles() -> None:
    from cockpit.tui.stylesheets import SHEETS, STYLES

    assert STYLES == ROOT / "styles"
    assert all((STYLES / name).is_file() for name in SHEETS)


_LOAD = """
import sys
from pathlib import Path
import cockpit
site = Path(sys.argv[1]).resolve()
assert Path(cockpit.__file__).resolve().is_relative_to(site), cockpit.__file__
from textual.app import App
from textual.css.stylesheet import Stylesheet
from cockpit.demo.scenario import builtin_scenario, project_files
from cockpit.tui.app import CockpitApp
from cockpit.tui.stylesheets import STYLES
assert STYLES.resolve().is_relative_to(site), STYLES
sheet = Stylesheet(variables=App().get_css_variables())
sheet.read_all(CockpitApp.CSS_PATH)
sheet.parse()
assert builtin_scenario("demo").pr and project_files("textkit")
print(len(sheet.rules))
"""


@pytest.mark.slow
def test_the_built_wheel_installs_and_loads_its_styles(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("cockpit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"cockpit/tui/styles/{n}" for n in ("app.tcss", "dialogs.tcss", "diff.tcss")} <= set(names)
    assert not any(n.startswith(("styles/", "tests/")) for n in names)
    site = tmp_path / "site"
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The installed copy comes first on the path; the dependencies come from this venv.
    loaded = subprocess.run(
        [sys.executable, "-c", _LOAD, str(site)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert int(loaded.stdout.strip()) > 0
