#!/usr/bin/env bash
# Build the frozen Linux bundle and a .deb from it.
#   packaging/linux/build.sh            # uses $PYTHON (default: /work/venv-freeze/bin/python, else python3)
# Needs a Python environment with Kenning installed plus PyInstaller (pip install '.[freeze]'),
# dpkg-deb, and the X libraries Qt's xcb plugin needs (the .deb's Depends below), which
# PyInstaller copies into the bundle so that it also runs where they are missing.
# Outputs (under $KENNING_BUILD_DIR, default packaging/build): dist/kenning/ (the bundle) and
# kenning_<version>_<arch>.deb
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${KENNING_BUILD_DIR:-$ROOT/packaging/build}"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x /work/venv-freeze/bin/python ]]; then PYTHON=/work/venv-freeze/bin/python; else PYTHON=python3; fi
fi
VERSION="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("kenning"))')"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"

echo "== PyInstaller bundle (python: $PYTHON, version $VERSION)"
cd "$ROOT"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" packaging/kenning.spec
BUNDLE="$BUILD/dist/kenning"
test -x "$BUNDLE/kenning"

if ! command -v dpkg-deb >/dev/null; then
    echo "dpkg-deb not found: the bundle is in $BUNDLE; no .deb made." >&2
    exit 0
fi

echo "== .deb"
STAGE="$BUILD/deb"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" \
    "$STAGE/usr/share/applications" "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/kenning"
ln -s /opt/kenning/kenning "$STAGE/usr/bin/kenning"
install -m 644 "$ROOT/packaging/linux/kenning.desktop" "$STAGE/usr/share/applications/kenning.desktop"
install -m 644 "$ROOT/resources/icons/kenning.svg" \
    "$STAGE/usr/share/icons/hicolor/scalable/apps/kenning.svg"
SIZE_KB="$(du -sk "$STAGE" | cut -f1)"
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: kenning
Version: $VERSION
Architecture: $ARCH
Maintainer: Kenning maintainers <kenning@localhost>
Installed-Size: $SIZE_KB
Section: utils
Priority: optional
Depends: libc6, libgl1, libegl1, libfontconfig1, libxkbcommon0, libdbus-1-3, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-render-util0, libxcb-randr0, libxcb-shape0, libxcb-xfixes0, libxcb-xkb1
Homepage: https://github.com/kenning/kenning
Description: Search your own files by meaning, with answers you can check
 Kenning indexes the folders you choose and finds passages by meaning or by words,
 and answers questions with citations to the exact place in your files. Everything
 runs on this computer; nothing is sent anywhere. Includes a small built-in model.
 .
 The "Ask Kenning about this folder" right-click entry is per user: Kenning offers
 it, or run "kenning integrate install" (remove with "kenning integrate uninstall").
CONTROL
# Menus and icons only; the right-click entry is per user and never installed as root.
cat > "$STAGE/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true; fi
# A hint only (this script runs as root; the right-click entry lives in each user's home).
if [ "$1" = configure ]; then echo "Kenning: to add \"Ask Kenning about this folder\" to your file manager, run: kenning integrate install"; fi
POSTINST
cp "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/postrm"
chmod 755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/postrm"
DEB="$BUILD/kenning_${VERSION}_${ARCH}.deb"
dpkg-deb -Zgzip --root-owner-group --build "$STAGE" "$DEB" >/dev/null
rm -rf "$STAGE"
echo "Built $DEB"
