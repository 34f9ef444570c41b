#!/bin/sh
# Make an ext4 filesystem on the config partition on first boot if it has none (icos images ship
# it already formatted, empty; a layout with filesystem: none ships it as zeros).
# It holds the node's identity (ssh host keys, machine-id, saved config), so it is formatted only
# when it is provably blank: blkid finds no signature at all and its first MiBs are zeros.
# Anything else but an ext4 filesystem is an error that stops the boot service, untouched.
# The device and its label come from the device contract (the layout's config partition; a
# layout without a label gets none).
# Usage: setup-config-partition.sh [DEVICE [LABEL]]
set -eu
ICOS_TAG=config-partition
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
if [ $# -ge 1 ]; then
  dev=$1
  label=${2:-}
else
  icos_contract
  dev=${ICOS_CONFIG_DEV:?the device contract names no config device}
  label=${ICOS_CONFIG_LABEL:-}
fi
BLANK_MIB=4

status=0
fstype=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null) || status=$?
# On a partition, blkid also reports the partition table entry (exit 0 without a TYPE).
[ "$status" -ne 0 ] || [ -n "$fstype" ] || status=2
case $status in
  0)
    [ "$fstype" = ext4 ] || icos_fail "$dev holds a $fstype filesystem, not ext4: refusing to format it (the node's identity may be on it); inspect it by hand"
    icos_say "ext4 filesystem present on $dev"
    exit 0
    ;;
  2) ;; # no filesystem signature: maybe blank, checked below
  8) icos_fail "$dev carries more than one filesystem signature (blkid exit 8): refusing to format it; inspect it by hand (wipefs -n $dev)" ;;
  *) icos_fail "cannot probe $dev (blkid exit $status): refusing to format it" ;;
esac
size=$(blockdev --getsize64 "$dev" 2>/dev/null || stat -c %s "$dev")
count=$((size / 1048576))
[ "$count" -le "$BLANK_MIB" ] || count=$BLANK_MIB
[ "$count" -gt 0 ] || icos_fail "$dev is smaller than 1 MiB"
if ! head -c $((count * 1048576)) "$dev" | cmp -s - /dev/zero -n $((count * 1048576)); then
  icos_fail "$dev has no filesystem blkid knows but is not blank (data in its first $count MiB): refusing to format it"
fi
icos_say "first boot: $dev is blank, formatting it as ext4"
mkfs.ext4 -q -F ${label:+-L "$label"} -E root_owner=0:0 "$dev"
# The root of the partition is for root only (mke2fs makes it 0755).
debugfs -w -R "set_inode_field <2> mode 040700" "$dev" > /dev/null 2>&1 || icos_fail "cannot set the mode of the new filesystem's root on $dev"
icos_fsync "$dev"
