/* SPDX-License-Identifier: MIT */
/* b6_wakeup/libuv.c - B6 cross-thread wakeups on libuv (uv_async_send).
 *
 * --mode=pingpong: two threads, each with its own loop and one async watcher.
 *   Thread A (main) stores a sequence number and sends to B's watcher; B's
 *   callback checks it, stores it back and sends to A's watcher; A's callback
 *   completes the round trip and starts the next. 1000 warm-up round trips (10
 *   with --smoke), then --rounds measured ones, each timed from A's send to A's
 *   callback (p50/p99/p999_ns). Checks: every round trip completed, B saw the
 *   pings in sequence, a callback without a new message is counted (spurious=).
 * --mode=hammer: --threads sender threads call the async send --sends times each
 *   (default 1,000,000 in total) on one async watcher of the loop thread (main),
 *   whose callback counts. A controller thread joins the senders and sends once
 *   more; the measured section runs from releasing the senders (a barrier) to the
 *   first callback that sees the controller's flag. Sends coalesce, so
 *   callbacks=K <= S_total + 1. Then the loop is drained, one more send from
 *   another thread must give at least one more callback (final_callbacks=; a lost
 *   send would hang: --watchdog seconds, default 120, end the run with exit 1).
 *   RESULT ops=S_total callbacks=K.
 * The loop: uv_loop_init() (epoll), one uv_async_t per loop, initialised by the
 * main thread before the loop's thread starts; runs until uv_stop() from a
 * callback (the handle stays active; it is closed after the run).
 *
 * CLI: libuv [--mode=pingpong|hammer] [--rounds=200000] [--threads=1]
 *            [--sends=1000000/threads] [--max-seconds=8] [--watchdog=120] [--smoke]
 * --max-seconds (default 8, 0 = none): a pingpong run whose measured rounds take
 * longer stops at the next multiple of 1024 rounds and reports those (capped=1),
 * so every default run stays bounded (libuv 1.44's async spin-wait can make a
 * round trip cost ~70 us on a loaded 2-CPU machine).
 * Defaults: --mode=pingpong, --threads=1. --smoke: 1000 rounds / 1000 sends in total.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <uv.h>

#define PEER "libuv"
#define PEER_ARGS
#define PEER_USAGE ""

#include "b6_harness.h"

/* ------------------------------------------------ libuv */

struct peer_loop {
  uv_loop_t loop;
  uv_async_t w;
  int role;
};

static void peer_global_init(int argc, char **argv) {
  (void)argc;
  (void)argv;
}

static void peer_global_fini(void) {}

static void async_cb(uv_async_t *w) {
  peer_loop *pl = w->data;
  on_async(pl, pl->role);
}

static peer_loop *pl_new(int role) {
  peer_loop *pl = calloc(1, sizeof *pl);
  if (!pl) bench_die("out of memory");
  int r = uv_loop_init(&pl->loop);
  if (r < 0) bench_die("uv_loop_init: %s", uv_strerror(r));
  pl->role = role;
  if ((r = uv_async_init(&pl->loop, &pl->w, async_cb)) < 0) bench_die("uv_async_init: %s", uv_strerror(r));
  pl->w.data = pl;
  return pl;
}

static void pl_free(peer_loop *pl) {
  uv_close((uv_handle_t *)&pl->w, NULL);
  int r = uv_run(&pl->loop, UV_RUN_DEFAULT); /* runs the close */
  if (r != 0) b6_fail("uv_run after the close: %d", r);
  if ((r = uv_loop_close(&pl->loop)) < 0) b6_fail("uv_loop_close: %s", uv_strerror(r));
  free(pl);
}

static void pl_run(peer_loop *pl) { uv_run(&pl->loop, UV_RUN_DEFAULT); }
static void pl_run_once(peer_loop *pl) { uv_run(&pl->loop, UV_RUN_ONCE); }
static void pl_run_nowait(peer_loop *pl) { uv_run(&pl->loop, UV_RUN_NOWAIT); }
static void pl_stop(peer_loop *pl) { uv_stop(&pl->loop); }
static int pl_send(peer_loop *pl) { return uv_async_send(&pl->w); }
static const char *pl_backend(peer_loop *pl) {
  (void)pl;
  return "epoll";
}
