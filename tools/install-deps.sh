#!/bin/sh
# SPDX-License-Identifier: MIT
# install-deps.sh - install the build dependencies that this machine is missing.
# The one list of them is Build-Depends in debian/control. Run by `make check` and
# `make demo`. It does nothing when everything is installed; otherwise, as root, it
# runs `apt-get build-dep ./` (apt-get update first); not as root, it prints what
# is missing and how to install it, and fails.
# With --bench it installs instead what bench/packages lists (for `make bench`).
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "${1:-}" = --bench ]; then
  missing=""
  for p in $(sed 's/#.*//' bench/packages); do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  [ -z "$missing" ] && { echo "deps: benchmark tools are installed"; exit 0; }
  echo "deps: benchmark tools missing:$missing"
  if [ "$(id -u)" != 0 ]; then
    echo "deps: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
  fi
  echo "deps: installing them with: apt-get update && apt-get install -y$missing"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing || exit 1
  exit 0
fi

if ! command -v dpkg-checkbuilddeps >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: not a Debian-like system (no apt-get); install the packages listed as" \
         "Build-Depends in debian/control by hand." >&2
    exit 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "deps: dpkg-checkbuilddeps (package dpkg-dev) is missing; run as root: apt-get install dpkg-dev" >&2
    exit 1
  fi
  echo "deps: installing dpkg-dev (to read debian/control's Build-Depends)"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev || exit 1
fi

missing=$(dpkg-checkbuilddeps 2>&1) && { echo "deps: all build dependencies are installed"; exit 0; }
echo "deps: ${missing#dpkg-checkbuilddeps: error: }"
if [ "$(id -u)" != 0 ]; then
  echo "deps: run as root (or: sudo apt-get build-dep ./) to install them" >&2
  exit 1
fi
echo "deps: installing them with: apt-get update && apt-get build-dep -y ./"
apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./ || {
  echo "deps: apt-get build-dep failed" >&2
  exit 1
}
