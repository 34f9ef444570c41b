#!/bin/sh
# Install every host tool icos uses (Debian 12 packages) and the npm dependencies.
# Idempotent: packages already present are left alone; safe to run again.
# Usage: scripts/setup-host.sh [--no-npm]
set -eu

cd "$(dirname "$0")/.."

# One package per line: the tools `icos doctor` checks (src/host-tools.ts lists them too), jq,
# with which the fast tier runs device-side scripts (they read config.json) on the host, and
# strace, the fast tier's oracle for the order of fsync and rename in cache commits.
PACKAGES="
podman
runc
mmdebstrap
e2fsprogs
xfsprogs
dosfstools
mtools
gdisk
fdisk
util-linux
mount
systemd
grub-efi-amd64-bin
grub-common
ovmf
qemu-system-x86
qemu-utils
zstd
xz-utils
lvm2
cryptsetup-bin
libvirt-clients
shellcheck
openssl
openssh-client
jq
strace
"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
else
  echo "setup: host packages already installed"
fi

if [ "${1:-}" != "--no-npm" ]; then
  npm ci --no-audit --no-fund
  npm run build
fi
