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

# The device contract (docs/architecture.md): this image's devices, mount points, version files
# and update-image members, written by icos build from the resolved layout (ICOS_* variables).
# Scripts take every device and path of the image from here, never from a literal.
icos_contract() {
  contract=${ICOS_CONTRACT:-/opt/ic/share/device-contract.env}
  [ -r "$contract" ] || icos_fail "no device contract at $contract (not an image built by icos?)"
  # shellcheck source=/dev/null
  . "$contract"
}

# icos_slot_dev SLOT boot|root|var: that device of slot A or B; empty when the layout has none.
icos_slot_dev() {
  case "$1/$2" in
    A/boot) echo "${ICOS_A_BOOT_DEV:-}" ;;
    A/root) echo "${ICOS_A_ROOT_DEV:-}" ;;
    A/var) echo "${ICOS_A_VAR_DEV:-}" ;;
    B/boot) echo "${ICOS_B_BOOT_DEV:-}" ;;
    B/root) echo "${ICOS_B_ROOT_DEV:-}" ;;
    B/var) echo "${ICOS_B_VAR_DEV:-}" ;;
    *) return 1 ;;
  esac
}

# icos_running_slot [CMDLINE_FILE]: the slot the kernel was booted as (dfinity.system=, set by grub.cfg).
icos_running_slot() {
  slot=A
  read -r cmdline < "${1:-/proc/cmdline}"
  for arg in $cmdline; do
    case "$arg" in dfinity.system=A | dfinity.system=B) slot=${arg#dfinity.system=} ;; esac
  done
  echo "$slot"
}

# icos_unit_name PATH SUFFIX: the unit systemd names after PATH (systemd-escape --path
# --suffix=SUFFIX), in the shell: each exec of systemd-escape costs ~100 ms of emulated CPU in a
# generator, which every boot waits for. Paths of other characters go to systemd-escape itself.
icos_unit_name() {
  rest=$1
  while [ "${rest#/}" != "$rest" ]; do rest=${rest#/}; done
  while [ "${rest%/}" != "$rest" ]; do rest=${rest%/}; done
  case $rest in
    "") echo "-.$2"; return ;;
    .* | */.* | *//* | *[!A-Za-z0-9:_./-]*) systemd-escape --path --suffix="$2" "$1"; return ;;
  esac
  name=""
  while [ -n "$rest" ]; do
    c=${rest%"${rest#?}"}
    rest=${rest#?}
    case $c in
      /) name="$name-" ;;
      -) name="$name\\x2d" ;;
      *) name="$name$c" ;;
    esac
  done
  echo "$name.$2"
}
