/* SPDX-License-Identifier: MIT */
/* b5_timers/libevent.c - B5 timers on libevent 2.1 (timeout-only events):
 * start, fire, cancel and re-arm a million timers. The same workload, options and
 * checks as b5_timers/tide.c (read its comment); what differs here:
 *   - The events are caller-allocated (event_assign() into one array, like the
 *     other peers' watchers; no event_new() per timer), fd -1, no common-timeout
 *     queues (an opt-in optimisation for few distinct durations).
 *   - start = event_add(ev, &tv); stop = event_del(ev); again = event_add() on the
 *     pending EV_PERSIST event, which reschedules it from now.
 *   - libevent's default clock is CLOCK_MONOTONIC_COARSE (without
 *     EVENT_BASE_FLAG_PRECISE_TIMER) read at each event_add() outside the loop,
 *     truncated to microseconds, so a timer may fire up to one coarse tick (+1 us)
 *     early on the precise clock: the early check allows that much
 *     (early_tol_ns = clock_getres(CLOCK_MONOTONIC_COARSE) + 1000).
 *   - backend= is event_base_get_method().
 *
 * CLI: libevent [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *               [--again-target=one|each] [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#define PEER "libevent"
#define PEER_ARGS
#define PEER_USAGE ""

#include "b5_harness.h"

/* ------------------------------------------------ libevent */

static struct event *evs;

static void fire_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  b5_fired((uint64_t)((struct event *)arg - evs));
}

static inline struct timeval ms_tv(uint32_t ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) < 0) bench_die("clock_getres: %s", strerror(errno));
  g.tol_ns = (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec + 1000u;
  struct event_base *base = event_base_new();
  if (!base) bench_die("event_base_new failed");
  const uint64_t n = g.n;
  evs = xcalloc(n, sizeof *evs);
  for (uint64_t i = 0; i < n; i++)
    if (event_assign(&evs[i], base, -1, g.phase == PH_AGAIN ? EV_PERSIST : 0, fire_cb, &evs[i]) < 0)
      bench_die("event_assign failed");
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      struct timeval tv = ms_tv(g.ms[i]);
      if (g.phase == PH_FIRE) g.t0[i] = bench_now_ns(); /* event_add reads the clock after */
      if (event_add(&evs[i], &tv) < 0) bench_die("event_add failed");
    }

  int err = 0;
  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) {
        struct timeval tv = ms_tv(g.ms[i]);
        err |= event_add(&evs[i], &tv);
      }
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      err = event_base_dispatch(base);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= event_del(&evs[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) {
          uint32_t k = g.order[i];
          struct timeval tv = ms_tv(g.ms[k]);
          err |= event_add(&evs[k], &tv);
        }
        bench_end(&clk);
      } else {
        struct event *ev = &evs[0];
        const struct timeval tv = ms_tv(g.ms[0]);
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= event_add(ev, &tv);
        bench_end(&clk);
      }
      break;
  }
  if (err < 0) b5_fail("an event_add/event_del/event_base_dispatch call failed");

  /* state checks, then stop everything. event_pending reports the expiry on the
   * wall clock (gettimeofday). */
  uint64_t active = 0, bad_due = 0;
  struct timeval now;
  evutil_gettimeofday(&now, NULL);
  const int64_t now_us = (int64_t)now.tv_sec * 1000000 + now.tv_usec;
  for (uint64_t i = 0; i < n; i++) {
    struct timeval when;
    int p = event_pending(&evs[i], EV_TIMEOUT, &when);
    active += p & EV_TIMEOUT ? 1 : 0;
    if (g.phase == PH_AGAIN && (p & EV_TIMEOUT)) {
      int64_t rem_us = (int64_t)when.tv_sec * 1000000 + when.tv_usec - now_us;
      if (rem_us > (int64_t)g.ms[i] * 1000 + (int64_t)(g.tol_ns / 1000) + 1000) bad_due++;
    }
    event_del(&evs[i]);
  }
  b5_active_check(active, bad_due);
  const char *bk = event_base_get_method(base); /* static string */
  event_base_free(base);
  free(evs);
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
