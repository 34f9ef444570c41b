#!/bin/sh
# Write the systemd-networkd configuration from /run/config/config.json:
#   ipv6_config Deterministic -> the EUI-64 address of the derived GuestOS MAC in the prefix
#   ipv6_config Fixed         -> the given address
#   ipv6_config RouterAdvertisement -> SLAAC from router advertisements
# plus the optional IPv4 address and gateway. Also writes /run/config/ipv6-expected (the address
# the IPv6 monitor waits for; "slaac" for router advertisements).
# Usage: generate-network-config.sh [CONFIG_JSON] [OUT_DIR]
set -eu
config=${1:-/run/config/config.json}
out=${2:-/run/systemd/network}
here=$(dirname "$0")

[ -f "$config" ] || { echo "generate-network-config: no $config (config injection failed?)" >&2; exit 1; }
# One jq run for every field (jq is slow to start under emulation).
mode="" prefix="" len="" gw6="" fixed="" ipv4="" gw4="" domain="" mgmt_mac="" environment=""
eval "$(jq -r '
  .network_settings as $n | .network_settings.ipv6_config as $v6 |
  @sh "mode=\(if ($v6 | type) == "string" then $v6 else ($v6 | keys[0]) end)",
  @sh "prefix=\($v6.Deterministic.prefix? // "")",
  @sh "len=\($v6.Deterministic.prefix_length? // "")",
  @sh "gw6=\(($v6.Deterministic.gateway? // $v6.Fixed.gateway?) // "")",
  @sh "fixed=\($v6.Fixed.address? // "")",
  @sh "ipv4=\(if $n.ipv4_config then "\($n.ipv4_config.address)/\($n.ipv4_config.prefix_length)" else "" end)",
  @sh "gw4=\($n.ipv4_config.gateway? // "")",
  @sh "domain=\($n.domain_name // "")",
  @sh "mgmt_mac=\(.icos_settings.mgmt_mac)",
  @sh "environment=\(.icos_settings.deployment_environment)"
' "$config")"

network="[Match]
Type=ether
Name=en* eth*

[Network]
LinkLocalAddressing=ipv6"
case $mode in
  Deterministic)
    mac=$("$here/icos-derive.sh" mac "$mgmt_mac" "$environment" guestos)
    addr=$("$here/icos-derive.sh" ipv6 "$prefix" "$mac")
    network="$network
IPv6AcceptRA=no
Address=$addr/$len
Gateway=$gw6"
    expected=$addr
    ;;
  Fixed)
    network="$network
IPv6AcceptRA=no
Address=$fixed
Gateway=$gw6"
    expected=${fixed%/*}
    ;;
  RouterAdvertisement)
    network="$network
IPv6AcceptRA=yes"
    expected=slaac
    ;;
  *) echo "generate-network-config: unknown ipv6_config $mode" >&2; exit 1 ;;
esac

if [ -n "$ipv4" ]; then
  network="$network
Address=$ipv4
Gateway=$gw4"
fi
[ -z "$domain" ] || network="$network
Domains=$domain"

mkdir -p "$out"
printf '%s\n' "$network" > "$out/10-icos.network.tmp"
mv "$out/10-icos.network.tmp" "$out/10-icos.network"
echo "$expected" > "$(dirname "$config")/ipv6-expected"
echo "generate-network-config: ipv6 $mode ($expected), ipv4 ${ipv4:-none}"
