#!/bin/sh
# SPDX-License-Identifier: MIT
# install-check.sh - `make install DESTDIR=...`, then build and run a tiny program
# with `pkg-config --cflags --libs tide` against the staged install only (shared),
# and once more linked statically (pkg-config --static).
set -eu
B=${B:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-inst.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
make -s install DESTDIR="$tmp/root" PREFIX=/usr LIBDIR=/usr/lib INCLUDEDIR=/usr/include MANDIR=/usr/share/man >/dev/null
for f in usr/lib/libtide.so.1.0.0 usr/lib/libtide.so.1 usr/lib/libtide.so usr/lib/libtide.a \
         usr/include/tide.h usr/lib/pkgconfig/tide.pc usr/share/man/man3/tide_run.3 usr/share/man/man7/tide.7; do
  [ -e "$tmp/root/$f" ] || { echo "missing after install: $f"; exit 1; }
done
cat > "$tmp/t.c" <<'C'
#include <tide.h>
#include <stdio.h>
static void on_timer(tide_loop *l, tide_timer *t, unsigned ev) { (void)l; (void)ev; *(int *)t->data = 1; }
int main(void) {
  tide_loop *loop; tide_timer t; int fired = 0;
  if (tide_loop_new(&loop, NULL)) return 1;
  tide_timer_init(&t, on_timer, 1000000, 0); t.data = &fired;
  tide_timer_start(loop, &t);
  if (tide_run(loop, TIDE_RUN_DEFAULT) != 0 || !fired) return 2;
  printf("installed libtide %#x runs on %s\n", tide_version(), tide_loop_backend(loop));
  return tide_loop_free(loop);
}
C
export PKG_CONFIG_PATH="$tmp/root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
# A library built with --enable-sanitizers needs its programs built the same way.
${CC:-cc} -std=c99 -Wall -Werror ${SAN_FLAGS:-} "$tmp/t.c" -o "$tmp/t" $(pkg-config --cflags --libs tide)
LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/t"
LD_LIBRARY_PATH="$tmp/root/usr/lib" ldd "$tmp/t" | grep -q "$tmp/root/usr/lib/libtide.so.1" || { echo "not linked against the staged libtide"; exit 1; }
${CC:-cc} -std=c99 -Wall -Werror ${SAN_FLAGS:-} "$tmp/t.c" -o "$tmp/ts" $(pkg-config --cflags tide) \
  "$tmp/root/usr/lib/libtide.a" $(pkg-config --static --libs-only-l tide | sed 's/-ltide//')
"$tmp/ts"
# uninstall removes what install put there
make -s uninstall DESTDIR="$tmp/root" PREFIX=/usr LIBDIR=/usr/lib INCLUDEDIR=/usr/include MANDIR=/usr/share/man
left=$(find "$tmp/root" -type f | wc -l)
[ "$left" = 0 ] || { echo "uninstall left $left files"; find "$tmp/root" -type f; exit 1; }
