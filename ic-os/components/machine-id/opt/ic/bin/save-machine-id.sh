#!/bin/sh
# Keep the machine-id on the config partition: saved on first boot, restored by the initramfs
# (scripts/init-bottom/icos-machine-id) at every later boot.
# Usage: save-machine-id.sh [CONFIG_DIR]
set -eu
ICOS_TAG=machine-id
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
if [ $# -ge 1 ]; then
  dir=$1
else
  icos_contract
  dir=${ICOS_CONFIG_MOUNT:?the device contract names no config mount point}
fi
current=$(cat /etc/machine-id)
if [ -f "$dir/machine-id" ]; then
  saved=$(cat "$dir/machine-id")
  if [ "$saved" = "$current" ]; then
    echo "machine-id: $current (restored)"
  else
    echo "machine-id: WARNING: running with $current, saved $saved" >&2
  fi
else
  echo "$current" | icos_persist "$dir/machine-id" 0644
  echo "machine-id: $current (saved on first boot)"
fi
