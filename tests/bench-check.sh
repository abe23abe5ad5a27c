#!/bin/sh
# SPDX-License-Identifier: MIT
# bench-check.sh - smoke-run the benchmark programs: `python3 bench/run --smoke`
# runs every program built under $B/bench once with --smoke (servers paired with
# their load generator), checks the exit codes and RESULT lines, and fails if any
# program failed. Nothing is measured (no perf, no pinning); ~10-60 s.
# When no benchmark program is built the driver says so and passes: `make check`
# builds them first (its bench-progs prerequisite), a bare tests/run.sh may not.
set -u
cd "$(dirname "$0")/.." || exit 1
if [ "${TIDE_BENCH_SMOKE:-}" = no ]; then
  echo "bench-check: skipped: TIDE_BENCH_SMOKE=no (a package build: no benchmark peers)"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "bench-check: skipped: python3 is not installed (bench/run needs it)"
  exit 0
fi
B=${B:-build} exec python3 bench/run --smoke
