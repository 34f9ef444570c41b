#!/bin/sh
# Make an ext4 filesystem on the config partition if it has none (the image ships it empty).
# Idempotent: a partition that already holds a filesystem is left alone.
# Usage: setup-config-partition.sh [DEVICE]
set -eu
dev=${1:-/dev/disk/by-partlabel/config}
if fstype=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null) && [ -n "$fstype" ]; then
  echo "config partition: $fstype filesystem present on $dev"
  exit 0
fi
echo "config partition: first boot, formatting $dev as ext4"
mkfs.ext4 -q -F -L config "$dev"
