#!/usr/bin/env bash
# The frozen Linux bundle as shipped: packaging/linux/build.sh builds it (PyInstaller) and its
# .deb into a temporary folder, the .deb's contents are unpacked, and packaging/smoke_test.py
# runs the program inside them, then packaging/linux/window_without_xcb_libs.sh shows its window
# on Xvfb with the system's xcb libraries hidden. Prints the sizes and how long each part took.
# Usage: PYTHON=<python of an environment with Kenning and PyInstaller> bash tests/bundle_smoke.sh
# (tests/run.sh calls it with .venv, where the test extras include PyInstaller).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s)" != Linux ]; then
  echo "skipped: the frozen bundle is built and tested here only on Linux (this is $(uname -s));" \
       "the Windows and macOS installers are built and smoke-tested by .github/workflows/build.yml"
  exit 0
fi
PYTHON=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BUILD="$WORK/build"

start=$(date +%s)
KENNING_BUILD_DIR="$BUILD" PYTHON="$PYTHON" bash packaging/linux/build.sh
echo "-- built in $(( $(date +%s) - start )) s; bundle folder $(du -sh "$BUILD/dist/kenning" | cut -f1)"
BIN="$BUILD/dist/kenning/kenning"
DEB=$(find "$BUILD" -maxdepth 1 -name 'kenning_*.deb' | head -n 1)
if [ -n "$DEB" ]; then
  echo "-- $(basename "$DEB"): $(du -h "$DEB" | cut -f1)"
  # What `apt install` puts in /opt/kenning, without installing it on this machine.
  rm -rf "$BUILD/dist" "$BUILD/work"
  dpkg-deb -x "$DEB" "$WORK/deb"
  BIN="$WORK/deb/opt/kenning/kenning"
fi
start=$(date +%s)
"$PYTHON" packaging/smoke_test.py "$BIN"
echo "-- smoke test in $(( $(date +%s) - start )) s"
# The window on a real X server with the system's xcb libraries out of sight: the bundle's own
# copies must be enough (needs root for a private mount namespace, and Xvfb).
if [ "$(id -u)" = 0 ] && command -v xvfb-run >/dev/null && unshare --mount true 2>/dev/null; then
  bash packaging/linux/window_without_xcb_libs.sh "$BIN"
else
  echo "skipped: the window without the system's xcb libraries needs root (a private mount" \
       "namespace) and xvfb-run (Debian: xvfb xauth); the check above found the libraries in the bundle"
fi
