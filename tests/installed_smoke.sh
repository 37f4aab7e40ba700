#!/usr/bin/env bash
# What users run: the wheel built from this checkout, installed into a fresh virtual
# environment outside the checkout (no -e), then the commands a new user tries.
# Usage: bash tests/installed_smoke.sh   (tests/run.sh calls it after the suite)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
# The background service the first command starts must not outlive the test.
trap '[ -x "$WORK/venv/bin/kenning" ] && KENNING_HOME="$WORK/home" "$WORK/venv/bin/kenning" service stop >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cd "$WORK"

"$PYTHON" -m pip wheel -q --no-deps "$ROOT" -w wheel
"$PYTHON" -m venv venv
venv/bin/python -m pip install -q --upgrade pip
venv/bin/python -m pip install -q wheel/kenning-*.whl
KENNING=venv/bin/kenning
export KENNING_HOME="$WORK/home" QT_QPA_PLATFORM=offscreen
step() { echo "-- $*"; }

step "kenning --version"
"$KENNING" --version
step "model list --json"
"$KENNING" model list --json | venv/bin/python -c "import json,sys; d=json.load(sys.stdin); assert d['models'], d"
SAMPLES=$(venv/bin/python -c "from core.resources import resource; print(resource('samples', 'documents'))")
case "$SAMPLES" in "$ROOT"*) echo "resources came from the checkout, not the install"; exit 1;; esac
step "index the sample documents (starts the background service)"
"$KENNING" index "$SAMPLES" > index.log 2>&1 || { cat index.log; exit 1; }
step "service status"
"$KENNING" service status
"$KENNING" index --wait > index.log 2>&1 || { cat index.log; exit 1; }
step "search"
"$KENNING" search --json "notice before leaving" | venv/bin/python -c "import json,sys; d=json.load(sys.stdin); assert d['hits'], d"
step "ask"
"$KENNING" ask --json "How much notice must the tenant give?" | venv/bin/python -c "import json,sys; d=json.load(sys.stdin); assert 'found' in d, d"
step "service stop, then a command on its own"
"$KENNING" service stop
if "$KENNING" service status > /dev/null; then echo "the service should have stopped"; exit 1; fi
"$KENNING" --no-service search --json "notice before leaving" | venv/bin/python -c "import json,sys; d=json.load(sys.stdin); assert d['hits'] and d['semantic'], d"
step "integrate install --dry-run"
"$KENNING" integrate install --dry-run > /dev/null
step "the window, offscreen, without Qt warnings"
venv/bin/python - <<'PY'
import sys
from PySide6.QtCore import QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication
warnings = []
qInstallMessageHandler(lambda mode, context, message: warnings.append(message))
from app.main import build_window
from core.config import AppPaths, Settings
from core.services import Services
app = QApplication.instance() or QApplication(sys.argv)
paths = AppPaths.resolve()
window = build_window(Services(paths, Settings.load(paths.settings_file)))
window.engine.start()
window.show()
QTimer.singleShot(3000, app.quit)
app.exec()
window.engine.shutdown()
# The offscreen platform itself says this of every window; it is not Kenning's.
warnings = [w for w in warnings if "propagateSizeHints" not in w]
assert not warnings, warnings
PY
echo "installed smoke: all steps passed"
