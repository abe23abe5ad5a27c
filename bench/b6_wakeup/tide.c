/* SPDX-License-Identifier: MIT */
/* b6_wakeup/tide.c - B6 cross-thread wakeups on libtide (tide_async_send).
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
 * Loops run until tide_stop() from a callback (the watcher stays active).
 *
 * CLI: tide [--mode=pingpong|hammer] [--rounds=200000] [--threads=1]
 *           [--sends=1000000/threads] [--backend=any|uring|epoll|poll|select]
 *           [--max-seconds=8] [--watchdog=120] [--smoke]
 * --max-seconds (default 8, 0 = none): a pingpong run whose measured rounds take
 * longer stops at the next multiple of 1024 rounds and reports those (capped=1),
 * so every default run stays bounded (libuv 1.44's async spin-wait can make a
 * round trip cost ~70 us on a loaded 2-CPU machine).
 * Defaults: --mode=pingpong, --threads=1. --smoke: 1000 rounds / 1000 sends in total.
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available here.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <tide.h>

#define PEER "tide"
#define PEER_ARGS "backend",
#define PEER_USAGE " [--backend=any|uring|epoll|poll|select]"

#include "b6_harness.h"

/* ------------------------------------------------ libtide */

struct peer_loop {
  tide_loop *loop;
  tide_async w;
  int role;
};

static unsigned backend_bit_;
static const char *backend_name_;

static void peer_global_init(int argc, char **argv) {
  /* "any" or "auto" -> 0 (libtide picks); a backend name -> its TIDE_BACKEND_* bit. */
  const char *name = bench_arg_str(argc, argv, "backend", "any");
  int bits = strcmp(name, "any") && strcmp(name, "auto") ? tide_backend_from_name(name) : 0;
  backend_name_ = name;
  if (bits < 0) usage_exit("--backend must be any, uring, epoll, poll or select");
  backend_bit_ = (unsigned)bits;
  if (backend_bit_ && !(tide_backends_supported() & backend_bit_)) {
    fprintf(stderr, PEER ": backend %s is not available on this kernel/build\n", backend_name_);
    exit(3);
  }
}

static void peer_global_fini(void) {}

static void async_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)loop;
  (void)revents;
  peer_loop *pl = w->data;
  on_async(pl, pl->role);
}

static peer_loop *pl_new(int role) {
  peer_loop *pl = calloc(1, sizeof *pl);
  if (!pl) bench_die("out of memory");
  struct tide_loop_options o = {.size = sizeof o, .backends = backend_bit_, .flags = TIDE_LOOP_NOENV};
  int r = tide_loop_new(&pl->loop, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, PEER ": backend %s is not available: %s\n", backend_name_, tide_strerror(r));
    exit(3);
  }
  if (r < 0) bench_die("tide_loop_new: %s", tide_strerror(r));
  pl->role = role;
  pl->w.data = pl;
  if ((r = tide_async_init(&pl->w, async_cb)) < 0 || (r = tide_async_start(pl->loop, &pl->w)) < 0)
    bench_die("tide_async_start: %s", tide_strerror(r));
  return pl;
}

static void pl_free(peer_loop *pl) {
  int r = tide_async_stop(pl->loop, &pl->w);
  if (r == 0) r = tide_loop_free(pl->loop);
  if (r < 0) b6_fail("freeing the loop: %s", tide_strerror(r));
  free(pl);
}

static void run_mode(peer_loop *pl, int mode) {
  int r = tide_run(pl->loop, mode);
  if (r < 0) bench_die("tide_run: %s", tide_strerror(r));
}
static void pl_run(peer_loop *pl) { run_mode(pl, TIDE_RUN_DEFAULT); }
static void pl_run_once(peer_loop *pl) { run_mode(pl, TIDE_RUN_ONCE); }
static void pl_run_nowait(peer_loop *pl) { run_mode(pl, TIDE_RUN_NOWAIT); }
static void pl_stop(peer_loop *pl) { tide_stop(pl->loop); }
static int pl_send(peer_loop *pl) { return tide_async_send(pl->loop, &pl->w); }
static const char *pl_backend(peer_loop *pl) { return tide_loop_backend(pl->loop); }
