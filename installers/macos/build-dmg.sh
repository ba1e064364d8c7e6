#!/usr/bin/env bash
# Build the macOS app and disk image of mabgui (run on a Mac; it cannot run on Linux):
#   installers/dist/mabgui.app                          Info.plist with bundle id, version, icon
#   installers/dist/mabgui-VERSION-macos-ARCH.dmg       mabgui.app + a link to /Applications
#
#   bash installers/macos/build-dmg.sh
#
# Needs: macOS 11+, Xcode command line tools (codesign, hdiutil, plutil), a python3 >= 3.11 with
# mabgui's dependencies installed (`python3 -m pip install .` in a venv). The app is built for the
# architecture of that Python (arm64 on Apple silicon, x86_64 on Intel): build once per arch.
#
# Optional signing and notarization (without them the app is ad-hoc signed, and users open it
# the first time with right-click → Open, or System Settings → Privacy & Security → Open Anyway):
#   MABGUI_CODESIGN_IDENTITY="Developer ID Application: NAME (TEAMID)"
#       sign every binary, the .app (hardened runtime, installers/macos/entitlements.plist)
#       and the .dmg with that identity from the login keychain;
#   MABGUI_NOTARY_PROFILE=PROFILE
#       then notarize the .dmg and staple the ticket. Create the profile once with
#       xcrun notarytool store-credentials PROFILE --apple-id ID --team-id TEAMID
#       (an app-specific password is asked for), or use an App Store Connect API key.
set -euo pipefail
umask 022

[ "$(uname -s)" = Darwin ] || { echo "build-dmg: run this on macOS (this is $(uname -s))" >&2; exit 1; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DIST="$ROOT/installers/dist"
WORK="$ROOT/installers/build/macos"
APP="$DIST/mabgui.app"
APP_ID="io.github.mabgui.Mabgui"
IDENTITY="${MABGUI_CODESIGN_IDENTITY:-}"
NOTARY_PROFILE="${MABGUI_NOTARY_PROFILE:-}"

log() { printf 'build-dmg: %s\n' "$*"; }
die() { echo "build-dmg: error: $*" >&2; exit 1; }
for tool in codesign hdiutil plutil ditto; do
  command -v "$tool" >/dev/null || die "$tool is missing: xcode-select --install"
done
[ -z "$NOTARY_PROFILE" ] || [ -n "$IDENTITY" ] || die "notarization needs MABGUI_CODESIGN_IDENTITY too"

VERSION="$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
ARCH="$("$PYTHON" -c 'import platform; print(platform.machine())')"
log "mabgui $VERSION for macOS $ARCH with $PYTHON${IDENTITY:+, signed by $IDENTITY}"

# 1. the .app (PyInstaller BUNDLE; it signs the binaries: ad hoc, or with the identity)
[ -z "$IDENTITY" ] || export MABGUI_CODESIGN_IDENTITY="$IDENTITY" \
  MABGUI_ENTITLEMENTS="$ROOT/installers/macos/entitlements.plist"
rm -rf "$APP"
"$PYTHON" installers/freeze.py --dist "$DIST" --build "$ROOT/installers/build/pyi"
[ -x "$APP/Contents/MacOS/mabgui" ] || die "no $APP/Contents/MacOS/mabgui"

# 2. check the bundle: Info.plist fields, icon, signature
PLIST="$APP/Contents/Info.plist"
plutil -lint "$PLIST" >/dev/null
plist() { /usr/libexec/PlistBuddy -c "Print :$1" "$PLIST"; }
[ "$(plist CFBundleIdentifier)" = "$APP_ID" ] || die "CFBundleIdentifier is $(plist CFBundleIdentifier)"
[ "$(plist CFBundleShortVersionString)" = "$VERSION" ] || die "CFBundleShortVersionString is not $VERSION"
ICON="$(plist CFBundleIconFile)"
[ -f "$APP/Contents/Resources/$ICON" ] || [ -f "$APP/Contents/Resources/$ICON.icns" ] \
  || die "the icon $ICON is not in Contents/Resources"
codesign --verify --deep --strict --verbose=2 "$APP"
"$APP/Contents/MacOS/mabgui" --version

# 3. the disk image: the app and a link to /Applications to drag it onto
DMG="$DIST/mabgui-$VERSION-macos-$ARCH.dmg"
rm -rf "$WORK" "$DMG"
mkdir -p "$WORK/dmg"
ditto "$APP" "$WORK/dmg/mabgui.app"
ln -s /Applications "$WORK/dmg/Applications"
hdiutil create -volname "mabgui $VERSION" -srcfolder "$WORK/dmg" -fs HFS+ -format UDZO \
  -imagekey zlib-level=9 -ov "$DMG" >/dev/null
hdiutil verify "$DMG" >/dev/null

# 4. optional: sign the image, notarize it, staple the ticket
if [ -n "$IDENTITY" ]; then
  codesign --force --timestamp --sign "$IDENTITY" "$DMG"
  codesign --verify --verbose=2 "$DMG"
fi
if [ -n "$NOTARY_PROFILE" ]; then
  log "notarizing (this waits for Apple's service, usually a few minutes)"
  xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
  xcrun stapler validate "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
fi
log "$DMG ($(du -h "$DMG" | cut -f1))"
