#!/bin/sh
# SPDX-License-Identifier: MIT
# consumer-check.sh - the README's example program, built the three ways a
# consumer finds libtide, against a staged `make install` only:
#   pkg-config (cc $(pkg-config --cflags --libs tide)),
#   CMake (pkg_check_modules(TIDE REQUIRED IMPORTED_TARGET tide)),
#   Meson (dependency('tide')),
# each shared and static. The static builds use a staged copy without
# libtide.so, so -ltide can only mean libtide.a (checked with ldd); the shared
# builds must load the staged libtide.so.1. Every program runs with stdin at EOF
# and must print "ran on <backend>".
# Needs cmake and meson (Debian: cmake, meson; both are Build-Depends <!nocheck>).
set -eu
B=${B:-build}
top=$(pwd)
for tool in pkg-config cmake meson ninja; do
  command -v $tool >/dev/null 2>&1 || { echo "consumer-check: $tool is missing (apt-get build-dep ./)"; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-consumer.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
make -s install DESTDIR="$tmp/shared" PREFIX=/usr LIBDIR=/usr/lib INCLUDEDIR=/usr/include \
  MANDIR=/usr/share/man >/dev/null
cp -a "$tmp/shared" "$tmp/static"
rm -f "$tmp/static"/usr/lib/libtide.so*
sh tools/readme-example.sh > "$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "consumer-check: no example program in README.md"; exit 1; }

# A library built with --enable-sanitizers needs its programs built the same way.
export CFLAGS="${SAN_FLAGS:-}" LDFLAGS="${SAN_FLAGS:-}"

cat > "$tmp/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(tide_consumer C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TIDE REQUIRED IMPORTED_TARGET tide)
add_executable(example example.c)
if(TIDE_LINK_STATIC)
  # pkg-config --static: libtide.a needs its private dependencies too.
  target_include_directories(example PRIVATE ${TIDE_STATIC_INCLUDE_DIRS})
  target_link_directories(example PRIVATE ${TIDE_STATIC_LIBRARY_DIRS})
  target_link_libraries(example PRIVATE ${TIDE_STATIC_LIBRARIES})
else()
  target_link_libraries(example PRIVATE PkgConfig::TIDE)
endif()
CMAKE
cat > "$tmp/meson.build" <<'MESON'
project('tide_consumer', 'c')
tide = dependency('tide', static : get_option('tide_static'))
executable('example', 'example.c', dependencies : tide)
MESON
echo "option('tide_static', type : 'boolean', value : false)" > "$tmp/meson_options.txt"

# run_example NAME STAGE BINARY: runs it against the staged libraries, checks its
# output and how it was linked.
run_example() {
  out=$(LD_LIBRARY_PATH="$tmp/$2/usr/lib" "$3" </dev/null) || { echo "$1: exited non-zero"; exit 1; }
  case $out in *"ran on "*) ;; *) echo "$1: unexpected output: $out"; exit 1 ;; esac
  linked=$(LD_LIBRARY_PATH="$tmp/$2/usr/lib" ldd "$3" | grep libtide || true)
  if [ "$2" = static ]; then
    [ -z "$linked" ] || { echo "$1: linked libtide.so although built static: $linked"; exit 1; }
  else
    case $linked in *"$tmp/shared/usr/lib/libtide.so.1"*) ;;
      *) echo "$1: not linked against the staged libtide.so.1: $linked"; exit 1 ;; esac
  fi
  echo "$1: $out"
}

for stage in shared static; do
  export PKG_CONFIG_PATH="$tmp/$stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/$stage"
  static_flag=; [ $stage = static ] && static_flag=--static
  # pkg-config by hand
  ${CC:-cc} -std=c99 -Wall -Werror $CFLAGS "$tmp/example.c" -o "$tmp/pc-$stage" \
    $(pkg-config --cflags $static_flag --libs tide) $LDFLAGS
  run_example "pkg-config $stage" $stage "$tmp/pc-$stage"
  # CMake
  cmake -S "$tmp" -B "$tmp/cmake-$stage" -DTIDE_LINK_STATIC=$([ $stage = static ] && echo ON || echo OFF) \
    >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cmake-$stage" >>"$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log"; echo "cmake $stage: build failed"; exit 1; }
  run_example "cmake $stage" $stage "$tmp/cmake-$stage/example"
  # Meson
  meson setup "$tmp/meson-$stage" "$tmp" -Dtide_static=$([ $stage = static ] && echo true || echo false) \
    >"$tmp/meson.log" 2>&1 && ninja -C "$tmp/meson-$stage" >>"$tmp/meson.log" 2>&1 \
    || { cat "$tmp/meson.log"; echo "meson $stage: build failed"; exit 1; }
  run_example "meson $stage" $stage "$tmp/meson-$stage/example"
done
echo "consumer-check: the README example builds with pkg-config, CMake and Meson, shared and static"
