#!/bin/sh
# Installs kyutai-dictate from this unpacked tarball, for one user (default ~/.local) or for
# everyone (--prefix /usr/local, as root). --uninstall removes what it installed.
# Usage: ./install.sh [--prefix DIR] [--uninstall]
set -eu
prefix="${HOME}/.local"
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
              prefix=$2; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) echo "install.sh: the prefix must be an absolute path: $prefix" >&2; exit 2 ;;
esac
case "$prefix" in
  *[!A-Za-z0-9_./+@-]*)
    echo "install.sh: the prefix may hold only letters, digits and _ . / + @ -: $prefix" >&2
    exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
name=kyutai-dictate
sizes="16 22 24 32 48 64 128 256"

if [ "$action" = uninstall ]; then
  rm -rf "${prefix:?}/lib/$name"
  rm -f "$prefix/bin/$name" "$prefix/share/applications/$name.desktop" \
    "$prefix/share/icons/hicolor/scalable/apps/$name.svg"
  for size in $sizes; do rm -f "$prefix/share/icons/hicolor/${size}x${size}/apps/$name.png"; done
  echo "kyutai-dictate removed from $prefix (your settings stay in ~/.config/kyutai-dictate)"
  exit 0
fi

mkdir -p "$prefix/lib" "$prefix/bin" "$prefix/share/applications"
rm -rf "${prefix:?}/lib/$name.new"
cp -R "$here/lib/$name" "$prefix/lib/$name.new"
rm -rf "${prefix:?}/lib/$name"
mv "$prefix/lib/$name.new" "$prefix/lib/$name"
ln -sf "../lib/$name/$name" "$prefix/bin/$name"
cp -R "$here/share/icons" "$prefix/share/"
# The menu entry runs this launcher, whether the prefix is on PATH or not. (It declares no
# MIME types, so there is no desktop database to update.)
sed "s|^Exec=kyutai-dictate|Exec=$prefix/bin/$name|" "$here/share/applications/$name.desktop" \
  > "$prefix/share/applications/$name.desktop"
echo "kyutai-dictate installed: $prefix/bin/$name"
