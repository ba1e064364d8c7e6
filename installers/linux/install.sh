#!/bin/sh
# Install (or remove) this mabgui tarball for the current user, no root needed:
#   ./install.sh              copy the app to ~/.local/opt/mabgui, add ~/.local/bin/mabgui,
#                             the menu entry and the icons under ~/.local/share
#   ./install.sh --uninstall  remove all of that again
# You can also run ./mabgui from this folder without installing anything.
set -eu
APP_ID=io.github.mabgui.Mabgui
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
OPT="$HOME/.local/opt/mabgui"
BIN="$HOME/.local/bin"

uninstall() {
  rm -rf "$OPT"
  rm -f "$BIN/mabgui" "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml"
  find "$DATA/icons/hicolor" -name "$APP_ID.*" -delete 2>/dev/null || true
}

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  uninstall
  refresh
  echo "mabgui removed."
  exit 0
fi

uninstall
mkdir -p "$OPT" "$BIN" "$DATA/applications"
cp -a "$HERE/mabgui" "$HERE/_internal" "$OPT/"
printf '#!/bin/sh\nexec "%s/mabgui" "$@"\n' "$OPT" > "$BIN/mabgui"
chmod 0755 "$BIN/mabgui"
# The menu entry runs the app by its full path: ~/.local/bin is not on every session's PATH.
sed "s|^Exec=mabgui|Exec=$OPT/mabgui|" "$HERE/share/applications/$APP_ID.desktop" \
  > "$DATA/applications/$APP_ID.desktop"
(cd "$HERE/share" && find icons metainfo -type f) | while read -r f; do
  mkdir -p "$DATA/$(dirname "$f")"
  cp "$HERE/share/$f" "$DATA/$f"
done
refresh
echo "mabgui installed: run 'mabgui' (in $BIN) or open it from the applications menu."
