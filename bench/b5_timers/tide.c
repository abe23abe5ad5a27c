/* SPDX-License-Identifier: MIT */
/* b5_timers/tide.c - B5 timers on libtide: start, fire, cancel and re-arm a
 * million timers.
 *
 * One phase per run (--phase), so each gets its own RESULT line; the other
 * phases' setup (initialising watchers, starting the timers a phase needs) is
 * done before bench_begin():
 *   add     measure tide_timer_start() of N initialised timers.
 *   fire    start N timers (setup), measure tide_run() until all N fired.
 *   cancel  start N timers (setup), measure tide_timer_stop() of all of them in
 *           a random order (Fisher-Yates permutation, fixed seed).
 *   again   start N timers with repeat = their timeout (setup), measure N
 *           tide_timer_again() calls: --again-target=one (default) re-arms the
 *           same timer (timer 0) N times while the other N-1 sit in the heap;
 *           --again-target=each re-arms every timer once, in the permutation's
 *           order.
 * Timeouts: timer i gets 1 + x_i % max_ms milliseconds (as after and repeat),
 * x_i from xorshift64 with a fixed seed: the same sequence in every B5 peer.
 * --max-ms (default 1000) bounds the timeouts in every phase, and so the fire
 * phase's wall time (about max_ms); a quick fire run can use --max-ms=100.
 *
 * Checks (exit 1): every start/stop/again call succeeded; add/again: every timer
 * is active afterwards (again: due within its repeat from now); cancel: none is;
 * fire: exactly N callbacks, each timer exactly once, none early: the callback's
 * clock reading is >= the clock read just before the timer was started plus its
 * timeout (libtide reads the clock at each start, so no tolerance is needed).
 * The start times live in one uint64_t array (8 bytes a timer).
 *
 * RESULT ops=N wall_ns cpu_ns [fire: p50/p99/p999_ns = lateness of a callback:
 * its clock reading minus its due time, or minus the start of the measured run
 * for the timers that fell due during setup] rss_kb=<peak RSS of the whole run,
 * getrusage ru_maxrss> max_ms backend [fire: fired early_tol_ns] [again: target].
 *
 * CLI: tide [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *           [--again-target=one|each] [--backend=any|uring|epoll|poll|select]
 *           [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * --watchdog: seconds before the run is declared hung (exit 1); 0 disables it.
 * --backend=any lets libtide pick (TIDE_BACKEND in the environment is ignored).
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available here.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>

#include <tide.h>

#define PEER "tide"
#define PEER_ARGS "backend",
#define PEER_USAGE " [--backend=any|uring|epoll|poll|select]"

#include "b5_harness.h"

/* ------------------------------------------------ libtide */

static tide_timer *timers;

/* "any" or "auto" -> 0 (libtide picks); a backend name -> its TIDE_BACKEND_* bit. */
static unsigned backend_bit(const char *name) {
  int bits = strcmp(name, "any") && strcmp(name, "auto") ? tide_backend_from_name(name) : 0;
  if (bits < 0) usage_exit("--backend must be any, uring, epoll, poll or select");
  return (unsigned)bits;
}

static tide_loop *open_loop(const char *name) {
  unsigned bit = backend_bit(name);
  if (bit && !(tide_backends_supported() & bit)) {
    fprintf(stderr, PEER ": backend %s is not available on this kernel/build\n", name);
    exit(3);
  }
  struct tide_loop_options o = {.size = sizeof o, .backends = bit, .flags = TIDE_LOOP_NOENV};
  tide_loop *loop = NULL;
  int r = tide_loop_new(&loop, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, PEER ": backend %s is not available: %s\n", name, tide_strerror(r));
    exit(3);
  }
  if (r < 0) bench_die("tide_loop_new: %s", tide_strerror(r));
  return loop;
}

static void fire_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  b5_fired((uint64_t)(w - timers));
}

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  tide_loop *loop = open_loop(bench_arg_str(argc, argv, "backend", "any"));
  const uint64_t n = g.n;
  const int repeat = g.phase == PH_AGAIN;
  timers = xcalloc(n, sizeof *timers);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t ns = (uint64_t)g.ms[i] * 1000000u;
    int r = tide_timer_init(&timers[i], fire_cb, ns, repeat ? ns : 0);
    if (r < 0) bench_die("tide_timer_init: %s", tide_strerror(r));
  }
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      if (g.phase == PH_FIRE) g.t0[i] = bench_now_ns(); /* tide_timer_start reads the clock after */
      int r = tide_timer_start(loop, &timers[i]);
      if (r < 0) bench_die("tide_timer_start: %s", tide_strerror(r));
    }

  int err = 0;
  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= tide_timer_start(loop, &timers[i]);
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      err = tide_run(loop, TIDE_RUN_DEFAULT);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= tide_timer_stop(loop, &timers[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= tide_timer_again(loop, &timers[g.order[i]]);
        bench_end(&clk);
      } else {
        tide_timer *w = &timers[0];
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= tide_timer_again(loop, w);
        bench_end(&clk);
      }
      break;
  }
  if (err < 0) b5_fail("a timer call failed: %s", tide_strerror(err));

  /* state checks, then stop everything */
  uint64_t active = 0, bad_due = 0;
  tide_update_time(loop);
  for (uint64_t i = 0; i < n; i++) {
    int a = tide_is_active(&timers[i]);
    if (a < 0) bench_die("tide_is_active: %s", tide_strerror(a));
    active += (uint64_t)a;
    if (g.phase == PH_AGAIN) {
      int64_t rem = tide_timer_remaining(loop, &timers[i]);
      if (rem < 0 || (uint64_t)rem > (uint64_t)g.ms[i] * 1000000u) bad_due++;
    }
    tide_timer_stop(loop, &timers[i]);
  }
  b5_active_check(active, bad_due);

  const char *bk = tide_loop_backend(loop); /* static string */
  int r = tide_loop_free(loop);
  if (r < 0) b5_fail("tide_loop_free: %s", tide_strerror(r));
  free(timers);
  if (b5_failed) {
    b5_free();
    return 1;
  }
  long rss = b5_rss_kb();
  if (g.phase == PH_FIRE)
    bench_result(&clk, n, &g.late, " rss_kb=%ld max_ms=%llu backend=%s fired=%llu early_tol_ns=%llu", rss,
                 (unsigned long long)g.max_ms, bk, (unsigned long long)g.fired, (unsigned long long)g.tol_ns);
  else if (g.phase == PH_AGAIN)
    bench_result(&clk, n, NULL, " rss_kb=%ld max_ms=%llu backend=%s target=%s", rss,
                 (unsigned long long)g.max_ms, bk, g.again_each ? "each" : "one");
  else
    bench_result(&clk, n, NULL, " rss_kb=%ld max_ms=%llu backend=%s", rss, (unsigned long long)g.max_ms, bk);
  b5_free();
  return 0;
}
