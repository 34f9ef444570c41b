#!/bin/sh
# Config injection: take the bootstrap files from the CONFIG media (a vfat filesystem labelled
# CONFIG, attached read-only), keep them on /boot/config/bootstrap, and unpack them into
# /run/config. Without media, the files kept from an earlier boot are used. Only regular files
# and directories are accepted; config.json must be a JSON object with a config_version.
# Usage: bootstrap-ic-node.sh   (run by bootstrap-ic-node.service)
set -eu

MEDIA_LABEL=CONFIG
SAVED=/boot/config/bootstrap
RUN_DIR=/run/config
WAIT_SECONDS=${ICOS_CONFIG_WAIT:-20}

say() { echo "bootstrap-ic-node: $*"; }
# Failures go to the console too: on a node without ssh access that is where an operator looks.
fail() {
  say "ERROR: $*"
  echo "bootstrap-ic-node: ERROR: $*" > /dev/console 2>/dev/null || true
  exit 1
}

# Check a bootstrap tree: regular files and directories only, and a usable config.json.
check_tree() {
  odd=$(find "$1" ! -type f ! -type d | head -n 5)
  [ -z "$odd" ] || fail "CONFIG media holds entries that are not regular files or directories: $odd"
  [ -f "$1/config.json" ] || fail "CONFIG media has no config.json"
  jq -e 'type == "object" and (.config_version | type == "string")' "$1/config.json" > /dev/null 2>&1 ||
    fail "config.json on the CONFIG media is not a JSON object with a config_version"
}

media=""
i=0
while [ "$i" -lt "$WAIT_SECONDS" ]; do
  if [ -e "/dev/disk/by-label/$MEDIA_LABEL" ]; then
    media=$(readlink -f "/dev/disk/by-label/$MEDIA_LABEL")
    break
  fi
  i=$((i + 1))
  sleep 1
done

if [ -n "$media" ]; then
  mnt=$(mktemp -d)
  mount -t vfat -o ro,nodev,nosuid,noexec "$media" "$mnt" || fail "cannot mount the CONFIG media $media"
  # shellcheck disable=SC2064 # expand now: the paths are fixed
  trap "umount '$mnt'; rmdir '$mnt'" EXIT
  check_tree "$mnt"
  # Keep a copy for boots without media: replace the saved tree in one rename.
  rm -rf "$SAVED.new"
  mkdir -p "$SAVED.new"
  cp -R "$mnt/." "$SAVED.new/"
  rm -rf "$SAVED.old"
  [ ! -d "$SAVED" ] || mv "$SAVED" "$SAVED.old"
  mv "$SAVED.new" "$SAVED"
  rm -rf "$SAVED.old"
  say "configuration read from CONFIG media $media ($(find "$SAVED" -type f | wc -l) files)"
elif [ -f "$SAVED/config.json" ]; then
  say "no CONFIG media; using the configuration saved on $SAVED"
else
  fail "no CONFIG media (a vfat filesystem labelled $MEDIA_LABEL) and no saved configuration: this node is not configured"
fi

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
cp -R "$SAVED/." "$RUN_DIR/"
chmod -R go-w "$RUN_DIR"
say "bootstrap files in $RUN_DIR: $(cd "$RUN_DIR" && find . -type f | sort | tr '\n' ' ')"
