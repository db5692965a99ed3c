#!/usr/bin/env bash
# Set up and run the whole of Stet on embedded defaults: SQLite and a private Redis in
# ./.stet, the API and dashboard on http://127.0.0.1:8000, and a worker. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "The stet command is in .venv/bin: in another terminal, 'source .venv/bin/activate' puts it on PATH." >&2
exec .venv/bin/stet run "$@"
