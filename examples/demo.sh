#!/bin/sh
# SPDX-License-Identifier: MIT
# demo.sh - run the libtide demo on every backend: the echo server in both of
# its modes under load (one table), then a file copy with tide-cp.
#
# Run by `make demo` after the build, or by hand from the source tree:
#     sh examples/demo.sh
#
# For each backend (uring, epoll, poll, select) and each server mode (watchers:
# io watchers; requests: completion requests) it starts
#     $BUILD_DIR/examples/echo-server --port 0 --backend B --mode M
# in the background, reads the port it prints, and runs
#     $BUILD_DIR/examples/echo-load --port P --conns C --seconds $DEMO_SECONDS
# for C = 1, 100, 1000, then stops the server with SIGTERM and checks that it
# exits cleanly. A backend that this build or kernel lacks (the server exits
# with status 3) is shown as "skipped". The table has one row per run:
#     backend  mode  conns  req/s  p50(us)  p99(us)  bytes verified  lost
# Then, for each backend, tide-cp copies a file of random bytes (DEMO_CP_MIB
# MiB, made once with head -c from /dev/urandom in a mktemp directory) and cmp
# compares the copy with the original; one line per backend:
#     tide-cp uring: 64 MiB in 0.060 s, identical
# The last line is "demo: OK (0 bytes lost)", or "demo: FAILED ..." with a
# non-zero exit status if any run failed, lost or corrupted a byte, a server
# misbehaved, or a copy failed or differs. Details of failures are printed
# before that line.
#
# With the defaults (3 s per run, 4 backends x 2 modes x 3 runs) the whole demo
# takes about 75 s; DEMO_SECONDS=2 brings it to about 50 s.
#
# Environment:
#   BUILD_DIR      where the binaries are (default: build)
#   DEMO_SECONDS   seconds per run, may be fractional (default: 3)
#   DEMO_CONNS     connection counts to run (default: "1 100 1000")
#   DEMO_BACKENDS  backends to try (default: "uring epoll poll select")
#   DEMO_MODES     echo-server modes to run (default: "watchers requests")
#   DEMO_CP_MIB    size of the tide-cp test file in MiB; 0 skips the copies
#                  (default: 64)
#
# No background process survives the script, whichever way it ends.

set -u

BUILD_DIR=${BUILD_DIR:-build}
DEMO_SECONDS=${DEMO_SECONDS:-3}
DEMO_CONNS=${DEMO_CONNS:-"1 100 1000"}
DEMO_BACKENDS=${DEMO_BACKENDS:-"uring epoll poll select"}
DEMO_MODES=${DEMO_MODES:-"watchers requests"}
DEMO_CP_MIB=${DEMO_CP_MIB:-64}
SERVER=$BUILD_DIR/examples/echo-server
LOAD=$BUILD_DIR/examples/echo-load
CP=$BUILD_DIR/examples/tide-cp

die() {
    echo "demo: $*" >&2
    exit 1
}

for bin in "$SERVER" "$LOAD" "$CP"; do
    [ -x "$bin" ] || die "$bin is missing; build it first (make)"
done
# A positive number, possibly fractional; the run-time limit below needs it.
case $DEMO_SECONDS in
    '' | *[!0-9.]* | *.*.* | .) die "DEMO_SECONDS must be a positive number, not '$DEMO_SECONDS'" ;;
esac
awk -v s="$DEMO_SECONDS" 'BEGIN { exit !(s + 0 > 0) }' ||
    die "DEMO_SECONDS must be a positive number, not '$DEMO_SECONDS'"
for c in $DEMO_CONNS; do
    case $c in
        '' | *[!0-9]*) die "DEMO_CONNS must be a list of numbers, not '$DEMO_CONNS'" ;;
    esac
done
for m in $DEMO_MODES; do
    case $m in
        watchers | requests) ;;
        *) die "DEMO_MODES must list watchers and/or requests, not '$DEMO_MODES'" ;;
    esac
done
case $DEMO_CP_MIB in
    '' | *[!0-9]*) die "DEMO_CP_MIB must be a number of MiB, not '$DEMO_CP_MIB'" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-demo.XXXXXX") || die "mktemp failed"
server_pid=
load_pid=
cp_pid=

# alive PID: true while the process runs. A child that exited but was not yet
# reaped by `wait` is a zombie, which kill -0 still finds, hence /proc.
alive() {
    [ -n "$1" ] || return 1
    if [ -r "/proc/$1/stat" ]; then
        _state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
        [ -n "$_state" ] && [ "$_state" != Z ] && [ "$_state" != X ]
    else
        kill -0 "$1" 2>/dev/null
    fi
}

nap() {
    sleep 0.1 2>/dev/null || sleep 1
}

# stop PID: SIGTERM, up to 5 s to exit, then SIGKILL. Reaps it; its exit status
# becomes $stop_status and stop_killed=1 if SIGKILL was needed.
stop() {
    stop_killed=0
    kill -TERM "$1" 2>/dev/null
    _i=0
    while alive "$1" && [ "$_i" -lt 50 ]; do
        nap
        _i=$((_i + 1))
    done
    if alive "$1"; then
        kill -KILL "$1" 2>/dev/null
        stop_killed=1
    fi
    wait "$1"
    stop_status=$?
}

