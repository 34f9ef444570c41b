#!/bin/sh
# Generate the ssh host keys that do not exist yet under <config mount>/ssh (existing ones are
# kept), so they survive reboots and upgrades: Ed25519 and ECDSA, not RSA, whose generation takes
# seconds on a slow (emulated) CPU and that no current client needs. A key that a power cut left empty or
# torn is replaced; new keys are flushed to disk before sshd uses them.
# Usage: setup-ssh-host-keys.sh [DIR]
set -eu
ICOS_TAG=ssh-host-keys
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
if [ $# -ge 1 ]; then
  dir=$1
else
  icos_contract
  dir=${ICOS_CONFIG_MOUNT:?the device contract names no config mount point}/ssh
fi
keys=$dir/etc/ssh
mkdir -p "$keys"
chmod 0700 "$dir"
for key in "$keys"/ssh_host_*_key; do
  [ -e "$key" ] || continue
  if ! ssh-keygen -y -f "$key" > /dev/null 2>&1 || ! [ -s "$key.pub" ]; then
    icos_say "WARNING: $key is unreadable (cut off while written?); making a new one"
    rm -f "$key" "$key.pub"
  fi
done
for type in ed25519 ecdsa; do
  key=$keys/ssh_host_${type}_key
  [ -e "$key" ] || ssh-keygen -q -t "$type" -N "" -C "root@$(hostname)" -f "$key"
done
icos_fsync "$keys"/ssh_host_* "$keys" "$dir/etc" "$dir"
for key in "$keys"/ssh_host_*_key.pub; do
  icos_say "$(ssh-keygen -l -f "$key")"
done
