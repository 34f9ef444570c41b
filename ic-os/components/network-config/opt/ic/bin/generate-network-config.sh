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
here=${0%/*}

[ -f "$config" ] || { echo "generate-network-config: no $config (config injection failed?)" >&2; exit 1; }
# config.json was validated by bootstrap-ic-node; still, nothing here is eval'd. One jq run (jq
# is slow to start under emulation) prints one field per line; a field that is not a string or a
# number, or holds a control character, stops it, so every line is exactly one field.
fields=$(jq -r '
  def field($name): if type == "string" or type == "number" then tostring
    | if test("[\u0000-\u001f\u007f]") then error("\($name): contains a control character") else . end
    else error("\($name): expected a string, got \(tojson)") end;
  .network_settings as $n | .network_settings.ipv6_config as $v6 |
  (if ($v6 | type) == "string" then $v6 else ($v6 | keys[0]) end | field("ipv6_config")),
  ($v6.Deterministic.prefix? // "" | field("prefix")),
  ($v6.Deterministic.prefix_length? // "" | field("prefix_length")),
  (($v6.Deterministic.gateway? // $v6.Fixed.gateway?) // "" | field("gateway")),
  ($v6.Fixed.address? // "" | field("address")),
  (if $n.ipv4_config then "\($n.ipv4_config.address | field("ipv4 address"))/\($n.ipv4_config.prefix_length | field("ipv4 prefix_length"))" else "" end),
  ($n.ipv4_config.gateway? // "" | field("ipv4 gateway")),
  ($n.domain_name // "" | field("domain_name")),
  (.icos_settings.mgmt_mac | field("mgmt_mac")),
  (.icos_settings.deployment_environment | field("deployment_environment"))
' "$config") || { echo "generate-network-config: $config: unusable (see the jq error above)" >&2; exit 1; }
{
  read -r mode; read -r prefix; read -r len; read -r gw6; read -r fixed
  read -r ipv4; read -r gw4; read -r domain; read -r mgmt_mac; read -r environment
} <<EOF_FIELDS
$fields
EOF_FIELDS

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
echo "$expected" > "${config%/*}/ipv6-expected"
echo "generate-network-config: ipv6 $mode ($expected), ipv4 ${ipv4:-none}"
