#!/usr/bin/env bash
# Runs the test suite against the newest releases pyproject.toml allows (not the lock), in its own
# venv (.venv-drift), so that an upstream release that changes behaviour is found on purpose, not
# by a red CI. Prints which packages differ from constraints.txt, then the tests' result.
# Extra arguments go to pytest (e.g. scripts/drift.sh tests/backends).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .venv-drift
python3 -m venv .venv-drift
.venv-drift/bin/pip install -q --upgrade pip
.venv-drift/bin/pip install -q --upgrade --upgrade-strategy eager -e '.[dev]'
echo "drift: newer than constraints.txt:"
.venv-drift/bin/python - <<'PY'
import re
from importlib.metadata import distributions

locked = {}
for line in open("constraints.txt", encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;]+)", line.strip())
    if m:
        locked[m[1].lower().replace("_", "-")] = m[2]
differ = []
for d in distributions():
    name = d.metadata["Name"].lower().replace("_", "-")
    if name in locked and locked[name] != d.version:
        differ.append(f"  {name}: locked {locked[name]}, newest {d.version}")
print("\n".join(sorted(differ)) or "  nothing: the lock is the newest")
PY
echo "drift: tests"
.venv-drift/bin/python -m pytest -q -p no:cacheprovider "$@"
