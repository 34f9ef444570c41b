#!/bin/sh
# Wait until the configured IPv6 address is up (present, not tentative, DAD passed). On a failed
# duplicate address detection, ask networkd to reconfigure and try again.
# Usage: ipv6-monitor.sh [EXPECTED_FILE] [TIMEOUT_SECONDS]
set -eu
expected_file=${1:-/run/config/ipv6-expected}
timeout=${2:-120}
expected=$(cat "$expected_file")
elapsed=0
while [ "$elapsed" -lt $((timeout * 2)) ]; do
  if [ "$expected" = slaac ]; then
    line=$(ip -6 -o addr show scope global | grep -v tentative | head -n 1 || true)
  else
    # ip parses the address itself, so any spelling of it matches.
    line=$(ip -6 -o addr show to "$expected/128" || true)
    case $line in
      *dadfailed*)
        echo "ipv6-monitor: duplicate address detection failed for $expected; reconfiguring"
        networkctl reconfigure "$(echo "$line" | awk '{print $2}')" || true
        line=""
        ;;
      *tentative*) line="" ;;
    esac
  fi
  if [ -n "$line" ]; then
    echo "ipv6-monitor: up after $((elapsed / 2)).$((elapsed % 2 * 5))s: $(echo "$line" | awk '{print $2, $4}')"
    exit 0
  fi
  # Half-second polls: duplicate address detection ends about a second after the link is up.
  sleep 0.5
  elapsed=$((elapsed + 1))
done
echo "ipv6-monitor: ERROR: IPv6 address ${expected} not up after ${timeout}s" | tee /dev/console >&2
exit 1
