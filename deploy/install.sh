#!/usr/bin/env bash
# Installs tandem from this source checkout, for a director without the Debian
# package (another distribution): the same files as the package, under a prefix.
#
#   deploy/install.sh [--prefix /usr/local] [--sysconfdir /etc] [--runtime copy|system]
#   deploy/install.sh --uninstall [--prefix …] [--sysconfdir …]
#
# DESTDIR (from the environment) installs into another root, as for packaging.
# An existing configuration is never overwritten, and a heartbeat key is made only
# when there is none. --uninstall removes what the install put there and keeps the
# configuration and the key. --runtime: see deploy/stage.sh; by default this
# machine's node is carried along unless it is a distribution build (libnode).
# Needs Node.js 20.5 or later, npm, and g++, make and python3 for the packet addon.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local sysconfdir=/etc runtime='' uninstall=false
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --uninstall) uninstall=true; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
prefix=${prefix%/}
destdir=${DESTDIR:-}
libdir=$prefix/lib/tandem
manifest=$destdir$libdir/installed-files
live=false
[ -z "$destdir" ] && [ -d /run/systemd/system ] && live=true

if $uninstall; then
  [ -f "$manifest" ] || { echo "install: no tandem installed under $prefix ($manifest not found)" >&2; exit 1; }
  if $live; then systemctl disable --now tandem.service 2>/dev/null || true; fi
  while IFS= read -r path; do rm -f "$destdir$path"; done <"$manifest"
  # tandem's own directories; the shared ones (sbin, man8, …) stay even when empty
  rm -rf "$destdir$libdir"
  rmdir "$destdir$prefix/share/tandem" "$destdir$prefix/share/doc/tandem" 2>/dev/null || true
  if $live; then systemctl daemon-reload || true; fi
  echo "tandem removed from $prefix; kept $sysconfdir/tandem (configuration and key)"
  exit 0
fi

if [ -z "$runtime" ]; then
  runtime=copy
  if ldd "$(readlink -f "$(command -v node)")" | grep -q libnode; then runtime=system; fi
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
bash deploy/stage.sh --destdir "$staging" --prefix "$prefix" --sysconfdir "$sysconfdir" --runtime "$runtime"

# A new tree each time: nothing of an older version lingers in the program's directory.
rm -rf "$destdir$libdir"
installed=()
while IFS= read -r -d '' file; do
  path=${file#.}
  target=$destdir$path
  if [[ $path == "$sysconfdir"/tandem/* ]]; then
    if [ -e "$target" ]; then
      echo "install: kept $path" >&2
      continue
    fi
  else
    installed+=("$path")
  fi
  install -d -m 0755 "$(dirname "$target")"
  cp -P --preserve=mode "$staging$path" "$target"
done < <(cd "$staging" && find . \( -type f -o -type l \) -print0 | sort -z)
printf '%s\n' "${installed[@]}" "$libdir/installed-files" >"$manifest"

key=$destdir$sysconfdir/tandem/authkey
if [ ! -e "$key" ]; then
  node "$destdir$libdir/dist/cli/main.js" keygen "$key" >/dev/null
  echo "install: wrote a new heartbeat key to $sysconfdir/tandem/authkey; copy it to the peer"
fi
if $live; then systemctl daemon-reload || true; fi
echo "tandem $(node -p 'require("./package.json").version') installed under $prefix: edit $sysconfdir/tandem/tandem.yaml, copy it and the key to the peer, then: systemctl enable --now tandem"
