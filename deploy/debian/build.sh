#!/usr/bin/env bash
# `npm run package`: builds build/tandem_VERSION_ARCH.deb on this machine (Debian 12 is
# the reference; the package installs on Debian 12 and 13 and Ubuntu LTS of the same
# architecture). The tree comes from deploy/stage.sh (prefix /usr, the runtime
# carried along); this adds the package's control files: the dependencies that
# dpkg-shlibdeps finds for the runtime and the addon, the conffiles (everything under
# /etc), the maintainer scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
work=build/package
root=$work/root
deb=build/tandem_${version}_${arch}.deb

rm -rf "$root"
bash deploy/stage.sh --destdir "$root" --prefix /usr --sysconfdir /etc --runtime copy

# dpkg-shlibdeps reads debian/control of the directory it runs in.
mkdir -p "$work/shlibdeps/debian"
printf 'Source: tandem\n\nPackage: tandem\nArchitecture: any\n' >"$work/shlibdeps/debian/control"
binaries=("$PWD/$root/usr/lib/tandem/node" "$PWD/$root"/usr/lib/tandem/native/build/Release/*.node)
# the addon's napi_* symbols come from the runtime, which no library provides
depends=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O "${binaries[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d -m 0755 "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
  -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)/" deploy/debian/control.in >"$root/DEBIAN/control"
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "deploy/debian/$script" "$root/DEBIAN/$script"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's|  \./|  |') >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

# TANDEM_DEB_COMPRESSION=type[:level] (dpkg-deb -Z, -z): the package tests take gzip:1,
# as xz takes minutes for the runtime's 95 MB on a busy machine.
compression=${TANDEM_DEB_COMPRESSION:-xz}
level=()
[[ $compression == *:* ]] && level=(-z"${compression#*:}")
dpkg-deb --root-owner-group -Z"${compression%%:*}" "${level[@]}" --build "$root" "$deb" >/dev/null
echo "$deb"
