#!/bin/sh
# SPDX-License-Identifier: MIT
# abi-check.sh - the ABI of the built libtide.so.1 against the committed baseline
# (make abi-check; part of make check).
#   1. Every function exported by the library is named in src/libtide.map and
#      declared TIDE_API in include/tide.h, and the other way round: nothing is
#      exported by accident, nothing public is missing.
#   2. abidw describes the built library (public headers only) and abidiff
#      compares it with $BASELINE (abi/libtide.so.1.abi). An incompatible change
#      (a removed or changed function, a changed type) fails; an addition passes
#      and is listed. abidiff's exit status is a bit mask: 1 error, 2 usage
#      error, 4 ABI change, 8 incompatible ABI change (removals only, hence the
#      summary lines are read too).
# With --write-baseline it writes $BASELINE from the built library instead
# (make abi-baseline: once per release, after an intended ABI change).
# Needs abidw and abidiff (Debian: abigail-tools).
set -u
B=${B:-build}
BASELINE=${BASELINE:-abi/libtide.so.1.abi}
lib=$(ls "$B"/libtide.so.*.*.* 2>/dev/null | head -n 1)
[ -n "$lib" ] || { echo "abi-check: no built library in $B (run make first)"; exit 1; }
for tool in abidw abidiff nm; do
  command -v $tool >/dev/null 2>&1 || { echo "abi-check: $tool is missing (apt-get install abigail-tools binutils)"; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort > "$tmp/exported"
grep -oE '^ +tide_[a-z0-9_]+;' src/libtide.map | tr -d ' ;' | sort > "$tmp/map"
grep -ohE '^TIDE_API [^(]*\btide_[a-z0-9_]+ *\(' include/tide.h | grep -oE 'tide_[a-z0-9_]+ *\($' \
  | tr -d ' (' | sort > "$tmp/header"
if ! cmp -s "$tmp/exported" "$tmp/map" || ! cmp -s "$tmp/map" "$tmp/header"; then
  echo "abi-check: exported functions, src/libtide.map and include/tide.h disagree:"
  diff "$tmp/exported" "$tmp/map" | sed -n 's/^</  exported, not in the map:/p; s/^>/  in the map, not exported:/p'
  diff "$tmp/map" "$tmp/header" | sed -n 's/^</  in the map, not in tide.h:/p; s/^>/  in tide.h, not in the map:/p'
  status=1
fi

# The ABI of the public interface only: what include/ declares and the library
# exports, without build paths or DT_NEEDED (which vary between builds).
describe() {
  abidw --headers-dir include --drop-private-types --exported-interfaces-only --no-elf-needed \
    --no-corpus-path --no-comp-dir-path --short-locs --type-id-style hash --out-file "$1" "$lib" \
    || { echo "abi-check: abidw failed"; exit 1; }
}
if [ "${1:-}" = --write-baseline ]; then
  [ "$status" = 0 ] || exit 1
  mkdir -p "$(dirname "$BASELINE")" && describe "$BASELINE"
  echo "abi-check: wrote $BASELINE from $lib"; exit 0
fi
[ -f "$BASELINE" ] || { echo "abi-check: no baseline $BASELINE (make abi-baseline writes it)"; exit 1; }
describe "$tmp/current.abi"
abidiff "$BASELINE" "$tmp/current.abi" > "$tmp/diff" 2>&1
rc=$?
# abidiff flags only removals as incompatible (status bit 8); a changed function or
# type (a parameter, a struct layout) is a break for libtide's callers too. Only
# additions pass: "0 Removed, 0 Changed" on both summary lines.
changed=$(grep -E '^(Functions|Variables) changes summary:' "$tmp/diff" | grep -vE ': 0 Removed, 0 Changed' || true)
if [ $((rc & 3)) != 0 ]; then
  echo "abi-check: abidiff failed (status $rc):"; cat "$tmp/diff"; exit 1
elif [ $((rc & 8)) != 0 ] || [ -n "$changed" ]; then
  echo "abi-check: INCOMPATIBLE ABI change against $BASELINE:"; cat "$tmp/diff"; status=1
elif [ $((rc & 4)) != 0 ]; then
  echo "abi-check: compatible ABI change (additions) against $BASELINE:"; cat "$tmp/diff"
else
  echo "abi-check: $(wc -l < "$tmp/exported") functions, ABI identical to $BASELINE"
fi
exit $status
