#!/bin/sh
# Generate the ssh host keys that do not exist yet under /boot/config/ssh (ssh-keygen -A keeps
# existing ones), so they survive reboots and upgrades.
# Usage: setup-ssh-host-keys.sh [DIR]
set -eu
dir=${1:-/boot/config/ssh}
mkdir -p "$dir/etc/ssh"
chmod 0700 "$dir"
ssh-keygen -A -f "$dir"
for key in "$dir"/etc/ssh/ssh_host_*_key.pub; do
  echo "ssh host key: $(ssh-keygen -l -f "$key")"
done
