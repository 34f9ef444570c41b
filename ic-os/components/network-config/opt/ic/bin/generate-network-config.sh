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
q() { jq -r "$1" "$config"; }

mode=$(q '.network_settings.ipv6_config | if type == "string" then . else keys[0] end')
network="[Match]
Type=ether
Name=en* eth*

[Network]
LinkLocalAddressing=ipv6"
case $mode in
  Deterministic)
    prefix=$(q '.network_settings.ipv6_config.Deterministic.prefix')
    len=$(q '.network_settings.ipv6_config.Deterministic.prefix_length')
    gw=$(q '.network_settings.ipv6_config.Deterministic.gateway')
    mac=$("$here/icos-derive.sh" mac "$(q '.icos_settings.mgmt_mac')" "$(q '.icos_settings.deployment_environment')" guestos)
    addr=$("$here/icos-derive.sh" ipv6 "$prefix" "$mac")
    network="$network
IPv6AcceptRA=no
Address=$addr/$len
Gateway=$gw"
    expected=$addr
    ;;
  Fixed)
    addr=$(q '.network_settings.ipv6_config.Fixed.address')
    gw=$(q '.network_settings.ipv6_config.Fixed.gateway')
    network="$network
IPv6AcceptRA=no
Address=$addr
Gateway=$gw"
    expected=${addr%/*}
    ;;
  RouterAdvertisement)
    network="$network
IPv6AcceptRA=yes"
    expected=slaac
    ;;
  *) echo "generate-network-config: unknown ipv6_config $mode" >&2; exit 1 ;;
esac

if [ "$(q '.network_settings.ipv4_config != null')" = true ]; then
  network="$network
Address=$(q '.network_settings.ipv4_config.address')/$(q '.network_settings.ipv4_config.prefix_length')
Gateway=$(q '.network_settings.ipv4_config.gateway')"
fi
domain=$(q '.network_settings.domain_name // empty')
[ -z "$domain" ] || network="$network
Domains=$domain"

mkdir -p "$out"
printf '%s\n' "$network" > "$out/10-icos.network.tmp"
mv "$out/10-icos.network.tmp" "$out/10-icos.network"
echo "$expected" > "$(dirname "$config")/ipv6-expected"
echo "generate-network-config: ipv6 $mode ($expected)$( [ "$(q '.network_settings.ipv4_config != null')" = true ] && echo ', ipv4 static')"
