#!/bin/sh
# SPDX-License-Identifier: MIT
# readme-example.sh - print the C program of README.md's "## Example" section (the
# first ```c block after that heading), so that the checks build the very program
# a new user copies: tests/consumer-check.sh and tools/package-check.sh.
set -eu
cd "$(dirname "$0")/.."
awk '/^## Example/ { in_section = 1; next }
     in_section && /^```c$/ { in_code = 1; next }
     in_code && /^```$/ { exit }
     in_code { print }' README.md
