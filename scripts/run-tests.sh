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
# The slow tier builds each target once per run, in one output root its files share
# (test/helpers/build.ts sharedBuild), removed when the run ends.
ICOS_TEST_SHARED_OUT=$(mktemp -d "${TMPDIR:-/tmp}/icos-test-shared.XXXXXX")
export ICOS_TEST_SHARED_OUT
trap 'rm -rf "$ICOS_TEST_SHARED_OUT"' EXIT
trap 'exit 130' INT TERM
# Builds and VMs need several GiB: say what is free, so a "no space left" failure explains itself.
if [ "$tier" = slow ]; then
  df -h "${TMPDIR:-/tmp}" "${ICOS_CACHE_DIR:-.}" | sed 's/^/# disk: /'
fi
# shellcheck disable=SC2086 # one argument per test file
node --import tsx --test --test-concurrency="$concurrency" "$@" $files
