#!/bin/sh
# Confirm the running slot once startup has finished with no failed unit. On the first boot after
# an upgrade (boot_cycle=failsafe_check) an unhealthy system reboots instead: GRUB then returns
# to the previous slot. A system that is already stable is never rebooted from here.
# Usage: icos-confirm.sh   (run by icos-confirm.service)
set -u
MANAGEBOOT=${MANAGEBOOT:-/opt/ic/bin/manageboot.sh}
CONSOLE=${ICOS_CONSOLE:-/dev/console}
REBOOT=${MANAGEBOOT_REBOOT:-systemctl --no-block reboot}
# confirm waits for manageboot's lock itself; these retries cover anything else transient
# (a failed confirm would roll a good upgrade back at the next reboot).
TRIES=${ICOS_CONFIRM_TRIES:-5}
RETRY_SECONDS=${ICOS_CONFIRM_RETRY_SECONDS:-10}

log() { echo "icos-confirm: $*" >> "$CONSOLE"; }

state=${ICOS_CONFIRM_STATE:-$(systemctl is-system-running --wait 2>/dev/null)}
status=$("$MANAGEBOOT" status) || { log "cannot read the boot state"; exit 1; }
field() { echo "$status" | sed -n "s/^$1=//p"; }
slot=$(field current)
cycle=$(field boot_cycle)

case "$cycle" in
  stable | install) exit 0 ;; # nothing to confirm
esac
if [ "$state" = running ]; then
  try=1
  while :; do
    if "$MANAGEBOOT" confirm; then
      log "slot $slot confirmed: version $(field version), boot_cycle stable"
      exit 0
    fi
    [ "$try" -lt "$TRIES" ] || break
    log "slot $slot: confirm failed (attempt $try of $TRIES); retrying in $RETRY_SECONDS s"
    try=$((try + 1))
    sleep "$RETRY_SECONDS"
  done
  log "slot $slot: confirm failed $TRIES times; the next reboot returns to the other slot"
  exit 1
fi
log "slot $slot is $state after an upgrade (boot_cycle=$cycle): not confirming; rebooting to the previous slot"
systemctl list-units --state=failed --no-legend --plain > "$CONSOLE"
$REBOOT
