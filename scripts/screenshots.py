"""Regenerate the SVG screenshots in screenshots/ from the recorded demo session.

    /work/venv/bin/python scripts/screenshots.py            # all of them
    /work/venv/bin/python scripts/screenshots.py gate-split  # some, by scene name
    /work/venv/bin/python scripts/screenshots.py --png       # also PNGs in the temp dir, to look at

The scenes (tests/tui/scenes.py) are the ones the snapshot tests check: the app is fed a prefix
of tests/tui/fixtures/demo_session.jsonl with the clock frozen, headless, at a fixed size.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
SHOTS = (
    "mid-session-200x50",
    "gate-split-200x50",
    "mid-session-80x24",
    "gate-split-80x24",
    "gate-split-light",
    "gate-split-ansi16",
    "override",
    "diff",
    "help",
    "finished",
    "replay-mid-session",
    "timeline",
)


async def shoot(name: str, workdir: Path) -> Path:
    from tests.tui import scenes

    scene = scenes.scenes()[name]
    if scene.replay:
        (workdir / name).mkdir(parents=True, exist_ok=True)
        app, bus = scenes.build_replay(scene, workdir / name)
    else:
        app, bus = scenes.build(scene, scenes.scratch_controls(workdir / name))
    async with app.run_test(size=scene.size) as pilot:
        await pilot.pause()
        await scenes.play(app, bus, scene)
        await pilot.pause()
        w, h = scene.size
        title = f"cockpit · {scene.description} · {w}×{h}"
        svg = OUT / f"cockpit-{name}.svg"
        svg.write_text(app.export_screenshot(title=title), encoding="utf-8")
        return svg


def main() -> None:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"scenes to shoot (default: {', '.join(SHOTS)})")
    parser.add_argument("--png", action="store_true", help="also write PNGs (rsvg-convert) to the temp dir")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cockpit-shots-") as tmp:
        for name in args.names or SHOTS:
            svg = asyncio.run(shoot(name, Path(tmp)))
            print(svg.relative_to(ROOT))
            if args.png:
                if shutil.which("rsvg-convert") is None:
                    sys.exit("--png needs rsvg-convert (Debian: apt-get install librsvg2-bin)")
                png = Path(tmp) / f"{svg.stem}.png"
                subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
                shutil.copy(png, Path(tempfile.gettempdir()) / png.name)
                print(f"  {Path(tempfile.gettempdir()) / png.name}")


if __name__ == "__main__":
    main()
