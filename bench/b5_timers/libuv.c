/* SPDX-License-Identifier: MIT */
/* b5_timers/libuv.c - B5 timers on libuv (uv_timer_t): start, fire, cancel and
 * re-arm a million timers. The same workload, options and checks as
 * b5_timers/tide.c (read its comment); what differs here:
 *   - uv_timer_start() arms relative to the loop's cached time (uv_now, whole
 *     milliseconds); the add phase measures exactly that. The fire phase's setup
 *     calls uv_update_time() before each start, so every timer counts from its
 *     real start, but libuv's clock is in whole milliseconds (CLOCK_MONOTONIC
 *     truncated, or CLOCK_MONOTONIC_COARSE when that ticks at 1 ms or finer), so a
 *     timer may fire up to 1 ms (+ the coarse tick) early on the precise clock:
 *     the early check allows that much (early_tol_ns).
 *   - again: uv_timer_again() (stop + start with the repeat, from uv_now).
 *   - uv_timer_init() is setup; every handle is uv_close()d after the phase.
 *   - libuv 1.44 on Linux always runs epoll: backend=epoll.
 *
 * CLI: libuv [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *            [--again-target=one|each] [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>

#include <uv.h>

#define PEER "libuv"
#define PEER_ARGS
#define PEER_USAGE ""

#include "b5_harness.h"

/* ------------------------------------------------ libuv */

static uv_timer_t *timers;

static void fire_cb(uv_timer_t *h) { b5_fired((uint64_t)(h - timers)); }

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) < 0) bench_die("clock_getres: %s", strerror(errno));
  uint64_t coarse = (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec;
  g.tol_ns = 1000000u + (coarse <= 1000000u ? coarse : 0); /* libuv's UV_CLOCK_FAST rule */
  uv_loop_t loop;
  int r = uv_loop_init(&loop);
  if (r < 0) bench_die("uv_loop_init: %s", uv_strerror(r));
  const uint64_t n = g.n;
  const int repeat = g.phase == PH_AGAIN;
  timers = xcalloc(n, sizeof *timers);
  for (uint64_t i = 0; i < n; i++)
    if ((r = uv_timer_init(&loop, &timers[i])) < 0) bench_die("uv_timer_init: %s", uv_strerror(r));
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      if (g.phase == PH_FIRE) {
        g.t0[i] = bench_now_ns();
        uv_update_time(&loop); /* libuv counts from uv_now: make it the real start */
      }
      r = uv_timer_start(&timers[i], fire_cb, g.ms[i], repeat ? g.ms[i] : 0);
      if (r < 0) bench_die("uv_timer_start: %s", uv_strerror(r));
    }

  int err = 0;
  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= uv_timer_start(&timers[i], fire_cb, g.ms[i], 0);
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      err = uv_run(&loop, UV_RUN_DEFAULT);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= uv_timer_stop(&timers[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= uv_timer_again(&timers[g.order[i]]);
        bench_end(&clk);
      } else {
        uv_timer_t *h = &timers[0];
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= uv_timer_again(h);
        bench_end(&clk);
      }
      break;
  }
  if (err < 0)
    b5_fail("a timer call failed: %s", uv_strerror(err));
  else if (err > 0)
    b5_fail("uv_run returned %d with nothing left to run", err);

  /* state checks, then close every handle */
  uint64_t active = 0, bad_due = 0;
  uv_update_time(&loop);
  for (uint64_t i = 0; i < n; i++) {
    active += uv_is_active((uv_handle_t *)&timers[i]) ? 1 : 0;
    if (g.phase == PH_AGAIN && uv_timer_get_due_in(&timers[i]) > g.ms[i]) bad_due++;
    uv_close((uv_handle_t *)&timers[i], NULL);
  }
  b5_active_check(active, bad_due);
  r = uv_run(&loop, UV_RUN_DEFAULT); /* runs the closes */
  if (r != 0) b5_fail("uv_run after closing: %d", r);
  r = uv_loop_close(&loop);
  if (r < 0) b5_fail("uv_loop_close: %s", uv_strerror(r));
  free(timers);
  if (b5_failed) {
    b5_free();
    return 1;
  }
  const char *bk = "epoll";
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
