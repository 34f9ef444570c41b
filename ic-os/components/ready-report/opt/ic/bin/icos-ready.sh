#!/bin/sh
# Print "icos-ready: state=<state> failed=<n>" on the console once systemd has finished starting.
# Usage: icos-ready.sh   (run by icos-ready.service)
set -u
state=$(systemctl is-system-running --wait 2>/dev/null)
failed=$(systemctl list-units --state=failed --no-legend --plain | wc -l)
echo "icos-ready: state=${state:-unknown} failed=${failed}" > /dev/console
if [ "$failed" -gt 0 ]; then
  systemctl list-units --state=failed --no-legend --plain > /dev/console
fi
