#!/usr/bin/env bash
# Create .venv (if needed) and install attestkit with the server extra and its test dependencies.
# Used by scripts/demo.sh and scripts/test.sh; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.attestkit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[server,s3,login,test]'
  touch "$stamp"
fi
