#!/bin/sh
# The one test command: set up this machine (apt packages, npm ci, build), then run every tier:
# typecheck, shellcheck, the fast unit tier and the slow tier (builds and boots images).
# Usage: scripts/test.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
npm test
