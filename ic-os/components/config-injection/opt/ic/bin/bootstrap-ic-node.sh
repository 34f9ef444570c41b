#!/bin/sh
# Config injection: take the bootstrap files from the CONFIG media (a vfat filesystem labelled
# CONFIG, attached read-only by HostOS, which this system does not trust), check them with the
# host's rules (validate-config-media.sh) and unpack them into /run/config (root only); the
# checked tree is left in /run for save-ic-node-config.sh, which keeps it on the config partition
# (bootstrap/) off the boot's critical path. Without media, the files kept from an earlier boot
# are used, checked again. A refused media is not kept and nothing of it is used: the node stays
# unconfigured and says why on the console.
# Usage: bootstrap-ic-node.sh   (run by bootstrap-ic-node.service)
set -eu
# Everything this script creates is private to root unless it says otherwise (install -m).
umask 077
ICOS_TAG=bootstrap-ic-node
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"

MEDIA_LABEL=CONFIG
# The ICOS_* settings point the script at directories instead of the device (the fast tier).
MEDIA_DIR=${ICOS_MEDIA_DIR:-}
CONFIG_DIR=${ICOS_BOOT_CONFIG:-}
if [ -z "$CONFIG_DIR" ]; then
  icos_contract
  CONFIG_DIR=${ICOS_CONFIG_MOUNT:?the device contract names no config mount point}
fi
RUN_DIR=${ICOS_RUN_CONFIG:-/run/config}
NODE_DIR=${ICOS_NODE_DIR:-/run/ic-node}
KEY_OWNER=${ICOS_KEY_OWNER:-ic-replica}
WAIT_SECONDS=${ICOS_CONFIG_WAIT:-20}
VALIDATE=${ICOS_VALIDATE:-${0%/*}/validate-config-media.sh}
SAVED=$CONFIG_DIR/bootstrap
PENDING=${ICOS_SAVE_PENDING:-/run/bootstrap-ic-node.pending}
OPERATOR_KEY=node_operator_private_key.pem

MAX_MEDIA_KIB=4096
work=$(mktemp -d "${TMPDIR:-/run}/bootstrap-ic-node.XXXXXX")
mnt=""
cleanup() {
  if [ -n "$mnt" ]; then umount "$mnt" 2>/dev/null || true; rmdir "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Copy a tree as root-owned directories and files that only root can read: cp as root under umask
# 077 makes them so (at most 0700 and 0600; vfat shows everything as 0755). One command for the
# whole tree: each costs tens of ms on an emulated CPU. $2 already exists with mode 0700.
copy_private() {
  cp -R "$1/." "$2/"
}

# The regular files of a tree (the media is at most two levels deep): $files "./a ./b/c", $nfiles.
list_files() {
  files=""
  nfiles=0
  for f in "$1"/* "$1"/*/*; do
    if [ -f "$f" ]; then files="$files ./${f#"$1"/}"; nfiles=$((nfiles + 1)); fi
  done
  files=${files# }
}

# Check a copy (never the media itself: HostOS could change it between the check and the use).
# What is kept and used is the validator's strict JSON of what it checked, never the original bytes.
check() {
  if ! out=$("$VALIDATE" "$1" "$work/config.json.strict" 2>&1); then
    echo "$out" | while IFS= read -r line; do icos_say "refused: $line"; done
    icos_fail "$2 refused: $(echo "$out" | head -n 3 | tr '\n' ';' | sed 's/;$//')$([ "$(echo "$out" | wc -l)" -le 3 ] || echo "; ...") (nothing of it is used)"
  fi
  mv -f "$work/config.json.strict" "$1/config.json"
}

chmod 0700 "$CONFIG_DIR"
media=""
if [ -n "$MEDIA_DIR" ]; then
  media=$MEDIA_DIR
else
  i=0
  # Looked for every 0.2 s: udev usually names it within a second of boot.
  while [ "$i" -lt $((WAIT_SECONDS * 5)) ]; do
    if [ -e "/dev/disk/by-label/$MEDIA_LABEL" ]; then
      dev=$(readlink -f "/dev/disk/by-label/$MEDIA_LABEL")
      mnt=$(mktemp -d "${TMPDIR:-/run}/config-media.XXXXXX")
      mount -t vfat -o ro,nodev,nosuid,noexec,uid=0,gid=0,fmask=0177,dmask=0077 "$dev" "$mnt" || icos_fail "cannot mount the CONFIG media $dev"
      media=$mnt
      break
    fi
    i=$((i + 1))
    sleep 0.2
  done
fi

mkdir -m 0700 "$work/tree"
if [ -n "$media" ]; then
  # Copy first (bounded: the media's size is the host's choice), then check the copy.
  kib=$(du -sk "$media")
  kib=${kib%%[!0-9]*}
  [ "$kib" -le "$MAX_MEDIA_KIB" ] || icos_fail "CONFIG media refused: it holds $kib KiB, more than $MAX_MEDIA_KIB (nothing of it is used)"
  cp -R "$media/." "$work/tree/"
  check "$work/tree" "CONFIG media"
  list_files "$work/tree"
  icos_say "configuration read from the CONFIG media ($nfiles files)"
elif [ -d "$SAVED" ]; then
  cp -R "$SAVED/." "$work/tree/"
  check "$work/tree" "the configuration saved on $SAVED"
  icos_say "no CONFIG media; using the configuration saved on $SAVED"
else
  icos_fail "no CONFIG media (a vfat filesystem labelled $MEDIA_LABEL) and no saved configuration: this node is not configured"
fi

# /run/config: root only. The node operator key goes to its one reader instead.
rm -rf "$RUN_DIR"
install -d -m 0700 -o 0 -g 0 "$RUN_DIR"
if [ -f "$work/tree/$OPERATOR_KEY" ]; then
  install -d -m 0755 -o 0 -g 0 "$NODE_DIR"
  install -m 0400 -o "$KEY_OWNER" -g "$(id -g "$KEY_OWNER")" "$work/tree/$OPERATOR_KEY" "$NODE_DIR/$OPERATOR_KEY"
  # The key stays out of /run/config even for a moment; it goes back to the tree for the save.
  mv "$work/tree/$OPERATOR_KEY" "$work/$OPERATOR_KEY"
  icos_say "node operator key in $NODE_DIR/$OPERATOR_KEY (readable by $KEY_OWNER only)"
else
  rm -f "$NODE_DIR/$OPERATOR_KEY"
fi
copy_private "$work/tree" "$RUN_DIR"
if [ -f "$work/$OPERATOR_KEY" ]; then mv "$work/$OPERATOR_KEY" "$work/tree/$OPERATOR_KEY"; fi
list_files "$RUN_DIR"
icos_say "bootstrap files in $RUN_DIR: $files"
if [ -n "$media" ]; then
  # The checked tree, operator key included, for save-ic-node-config.sh (root only, in /run).
  rm -rf "$PENDING"
  mv "$work/tree" "$PENDING"
fi
