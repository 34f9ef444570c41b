#!/bin/sh
# manageboot: the device side of A/B upgrades. The running system is one slot (A or B); an
# upgrade is written to the other one, GRUB boots it once, and it stays only if it confirms.
# The grubenv protocol is ic-os/bootloader/boot-cycle.json (docs/upgrade.md, "The protocol").
#
# Usage: manageboot.sh COMMAND
#   current                      the slot running now (dfinity.system= on the kernel command line)
#   target                       the other slot: where an upgrade goes
#   next                         the slot GRUB boots next, from grubenv
#   status                       key=value lines: slots, grubenv, versions
#   upgrade-install FILE|- SHA256 [--allow-downgrade]
#                                check an update-img.tar.zst ('-': read it from stdin) against its
#                                sha256, its signature (a key this image trusts; dev images may
#                                take unsigned ones) and version (not older than the running one
#                                unless allowed), then write boot.img/root.img to the target slot
#                                and wipe the start of its var; nothing is written when a check fails
#   upgrade-commit [--no-reboot] boot the installed slot once (boot_cycle=first_boot), then reboot
#   confirm                      keep the running slot (boot_cycle=stable); icos-confirm.service
#                                runs it once the system is healthy
#   rollback [--no-reboot]       boot the other slot (the previous system) once, then reboot; it
#                                stays only if it confirms, else GRUB returns to this one
#
# Every device and image path comes from the device contract (ICOS_CONTRACT, icos-lib.sh); the
# MANAGEBOOT_* variables and a contract naming plain files let test/unit/components/upgrade.test.ts
# run it on the build host.
set -eu

# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
# Devices, version files, trust paths and update-image members: the image's device contract.
icos_contract
GRUBENV=${MANAGEBOOT_GRUBENV:-}
CMDLINE=${MANAGEBOOT_CMDLINE:-/proc/cmdline}
STAGE=${MANAGEBOOT_STAGE:-/run/manageboot/stage}
LOCK=${MANAGEBOOT_LOCK:-/run/manageboot/lock}
REBOOT=${MANAGEBOOT_REBOOT:-systemctl --no-block reboot}
VERSION_FILE=$ICOS_VERSION_FILE_ROOT
KEYS=$ICOS_UPGRADE_KEYS
POLICY=$ICOS_UPGRADE_POLICY
TARGET_FILE=$ICOS_UPGRADE_TARGET
MEMBERS=$ICOS_UPDATE_MEMBERS
CONSOLE=${ICOS_CONSOLE:-/dev/console}
# How long a command waits for another manageboot (e.g. a status poll) to finish.
LOCK_WAIT=${MANAGEBOOT_LOCK_WAIT:-60}
GRUB_MNT=/run/manageboot/grub
VAR_WIPE_MIB=16
# The signature trailer (docs/upgrade.md, "Signed update images"): a zstd skippable frame (magic
# 0x184D2A50, little endian, then the payload size 1024) at the very end of the file.
SIG_MAGIC=502a4d1800040000
SIG_PAYLOAD=1024
SIG_FRAME=$((8 + SIG_PAYLOAD))