# shellcheck disable=SC2317 # called through the trap
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$load_pid" ]; then stop "$load_pid"; fi
    if [ -n "$cp_pid" ]; then stop "$cp_pid"; fi
    if [ -n "$server_pid" ]; then stop "$server_pid"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

failed=0        # runs or servers that failed
lost_total=0    # bytes sent but never verified, over all runs
ran=0           # runs done
: >"$tmp/failures"

note_failure() { # heading, file with details (may be empty)
    failed=$((failed + 1))
    {
        echo "--- $1"
        if [ -s "$2" ]; then sed 's/^/    /' "$2"; fi
    } >>"$tmp/failures"
}

row() {
    printf '%-8s %-8s %6s %10s %9s %9s %15s  %s\n' "$@"
}

# field NAME LINE: the value of NAME=value in an echo-load result line.
field() {
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# start_server BACKEND MODE: sets server_pid and port, and returns 0; or returns
# 3 (backend not available, $skip_reason says why) or 1 (failed).
start_server() {
    : >"$tmp/server.out"
    "$SERVER" --port 0 --backend "$1" --mode "$2" >"$tmp/server.out" 2>"$tmp/server.err" &
    server_pid=$!
    _i=0
    while :; do
        # The first line is "port N"; wait until it is complete.
        if [ "$(wc -l <"$tmp/server.out")" -ge 1 ]; then
            port=$(sed -n '1s/^port \([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
            if [ -n "$port" ]; then return 0; fi
            echo "demo: unexpected first line from echo-server: $(sed -n 1p "$tmp/server.out")" \
                >>"$tmp/server.err"
            stop "$server_pid"
            server_pid=
            return 1
        fi
        if ! alive "$server_pid"; then
            wait "$server_pid"
            _rc=$?
            server_pid=
            if [ "$_rc" -eq 3 ]; then
                skip_reason=$(sed -n '$s/^echo-server: //p' "$tmp/server.err")
                return 3
            fi
            echo "demo: echo-server exited with status $_rc before printing its port" >>"$tmp/server.err"
            return 1
        fi
        _i=$((_i + 1))
        if [ "$_i" -ge 100 ]; then
            echo "demo: echo-server printed no port within 10 s" >>"$tmp/server.err"
            stop "$server_pid"
            server_pid=
            return 1
        fi
        nap
    done
}

# A run may take DEMO_SECONDS plus connecting (at most 10 s) plus the grace
# period (5 s); past that it is hung.
limit=$(awk -v s="$DEMO_SECONDS" 'BEGIN { printf "%d", s + 30 }')
if command -v timeout >/dev/null 2>&1; then
    with_limit="timeout -k 5 $limit"
else
    with_limit=
fi

# run_load BACKEND MODE CONNS: one echo-load run against $port, one table row.
run_load() {
    # shellcheck disable=SC2086 # $with_limit is a command prefix, split on purpose
    $with_limit "$LOAD" --port "$port" --conns "$3" --seconds "$DEMO_SECONDS" \
        >"$tmp/load.out" 2>"$tmp/load.err" &
    load_pid=$!
    wait "$load_pid"
    _rc=$?
    load_pid=
    ran=$((ran + 1))
    _line=$(grep '^conns=' "$tmp/load.out" | tail -n 1)
    if [ -z "$_line" ]; then
        [ "$_rc" -eq 124 ] && echo "demo: echo-load did not finish within $limit s" >>"$tmp/load.err"
        row "$1" "$2" "$3" - - - - "FAILED (no result, exit status $_rc)"
        note_failure "$1, $2, $3 connections: echo-load exited with status $_rc" "$tmp/load.err"
        return
    fi
    _sent=$(field bytes_sent "$_line")
    _verified=$(field bytes_verified "$_line")
    _errors=$(field errors "$_line")
    case "$_sent.$_verified.$_errors" in
        *[!0-9.]* | .* | *.. | *..*)
            row "$1" "$2" "$3" - - - - "FAILED (unreadable result)"
            note_failure "$1, $2, $3 connections: unreadable result: $_line" "$tmp/load.err"
            return
            ;;
    esac
    _lost=$((_sent - _verified))
    lost_total=$((lost_total + _lost))
    if [ "$_rc" -ne 0 ] || [ "$_errors" -ne 0 ] || [ "$_lost" -ne 0 ]; then
        row "$1" "$2" "$3" "$(field rps "$_line")" "$(field p50_us "$_line")" "$(field p99_us "$_line")" \
            "$_verified" "$_lost  FAILED (errors=$_errors, exit status $_rc)"
        note_failure "$1, $2, $3 connections: $_line" "$tmp/load.err"
    else
        row "$1" "$2" "$3" "$(field rps "$_line")" "$(field p50_us "$_line")" "$(field p99_us "$_line")" \
            "$_verified" "$_lost"
    fi
}

_modes=
for m in $DEMO_MODES; do _modes="${_modes:+$_modes, }$m"; done
echo "libtide echo demo: echo-server ($_modes) and echo-load over 127.0.0.1, $DEMO_SECONDS s per run"
echo
row backend mode conns "req/s" "p50(us)" "p99(us)" "bytes verified" lost

for b in $DEMO_BACKENDS; do
    for m in $DEMO_MODES; do
        skip_reason=
        start_server "$b" "$m"
        case $? in
            0) ;;
            3)
                row "$b" - - - - - - "skipped: ${skip_reason:-not available}"
                continue 2 # the other modes need the same backend
                ;;
            *)
                row "$b" "$m" - - - - - "FAILED (server did not start)"
                note_failure "$b, $m: echo-server did not start" "$tmp/server.err"
                continue
                ;;
        esac
        # The server names its backend, then its mode, on stderr before it
        # prints the port.
        _want=$b
        [ "$b" = uring ] && _want=io_uring
        _got=$(sed -n 's/^echo-server: backend \([a-z_]*\).*/\1/p' "$tmp/server.err")
        if [ "$_got" != "$_want" ]; then
            echo "demo: asked for backend $_want, echo-server runs '$_got'" >>"$tmp/server.err"
            note_failure "$b, $m: echo-server runs the wrong backend" "$tmp/server.err"
        fi
        _got=$(sed -n 's/^echo-server: mode \([a-z]*\).*/\1/p' "$tmp/server.err")
        if [ "$_got" != "$m" ]; then
            echo "demo: asked for mode $m, echo-server runs '$_got'" >>"$tmp/server.err"
            note_failure "$b, $m: echo-server runs the wrong mode" "$tmp/server.err"
        fi
        for c in $DEMO_CONNS; do
            if ! alive "$server_pid"; then
                row "$b" "$m" "$c" - - - - "FAILED (server died)"
                failed=$((failed + 1))
                continue
            fi
            run_load "$b" "$m" "$c"
        done
        _pid=$server_pid
        stop "$_pid"
        server_pid=
        if [ "$stop_killed" -eq 1 ]; then
            echo "demo: echo-server ignored SIGTERM for 5 s and was killed" >>"$tmp/server.err"
            note_failure "$b, $m: echo-server did not exit on SIGTERM" "$tmp/server.err"
        elif [ "$stop_status" -ne 0 ]; then
            note_failure "$b, $m: echo-server exited with status $stop_status on SIGTERM" "$tmp/server.err"
        fi
    done
