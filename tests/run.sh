#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - run the whole test suite (called by `make check` after the build).
#   - every Criterion program build/tests/test_* once per backend the kernel
#     supports (TIDE_TEST_BACKEND=uring|epoll|poll|select); a backend the kernel
#     refuses, or one configured out on purpose, is reported as skipped (never as
#     passed) with the reason; one the kernel allows but the build lacks fails;
#   - the cmocka unit tests build/tests/unit_*;
#   - tests/*-check.sh: header, install and manual-page checks.
# Prints per-program results and ends with one line "N passed, N failed";
# exits non-zero if anything failed.
set -u
B=${B:-build}
log=$(mktemp -d "${TMPDIR:-/tmp}/tide-tests.XXXXXX") || exit 1
trap 'rm -rf "$log"' EXIT INT TERM
passed=0 failed=0 skipped=0
# Sanitizer builds: a leak report fails the program; leaks of Criterion's own
# runner are suppressed (tests/lsan.supp).
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

# One line per backend: "NAME ok", "NAME not-built kernel-allows|kernel-refuses"
# or "NAME kernel-refuses REASON" (tests/backends.c). A backend that is not built
# although the kernel allows it fails the run, unless it was left out on purpose
# (./configure --disable-uring, ENABLE_URING=no): that is a build that lost
# io_uring silently, not a kernel that refuses it.
status=$("$B/tests/backends") || { echo "tests: cannot list backends"; exit 1; }
for b in uring epoll poll select; do
  line=$(printf '%s\n' "$status" | grep "^$b ")
  state=$(printf '%s\n' "$line" | cut -d' ' -f2)
  detail=$(printf '%s\n' "$line" | cut -d' ' -f3-)
  case $state in
    ok) ;;
    not-built)
      if [ "$b" = uring ] && [ "${ENABLE_URING:-yes}" = no ]; then
        echo "skipped: all behaviour tests on $b (not built: configured with --disable-uring)"
        skipped=$((skipped + 1)); continue
      elif [ "$detail" = kernel-allows ]; then
        echo "FAILED: all behaviour tests on $b: the kernel allows $b but this build lacks it" \
             "(configure did not find its library; reconfigure, or use --disable-uring on purpose)"
        add 0 1; continue
      fi
      echo "skipped: all behaviour tests on $b (not built, and the kernel refuses it too)"
      skipped=$((skipped + 1)); continue ;;
    kernel-refuses)
      echo "skipped: all behaviour tests on $b (built, but the running kernel refuses it: $detail)"
      skipped=$((skipped + 1)); continue ;;
    *) echo "tests: backends printed nothing usable for $b: '$line'"; add 0 1; continue ;;
  esac
  for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    TIDE_TEST_BACKEND=$b "$t" --jobs=2 >"$log/out" 2>&1
    rc=$?
    # Criterion's closing line: [====] Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C
    line=$(grep 'Synthesis:' "$log/out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    : "${p:=0}" "${f:=1}" "${c:=0}"
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1   # died without a synthesis line
    add "$p" "$f"
    printf '%-8s %-22s %3d passed, %d failed, %d crashed\n' "$b" "$name" "$p" "$f" "$c"
    [ "$f" != 0 ] && sed 's/^/    /' "$log/out" | grep -v '^    \[----\] Criterion' | tail -n 40
  done
done

for t in "$B"/tests/unit_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  "$t" >"$log/out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/out" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/out" | tail -n 1)
  : "${p:=0}" "${f:=0}"
  [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
  add "$p" "$f"
  printf '%-8s %-22s %3d passed, %d failed\n' unit "$name" "$p" "$f"
  [ "$f" != 0 ] && sed 's/^/    /' "$log/out" | tail -n 40
done

for c in tests/*-check.sh; do
  name=$(basename "$c" .sh)
  if B=$B sh "$c" >"$log/out" 2>&1; then
    add 1 0; printf '%-8s %-22s passed\n' check "$name"
  else
    add 0 1; printf '%-8s %-22s FAILED\n' check "$name"; sed 's/^/    /' "$log/out" | tail -n 40
  fi
done

[ "$skipped" != 0 ] && echo "($skipped backend(s) skipped: not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
