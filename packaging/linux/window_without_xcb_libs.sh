#!/usr/bin/env bash
# The frozen bundle's window on a real X server (Xvfb, Qt's xcb plugin) on a system without the
# X libraries that desktops often lack (libxcb-cursor0, the xcb utility libraries): they are
# removed from view in a private mount namespace (overlay whiteouts), so nothing outside this
# command sees a change. The bundle carries its own copies and must start and stay up printing
# nothing. Needs root (unshare, mount), overlayfs and xvfb-run.
#   packaging/linux/window_without_xcb_libs.sh [path/to/kenning]   (exit 0: passed)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SECONDS_UP=${WINDOW_SECONDS:-8}
HIDDEN="libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-image.so.0
libxcb-render-util.so.0 libxcb-randr.so.0 libxcb-shape.so.0 libxcb-xfixes.so.0 libxcb-xkb.so.1
libxkbcommon-x11.so.0"

if [[ "${1:-}" != --inside ]]; then
    BIN="$(realpath "${1:-$ROOT/packaging/build/dist/kenning/kenning}")"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    # The folder the system loads libxcb from (e.g. /usr/lib/x86_64-linux-gnu).
    LIBDIR="$(dirname "$(ldconfig -p | awk '/libxcb\.so\.1 /{print $NF; exit}')")"
    unshare --mount --propagation private "$0" --inside "$BIN" "$LIBDIR" "$WORK"
    exit
fi

BIN="$2"; LIBDIR="$3"; WORK="$4"
mkdir -p "$WORK/upper" "$WORK/overlay-work" "$WORK/home"
for name in $HIDDEN; do
    for file in "$LIBDIR/$name"*; do
        [[ -e "$file" ]] && mknod "$WORK/upper/$(basename "$file")" c 0 0
    done
done
mount -t overlay overlay -o "lowerdir=$LIBDIR,upperdir=$WORK/upper,workdir=$WORK/overlay-work" "$LIBDIR"
for name in $HIDDEN; do
    [[ ! -e "$LIBDIR/$name" ]] || { echo "could not hide $LIBDIR/$name" >&2; exit 1; }
done
echo "window without the system's xcb libraries: hid $(echo $HIDDEN | wc -w) libraries in $LIBDIR"

status=0
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" \
    timeout "$SECONDS_UP" "$BIN" --home "$WORK/home" > "$WORK/window.log" 2>&1 || status=$?
# timeout's 124: the window was still running when its time was up.
if [[ $status -ne 124 || -s "$WORK/window.log" ]]; then
    cat "$WORK/window.log" >&2
    echo "window without the system's xcb libraries: FAILED (exit $status)" >&2
    exit 1
fi
echo "window without the system's xcb libraries: stayed up ${SECONDS_UP} s on Xvfb, printed nothing"
