#!/bin/sh
# Confirm the running slot once startup has finished with no failed unit. On the first boot after
# an upgrade (boot_cycle=failsafe_check) an unhealthy system reboots instead: GRUB then returns
# to the previous slot. A system that is already stable is never rebooted from here.
# Usage: icos-confirm.sh   (run by icos-confirm.service)
set -u
MANAGEBOOT=${MANAGEBOOT:-/opt/ic/bin/manageboot.sh}
CONSOLE=${ICOS_CONSOLE:-/dev/console}
REBOOT=${MANAGEBOOT_REBOOT:-systemctl --no-block reboot}

log() { echo "icos-confirm: $*" > "$CONSOLE"; }

state=$(systemctl is-system-running --wait 2>/dev/null)
status=$("$MANAGEBOOT" status) || { log "cannot read the boot state"; exit 1; }
field() { echo "$status" | sed -n "s/^$1=//p"; }
slot=$(field current)
cycle=$(field boot_cycle)

case "$cycle" in
  stable | install) exit 0 ;; # nothing to confirm
esac
if [ "$state" = running ]; then
  if "$MANAGEBOOT" confirm; then
    log "slot $slot confirmed: version $(field version), boot_cycle stable"
    exit 0
  fi
  log "slot $slot: confirm failed"
  exit 1
fi
log "slot $slot is $state after an upgrade (boot_cycle=$cycle): not confirming; rebooting to the previous slot"
systemctl list-units --state=failed --no-legend --plain > "$CONSOLE"
$REBOOT
