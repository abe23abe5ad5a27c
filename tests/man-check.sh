#!/bin/sh
# man-check.sh - every manual page is clean under `mandoc -Tlint -W warning`, and
# every public function of include/tide.h has its own page in man/man3.
set -u
status=0
out=$(mandoc -Tlint -W warning man/man3/*.3 man/man7/*.7 2>&1) || status=1
[ -n "$out" ] && { echo "$out"; status=1; }
for f in $(grep -ohE '^TIDE_API [^(]*\btide_[a-z0-9_]+ *\(' include/tide.h | grep -oE 'tide_[a-z0-9_]+ *\(' | tr -d ' ('); do
  [ -f "man/man3/$f.3" ] || { echo "no manual page: man/man3/$f.3"; status=1; }
done
[ "$status" = 0 ] && echo "manual pages: lint clean, one per public function"
exit $status
