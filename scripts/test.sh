#!/usr/bin/env bash
# Set up and run Stet's whole test suite: lint, type-check the domain core, then every test on
# SQLite with an embedded Redis, then every test that uses the database again on PostgreSQL
# (required under CI; skipped with a note elsewhere when no server answers; tests/conftest.py
# picks them). Extra arguments go to pytest. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
. .venv/bin/activate

# Browser tests drive Debian's Chromium; install it when we can (root with apt-get).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium; browser tests will say so" >&2
fi

echo "== ruff"
ruff check service worker dashboard tests benchmarks
ruff format --check service worker dashboard tests benchmarks

echo "== mypy"
mypy  # the domain core, as [tool.mypy] in pyproject.toml says

echo "== tests on SQLite"
python -m pytest "$@"

pg_url=${STET_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
if python -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$pg_url" 2>/dev/null; then
  echo "== tests on PostgreSQL ($pg_url)"
  # This leg also uses a separate Redis server when one answers on the default port
  # (its database 13, flushed by the tests), beside the private one the first leg starts.
  if [ -z "${STET_TEST_REDIS_URL:-}" ] && python -c 'import redis; redis.Redis(socket_connect_timeout=1).ping()' 2>/dev/null; then
    export STET_TEST_REDIS_URL=redis://127.0.0.1:6379/13
  fi
  STET_TEST_DATABASE=postgresql STET_TEST_POSTGRES_URL=$pg_url python -m pytest "$@"
elif [ -n "${CI:-}" ]; then
  echo "PostgreSQL is required under CI but $pg_url does not answer" >&2
  exit 1
else
  echo "== PostgreSQL leg skipped: no server at $pg_url (set STET_TEST_POSTGRES_URL to run it)"
fi
