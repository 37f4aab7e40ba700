#!/usr/bin/env bash
# Screenshots of the window's main states on the sample documents, into docs/screenshots/.
# Runs the app under a virtual X server (Xvfb) with the real default model; pass
# --model-free for keyword search only (quicker; no answer screenshot), --dark for a dark palette.
# Needs: xvfb (apt-get install xvfb) and Kenning installed in $KENNING_VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${KENNING_VENV:-.venv}/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
command -v xvfb-run >/dev/null || { echo "xvfb-run not found: apt-get install xvfb" >&2; exit 1; }
# A fixed screen size and DPI keep screenshots comparable between runs.
QT_QPA_PLATFORM=xcb QT_SCALE_FACTOR=1 xvfb-run -a -s "-screen 0 1440x900x24 -dpi 96" \
  "$PYTHON" bench/screenshots.py "$@"
