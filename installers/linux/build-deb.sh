#!/usr/bin/env bash
# Build the Linux packages of mabgui from this source tree:
#   installers/dist/mabgui/                            the PyInstaller one-folder app
#   installers/dist/mabgui_VERSION_ARCH.deb            installs to /opt/mabgui, /usr/bin/mabgui
#   installers/dist/mabgui-VERSION-linux-MACHINE.tar.gz  the same app + install.sh for one user
#
#   bash installers/linux/build-deb.sh [--reuse-freeze] [--no-tarball]
#
# --reuse-freeze  package the existing installers/dist/mabgui/ instead of running PyInstaller.
# --no-tarball    build the .deb only (CI).
# Env: PYTHON (default: python3 of PATH, with mabgui's dependencies installed),
#      MABGUI_MAINTAINER (the .deb Maintainer field),
#      DEB_COMPRESSION (xz by default: smallest, ~70 s here; zstd: a few seconds, dpkg >= 1.21.18).
# Needs dpkg-deb, readelf, desktop-file-validate and appstreamcli; as root the missing ones are
# installed with apt-get. Every check (self-test of the frozen app, desktop-file-validate,
# appstreamcli validate) must pass or the script exits non-zero.
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
DIST="$ROOT/installers/dist"
WORK="$ROOT/installers/build/linux"
APP_ID="io.github.mabgui.Mabgui"
ICON_SIZES="16 22 24 32 48 64 128 256 512"
REUSE=0
TARBALL=1
for arg in "$@"; do
  case "$arg" in
    --reuse-freeze) REUSE=1 ;;
    --no-tarball) TARBALL=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-deb: unknown option $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'build-deb: %s\n' "$*"; }
