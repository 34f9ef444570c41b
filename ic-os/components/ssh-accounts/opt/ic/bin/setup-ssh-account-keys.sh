#!/bin/sh
# Install the authorized keys of the admin, readonly and backup accounts from the injected
# configuration (/run/config/accounts_ssh_authorized_keys/<account>) where sshd reads them.
# Usage: setup-ssh-account-keys.sh [SOURCE_DIR] [TARGET_DIR]
set -eu
src=${1:-/run/config/accounts_ssh_authorized_keys}
dst=${2:-/run/ssh/authorized_keys}
mkdir -p "$dst"
chmod 0755 "$dst"
for account in admin readonly backup; do
  if [ -f "$src/$account" ]; then
    install -m 0644 -o root -g root "$src/$account" "$dst/$account"
    echo "ssh account $account: $(grep -cv '^[[:space:]]*\(#\|$\)' "$dst/$account") key(s)"
  else
    rm -f "$dst/$account"
    echo "ssh account $account: no keys configured"
  fi
done
