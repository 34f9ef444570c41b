#!/bin/sh
# The main job on a fresh Debian 12 machine: set it up, build the GuestOS dev image and boot it,
# configured by examples/qemu-node.json, until systemd reports it is up with no failed unit.
# Usage: scripts/quickstart.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
node bin/icos.js doctor
node bin/icos.js base update guestos --if-missing
node bin/icos.js build guestos/dev
mkdir -p out/guestos
node bin/icos.js config guestos --config examples/qemu-node.json --out out/guestos/config.img
node bin/icos.js run guestos/dev --config-media out/guestos/config.img --wait-ready