die() { echo "build-deb: error: $*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {  # apt_install PACKAGE…: install the missing ones (as root), or say how
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing packages: sudo apt-get install ${missing[*]}"
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    [ "$APT_UPDATED" = 1 ] || { apt-get update -q >/dev/null; APT_UPDATED=1; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
need_tool() {  # need_tool COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}
need_tool dpkg-deb dpkg
need_tool readelf binutils
need_tool desktop-file-validate desktop-file-utils
need_tool appstreamcli appstream
# The system libraries Qt's xcb and wayland platform plugins link to. PyInstaller bundles what it
# finds and debdeps.py turns the rest into Depends; a library missing here would be missing from
# both, so the build machine must have them all.
apt_install libdbus-1-3 libegl1 libgl1 libfontconfig1 libfreetype6 libglib2.0-0 libx11-6 \
  libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 \
  libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0 libwayland-client0 \
  libwayland-cursor0 libwayland-egl1

VERSION="$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
# PEP 440 → Debian: pre-releases sort before the release (1.0rc1 → 1.0~rc1, 1.0.dev3 → 1.0~dev3).
DEB_VERSION="$(printf '%s' "$VERSION" | sed -E 's/[.]?(a|b|rc|dev)([0-9]+)/~\1\2/')"
ARCH="$(dpkg --print-architecture)"
MACHINE="$(uname -m)"
MAINTAINER="${MABGUI_MAINTAINER:-The mabgui authors <mabgui@users.noreply.github.com>}"
log "mabgui $VERSION (deb $DEB_VERSION, $ARCH) with $PYTHON"
STARTED=$(date +%s)

# 1. the one-folder app (PyInstaller), which runs its own --version and --self-test
if [ "$REUSE" = 1 ] && [ -x "$DIST/mabgui/mabgui" ]; then
  log "reusing $DIST/mabgui"
else
  "$PYTHON" installers/freeze.py --dist "$DIST" --build "$ROOT/installers/build/pyi"
fi
[ -x "$DIST/mabgui/mabgui" ] || die "no frozen app in $DIST/mabgui"

# 2. the desktop integration files, with the release of this version in the metainfo
rm -rf "$WORK"
mkdir -p "$WORK/share"
cp resources/"$APP_ID".desktop "$WORK/share/"
METAINFO="$WORK/share/$APP_ID.metainfo.xml"
cp resources/"$APP_ID".metainfo.xml "$METAINFO"
if ! grep -q "<release version=\"$VERSION\"" "$METAINFO"; then
  log "adding release $VERSION to the packaged metainfo (add it to resources/$APP_ID.metainfo.xml)"
  sed -i "s|<releases>|<releases>\n    <release version=\"$VERSION\" date=\"$(date -u +%F)\"/>|" "$METAINFO"
fi
desktop-file-validate "$WORK/share/$APP_ID.desktop"
appstreamcli validate --no-net --explain "$METAINFO"

# install_desktop_files PREFIX: applications/, icons/hicolor/, metainfo/ under PREFIX/share
install_desktop_files() {
  local share="$1/share" size
  install -D -m 0644 "$WORK/share/$APP_ID.desktop" "$share/applications/$APP_ID.desktop"
  install -D -m 0644 "$METAINFO" "$share/metainfo/$APP_ID.metainfo.xml"
  install -D -m 0644 resources/mabgui.svg "$share/icons/hicolor/scalable/apps/$APP_ID.svg"
  for size in $ICON_SIZES; do
    [ -f "resources/icons/mabgui-$size.png" ] || die "resources/icons/mabgui-$size.png missing: run $PYTHON resources/make-icons.py"
    install -D -m 0644 "resources/icons/mabgui-$size.png" \
      "$share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
  done
}

# 3. the .deb tree
PKG="$WORK/deb/mabgui_${DEB_VERSION}_${ARCH}"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/doc/mabgui"
cp -a "$DIST/mabgui" "$PKG/opt/mabgui"
cat > "$PKG/usr/bin/mabgui" <<'EOF'
#!/bin/sh
# mabgui launcher: the app lives in /opt/mabgui (a PyInstaller one-folder build).
exec /opt/mabgui/mabgui "$@"
EOF
chmod 0755 "$PKG/usr/bin/mabgui"
install_desktop_files "$PKG/usr"
cat > "$PKG/usr/share/doc/mabgui/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mabgui
Comment: /opt/mabgui is a PyInstaller one-folder build. Besides mabgui it bundles CPython
 (PSF-2.0), Qt 6 and PySide6/Shiboken6 (LGPL-3.0, used as shared libraries that can be replaced
 in /opt/mabgui/_internal), pyqtgraph, numpy, qasync, httpx, docker, platformdirs and their
 dependencies (MIT/BSD/Apache-2.0), each under its own license.

Files: *
Copyright: the mabgui authors
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files (the "Software"), to deal in the Software without
 restriction, including without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
chmod -R u+rwX,go+rX,go-w "$PKG"

log "computing Depends from the bundled libraries"
DEPENDS="$("$PYTHON" installers/linux/debdeps.py "$PKG/opt/mabgui")" \
  || die "could not compute Depends (install the libraries named above and build again)"
# Qt's xcb platform plugin cannot start without these, whether PyInstaller bundled some or not
# (libxcb-cursor0 is loaded at run time, so no NEEDED entry names it): depend on them all, so
# an installed mabgui never stops at "could not load the Qt platform plugin xcb".
# The same list is in mabgui/core/doctor.py (XCB_LIBRARIES), which `mabgui doctor` checks.
for dep in libxcb1 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 \
  libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0; do
  case ", $DEPENDS," in
    *", $dep,"* | *", $dep ("*) ;;
    *) DEPENDS="$DEPENDS, $dep" ;;
  esac
done
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<EOF
Package: mabgui
Version: $DEB_VERSION
Section: devel
Priority: optional
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Suggests: docker.io | docker-ce, docker-buildx | docker-buildx-plugin, qemu-user-static, binfmt-support
Homepage: https://github.com/mabgui/mabgui
Description: build and inspect multi-architecture container images
 mabgui is a desktop app over Docker buildx, QEMU user emulators and container
 registries: builders and their platforms, binfmt_misc emulators, multi-platform
 builds with live progress per architecture, and image manifests as a
 per-platform digest tree. Every feature also works from the command line
 (mabgui SUBCOMMAND --json).
 .
 This package ships a self-contained build (Python and Qt included) in
 /opt/mabgui.
EOF
(cd "$PKG" && find opt usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$PKG/DEBIAN/control" "$PKG/DEBIAN/md5sums"
appstreamcli validate-tree --no-net "$PKG" \
  || die "appstreamcli validate-tree failed for the package tree"

DEB="$DIST/mabgui_${DEB_VERSION}_${ARCH}.deb"
rm -f "$DIST"/mabgui_*.deb
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$PKG" "$DEB" >/dev/null
dpkg-deb --info "$DEB" | sed -n '/Package:/,/Description:/p'
log "$DEB ($(du -h "$DEB" | cut -f1))"

# 4. the tarball: the same app for one user, no root needed
if [ "$TARBALL" = 0 ]; then
  log "done in $(( $(date +%s) - STARTED )) s (no tarball)"
  exit 0
fi
TARNAME="mabgui-$VERSION-linux-$MACHINE"
TAR="$WORK/tar/$TARNAME"
mkdir -p "$TAR"
cp -a "$DIST/mabgui/." "$TAR/"
install_desktop_files "$TAR"
install -m 0755 installers/linux/install.sh "$TAR/install.sh"
rm -f "$DIST"/mabgui-*-linux-*.tar.gz
tar -C "$WORK/tar" --owner=0 --group=0 --numeric-owner -czf "$DIST/$TARNAME.tar.gz" "$TARNAME"
log "$DIST/$TARNAME.tar.gz ($(du -h "$DIST/$TARNAME.tar.gz" | cut -f1))"
log "done in $(( $(date +%s) - STARTED )) s"
