#!/usr/bin/env bash
# Set up and start Vision Lab on the shipped weights: no dataset needed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || { echo "Install Python's venv module first: sudo apt-get install -y python3-venv"; exit 1; }
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
mkdir -p data  # the class board's SQLite file (unless VISION_LAB_DATABASE_URL names another database)
exec .venv/bin/streamlit run app.py "$@"