say() { echo "manageboot: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}
usage() {
  sed -n 's/^# \{0,1\}//; 6,21p' "$0" >&2
  exit 2
}

other() { if [ "$1" = A ]; then echo B; else echo A; fi; }

current_slot() { icos_running_slot "$CMDLINE"; }

# A slot's boot, root or var device (icos_slot_dev), which must exist in the contract.
slot_dev() {
  d=$(icos_slot_dev "$1" "$2")
  [ -n "$d" ] || die "the device contract names no $2 device for slot $1"
  echo "$d"
}

cleanup() {
  if [ -z "${MANAGEBOOT_GRUBENV:-}" ] && mountpoint -q "$GRUB_MNT" 2>/dev/null; then umount "$GRUB_MNT" || true; fi
  if [ -z "${MANAGEBOOT_STAGE:-}" ] && mountpoint -q "$STAGE" 2>/dev/null; then umount "$STAGE" || true; fi
  return 0
}

# One manageboot at a time; the grub partition is mounted only while we need it. The lock is
# root's alone (0600 in a 0700 directory): no other account can hold it to stall a confirm.
take_lock() {
  mkdir -p "$(dirname "$LOCK")"
  chmod 0700 "$(dirname "$LOCK")"
  (umask 077 && : >> "$LOCK")
  chmod 0600 "$LOCK"
  exec 9> "$LOCK"
  flock -w "$LOCK_WAIT" 9 || die "another manageboot held the lock for more than $LOCK_WAIT s"
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP
}

# open_grubenv [ro]: read boot_alternative, boot_cycle and any other variables.
open_grubenv() {
  if [ -z "$GRUBENV" ]; then
    mkdir -p "$GRUB_MNT"
    mountpoint -q "$GRUB_MNT" || mount -t vfat -o "${1:-rw},nodev,nosuid,noexec" "$ICOS_GRUB_DEV" "$GRUB_MNT"
    GRUBENV=$GRUB_MNT/grubenv
  fi
  [ -f "$GRUBENV" ] || die "no grubenv at $GRUBENV"
  boot_alternative=A
  boot_cycle=stable
  extra=""
  # '#' lines are comments and the padding; other keys are kept as they are.
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      '#'* | '') ;;
      boot_alternative=*) boot_alternative=${line#*=} ;;
      boot_cycle=*) boot_cycle=${line#*=} ;;
      *=*) extra="$extra$line
" ;;
    esac
  done < "$GRUBENV"
  [ "$boot_alternative" = B ] || boot_alternative=A
}

# The whole 1024-byte block is written to a new file, flushed, then renamed over the old one:
# a power cut leaves either the old grubenv or the new one, never a mix.
write_grubenv() {
  new=$GRUBENV.new
  {
    printf '# GRUB Environment Block\n# WARNING: Do not edit this file by tools other than grub-editenv!!!\n'
    printf 'boot_alternative=%s\nboot_cycle=%s\n' "$boot_alternative" "$boot_cycle"
    printf '%s' "$extra"
  } > "$new"
  used=$(wc -c < "$new")
  [ "$used" -le 1024 ] || die "grubenv variables need $used bytes, more than 1024"
  head -c $((1024 - used)) /dev/zero | tr '\0' '#' >> "$new"
  sync "$new"
  mv -f "$new" "$GRUBENV"
  sync "$(dirname "$GRUBENV")"
}

# What GRUB does with grubenv on the next boot: the contract lists the boot_cycle values after
# which it boots the other slot (rendered from boot-cycle.json); any other value keeps the slot.
next_slot() {
  for c in $ICOS_SWITCH_CYCLES; do
    if [ "$boot_cycle" = "$c" ]; then
      other "$boot_alternative"
      return 0
    fi
  done
  echo "$boot_alternative"
}

size_of() {
  if [ -b "$1" ]; then blockdev --getsize64 "$1"; else stat -c %s "$1"; fi
}

# The version file on a slot's boot partition, read without mounting it.
slot_version() {
  dev=$(slot_dev "$1" boot)
  # The other slot may hold anything: print at most 64 printable characters of it.
  v=$(debugfs -R "cat $ICOS_VERSION_FILE_BOOT" "$dev" 2>/dev/null | head -n 1 | tr -cd '[:alnum:]._+~-' | cut -c1-64) || true
  echo "${v:-none}"
}

cmd_status() {
  open_grubenv ro
  cur=$(current_slot)
  echo "current=$cur"
  echo "target=$(other "$cur")"
  echo "boot_alternative=$boot_alternative"
  echo "boot_cycle=$boot_cycle"
  echo "next=$(next_slot)"
  echo "version=$(head -n 1 "$VERSION_FILE" 2>/dev/null || echo unknown)"
  echo "version_A=$(slot_version A)"
  echo "version_B=$(slot_version B)"
}

# The update image, decompressed, into a pipe. A failure is recorded in $failed (dash has no
# pipefail); SIGPIPE (141) is not one: the reader may stop early once it has its member.
unzstd() {
  s=0
  zstd -dcq "$STAGE/update-img.tar.zst" || s=$?
  [ "$s" -eq 0 ] || [ "$s" -eq 141 ] || echo zstd >> "$failed"
}

