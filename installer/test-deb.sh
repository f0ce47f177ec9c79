#!/bin/sh
# Builds Weft's DEB and installs it on a clean Debian 12 (a fresh mmdebstrap root), then runs
# weft --version, and weft-cli's demo on 2 workers, from the installed package.
#   installer/test-deb.sh [BUILD_DIR]      (root; needs Debian's package mirror)
set -eu
build=${1:-build}
root="$build/deb-test/root"
command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/weft_*_amd64.deb | head -n1)
rm -rf "$root"
mkdir -p "$root"
# A minimal system with apt: nothing of Weft's dependencies is there until the DEB pulls them.
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
mmdebstrap --variant=apt --quiet bookworm "$root" "$sources"
cp "$deb" "$root/tmp/weft.deb"
for fs in proc sys dev; do mount --bind "/$fs" "$root/$fs"; done
trap 'for fs in proc sys dev; do umount "$root/$fs" 2>/dev/null || true; done' EXIT
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/weft.deb >/tmp/apt.log 2>&1 || { tail -30 /tmp/apt.log; exit 1; }'
chroot "$root" weft --version
# The demo's kernels come from the classroom kernel library the package installs; the demo's
# own exit status counts (not that of a pipe's last command).
chroot "$root" sh -c 'weft-cli demo 2 >/tmp/demo.log 2>&1; s=$?; tail -5 /tmp/demo.log; exit $s'
chroot "$root" sh -c 'weft-cli kernels --workers 1 >/tmp/kernels.log 2>&1; s=$?; grep -E "^process|^  classroom" /tmp/kernels.log; exit $s'
echo "test-deb: the DEB installs on a clean Debian 12 and runs"
