#!/bin/sh
# Set the hostname from the node configuration: the dev override
# (guestos_settings.guestos_dev_settings.hostname) or "guest-<mgmt mac, hex, lowercase>".
# The root is read-only: the name goes to the kernel and to /run/icos/hostname (atomically).
# Usage: setup-hostname.sh [CONFIG_JSON] [HOSTNAME_FILE]
set -eu
ICOS_TAG=setup-hostname
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
config=${1:-/run/config/config.json}
file=${2:-/run/icos/hostname}
# One jq run (a fifth of a second on an emulated CPU), no tr.
name=$(jq -r '(.guestos_settings.guestos_dev_settings.hostname // empty | strings)
  // ("guest-" + (.icos_settings.mgmt_mac | strings | gsub("[:-]"; "") | ascii_downcase))' "$config")
# Validated already by bootstrap-ic-node; checked again because it lands in a file and the kernel.
case $name in
  *[!A-Za-z0-9-]* | -* | *-) icos_fail "hostname \"$name\": not an RFC 1123 label: refused" ;;
esac
[ -n "${ICOS_NO_SETHOSTNAME:-}" ] || hostname "$name"
mkdir -p "$(dirname "$file")"
echo "$name" | icos_persist "$file" 0644
icos_say "$name"
