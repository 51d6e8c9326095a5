#!/usr/bin/env bash
# Lays out an installed tandem under a directory, from this source checkout: the
# compiled program, its production dependencies, the packet addon built here, the
# Node.js runtime it was built with, the launcher, the unit, the example
# configuration, man pages and bash completion. The Debian package
# (deploy/debian/build.sh) and deploy/install.sh both install what this lays out.
#
#   deploy/stage.sh --destdir DIR [--prefix /usr/local] [--sysconfdir /etc]
#                   [--unitdir DIR] [--runtime copy|system]
#
# --runtime copy (the default) puts this machine's node next to the program, so the
# director needs no Node.js of its own and runs the runtime the addon was built for;
# --runtime system makes the launcher run the node found at build time instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

destdir='' prefix=/usr/local sysconfdir=/etc unitdir='' runtime=copy
while [ $# -gt 0 ]; do
  case $1 in
    --destdir) destdir=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --unitdir) unitdir=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    *) echo "stage: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$destdir" ] || { echo "stage: --destdir is required" >&2; exit 2; }
case $runtime in copy | system) ;; *) echo "stage: --runtime is copy or system" >&2; exit 2 ;; esac
prefix=${prefix%/}
# systemd looks for units under /usr/lib and /usr/local/lib; any other prefix puts it under /etc
if [ -z "$unitdir" ]; then
  case $prefix in
    /usr | /usr/local) unitdir=$prefix/lib/systemd/system ;;
    *) unitdir=$sysconfdir/systemd/system ;;
  esac
fi

libdir=$prefix/lib/tandem
out=$destdir$libdir
umask 022
mkdir -p "$destdir"
destdir=$(cd "$destdir" && pwd)
out=$destdir$libdir

node=$(readlink -f "$(command -v node)")
node_ok=$("$node" -e 'const [a, b] = process.versions.node.split(".").map(Number); console.log(a > 20 || (a === 20 && b >= 5))')
[ "$node_ok" = true ] || { echo "stage: tandem needs Node.js 20.5 or later; $node is $("$node" --version)" >&2; exit 1; }
if [ "$runtime" = copy ] && ldd "$node" | grep -q 'libnode'; then
  echo "stage: $node is a distribution build that needs libnode; use --runtime system" >&2
  exit 1
fi

[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --loglevel=error

echo "stage: compiling into $libdir" >&2
rm -rf "$out"
mkdir -p "$out"
node node_modules/typescript/bin/tsc -p tsconfig.json --outDir "$out/dist" --sourceMap false
bash native/build.sh
for addon in tandem_packet tandem_netlink tandem_sched; do
  install -D -m 0644 "native/build/Release/$addon.node" "$out/native/build/Release/$addon.node"
done
install -d "$out/proto"
install -m 0644 proto/*.proto "$out/proto/"
# The fields the program reads of its package.json (the version, the module type).
node -e '
  const { name, version, description, license, type } = require("./package.json");
  process.stdout.write(JSON.stringify({ name, version, description, license, type }, null, 2) + "\n");
' >"$out/package.json"

# Production dependencies, installed once per lock file and runtime (npm ci needs the network).
cache=build/package-cache/prod-$(cat package-lock.json <("$node" --version) | sha256sum | cut -c1-16)
if [ ! -d "$cache/node_modules" ]; then
  echo "stage: npm ci --omit=dev" >&2
  rm -rf "$cache.tmp"
  mkdir -p "$cache.tmp"
  cp package.json package-lock.json "$cache.tmp/"
  (cd "$cache.tmp" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi
cp -R "$cache/node_modules" "$out/node_modules"
# prebuilt addons (netlink's) for other machines than this one are dead weight
platform=$("$node" -p 'process.platform + "-" + process.arch')
for prebuilt in "$out"/node_modules/*/prebuilds/* "$out"/node_modules/@*/*/prebuilds/*; do
  if [ -d "$prebuilt" ] && [ "${prebuilt##*/}" != "$platform" ]; then rm -rf "$prebuilt"; fi
done
chmod -R u=rwX,go=rX "$out/node_modules"

if [ "$runtime" = copy ]; then
  install -m 0755 "$node" "$out/node"
  runner=$libdir/node
else
  runner=$node
fi

# The launcher: the entry point's own node flags (its #! line), with this runtime.
flags=$(sed -n '1s/^#!.*env -S node//p' src/cli/main.ts)
install -d "$destdir$prefix/sbin"
cat >"$destdir$prefix/sbin/tandem" <<EOF
#!/bin/sh
# tandem: the command line and the daemon (man tandem), on the Node.js runtime
# it was built for.
exec $runner$flags $libdir/dist/cli/main.js "\$@"
EOF
chmod 0755 "$destdir$prefix/sbin/tandem"

install -d "$destdir$unitdir" "$destdir$prefix/share/tandem" "$destdir$sysconfdir/tandem"
sed -e "s|/usr/sbin/tandem|$prefix/sbin/tandem|g" -e "s|/etc/tandem/|$sysconfdir/tandem/|g" deploy/systemd/tandem.service \
  >"$destdir$unitdir/tandem.service"

install -m 0644 schema/tandem.schema.json "$destdir$prefix/share/tandem/tandem.schema.json"
sed -e "1s|\$schema=.*|\$schema=$prefix/share/tandem/tandem.schema.json|" deploy/examples/tandem.yaml \
  >"$destdir$sysconfdir/tandem/tandem.yaml"

mandir=$destdir$prefix/share/man
install -d "$mandir/man5" "$mandir/man8"
gzip -9n <deploy/man/tandem.8 >"$mandir/man8/tandem.8.gz"
node --import tsx deploy/man/render.ts deploy/man/tandem.yaml.5.in schema/tandem.schema.json | gzip -9n >"$mandir/man5/tandem.yaml.5.gz"
chmod 0644 "$mandir/man8/tandem.8.gz" "$mandir/man5/tandem.yaml.5.gz"
install -D -m 0644 deploy/completion/tandem.bash "$destdir$prefix/share/bash-completion/completions/tandem"

docdir=$destdir$prefix/share/doc/tandem
install -d "$docdir"
{
  echo "tandem $(node -p 'require("./package.json").version'): GPL-2.0-or-later."
  if [ "$runtime" = copy ]; then
    echo
    echo "$libdir/node is Node.js $("$node" --version) (MIT license and the licenses of the"
    echo "libraries it contains: node-LICENSE in this directory)."
  fi
  echo
  echo "$libdir/node_modules holds the production dependencies, each with its license."
} >"$docdir/copyright"
if [ "$runtime" = copy ]; then
  license=$(dirname "$node")/../share/doc/nodejs/LICENSE
  [ -f "$license" ] || license=$(dirname "$node")/../LICENSE
  if [ -f "$license" ]; then install -m 0644 "$license" "$docdir/node-LICENSE"; fi
fi
chmod 0644 "$docdir/copyright"
echo "stage: laid out under $destdir (prefix $prefix)" >&2
