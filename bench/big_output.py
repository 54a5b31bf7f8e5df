"""A writer that floods its output: the cockpit's peak memory and the journal's growth.

Each case is one `cockpit run --headless --auto-approve` session, run in a fresh Python process
of its own (so its peak RSS is its own), with the real composer and reviewer clients talking to
cockpit's simulators (served from this process) and a `command` writer that prints the flood,
then commits. The writer is a separate process: its memory is not counted. A floor case (a
writer printing one short line) is measured in the same run, under the same load.

Run: python bench/big_output.py [--mb 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from cockpit.demo.stack import SIM_KEY, SIM_KEY_ENV, start_sims

SCENARIO = """
[[pr]]
title = "Flood"
task = "Print a lot."
[[pr.round]]
[pr.round.writer]
outcome = "commit"
[[pr.round.review]]
reviewer = "correctness"
text = '{"verdict": "approve", "summary": "ok", "findings": []}'
[pr.round.decision]
action = "merge"
rationale = "ok"
commit_message = "Flood"
"""

WRITER = """
import subprocess, sys
sys.stdin.read()
mb, lines = int(sys.argv[1]), sys.argv[2] == "lines"
out = sys.stdout
if lines:
    row = "y" * 99 + "\\n"
    for _ in range(mb * 10_000):
        out.write(row)
else:
    chunk = "x" * (1024 * 1024)
    for _ in range(mb):
        out.write(chunk)
    out.write("\\n")
out.flush()
open("flood.txt", "w").write("flooded\\n")
subprocess.run(["git", "add", "flood.txt"], check=True)
subprocess.run(["git", "commit", "-q", "-m", "Flood"], check=True)
print("Done.")
"""

CHILD = """
import resource, sys
from cockpit.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def case(tmp: Path, name: str, mb: int, shape: str) -> tuple[float, float]:
    """(peak RSS MB of the cockpit process, journal MB) for one session."""
    root = tmp / name
    repo = root / "repo"
    repo.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)}
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.invalid"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    (root / "writer.py").write_text(textwrap.dedent(WRITER))
    (root / "scenario.toml").write_text(SCENARIO)
    command = [sys.executable, str(root / "writer.py"), str(mb), shape]
    stack = start_sims(str(root / "scenario.toml"), speed=0, reviewers=("correctness",))
    (root / "cockpit.toml").write_text(
        textwrap.dedent(f"""
        [composer]
        base_url = "{stack.anthropic.url}"
        api_key_env = "{SIM_KEY_ENV}"
        [writer]
        backend = "command"
        command = {json.dumps(command)}
        brief_via = "stdin"
        [[reviewers]]
        name = "correctness"
        model = "glm-4.6"
        host = "{stack.ollama.url}"
        """)
    )
    env[SIM_KEY_ENV] = SIM_KEY
    journal = root / "j.sqlite3"
    argv = ["run", "--config", str(root / "cockpit.toml"), "--repo", str(repo), "--task", "Flood"]
    argv += ["--headless", "--auto-approve", "--journal", str(journal)]
    with stack:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *argv],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    if not peak:
        raise SystemExit(f"{name}: the session failed:\n{done.stdout}\n{done.stderr}")
    size = sum(p.stat().st_size for p in root.glob("j.sqlite3*"))
    return int(peak[0].split()[1]) / 1024, size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="megabytes the writer prints")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            ("floor: one short line", case(Path(tmp), "floor", 0, "lines")),
            (f"{args.mb} MB in one line", case(Path(tmp), "one-line", args.mb, "one")),
            (f"{args.mb} MB in 100-byte lines", case(Path(tmp), "lines", args.mb, "lines")),
        ]
    print(f"{'case':<28} {'cockpit peak RSS':>17} {'journal':>10}")
    for name, (rss, journal_mb) in rows:
        print(f"{name:<28} {rss:>14.0f} MB {journal_mb:>7.1f} MB")


if __name__ == "__main__":
    main()
