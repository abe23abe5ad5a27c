#!/bin/sh
# SPDX-License-Identifier: MIT
# man-check.sh - every manual page is clean under `mandoc -Tlint -W warning`,
# every public function of include/tide.h has its own page in man/man3, and every
# installed tool (make install-tools) has its own page in man/man1.
set -u
status=0
out=$(mandoc -Tlint -W warning man/man1/*.1 man/man3/*.3 man/man7/*.7 2>&1) || status=1
[ -n "$out" ] && { echo "$out"; status=1; }
for f in $(grep -ohE '^TIDE_API [^(]*\btide_[a-z0-9_]+ *\(' include/tide.h | grep -oE 'tide_[a-z0-9_]+ *\(' | tr -d ' ('); do
  [ -f "man/man3/$f.3" ] || { echo "no manual page: man/man3/$f.3"; status=1; }
done
# The tools: the three named here, and any other that the Makefile's TOOLS list
# (installed-name:source-name pairs) installs.
tools=$( { echo tide-echo-server tide-echo-load tide-cp; sed -n 's/^TOOLS *:*= *//p' Makefile 2>/dev/null; } |
  tr ' ' '\n' | cut -d: -f1 | grep . | sort -u)
for t in $tools; do
  [ -f "man/man1/$t.1" ] || { echo "no manual page: man/man1/$t.1"; status=1; }
done
[ "$status" = 0 ] && echo "manual pages: lint clean, one per public function and per tool"
exit $status
