#!/bin/sh
# The key source of block-device encryption (the var partitions, later the store): prints the
# path of the key file, made once: 64 random bytes on the config partition, readable by root
# only, written whole or not at all. The SEV variants will derive the key from the SEV sealing
# key here instead; every user of the key asks this script.
# Usage: disk-key.sh [KEY_FILE]
set -eu
ICOS_TAG=disk-key
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
if [ $# -ge 1 ]; then
  key=$1
else
  icos_contract
  key=${ICOS_CONFIG_MOUNT:?the device contract names no config mount point}/store.keyfile
fi
if [ ! -s "$key" ]; then
  head -c 64 /dev/urandom | icos_persist "$key" 0600 || icos_fail "cannot write the disk key $key"
  icos_say "made a new disk key $key" >&2
fi
[ "$(stat -c %a "$key")" = 600 ] || chmod 0600 "$key"
echo "$key"
