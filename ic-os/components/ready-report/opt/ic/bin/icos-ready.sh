#!/bin/sh
# Print the boot result on the console once systemd has finished starting, two lines:
#   <OS> BOOT SUCCESS            (state running, no failed unit; e.g. GUESTOS BOOT SUCCESS)
#   <OS> BOOT FAILURE: <units>   (anything else: the failed units, or the state)
#   icos-ready: state=<systemctl is-system-running> failed=<number of failed units>
# The first is IC-OS's boot result line, which HostOS watches for on the GuestOS serial console;
# the second is what `icos run --wait-ready` and the tests wait for. <OS> is the device
# contract's ICOS_OS in capitals.
# Usage: icos-ready.sh   (run by icos-ready.service)
set -u
ICOS_TAG=icos-ready
# shellcheck source-path=SCRIPTDIR/../../../../icos-lib/opt/ic/lib source=icos-lib.sh
. "${ICOS_LIB:-/opt/ic/lib}/icos-lib.sh"
console=${ICOS_CONSOLE:-/dev/console}
os=$( (icos_contract && echo "${ICOS_OS:-icos}") 2>/dev/null | tr '[:lower:]-' '[:upper:]_')
state=$(systemctl is-system-running --wait 2>/dev/null)
units=$(systemctl list-units --state=failed --no-legend --plain | while read -r unit _ || [ -n "$unit" ]; do printf '%s ' "$unit"; done)
units=${units% }
failed=0
for _ in $units; do failed=$((failed + 1)); done
# The icos-ready line last: whoever stops the VM when it sees that line has the other one too.
if [ "$state" = running ] && [ "$failed" -eq 0 ]; then
  echo "${os:-ICOS} BOOT SUCCESS" >> "$console"
else
  echo "${os:-ICOS} BOOT FAILURE: ${units:-state ${state:-unknown}}" >> "$console"
fi
echo "icos-ready: state=${state:-unknown} failed=${failed}" >> "$console"
