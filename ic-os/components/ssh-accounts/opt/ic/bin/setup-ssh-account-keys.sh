#!/bin/sh
# Install the authorized keys of the node's ssh accounts (admin, readonly, backup: the list is
# config-media.json's ssh_accounts, generated from src/config/media.ts) from the injected
# configuration (/run/config/accounts_ssh_authorized_keys/<account>) where sshd reads them, only
# when config.json asks for it (icos_settings.use_ssh_authorized_keys); otherwise no account
# has a key.
# Usage: setup-ssh-account-keys.sh [CONFIG_DIR] [TARGET_DIR]
set -eu
RULES=${ICOS_MEDIA_RULES:-/opt/ic/share/config-media.json}
ICOS_TAG=ssh-accounts
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
config=${1:-/run/config}
dst=${2:-/run/ssh/authorized_keys}
src=$config/accounts_ssh_authorized_keys
# One jq run: the flag, then the accounts.
answer=$(jq -r --slurpfile rules "$RULES" '.icos_settings.use_ssh_authorized_keys, $rules[0].ssh_accounts[]' "$config/config.json") ||
  icos_fail "cannot read $config/config.json or the account list from $RULES"
use=${answer%%[[:space:]]*}
accounts=${answer#"$use"}
mkdir -p "$dst"
chmod 0755 "$dst"
for account in $accounts; do
  if [ "$use" = true ] && [ -f "$src/$account" ]; then
    # sshd's StrictModes wants the file root-owned and not writable by others; it holds public keys.
    install -m 0644 -o root -g root "$src/$account" "$dst/$account"
    icos_say "$account: $(grep -cv '^[[:space:]]*\(#\|$\)' "$dst/$account") key(s)"
  else
    rm -f "$dst/$account"
    icos_say "$account: no keys $([ "$use" = true ] && echo configured || echo "(use_ssh_authorized_keys is $use)")"
  fi
done
