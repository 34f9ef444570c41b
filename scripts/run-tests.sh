#!/bin/sh
# Run one test tier with node's test runner: `unit` (fast, ~1 min) or `slow` (builds and boots).
# Usage: scripts/run-tests.sh unit|slow [extra node --test options]
set -eu
cd "$(dirname "$0")/.."
tier=${1:?usage: scripts/run-tests.sh unit|slow}
shift
files=$(find "test/$tier" -name '*.test.ts' | sort)
if [ -z "$files" ]; then
  echo "no tests in test/$tier"
  exit 0
fi
concurrency=2
[ "$tier" = slow ] && concurrency=1
# shellcheck disable=SC2086 # one argument per test file
exec node --import tsx --test --test-concurrency="$concurrency" "$@" $files
