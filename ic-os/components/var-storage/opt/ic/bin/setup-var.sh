#!/bin/sh
# Open the running slot's var partition (device contract) as ICOS_VAR_DM: LUKS2 with the key
# from disk-key.sh. On the slot's first boot (the image leaves var blank; an upgrade wipes the
# target slot's var) it is encrypted, given an ext4 filesystem and filled with the image's /var
# (the verified root's own, still visible: var.mount comes after this). The LUKS label says
# "done" only once the copy is on disk, so a boot cut short formats again instead of opening a
# half-filled var. PBKDF2 with few iterations: the key is 64 random bytes, a slow KDF would only
# slow every boot.
# Usage: setup-var.sh [DEVICE]
set -eu
ICOS_TAG=setup-var
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
icos_contract
slot=$(icos_running_slot "${ICOS_CMDLINE:-/proc/cmdline}")
dev=${1:-$(icos_slot_dev "$slot" var)}
[ -n "$dev" ] || icos_fail "the device contract names no var device for slot $slot"
var=${ICOS_VAR_MOUNT:?the device contract names no var mount point}
name=${ICOS_VAR_DM:?the device contract names no var dm name}
key=$(/opt/ic/bin/disk-key.sh)
READY=icos-var

if [ "$(blkid -p -o value -s LABEL "$dev" 2>/dev/null || true)" = "$READY" ]; then
  cryptsetup open --key-file "$key" "$dev" "$name" ||
    icos_fail "slot $slot: $dev does not open with the disk key; its data is unreadable (wipe its header to start afresh)"
  icos_say "slot $slot: $dev opened as $ICOS_VAR_DM_DEV"
  exit 0
fi

icos_say "slot $slot: first boot: encrypting $dev and filling it with the image's $var"
new=$name-new
new_dev=${ICOS_VAR_DM_DEV%/*}/$new
cryptsetup close "$new" 2>/dev/null || true
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --label "$READY-new" --key-file "$key" "$dev" || icos_fail "luksFormat $dev failed"
cryptsetup open --key-file "$key" "$dev" "$new"
# The journal and inode tables are initialised lazily: on an emulated CPU every byte written
# through dm-crypt costs.
mkfs.ext4 -q -L var -E lazy_itable_init=1,lazy_journal_init=1,nodiscard "$new_dev"
mnt=/run/setup-var
mkdir -p "$mnt"
mount -t ext4 "$new_dev" "$mnt"
cp -a "$var/." "$mnt/"
sync -f "$mnt"
umount "$mnt"
cryptsetup close "$new"
cryptsetup config "$dev" --label "$READY"
cryptsetup open --key-file "$key" "$dev" "$name"
icos_say "slot $slot: $dev encrypted, filled and opened as $ICOS_VAR_DM_DEV"
