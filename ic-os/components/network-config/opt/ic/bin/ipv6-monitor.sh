#!/bin/sh
# Wait until the configured IPv6 address is up (present, not tentative, DAD passed). On a failed
# duplicate address detection, ask networkd to reconfigure and try again.
# Usage: ipv6-monitor.sh [EXPECTED_FILE] [TIMEOUT_SECONDS]
set -eu
expected_file=${1:-/run/config/ipv6-expected}
timeout=${2:-120}
expected=$(cat "$expected_file")
elapsed=0
while [ "$elapsed" -lt $((timeout * 5)) ]; do
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
    # "N: IFACE inet6 ADDRESS/LEN scope ...": the words in the shell, no awk.
    set -f
    # shellcheck disable=SC2086 # split on purpose, without globbing
    set -- $line
    echo "ipv6-monitor: up after $((elapsed / 5)).$((elapsed % 5 * 2))s: $2 $4"
    exit 0
  fi
  # Polls every 0.2 s (elapsed counts them): duplicate address detection ends about a second
  # after the link is up, and every tenth of a second here is boot time.
  sleep 0.2
  elapsed=$((elapsed + 1))
done
echo "ipv6-monitor: ERROR: IPv6 address ${expected} not up after ${timeout}s" | tee /dev/console >&2
exit 1
