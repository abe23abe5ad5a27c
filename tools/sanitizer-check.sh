#!/bin/sh
# SPDX-License-Identifier: MIT
# sanitizer-check.sh - the test suite once more, built with
# ./configure --enable-sanitizers (AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer; a report fails the program, so the run), in a copy of the
# committed tree so that the ordinary build in build/ stays as it is. Called by
# .ci/run; dependencies must be installed already (make check did).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-san.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
git archive HEAD | tar -x -C "$tmp"
cd "$tmp"
./configure --enable-sanitizers
# The benchmark programs are left out: they link libev, libevent and libuv, which
# are not built with the sanitizers.
make check TIDE_DEPS=no TIDE_BENCH_SMOKE=no
