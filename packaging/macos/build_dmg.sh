#!/usr/bin/env bash
# Build Kenning.app (PyInstaller, packaging/kenning.spec) and put it in a .dmg.
#   packaging/macos/build_dmg.sh
# Needs: a Python environment with Kenning + PyInstaller (pip install '.[freeze]'), Xcode tools.
# Signing and notarization run only when these are set (otherwise they are skipped, with a note):
#   MACOS_SIGN_IDENTITY   e.g. "Developer ID Application: Your Name (TEAMID)"
#   MACOS_NOTARY_PROFILE  a keychain profile made with `xcrun notarytool store-credentials`
#     or, instead of a profile: MACOS_NOTARY_APPLE_ID, MACOS_NOTARY_TEAM_ID, MACOS_NOTARY_PASSWORD
# Output: packaging/build/Kenning-<version>.dmg
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$ROOT/packaging/build"
PYTHON="${PYTHON:-python3}"
VERSION="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("kenning"))')"
cd "$ROOT"

echo "== icon"
"$PYTHON" packaging/make_icons.py iconset
iconutil -c icns "$BUILD/kenning.iconset" -o "$BUILD/kenning.icns"

echo "== Kenning.app"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" packaging/kenning.spec
APP="$BUILD/dist/Kenning.app"
test -x "$APP/Contents/MacOS/kenning"

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
    echo "== codesign ($MACOS_SIGN_IDENTITY)"
    # Hardened runtime is required for notarization; llama.cpp and Qt need no extra entitlements.
    codesign --force --deep --options runtime --timestamp \
        --sign "$MACOS_SIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
else
    echo "Not signing: MACOS_SIGN_IDENTITY is not set (the app will need right-click > Open)."
fi

echo "== dmg"
DMG="$BUILD/Kenning-$VERSION.dmg"
STAGE="$BUILD/dmg"
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Kenning" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
rm -rf "$STAGE"

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi

if [[ -n "${MACOS_SIGN_IDENTITY:-}" && -n "${MACOS_NOTARY_PROFILE:-}${MACOS_NOTARY_APPLE_ID:-}" ]]; then
    echo "== notarize"
    if [[ -n "${MACOS_NOTARY_PROFILE:-}" ]]; then
        xcrun notarytool submit "$DMG" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
    else
        xcrun notarytool submit "$DMG" --apple-id "$MACOS_NOTARY_APPLE_ID" \
            --team-id "$MACOS_NOTARY_TEAM_ID" --password "$MACOS_NOTARY_PASSWORD" --wait
    fi
    xcrun stapler staple "$DMG"
else
    echo "Not notarizing: set MACOS_SIGN_IDENTITY and MACOS_NOTARY_PROFILE" \
         "(or MACOS_NOTARY_APPLE_ID/_TEAM_ID/_PASSWORD) to notarize."
fi
echo "Built $DMG"
echo "The Finder Quick Action is per user: Kenning offers it, or run" \
     "'/Applications/Kenning.app/Contents/MacOS/kenning integrate install'."
