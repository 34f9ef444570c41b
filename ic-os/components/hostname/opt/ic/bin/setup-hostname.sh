#!/bin/sh
# Set the hostname from the node configuration: the dev override
# (guestos_settings.guestos_dev_settings.hostname) or "guest-<mgmt mac, hex, lowercase>".
# Usage: setup-hostname.sh [CONFIG_JSON]
set -eu
config=${1:-/run/config/config.json}
name=$(jq -r '.guestos_settings.guestos_dev_settings.hostname // empty' "$config")
if [ -z "$name" ]; then
  mac=$(jq -r '.icos_settings.mgmt_mac' "$config" | tr -d ':' | tr '[:upper:]' '[:lower:]')
  name="guest-$mac"
fi
hostname "$name"
echo "$name" > /etc/hostname
echo "setup-hostname: $name"
