#!/usr/bin/env bash
# Install everything the tests need, start a throwaway PostgreSQL for the class board's tests,
# then run the whole suite (unit, app and browser tests).
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
[ -x /usr/bin/chromium ] || missing+=(chromium)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# The board's store tests run on SQLite and on this PostgreSQL (its URL: VISION_LAB_TEST_DATABASE_URL).
pg_dir="$(mktemp -d)"
trap '.venv/bin/python tests/postgres_server.py stop "$pg_dir"' EXIT
eval "$(.venv/bin/python tests/postgres_server.py start "$pg_dir")"
.venv/bin/python -m pytest "$@"