# Runs "unzstd | tar -xO MEMBER | CONSUMER..." and fails if any part of the pipe failed.
member_to() {
  member=$1
  shift
  failed=$STAGE/pipe-failed
  rm -f "$failed"
  unzstd | { tar -xOf - --occurrence=1 "$member" || echo tar >> "$failed"; } | { "$@" || echo "$1" >> "$failed"; }
  if [ -e "$failed" ]; then
    say "$member: $(tr '\n' ' ' < "$failed")failed"
    return 1
  fi
}

# Extract member $1 into $STAGE/img/ as a sparse file (tar restores the holes, so this costs the
# member's data, not its size); prints its path.
extract_member() {
  mkdir -p "$STAGE/img"
  failed=$STAGE/pipe-failed
  rm -f "$failed"
  unzstd | { tar -xf - -C "$STAGE/img" --occurrence=1 --no-same-owner "$1" || echo tar >> "$failed"; }
  if [ -e "$failed" ]; then
    say "$1: $(tr '\n' ' ' < "$failed")failed"
    return 1
  fi
  echo "$STAGE/img/$1"
}

# The data extents of a file, "offset length" per line (SEEK_DATA/SEEK_HOLE, asked through
# xfs_io): everything else in it reads as zeros. Extents less than 1 MiB apart are merged, so
# there are few and large writes (the zeros between them are written too).
data_extents() {
  xfs_io -r -c "seek -a -r 0" "$1" | awk -v size="$(stat -c %s "$1")" -v gap=1048576 '
    function emit() { if (have) printf "%.0f %.0f\n", start, end - start }
    ($1 == "DATA" || $1 == "HOLE") && $2 != "EOF" {
      if ($1 == "DATA") {
        if (have && $2 - end < gap) { open = 1; next }
        emit(); start = $2; have = 1; open = 1
      } else if (open) { end = $2; open = 0 }
    }
    END { if (open) end = size; emit() }'
}

# Make a whole device read as zeros without writing them: BLKZEROOUT (the disk zeroes the range
# itself where it can). A plain file (the tests' stand-in devices) has its blocks punched out.
zero_device() {
  if [ -b "$1" ]; then blkdiscard -z "$1"; else fallocate -p -o 0 -l "$(size_of "$1")" "$1"; fi
}

# Write the data extents of image $1 to device $2 (already zeroed), flush them to the device,
# then read each one back from the device and compare: the cost follows the allocated bytes.
write_image() {
  data_extents "$1" > "$STAGE/extents"
  bytes=$(awk '{ n += $2 } END { printf "%.0f", n }' "$STAGE/extents")
  say "writing $(basename "$1") to $2: $((bytes / 1048576)) MiB of data in $(wc -l < "$STAGE/extents") extents ($(size_of "$1") bytes in all)"
  while read -r off len; do
    dd if="$1" of="$2" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes skip="$off" seek="$off" count="$len" conv=notrunc status=none || return 1
  done < "$STAGE/extents"
  sync
  # Drop the device's cached pages, so the comparison reads what the device holds.
  if [ -b "$2" ]; then blockdev --flushbufs "$2"; fi
  say "verifying $2"
  while read -r off len; do
    cmp -s -i "$off:$off" -n "$len" "$1" "$2" || { say "$2 differs from $(basename "$1") in the $len bytes at $off"; return 1; }
  done < "$STAGE/extents"
}

# Size of a member as tar lists it (GNU tar shows a sparse file's full size). The member names
# were checked to be exactly $MEMBERS, so the last field is the whole name.
member_size() {
  awk -v m="$1" '$NF == m { print $3 }' "$STAGE/listing"
}

# The running policy: may this image take unsigned update images (dev variants)?
unsigned_allowed() { [ "$(sed -n 's/^unsigned=//p' "$POLICY" 2>/dev/null)" = allow ]; }

# Install an image with no usable signature only where the policy allows it, and say so.
unsigned() {
  if unsigned_allowed; then
    say "WARNING: $1; this dev image accepts unsigned update images"
    echo "manageboot: WARNING: installing an update image that is not signed by a trusted key ($1)" > "$CONSOLE" 2>/dev/null || true
    return 0
  fi
  die "$1; this image installs only update images signed by one of its trusted keys ($(trusted_fingerprints)); nothing written"
}

