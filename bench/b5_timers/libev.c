/* SPDX-License-Identifier: MIT */
/* b5_timers/libev.c - B5 timers on libev (ev_timer): start, fire, cancel and
 * re-arm a million timers. The same workload, options and checks as
 * b5_timers/tide.c (read its comment); what differs here:
 *   - ev_timer_start() arms relative to the loop's cached time (ev_now), as libev
 *     documents; the add phase measures exactly that (no clock read per start).
 *     The fire phase's setup calls ev_now_update() before each start, so every
 *     timer counts from its real start and the early check needs no tolerance.
 *   - again: ev_timer_again() (relative to the cached ev_now).
 *   - The loop: ev_loop_new(EVFLAG_AUTO) (epoll here); backend= names it.
 *
 * CLI: libev [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *            [--again-target=one|each] [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>

#include <ev.h>

#define PEER "libev"
#define PEER_ARGS
#define PEER_USAGE ""

#include "b5_harness.h"

/* ------------------------------------------------ libev */

static ev_timer *timers;

static const char *backend_name(unsigned b) {
  return b == EVBACKEND_EPOLL    ? "epoll"
         : b == EVBACKEND_POLL   ? "poll"
         : b == EVBACKEND_SELECT ? "select"
                                 : "other";
}

static void fire_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  b5_fired((uint64_t)(w - timers));
}

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  if (!loop) bench_die("ev_loop_new failed");
  const uint64_t n = g.n;
  const int repeat = g.phase == PH_AGAIN;
  timers = xcalloc(n, sizeof *timers);
  for (uint64_t i = 0; i < n; i++) {
    ev_tstamp s = (ev_tstamp)g.ms[i] * 1e-3;
    ev_timer_init(&timers[i], fire_cb, s, repeat ? s : 0.);
  }
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      if (g.phase == PH_FIRE) {
        g.t0[i] = bench_now_ns();
        ev_now_update(loop); /* libev counts from ev_now: make it the real start */
      }
      ev_timer_start(loop, &timers[i]);
    }

  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) ev_timer_start(loop, &timers[i]);
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      ev_run(loop, 0);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) ev_timer_stop(loop, &timers[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) ev_timer_again(loop, &timers[g.order[i]]);
        bench_end(&clk);
      } else {
        ev_timer *w = &timers[0];
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) ev_timer_again(loop, w);
        bench_end(&clk);
      }
      break;
  }

  /* state checks, then stop everything */
  uint64_t active = 0, bad_due = 0;
  ev_now_update(loop);
  for (uint64_t i = 0; i < n; i++) {
    active += ev_is_active(&timers[i]) ? 1 : 0;
    if (g.phase == PH_AGAIN) {
      ev_tstamp rem = ev_timer_remaining(loop, &timers[i]);
      if (rem > (ev_tstamp)g.ms[i] * 1e-3 + 1e-6) bad_due++; /* < 0: overdue, the loop never ran */
    }
    ev_timer_stop(loop, &timers[i]);
  }
  b5_active_check(active, bad_due);
  const char *bk = backend_name(ev_backend(loop));
  ev_loop_destroy(loop);
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
