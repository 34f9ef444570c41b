#!/bin/sh
# The main job on a fresh Debian 12 machine: set it up, build the GuestOS dev image and boot it
# until systemd reports it is up with no failed unit.
# Usage: scripts/quickstart.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
node bin/icos.js doctor
node bin/icos.js base update guestos --if-missing
node bin/icos.js build guestos/dev
node bin/icos.js run guestos/dev --wait-ready
