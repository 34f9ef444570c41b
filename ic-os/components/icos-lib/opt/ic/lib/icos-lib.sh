# shellcheck shell=sh
# Shared helpers of the boot services (sourced: . /opt/ic/lib/icos-lib.sh). Each script sets
# ICOS_TAG to its own name first.

# A line for the journal (stdout of a unit goes there).
icos_say() { echo "${ICOS_TAG:-icos}: $*"; }

# A failure: on stderr (journal) and the console, where an operator without ssh looks; exit 1.
icos_fail() {
  echo "${ICOS_TAG:-icos}: ERROR: $*" >&2
  echo "${ICOS_TAG:-icos}: ERROR: $*" > "${ICOS_CONSOLE:-/dev/console}" 2>/dev/null || true
  exit 1
}

# Flush a file or directory to disk (coreutils sync on a path is fsync(2) on it).
icos_fsync() { sync -- "$@"; }

# icos_persist DEST MODE: stdin becomes DEST, whole or not at all across a power cut: a temp file
# beside it, fsynced, renamed over DEST, and the directory fsynced so the rename is durable too.
icos_persist() {
  dest=$1
  tmp="$dest.tmp.$$"
  (umask 077 && cat > "$tmp") || { rm -f "$tmp"; return 1; }
  chmod "$2" "$tmp"
  icos_fsync "$tmp"
  mv -f "$tmp" "$dest"
  icos_fsync "$(dirname "$dest")"
}