done

# tide-cp: copy one file of random bytes with each backend and compare.
if [ "$DEMO_CP_MIB" -gt 0 ]; then
    echo
    if ! head -c $((DEMO_CP_MIB * 1048576)) /dev/urandom >"$tmp/cp.src" 2>"$tmp/cp.err" ||
        [ "$(wc -c <"$tmp/cp.src")" -ne $((DEMO_CP_MIB * 1048576)) ]; then
        echo "tide-cp: FAILED (could not make a $DEMO_CP_MIB MiB test file)"
        note_failure "tide-cp: head -c $((DEMO_CP_MIB * 1048576)) /dev/urandom failed" "$tmp/cp.err"
    else
        for b in $DEMO_BACKENDS; do
            rm -f "$tmp/cp.dst"
            # shellcheck disable=SC2086 # $with_limit is a command prefix, split on purpose
            $with_limit "$CP" --backend "$b" "$tmp/cp.src" "$tmp/cp.dst" 2>"$tmp/cp.err" &
            cp_pid=$!
            wait "$cp_pid"
            _rc=$?
            cp_pid=
            if [ "$_rc" -eq 3 ]; then
                _why=$(sed -n '$s/^tide-cp: //p' "$tmp/cp.err")
                echo "tide-cp $b: skipped: ${_why:-not available}"
                continue
            fi
            if [ "$_rc" -ne 0 ]; then
                [ "$_rc" -eq 124 ] && echo "demo: tide-cp did not finish within $limit s" >>"$tmp/cp.err"
                echo "tide-cp $b: FAILED (exit status $_rc)"
                note_failure "tide-cp $b: exit status $_rc" "$tmp/cp.err"
                continue
            fi
            if ! cmp "$tmp/cp.src" "$tmp/cp.dst" >>"$tmp/cp.err" 2>&1; then
                echo "tide-cp $b: FAILED (the copy differs from the original)"
                note_failure "tide-cp $b: the copy differs from the original" "$tmp/cp.err"
                continue
            fi
            _secs=$(sed -n 's/^tide-cp: [0-9]* bytes in \([0-9.]*\) s.*/\1/p' "$tmp/cp.err")
            echo "tide-cp $b: $DEMO_CP_MIB MiB in ${_secs:-?} s, identical"
        done
        rm -f "$tmp/cp.src" "$tmp/cp.dst"
    fi
fi

echo
if [ -s "$tmp/failures" ]; then
    cat "$tmp/failures"
    echo
fi
if [ "$ran" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "demo: FAILED (no backend could be run)"
    exit 1
fi
if [ "$failed" -ne 0 ] || [ "$lost_total" -ne 0 ]; then
    echo "demo: FAILED ($failed failure(s), $lost_total bytes lost)"
    exit 1
fi
echo "demo: OK ($lost_total bytes lost)"
exit 0
