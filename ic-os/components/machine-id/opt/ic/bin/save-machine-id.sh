#!/bin/sh
# Keep the machine-id on the config partition: saved on first boot, restored by the initramfs
# (scripts/init-bottom/icos-machine-id) at every later boot.
# Usage: save-machine-id.sh [CONFIG_DIR]
set -eu
dir=${1:-/boot/config}
current=$(cat /etc/machine-id)
if [ -f "$dir/machine-id" ]; then
  saved=$(cat "$dir/machine-id")
  if [ "$saved" = "$current" ]; then
    echo "machine-id: $current (restored)"
  else
    echo "machine-id: WARNING: running with $current, saved $saved" >&2
  fi
else
  echo "$current" > "$dir/machine-id.tmp"
  mv "$dir/machine-id.tmp" "$dir/machine-id"
  echo "machine-id: $current (saved on first boot)"
fi
