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

# Few processes: each fork and exec costs tens of ms on an emulated CPU, and network generation is
# on the boot's critical path. Only tr (lower case) and sha256sum run; the rest is the shell's own.
lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

# first N STRING: the first N characters of STRING (all of it when shorter).
first() {
  rest=$2
  i=0
  while [ "$i" -lt "$1" ] && [ -n "$rest" ]; do rest=${rest#?}; i=$((i + 1)); done
  echo "${2%"$rest"}"
}

# words "A:B:C": "A B C" (split at colons by the shell, no globbing).
words() {
  # shellcheck disable=SC2086 # split on purpose
  (IFS=:; set -f; set -- $1; IFS=' '; echo "$*")
}

derive_mac() {
  # Lower case all three in one tr; the fields hold no newline (generate-network-config refuses
  # control characters), so they come back one per line.
  {
    read -r mgmt_in
    read -r env
    read -r node_type
  } <<EOF_LOWER
$(printf '%s\n%s\n%s\n' "$1" "$2" "$3" | tr '[:upper:]' '[:lower:]')
EOF_LOWER
  # Any of the config's MAC spellings (":", "-" or no separators) seeds as lowercase colon form.
  hex=""
  rest=$mgmt_in
  while [ -n "$rest" ]; do
    c=${rest%"${rest#?}"}
    rest=${rest#?}
    case $c in : | -) ;; *) hex=$hex$c ;; esac
  done
  mgmt=""
  while [ -n "$hex" ]; do
    pair=$(first 2 "$hex")
    hex=${hex#"$pair"}
    mgmt=${mgmt:+$mgmt:}$pair
  done
  slot=${4:-0}
  case $node_type in
    setupos) type=15 ;;
    hostos) type=0 ;;
    guestos) type=1 ;;
    upgradeguestos) type=2 ;;
    *) echo "icos-derive: unknown node type $3" >&2; exit 2 ;;
  esac
  h=$(printf '%s%s\n' "$mgmt" "$env" | sha256sum)
  h0=$(first 2 "$h"); h=${h#??}
  h1=$(first 2 "$h"); h=${h#??}
  h2=$(first 2 "$h"); h=${h#??}
  h3=$(first 2 "$h")
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
  prefix_arg=$1
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
  h=$(words "$head")
  t=$(words "$tail")
  # shellcheck disable=SC2086 # count the groups
  n=$(set -- $h $t; echo $#)
  zeros=""
  if [ -n "$tail" ] || [ "$p" != "$head" ]; then
    i=$n
    while [ "$i" -lt 8 ]; do zeros="$zeros 0"; i=$((i + 1)); done
  fi
  # shellcheck disable=SC2086
  set -- $h $zeros $t
  { [ "$#" -eq 8 ] || [ "$#" -eq 4 ]; } || { echo "icos-derive: not a /64 prefix: $prefix_arg" >&2; exit 2; }
  echo "$1 $2 $3 $4"
}

eui64() {
  groups=$(prefix_groups "$1") || exit 2
  mac=$(words "$(lower "$2")")
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
