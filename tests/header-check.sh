#!/bin/sh
# SPDX-License-Identifier: MIT
# header-check.sh - tide.h compiles alone as strict C99 and as C++ (11 and 17).
set -eu
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-hdr.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
printf '#include <tide.h>\nint main(void) { return tide_version() == 0; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cc"
${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c "$tmp/h.c" -o "$tmp/h.o"
${CXX:-c++} -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$tmp/h.cc" -o "$tmp/h1.o"
${CXX:-c++} -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$tmp/h.cc" -o "$tmp/h2.o"
echo "tide.h: C99 and C++11/17 clean"
