#!/bin/sh
# SPDX-License-Identifier: MIT
# package-check.sh - build the Debian packages of this tree and try them out on
# this machine, as a user of the packages would. Run from the top of the tree,
# as root (it installs and removes packages); called by .ci/run.
#   1. installs dpkg-dev, debhelper and lintian if missing, then any other missing
#      Build-Depends (tools/install-deps.sh);
#   2. builds libtide1, libtide-dev and libtide-tools with
#      `dpkg-buildpackage -us -uc -b` in a temporary copy of the tree (without
#      build/ and config.mk); the build runs `make check` once;
#   3. runs lintian --pedantic on the result: any E:, W: or P: line fails;
#   4. installs the three packages (apt-get install ./*.deb);
#   5. builds README.md's example program against /usr with
#      `cc example.c $(pkg-config --cflags --libs tide)` and runs it with stdin
#      from /dev/null on every backend the kernel supports (TIDE_BACKEND=...):
#      it must print "ran on <that backend>";
#   6. runs the autopkgtest scripts of debian/tests/control directly;
#   7. purges the packages again, also when a step failed.
# The last line is "package-check: OK"; any failure exits non-zero.
# Word splitting of $PKGS, $debs and $(pkg-config ...) is intended.
# shellcheck disable=SC2046,SC2086
set -eu

if [ "$(id -u)" != 0 ]; then
  echo "package-check: must run as root (it installs and purges packages)" >&2
  exit 1
fi
if [ ! -f debian/control ] || [ ! -f include/tide.h ]; then
  echo "package-check: run from the top of the libtide tree" >&2
  exit 1
fi
top=$(pwd)
PKGS="libtide1 libtide-dev libtide-tools"
export DEBIAN_FRONTEND=noninteractive

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-pkg.XXXXXX")
installed=no
cleanup() {
  rc=$?
  trap - EXIT INT TERM
  if [ "$installed" = yes ]; then
    echo "package-check: purging $PKGS"
    apt-get purge -y -q $PKGS >/dev/null || { echo "package-check: purge failed" >&2; rc=1; }
  fi
  rm -rf "$tmp"
  [ "$rc" = 0 ] || echo "package-check: FAILED" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { echo "package-check: $*" >&2; exit 1; }

# 1. Tools and build dependencies.
if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1 ||
   ! command -v lintian >/dev/null 2>&1; then
  echo "package-check: installing dpkg-dev, debhelper and lintian"
  apt-get update -q || fail "apt-get update failed"
  apt-get install -y -q dpkg-dev debhelper lintian || fail "cannot install dpkg-dev/debhelper/lintian"
fi
sh tools/install-deps.sh || fail "build dependencies are missing"

# 2. Build the packages in a copy of the tree; the .debs land in $tmp.
mkdir "$tmp/libtide"
tar -cf - --exclude=./build --exclude=./config.mk --exclude=./.git --exclude='./libtide-*.tar.gz' . |
  tar -xf - -C "$tmp/libtide"
echo "package-check: dpkg-buildpackage -us -uc -b (runs make check; log: build.log)"
if ! (cd "$tmp/libtide" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
  tail -n 80 "$tmp/build.log"
  fail "dpkg-buildpackage failed"
fi
grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/build.log" || true
version=$(cd "$tmp/libtide" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
changes="$tmp/libtide_${version}_${arch}.changes"
debs=""
for p in $PKGS; do
  f="$tmp/${p}_${version}_${arch}.deb"
  [ -f "$f" ] || fail "not built: $(basename "$f")"
  debs="$debs ./$(basename "$f")"
done
echo "package-check: built$debs"

# 3. lintian: no errors, no warnings, no pedantic tags.
lintian --pedantic "$changes" >"$tmp/lintian.log" 2>&1 || true
if grep -E '^[EWP]: ' "$tmp/lintian.log"; then
  fail "lintian --pedantic reports the tags above"
fi
echo "package-check: lintian --pedantic: clean"

# 4. Install the packages.
installed=yes
(cd "$tmp" && apt-get install -y -q $debs) >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log"
  fail "apt-get install failed"
}
for p in $PKGS; do
  [ "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)" = "$version" ] || fail "$p $version is not installed"
done
echo "package-check: installed $PKGS $version"

# 5. README's example, built against the installed packages only.
mkdir "$tmp/example"
cd "$tmp/example"
sh "$top/tools/readme-example.sh" > example.c
grep -q 'tide_loop_backend' example.c || fail "no example program found in README.md after '## Example'"
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH TIDE_BACKEND
cc example.c -o example $(pkg-config --cflags --libs tide) || fail "README example does not build"
cat > supported.c <<'C'
#include <tide.h>
#include <stdio.h>
int main(void) {
  unsigned m = tide_backends_supported();
  printf("%s%s%s%s\n", (m & TIDE_BACKEND_URING) ? "uring " : "", (m & TIDE_BACKEND_EPOLL) ? "epoll " : "",
         (m & TIDE_BACKEND_POLL) ? "poll " : "", (m & TIDE_BACKEND_SELECT) ? "select" : "");
  return 0;
}
C
cc supported.c -o supported $(pkg-config --cflags --libs tide) || fail "backend probe does not build"
supported=$(./supported)
ran=0
for b in uring epoll poll select; do
  case " $supported " in
    *" $b "*) ;;
    *) echo "package-check: example on $b: skipped (the kernel does not allow it)"; continue ;;
  esac
  want=$b
  [ "$b" = uring ] && want=io_uring
  out=$(TIDE_BACKEND=$b ./example </dev/null) || fail "example on $b exited with status $?"
  [ "$out" = "ran on $want" ] || fail "example on $b printed '$out', expected 'ran on $want'"
  echo "package-check: example on $b: $out"
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || fail "the example ran on no backend"
cd "$top"

# 6. The autopkgtest tests, run directly from the source tree as autopkgtest
# would (its Depends are build dependencies, installed in step 1).
for t in $(sed -n 's/^Tests:[[:space:]]*//p' debian/tests/control | tr ',' ' '); do
  mkdir "$tmp/adt-$t"
  if AUTOPKGTEST_TMP="$tmp/adt-$t" sh "debian/tests/$t" >"$tmp/adt-$t.log" 2>&1; then
    echo "package-check: autopkgtest $t: PASS"
  else
    sed 's/^/    /' "$tmp/adt-$t.log"
    fail "autopkgtest $t: FAIL"
  fi
done

# 7. Purge the packages (cleanup does it too if anything above failed).
apt-get purge -y -q $PKGS >/dev/null || fail "apt-get purge $PKGS failed"
installed=no
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case $st in
    "" | *not-installed) ;;
    *) fail "$p is left in state '$st' after the purge" ;;
  esac
done
echo "package-check: purged $PKGS"
echo "package-check: OK"
