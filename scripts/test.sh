#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench fuzz
.venv/bin/ruff format --check src tests bench fuzz
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
# The tests start hundreds of `python -m attestkit` processes; with PYTHONDONTWRITEBYTECODE
# set (as in some CI sandboxes) each would recompile every module it imports.
.venv/bin/python -m compileall -q src > /dev/null
.venv/bin/pytest "$@"
