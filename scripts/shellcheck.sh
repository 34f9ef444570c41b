#!/bin/sh
# Lint every shell script of ours with shellcheck: host scripts, CI, device-side scripts in ic-os/
set -eu
cd "$(dirname "$0")/.."
files=$( { find scripts .ci bench -type f \( -name '*.sh' -o -name run \) 2>/dev/null;
           grep -rlE '^#!/bin/(ba)?sh' ic-os test/fixtures 2>/dev/null; } | sort -u)
# shellcheck disable=SC2086 # one argument per file
shellcheck -x $files
echo "shellcheck: $(echo "$files" | wc -l) files clean"
