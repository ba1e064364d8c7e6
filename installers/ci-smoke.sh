#!/usr/bin/env bash
# CI step: build the .deb, install it with dpkg, smoke-test the INSTALLED app, validate its
# desktop integration, and ALWAYS uninstall the package at the end (also on failure or Ctrl-C).
#
#   bash installers/ci-smoke.sh
#
# Checks, each of which fails the step:
#   - build-deb.sh: the frozen app's --version and --self-test, desktop-file-validate,
#     appstreamcli validate / validate-tree (see installers/linux/build-deb.sh)
#   - dpkg -i of the .deb (its Depends installed with apt-get first when missing)
#   - the installed files: /usr/bin/mabgui, /opt/mabgui, the .desktop file, hicolor icons, metainfo
#   - desktop-file-validate and appstreamcli validate of the installed files
#   - /usr/bin/mabgui --version prints the pyproject version
#   - /usr/bin/mabgui --self-test exits 0 offscreen, and on X11 (Xvfb, the xcb platform plugin)
#   - /usr/bin/mabgui doctor --json prints a diagnosis (the CLI, docker SDK and buildx in the app)
#   - the app's window under Xvfb is screenshotted (installers/dist/smoke/installed-app.png)
#     and is not blank
#   - dpkg --purge leaves nothing in /opt/mabgui or /usr/bin/mabgui
# Env: PYTHON (build interpreter, default python3), DEB_COMPRESSION (default zstd here: fast).
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
APP_ID="io.github.mabgui.Mabgui"
OUT="$ROOT/installers/dist/smoke"
STARTED=$(date +%s)
TMP="$(mktemp -d /tmp/mabgui-ci-smoke.XXXXXX)"
XVFB_PID=""
APP_PID=""

log() { printf 'ci-smoke: %s\n' "$*"; }
fail() { echo "ci-smoke: FAIL: $*" >&2; exit 1; }

package_present() {  # installed, half-installed or config-files: anything dpkg still knows
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' mabgui 2>/dev/null || true)"
  [ -n "$status" ] && [ "$status" != "not-installed" ]
}

uninstall() {
  if package_present; then
    log "uninstalling the mabgui package"
    dpkg --purge mabgui >/dev/null
  fi
}

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 5 s
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  stop_pid "$APP_PID"
  stop_pid "$XVFB_PID"
  uninstall || { echo "ci-smoke: could not uninstall mabgui" >&2; rc=1; }
  rm -rf "$TMP"
  log "finished in $(( $(date +%s) - STARTED )) s (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {  # apt_install PACKAGE…: only the missing ones; apt-get update once if needed
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

if package_present; then
  log "a mabgui package is already installed: it is replaced now and removed at the end"
fi
apt_install xvfb x11-utils

# 1. build (freeze + self-test + validators) ------------------------------------------------------
DEB_COMPRESSION="${DEB_COMPRESSION:-zstd}" PYTHON="$PYTHON" \
  bash installers/linux/build-deb.sh --no-tarball
VERSION="$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
DEB="$(ls installers/dist/mabgui_*.deb)"
BUILT=$(date +%s)

# 2. install ------------------------------------------------------------------------------------
# The Depends first (first choice of each alternative), so that plain dpkg -i works.
mapfile -t DEPS < <(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep .)
apt_install "${DEPS[@]}"
log "dpkg -i $DEB"
dpkg -i "$DEB" >/dev/null

# 3. installed files and validators --------------------------------------------------------------
for f in /usr/bin/mabgui /opt/mabgui/mabgui /usr/share/applications/$APP_ID.desktop \
    /usr/share/metainfo/$APP_ID.metainfo.xml /usr/share/icons/hicolor/scalable/apps/$APP_ID.svg \
    /usr/share/doc/mabgui/copyright; do
  [ -e "$f" ] || fail "$f is not installed"
done
for size in 16 22 24 32 48 64 128 256 512; do
  [ -f "/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png" ] || fail "no ${size}px icon"
done
desktop-file-validate "/usr/share/applications/$APP_ID.desktop"
appstreamcli validate --no-net "/usr/share/metainfo/$APP_ID.metainfo.xml" >/dev/null \
  || fail "appstreamcli validate of the installed metainfo"

# 4. the installed app ---------------------------------------------------------------------------
# A throwaway config/cache home: the smoke test must not read or write the user's settings.
export XDG_CONFIG_HOME="$TMP/config" XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data"
got="$(/usr/bin/mabgui --version)"
[ "$got" = "mabgui $VERSION" ] || fail "/usr/bin/mabgui --version printed '$got', expected 'mabgui $VERSION'"
log "$got"
QT_QPA_PLATFORM=offscreen timeout 60 /usr/bin/mabgui --self-test 2>"$TMP/self-test.err" \
  || { cat "$TMP/self-test.err" >&2; fail "/usr/bin/mabgui --self-test (offscreen)"; }
rc=0
timeout 60 /usr/bin/mabgui doctor --json >"$TMP/doctor.json" 2>"$TMP/doctor.err" || rc=$?
[ "$rc" -le 1 ] || { cat "$TMP/doctor.err" >&2; fail "mabgui doctor --json exited $rc"; }
"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict), d' \
  "$TMP/doctor.json" || fail "mabgui doctor --json did not print a JSON object"
log "mabgui doctor --json: a diagnosis (exit $rc)"

# 5. under X11 (Xvfb): the xcb platform plugin, and a look at the window --------------------------
mkdir -p "$OUT"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$TMP/display" 2>"$TMP/xvfb.log" &
XVFB_PID=$!
for _ in $(seq 100); do [ -s "$TMP/display" ] && break; sleep 0.1; done
[ -s "$TMP/display" ] || { cat "$TMP/xvfb.log" >&2; fail "Xvfb did not start"; }
export DISPLAY=":$(head -n1 "$TMP/display")"
unset QT_QPA_PLATFORM
QT_QPA_PLATFORM=xcb timeout 60 /usr/bin/mabgui --self-test 2>"$TMP/self-test-x11.err" \
  || { cat "$TMP/self-test-x11.err" >&2; fail "/usr/bin/mabgui --self-test on X11 ($DISPLAY)"; }
rm -rf "$XDG_CONFIG_HOME"  # the self-test saved its window geometry; start as a new user would
/usr/bin/mabgui >"$TMP/app.log" 2>&1 &
APP_PID=$!
"$PYTHON" installers/linux/x11-screenshot.py "$OUT/installed-app.png" --title mabgui --timeout 60 \
  || { cat "$TMP/app.log" >&2; fail "no mabgui window on $DISPLAY"; }
kill -0 "$APP_PID" 2>/dev/null || { cat "$TMP/app.log" >&2; fail "the app exited by itself"; }
stop_pid "$APP_PID"
APP_PID=""
stop_pid "$XVFB_PID"
XVFB_PID=""

# 6. uninstall (again in the EXIT trap, whatever happened above) ---------------------------------
uninstall
[ ! -e /opt/mabgui ] && [ ! -e /usr/bin/mabgui ] || fail "files left after dpkg --purge mabgui"
log "ok: build $(( BUILT - STARTED )) s, install + smoke tests $(( $(date +%s) - BUILT )) s"
