#!/bin/sh
# Deterministic MAC and IPv6 addresses, as the host side computes them (src/config/derive.ts):
#   seed = "<mgmt mac, lowercase>" "<deployment environment, lowercase>" "\n"; h = sha256(seed)
#   slot < 16:  6a:(type | slot<<4):h0:h1:h2:h3      slot >= 16:  7a:type:slot:h0:h1:h2
#   type: setupos 0x0f, hostos 0x00, guestos 0x01, upgradeguestos 0x02
#   IPv6: the EUI-64 (SLAAC) address of that MAC inside a /64 prefix.
# Usage: icos-derive.sh mac MGMT_MAC ENVIRONMENT NODE_TYPE [SLOT]
#        icos-derive.sh ipv6 PREFIX MAC
set -eu

usage() {
  echo "usage: icos-derive.sh mac MGMT_MAC ENVIRONMENT NODE_TYPE [SLOT] | ipv6 PREFIX MAC" >&2
  exit 2
}

lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

derive_mac() {
  # Any of the config's MAC spellings (":", "-" or no separators) seeds as lowercase colon form.
  mgmt=$(lower "$1" | tr -d ':-' | sed 's/../&:/g; s/:$//')
  env=$(lower "$2")
  slot=${4:-0}
  case $(lower "$3") in
    setupos) type=15 ;;
    hostos) type=0 ;;
    guestos) type=1 ;;
    upgradeguestos) type=2 ;;
    *) echo "icos-derive: unknown node type $3" >&2; exit 2 ;;
  esac
  h=$(printf '%s%s\n' "$mgmt" "$env" | sha256sum | cut -c1-8)
  h0=$(echo "$h" | cut -c1-2); h1=$(echo "$h" | cut -c3-4)
  h2=$(echo "$h" | cut -c5-6); h3=$(echo "$h" | cut -c7-8)
  if [ "$slot" -lt 16 ]; then
    printf '6a:%02x:%s:%s:%s:%s\n' $((type | (slot << 4))) "$h0" "$h1" "$h2" "$h3"
  else
    printf '7a:%02x:%02x:%s:%s:%s\n' "$type" "$slot" "$h0" "$h1" "$h2"
  fi
}

# The first four groups of a /64 prefix in any form the config allows: "fd00:cafe:0:0",
# "fd00:cafe::", "a:b:c:d:0::", "::0.0.0.0" -> "fd00 cafe 0 0". The address is expanded to its
# eight groups (an IPv4 tail counts as two), then cut to four.
prefix_groups() {
  p=$(lower "$1")
  p=${p%/64}
  case $p in
    *::*::*) echo "icos-derive: not a /64 prefix: $1" >&2; exit 2 ;;
    *::*) head=${p%%::*}; tail=${p#*::} ;;
    *) head=$p; tail="" ;;
  esac
  # A dotted IPv4 tail is two groups of 16 bits.
  case $tail in
    *.*)
      v4=${tail##*:}
      rest=${tail%"$v4"}
      tail="$rest$(echo "$v4" | awk -F. 'NF == 4 { printf "%x:%x", $1 * 256 + $2, $3 * 256 + $4 }')"
      ;;
  esac
  h=$(echo "$head" | tr ':' ' ')
  t=$(echo "$tail" | tr ':' ' ')
  # shellcheck disable=SC2086 # count the groups
  n=$(set -- $h $t; echo $#)
  zeros=""
  if [ -n "$tail" ] || [ "$p" != "$head" ]; then
    i=$n
    while [ "$i" -lt 8 ]; do zeros="$zeros 0"; i=$((i + 1)); done
  fi
  # shellcheck disable=SC2086
  echo $h $zeros $t | awk '{ if (NF != 8 && NF != 4) exit 1; print $1, $2, $3, $4 }' ||
    { echo "icos-derive: not a /64 prefix: $1" >&2; exit 2; }
}

eui64() {
  groups=$(prefix_groups "$1") || exit 2
  mac=$(lower "$2" | tr ':' ' ')
  # shellcheck disable=SC2086 # split the MAC into its six octets
  set -- $mac
  [ "$#" -eq 6 ] || { echo "icos-derive: not a MAC address" >&2; exit 2; }
  o1=$(printf '%02x' $((0x$1 ^ 0x02)))
  iid=$(printf '%x:%x:%x:%x' "0x$o1$2" "0x${3}ff" "0xfe$4" "0x$5$6")
  # shellcheck disable=SC2086
  set -- $groups
  printf '%x:%x:%x:%x:%s\n' "0x$1" "0x$2" "0x$3" "0x$4" "$iid"
}

case ${1:-} in
  mac) [ "$#" -ge 4 ] || usage; shift; derive_mac "$@" ;;
  ipv6) [ "$#" -eq 3 ] || usage; eui64 "$2" "$3" ;;
  *) usage ;;
esac
