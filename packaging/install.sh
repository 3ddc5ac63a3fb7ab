#!/bin/sh
# Installs Hearth for the current user, without root, from the unpacked tarball:
#   the app           $PREFIX/opt/hearth         (PREFIX defaults to ~/.local)
#   the commands      $PREFIX/bin/hearth, $PREFIX/bin/hearth-cli
#   the menu entry    $PREFIX/share/applications, icons and AppStream metainfo beside it
# Usage: ./install.sh [--uninstall]      Your models and conversations are never touched.
set -eu

PREFIX="${PREFIX:-$HOME/.local}"
APP_ID=io.hearth.Hearth
here=$(cd "$(dirname "$0")" && pwd)
app="$PREFIX/opt/hearth"
share="$PREFIX/share"

refresh_menus() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$share/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$share/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$share/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$app"
    rm -f "$PREFIX/bin/hearth" "$PREFIX/bin/hearth-cli"
    rm -f "$share/applications/$APP_ID.desktop" "$share/metainfo/$APP_ID.metainfo.xml"
    find "$share/icons/hicolor" -path '*/apps/hearth.*' -delete 2>/dev/null || true
    refresh_menus
    echo "Hearth is uninstalled. Your models, conversations and settings are kept."
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--uninstall]" >&2
    exit 2
fi

if [ ! -x "$here/hearth/hearth" ]; then
    echo "$here/hearth/hearth is missing: run install.sh from the unpacked tarball." >&2
    exit 1
fi

# Copy beside the old version, then swap, so a failed copy leaves the old one working.
mkdir -p "$PREFIX/opt" "$PREFIX/bin"
rm -rf "$app.new"
cp -R "$here/hearth" "$app.new"
rm -rf "$app"
mv "$app.new" "$app"
ln -sf "$app/hearth" "$PREFIX/bin/hearth"
ln -sf "$app/hearth-cli" "$PREFIX/bin/hearth-cli"

mkdir -p "$share/applications" "$share/metainfo" "$share/icons"
# The menu starts the absolute path: ~/.local/bin is not on every desktop session's PATH.
sed -e "s|^Exec=hearth\$|Exec=$app/hearth|" -e "s|^TryExec=hearth\$|TryExec=$app/hearth|" \
    "$here/share/applications/$APP_ID.desktop" > "$share/applications/$APP_ID.desktop"
cp "$here/share/metainfo/$APP_ID.metainfo.xml" "$share/metainfo/"
cp -R "$here/share/icons/hicolor" "$share/icons/"
refresh_menus

# The bundle leaves the display and font libraries to the system (like the .deb's
# Depends); say which are missing rather than fail at the first start.
missing=$(LD_LIBRARY_PATH="$app/_internal:$app/_internal/PySide6/Qt/lib" \
    ldd "$app/_internal/PySide6/Qt/plugins/platforms/libqxcb.so" \
        "$app/_internal/llama_cpp/lib/libllama.so" 2>/dev/null | awk '/not found/ {print $1}' | sort -u)
echo "Hearth is installed in $app."
if [ -n "$missing" ]; then
    echo "These system libraries are missing; install them with your package manager:" >&2
    echo "$missing" | sed 's/^/  /' >&2
fi
case ":$PATH:" in
    *":$PREFIX/bin:"*) echo "Start it from your applications menu, or run: hearth" ;;
    *) echo "Start it from your applications menu, or run: $PREFIX/bin/hearth" ;;
esac
