#!/bin/sh
# The main job on a fresh Debian 12 machine: set it up, then check the host and every OS layout.
# (Once the build spine lands this builds and boots the GuestOS dev image.)
# Usage: scripts/quickstart.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
node bin/icos.js doctor
node bin/icos.js layout check
