#!/bin/sh
# run.sh - run the whole test suite (called by `make check` after the build).
#   - every Criterion program build/tests/test_* once per backend the kernel
#     supports (TIDE_TEST_BACKEND=uring|epoll|poll|select); unsupported backends
#     are reported as skipped, never as passed;
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

backends=$("$B/tests/backends") || { echo "tests: cannot list backends"; exit 1; }
for b in uring epoll poll select; do
  case " $(echo $backends) " in *" $b "*) ;; *) echo "skipped: all behaviour tests on $b (not supported by this kernel)"; skipped=$((skipped + 1)); continue ;; esac
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
