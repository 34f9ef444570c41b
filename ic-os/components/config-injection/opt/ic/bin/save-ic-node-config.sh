#!/bin/sh
# Keep the configuration bootstrap-ic-node checked and used on this boot (left in
# /run/bootstrap-ic-node.pending; none on a boot without media, and then nothing is done) on the
# config partition as bootstrap/, for boots without media.
# Apart from bootstrap-ic-node so that networking need not wait for it; the system is ready only
# once it is done (multi-user.target wants it).
# Replaces the saved tree in one rename: a new directory, fsynced, then a symlink swapped over the
# old one. A power cut leaves the old tree or the new one.
# Usage: save-ic-node-config.sh   (run by save-ic-node-config.service)
set -eu
umask 077
ICOS_TAG=save-ic-node-config
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"

CONFIG_DIR=${ICOS_BOOT_CONFIG:-}
if [ -z "$CONFIG_DIR" ]; then
  icos_contract
  CONFIG_DIR=${ICOS_CONFIG_MOUNT:?the device contract names no config mount point}
fi
PENDING=${ICOS_SAVE_PENDING:-/run/bootstrap-ic-node.pending}
SAVED=$CONFIG_DIR/bootstrap
[ -d "$PENDING" ] || { icos_say "nothing to save (no CONFIG media on this boot)"; exit 0; }

new=$(mktemp -d "$CONFIG_DIR/bootstrap-XXXXXX") # mode 0700
cp -R "$PENDING/." "$new/"
# syncfs(2) of the config partition: every file and directory of the new tree is on disk.
sync -f "$new"
if [ -d "$SAVED" ] && [ ! -L "$SAVED" ]; then mv -T "$SAVED" "$CONFIG_DIR/bootstrap-legacy"; fi
ln -sfn "${new##*/}" "$CONFIG_DIR/bootstrap.new"
mv -T "$CONFIG_DIR/bootstrap.new" "$SAVED"
icos_fsync "$CONFIG_DIR"
for old in "$CONFIG_DIR"/bootstrap-*; do
  [ "$old" = "$new" ] || rm -rf "$old"
done
rm -rf "$PENDING"
icos_say "configuration saved on $SAVED"