fingerprint() { openssl pkey -pubin -in "$1" -outform DER 2> /dev/null | sha256sum | cut -c1-64; }
trusted_fingerprints() {
  fps=""
  for k in "$KEYS"/*.pem; do [ -f "$k" ] && fps="$fps${fps:+, }$(fingerprint "$k" | cut -c1-16)"; done
  echo "${fps:-none}"
}

# The signature trailer of the staged image: the sha256 of everything before it, signed by a
# trusted key. Sets $archive_bytes (the length of the tar.zst without the trailer).
check_signature() {
  f=$STAGE/update-img.tar.zst
  size=$(stat -c %s "$f")
  archive_bytes=$size
  magic=""
  [ "$size" -le "$SIG_FRAME" ] || magic=$(tail -c "$SIG_FRAME" "$f" | head -c 8 | od -An -tx1 | tr -d ' \n')
  if [ "$magic" != "$SIG_MAGIC" ]; then
    unsigned "the update image is not signed"
    return 0
  fi
  archive_bytes=$((size - SIG_FRAME))
  tail -c "$SIG_PAYLOAD" "$f" | tr -d '#' > "$STAGE/signature.txt"
  field() { sed -n "s/^$1=//p" "$STAGE/signature.txt" | head -n 1; }
  signed_target=$(field target)
  signed_sha=$(field sha256)
  key=$(field key)
  sig=$(field signature)
  if [ "$(head -n 1 "$STAGE/signature.txt")" != "icos-signature v1" ] ||
    ! echo "$signed_target" | grep -qx '[a-z0-9-]\{1,64\}/[a-z0-9-]\{1,64\}' ||
    ! echo "$signed_sha" | grep -qx '[0-9a-f]\{64\}' || ! echo "$key" | grep -qx '[0-9a-f]\{64\}' ||
    ! echo "$sig" | grep -qx '[A-Za-z0-9+/]\{1,600\}=\{0,2\}'; then
    die "the update image's signature trailer is malformed; nothing written"
  fi
  actual=$(head -c "$archive_bytes" "$f" | sha256sum | cut -d' ' -f1)
  [ "$actual" = "$signed_sha" ] || die "the signature covers sha256 $signed_sha but the image is $actual (altered after signing); nothing written"
  # A signature is for one build target: a prod image must not take a dev image its key also signed.
  own_target=$(head -n 1 "$TARGET_FILE" 2>/dev/null || echo unknown)
  if [ "$signed_target" != "$own_target" ]; then
    unsigned "the update image is signed for $signed_target, but this image is $own_target"
    return 0
  fi
  trusted=""
  for k in "$KEYS"/*.pem; do
    if [ -f "$k" ] && [ "$(fingerprint "$k")" = "$key" ]; then trusted=$k; fi
  done
  if [ -z "$trusted" ]; then
    unsigned "the update image is signed by key $(echo "$key" | cut -c1-16), which this image does not trust"
    return 0
  fi
  printf 'icos-update-image v1\ntarget=%s\nsha256=%s\n' "$own_target" "$signed_sha" > "$STAGE/signed.txt"
  echo "$sig" | base64 -d > "$STAGE/signature.bin" 2> /dev/null || die "the update image's signature is not base64; nothing written"
  openssl pkeyutl -verify -pubin -inkey "$trusted" -rawin -in "$STAGE/signed.txt" -sigfile "$STAGE/signature.bin" > /dev/null 2>&1 ||
    die "the update image's signature does not verify with trusted key $(echo "$key" | cut -c1-16); nothing written"
  say "signature verified: trusted key $(echo "$key" | cut -c1-16)"
}

# Is version $1 older than $2? (sort -V order; "1.0.0-test" counts as after "1.0.0")
older() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }

cmd_upgrade_install() {
  downgrade=no
  if [ $# -eq 3 ] && [ "$3" = --allow-downgrade ]; then downgrade=yes; set -- "$1" "$2"; fi
  [ $# -eq 2 ] || usage
  src=$1
  want=$(echo "$2" | tr 'A-F' 'a-f')
  case "$want" in
    *[!0-9a-f]*) die "sha256 must be 64 hex digits, got '$2'" ;;
  esac
  [ ${#want} -eq 64 ] || die "sha256 must be 64 hex digits, got '$2'"
  open_grubenv
  cur=$(current_slot)
  tgt=$(other "$cur")
  [ "$boot_alternative" = "$cur" ] || die "grubenv boots slot $boot_alternative next but slot $cur is running: an upgrade is committed and waits for its reboot"
  case "$boot_cycle" in
    stable | install) ;;
    *) die "slot $cur is not confirmed yet (boot_cycle=$boot_cycle): slot $tgt is its fallback and is not overwritten" ;;
  esac

  # Everything is checked on a private copy, so the file cannot change between check and write.
  mkdir -p "$STAGE"
  if [ -z "${MANAGEBOOT_STAGE:-}" ] && ! mountpoint -q "$STAGE"; then mount -t tmpfs -o mode=0700,size=75% tmpfs "$STAGE"; fi
  # Through sudo (admin), only stdin: root must not read (and hash) a file admin names.
  if [ -n "${SUDO_USER:-}" ] && [ "$src" != - ]; then die "through sudo the update image comes on stdin: upgrade-install - SHA256"; fi
  if [ "$src" != - ] && [ ! -f "$src" ]; then die "$src: no such file"; fi
  say "receiving the update image and its sha256"
  # The hash is taken as the copy is made: one read of the input.
  got=$(cat -- "$src" | tee "$STAGE/update-img.tar.zst" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || die "sha256 mismatch: expected $want, got $got (truncated or corrupted?); nothing written"
  check_signature
  failed=$STAGE/pipe-failed
  rm -f "$failed"
  # One pass over the whole archive. With numeric owners, every listing line is "MODE UID/GID SIZE
  # DATE TIME NAME" with no blank before NAME, so what follows the fifth field is the whole name.
  unzstd 2>/dev/null | { tar -tvf - --numeric-owner > "$STAGE/listing" 2>/dev/null || echo tar >> "$failed"; }
  [ ! -e "$failed" ] || die "update image is not a readable tar.zst ($(tr '\n' ' ' < "$failed")failed); nothing written"
  sed -E 's/^[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ //' "$STAGE/listing" > "$STAGE/names"
  # Exactly the three members, each once: names are compared whole, never by suffix.
  [ "$(sort "$STAGE/names")" = "$(echo "$MEMBERS" | tr ' ' '\n' | sort)" ] ||
    die "update image members are $(tr '\n' ' ' < "$STAGE/names" | cut -c1-200)but must be exactly: $MEMBERS (not an update-img.tar.zst, or damaged); nothing written"
  version=$(member_to VERSION.TXT head -n 1) || die "cannot read VERSION.TXT; nothing written"
  echo "$version" | grep -qx '[A-Za-z0-9][A-Za-z0-9._+~-]\{0,63\}' || die "VERSION.TXT holds no valid version ($(echo "$version" | cut -c1-40 | tr -cd '[:print:]')); nothing written"
  running=$(head -n 1 "$VERSION_FILE" 2>/dev/null || echo unknown)
  if [ "$running" != unknown ] && older "$version" "$running"; then
    [ "$downgrade" = yes ] || die "version $version is older than the running $running: refusing a downgrade (pass --allow-downgrade to install it anyway); nothing written"
    say "downgrade from $running to $version allowed by --allow-downgrade"
  fi
  for p in boot root; do
    dev=$(slot_dev "$tgt" "$p")
    [ -e "$dev" ] || die "no device $dev (slot $tgt $p)"
    need=$(member_size "$p.img")
    have=$(size_of "$dev")
    [ "$need" -le "$have" ] || die "$p.img is $need bytes, slot $tgt's $p device $dev only $have; nothing written"
  done

  # From here the target slot is not bootable until the install completes: say so in grubenv first.
  if [ "$boot_cycle" = install ]; then
    boot_cycle=stable
    write_grubenv
  fi
  say "installing version $version into slot $tgt"
  for p in boot root; do
    dev=$(slot_dev "$tgt" "$p")
    img=$(extract_member "$p.img") || die "cannot unpack $p.img from the update image"
    zero_device "$dev" || die "cannot zero $dev"
    write_image "$img" "$dev" || die "writing $p.img to $dev failed"
    rm -f "$img"
  done
  var=$(icos_slot_dev "$tgt" var)
  if [ -n "$var" ] && [ -e "$var" ]; then
    # The new system formats its var afresh (the old slot's data is not for it).
    count=$(($(size_of "$var") / 1048576))
    [ "$count" -le "$VAR_WIPE_MIB" ] || count=$VAR_WIPE_MIB
    say "wiping the first $count MiB of $var"
    dd if=/dev/zero of="$var" bs=1M count="$count" conv=notrunc,fsync status=none
  fi
  sync
  boot_cycle=install
  write_grubenv
  rm -f "$STAGE/update-img.tar.zst"
  say "slot $tgt holds version $version; 'manageboot.sh upgrade-commit' boots it"
}

# [--no-reboot], the option of upgrade-commit and rollback: sets $reboot.
reboot_option() {
  case "${1:-}" in
    "") reboot=yes ;;
    --no-reboot) reboot=no ;;
    *) usage ;;
  esac
}

# GRUB boots slot $1 next, once (first_boot: it stays only if it confirms); say $2, then reboot
# unless --no-reboot was given.
boot_once() {
  boot_alternative=$1
  boot_cycle=first_boot
  write_grubenv
  say "$2"
  if [ "$reboot" = yes ]; then
    say "rebooting"
    $REBOOT
  fi
}

cmd_upgrade_commit() {
  reboot_option "$@"
  open_grubenv
  cur=$(current_slot)
  tgt=$(other "$cur")
  if [ "$boot_alternative" != "$cur" ] || [ "$boot_cycle" != install ]; then
    die "no completed install to commit (boot_alternative=$boot_alternative boot_cycle=$boot_cycle, running $cur): run upgrade-install first"
  fi
  boot_once "$tgt" "committed: the next boot runs slot $tgt once; it stays only if it confirms"
}

cmd_confirm() {
  open_grubenv
  cur=$(current_slot)
  if [ "$boot_alternative" != "$cur" ]; then
    die "grubenv boots slot $boot_alternative next but slot $cur is running: not confirming"
  fi
  case "$boot_cycle" in
    stable | install) say "slot $cur is already stable" ;;
    *)
      boot_cycle=stable
      write_grubenv
      say "slot $cur confirmed (version $(head -n 1 "$VERSION_FILE" 2>/dev/null || echo unknown))"
      ;;
  esac
}

# Go back to the other slot the way an upgrade goes forward: first_boot, so GRUB boots it once and
# keeps it only if it confirms. Only from a confirmed system: an unconfirmed one is still on trial
# (a reboot without confirming already returns), and an installed but uncommitted slot is not the
# previous system. A slot whose boot partition has no version holds no system to go back to.
cmd_rollback() {
  reboot_option "$@"
  open_grubenv
  cur=$(current_slot)
  tgt=$(other "$cur")
  [ "$boot_alternative" = "$cur" ] || die "grubenv boots slot $boot_alternative next but slot $cur is running: a boot of slot $tgt is already pending"
  case "$boot_cycle" in
    stable) ;;
    install) die "slot $tgt holds an installed upgrade that is not committed, not the previous system: nothing to roll back to" ;;
    *) die "slot $cur is not confirmed yet (boot_cycle=$boot_cycle): a reboot before it confirms returns to slot $tgt" ;;
  esac
  version=$(slot_version "$tgt")
  [ "$version" != none ] || die "slot $tgt holds no system (no version on its boot partition): nothing to roll back to"
  boot_once "$tgt" "rollback: the next boot runs slot $tgt (version $version) once; it stays only if it confirms"
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
  current) [ $# -eq 0 ] || usage; current_slot ;;
  target) [ $# -eq 0 ] || usage; other "$(current_slot)" ;;
  next) [ $# -eq 0 ] || usage; take_lock; open_grubenv ro; next_slot ;;
  status) [ $# -eq 0 ] || usage; take_lock; cmd_status ;;
  upgrade-install) take_lock; cmd_upgrade_install "$@" ;;
  upgrade-commit) take_lock; cmd_upgrade_commit "$@" ;;
  confirm) [ $# -eq 0 ] || usage; take_lock; cmd_confirm ;;
  rollback) take_lock; cmd_rollback "$@" ;;
  -h | --help | help) usage ;;
  *) say "unknown command: $command"; usage ;;
esac
