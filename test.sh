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
[ -x /usr/sbin/nginx ] || missing+=(nginx)  # tests/test_replicas.py: two replicas behind nginx
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
if [ $# -gt 0 ]; then  # options given: just those tests
  .venv/bin/python -m pytest "$@"
  exit
fi
# Everything: the whole suite, then the bare-clone job: the app tests of every page and a short
# browser tour on a machine with no dataset and no pretrained-weights cache (empty folders for
# VISION_LAB_DATA, KERAS_HOME and FASHION_MNIST_DIR), as a fresh clone meets them.
.venv/bin/python -m pytest -m "not bare"
empty="$(mktemp -d)"
mkdir -p "$empty/data" "$empty/keras" "$empty/fashion-mnist"
VISION_LAB_DATA="$empty/data" KERAS_HOME="$empty/keras" FASHION_MNIST_DIR="$empty/fashion-mnist" \
  .venv/bin/python -m pytest -m bare tests/test_bare_clone.py
rm -rf "$empty"
