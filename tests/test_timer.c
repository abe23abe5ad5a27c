/* SPDX-License-Identifier: MIT */
/*
 * test_timer.c - timers: ordering, FIFO for equal timeouts, never early, repeat,
 * tide_timer_again (inactivity timeouts), tide_timer_remaining, restart/re-init in
 * the callback.
 */
#include "common.h"

#include <stdio.h>

TestSuite(timer, .timeout = 30);

/* A timer with its bookkeeping. */
struct rec_timer {
  tide_timer t;
  int id;
  uint64_t after;
  uint64_t t_before; /* clock just before tide_timer_start */
  uint64_t t_after;  /* clock just after tide_timer_start */
  uint64_t fired_clock;
  uint64_t fired_now; /* tide_now() in the callback */
  int calls;
  int active_in_cb;
  unsigned revents;
};

struct fire_log {
  int order[2048];
  int n;
};

static struct fire_log g_log;

static void rec_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  struct rec_timer *r = w->data;
  r->fired_clock = tt_now_ns();
  r->fired_now = tide_now(loop);
  r->calls++;
  r->revents = revents;
  r->active_in_cb = tide_is_active(w);
  if (g_log.n < 2048) g_log.order[g_log.n++] = r->id;
}

static void rec_start(tide_loop *loop, struct rec_timer *r, int id, uint64_t after,
                      uint64_t repeat) {
  memset(r, 0, sizeof *r);
  r->id = id;
  r->after = after;
  cr_assert_eq(tide_timer_init(&r->t, rec_cb, after, repeat), 0);
  r->t.data = r;
  r->t_before = tt_now_ns();
  cr_assert_eq(tide_timer_start(loop, &r->t), 0);
  r->t_after = tt_now_ns();
}

Test(timer, different_deadlines_fire_in_deadline_order) {
  tide_loop *loop = tt_loop();
  static const int ms[] = {50, 10, 40, 20, 30, 5, 45, 15, 35, 25};
  enum { N = sizeof ms / sizeof ms[0] };
  struct rec_timer r[N];
  g_log.n = 0;
  for (int k = 0; k < N; k++) rec_start(loop, &r[k], ms[k], TT_MS(ms[k]), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(g_log.n, N);
  for (int k = 1; k < N; k++)
    cr_assert_lt(g_log.order[k - 1], g_log.order[k], "timer %d ms fired after %d ms",
                 g_log.order[k], g_log.order[k - 1]);
  for (int k = 0; k < N; k++) {
    cr_assert_eq(r[k].calls, 1);
    cr_assert_eq(r[k].revents, TIDE_TIMER, "revents %#x", r[k].revents);
    cr_assert_eq(r[k].active_in_cb, 0, "a non-repeating timer is stopped before its callback");
  }
  tt_free(loop);
}

Test(timer, equal_timeouts_fire_in_start_order) {
  tide_loop *loop = tt_loop();
  enum { N = 64 };
  struct rec_timer r[N];
  g_log.n = 0;
  for (int k = 0; k < N; k++) rec_start(loop, &r[k], k, TT_MS(5), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(g_log.n, N);
  for (int k = 0; k < N; k++) cr_assert_eq(g_log.order[k], k, "position %d: timer %d", k,
                                           g_log.order[k]);
  /* Same with zero timeouts (all due in the first iteration). */
  g_log.n = 0;
  for (int k = 0; k < N; k++) rec_start(loop, &r[k], k, 0, 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(g_log.n, N);
  for (int k = 0; k < N; k++) cr_assert_eq(g_log.order[k], k);
  tt_free(loop);
}

Test(timer, restarted_timer_goes_behind_equal_deadlines) {
  /* Restarting (stop + start) gives a timer a new place in the start order. */
  tide_loop *loop = tt_loop();
  struct rec_timer r[4];
  g_log.n = 0;
  for (int k = 0; k < 4; k++) rec_start(loop, &r[k], k, 0, 0);
  cr_assert_eq(tide_timer_stop(loop, &r[1].t), 0);
  cr_assert_eq(tide_timer_start(loop, &r[1].t), 0);
  cr_assert_eq(tide_timer_stop(loop, &r[0].t), 0);
  cr_assert_eq(tide_timer_start(loop, &r[0].t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(g_log.n, 4);
  static const int want[4] = {2, 3, 1, 0};
  for (int k = 0; k < 4; k++) cr_assert_eq(g_log.order[k], want[k]);
  tt_free(loop);
}

Test(timer, never_fires_early) {
  tide_loop *loop = tt_loop();
  static const uint64_t after[] = {0,        1,        TT_US(1), TT_US(100), TT_US(999),
                                   TT_MS(1), TT_US(1500), TT_MS(2), TT_US(2001), TT_MS(3),
                                   TT_MS(7), TT_MS(10), TT_US(15300), TT_MS(20), TT_MS(33)};
  enum { N = sizeof after / sizeof after[0] };
  struct rec_timer r[N];
  g_log.n = 0;
  for (int k = 0; k < N; k++) rec_start(loop, &r[k], k, after[k], 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  for (int k = 0; k < N; k++) {
    cr_assert_eq(r[k].calls, 1);
    cr_assert_geq(r[k].fired_clock - r[k].t_before, after[k],
                  "timer %llu ns fired after %llu ns", (unsigned long long)after[k],
                  (unsigned long long)(r[k].fired_clock - r[k].t_before));
    cr_assert_geq(r[k].fired_now, r[k].t_before + after[k],
                  "tide_now in the callback (%llu) is before the deadline (>= %llu)",
                  (unsigned long long)r[k].fired_now,
                  (unsigned long long)(r[k].t_before + after[k]));
  }
  /* One at a time, each in its own run, several rounds. */
  for (int round = 0; round < 20; round++) {
    uint64_t a = TT_US(100) + (uint64_t)round * TT_US(250);
    rec_start(loop, &r[0], 0, a, 0);
    cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
    cr_assert_geq(r[0].fired_clock - r[0].t_before, a);
  }
  tt_free(loop);
}

Test(timer, never_early_with_stale_loop_time) {
  tide_loop *loop = tt_loop();
  struct rec_timer r;
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0); /* loop time now cached */
  cr_assert_eq(tide_update_time(loop), 0);
  tt_spin_ns(TT_MS(30)); /* the cached time is now 30 ms stale */
  rec_start(loop, &r, 0, TT_MS(10), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.calls, 1);
  cr_assert_geq(r.fired_clock - r.t_before, TT_MS(10),
                "fired %llu ns after start: the deadline used the stale loop time",
                (unsigned long long)(r.fired_clock - r.t_before));
  tt_free(loop);
}

Test(timer, many_random_timers_fire_in_deadline_order) {
  tide_loop *loop = tt_loop();
  enum { N = 1000 };
  struct rec_timer *r = calloc(N, sizeof *r);
  cr_assert_not_null(r);
  unsigned seed = 12345;
  g_log.n = 0;
  for (int k = 0; k < N; k++) {
    seed = seed * 1103515245u + 12345u;
    uint64_t after = (uint64_t)((seed >> 8) % 40000u) * 1000u; /* 0 .. 40 ms, us steps */
    rec_start(loop, &r[k], k, after, 0);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(g_log.n, N);
  for (int k = 0; k < N; k++) {
    cr_assert_eq(r[k].calls, 1, "timer %d fired %d times", k, r[k].calls);
    cr_assert_geq(r[k].fired_clock - r[k].t_before, r[k].after);
  }
  /* The true deadline of timer k lies in [t_before + after, t_after + after].
   * A firing order is wrong only if a later-fired timer's deadline interval lies
   * entirely before an earlier-fired one's. */
  for (int k = 1; k < N; k++) {
    struct rec_timer *p = &r[g_log.order[k - 1]], *q = &r[g_log.order[k]];
    uint64_t p_lo = p->t_before + p->after, q_hi = q->t_after + q->after;
    cr_assert_geq(q_hi, p_lo, "timer %d (deadline <= %llu) fired after timer %d (>= %llu)",
                  q->id, (unsigned long long)q_hi, p->id, (unsigned long long)p_lo);
  }
  free(r);
  tt_free(loop);
}

/* ------------------------------------------------------------ repeat */

struct rep {
  tide_timer t;
  uint64_t t0;
  uint64_t fired[16];
  int active[16];
  int n, stop_at;
};

static void rep_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct rep *r = w->data;
  r->fired[r->n] = tt_now_ns();
  r->active[r->n] = tide_is_active(w);
  if (++r->n == r->stop_at) tide_timer_stop(loop, w);
}

Test(timer, repeat) {
  tide_loop *loop = tt_loop();
  struct rep r = {.stop_at = 5};
  cr_assert_eq(tide_timer_init(&r.t, rep_cb, TT_MS(5), TT_MS(10)), 0);
  r.t.data = &r;
  r.t0 = tt_now_ns();
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 5);
  for (int k = 0; k < 5; k++) {
    uint64_t due = TT_MS(5) + (uint64_t)k * TT_MS(10);
    cr_assert_geq(r.fired[k] - r.t0, due, "repetition %d at %llu ns, due %llu", k,
                  (unsigned long long)(r.fired[k] - r.t0), (unsigned long long)due);
    cr_assert_eq(r.active[k], 1, "a repeating timer stays active in its callback");
  }
  cr_assert_eq(tide_is_active(&r.t), 0);
  tt_free(loop);
}

/* No drift: re-armed relative to the previous deadline, not the callback. A
 * callback that burns 3 ms each time must not push the 10th firing of a 10 ms
 * timer beyond 100 ms + a generous margin... but a scheduler can delay anything,
 * so only the lower bound (never early) and the count are asserted strictly; the
 * drift bound is checked against the sum of callback delays. */
static void slow_rep_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  rep_cb(loop, w, revents);
  tt_spin_ns(TT_MS(3));
}

Test(timer, repeat_does_not_drift_with_slow_callbacks) {
  tide_loop *loop = tt_loop();
  struct rep r = {.stop_at = 10};
  cr_assert_eq(tide_timer_init(&r.t, slow_rep_cb, TT_MS(10), TT_MS(10)), 0);
  r.t.data = &r;
  r.t0 = tt_now_ns();
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 10);
  for (int k = 0; k < 10; k++)
    cr_assert_geq(r.fired[k] - r.t0, TT_MS(10) * (uint64_t)(k + 1));
  /* With drift (re-arm from the callback's end) the 10th firing would be at least
   * 10 * 13 ms = 130 ms. Without it, about 100 ms. Only flag gross drift, and only
   * if no firing was itself late by more than 3 ms (an overloaded machine). */
  int late = 0;
  for (int k = 0; k < 10; k++)
    if (r.fired[k] - r.t0 > TT_MS(10) * (uint64_t)(k + 1) + TT_MS(6)) late = 1;
  if (!late)
    cr_assert_lt(r.fired[9] - r.t0, TT_MS(125), "10th firing at %llu ns: the repeat drifts",
                 (unsigned long long)(r.fired[9] - r.t0));
  tt_free(loop);
}

/* A one-shot timer whose callback keeps the loop busy until a given clock time,
 * making another timer late in a controlled way. */
struct blocker {
  tide_timer t;
  uint64_t until;
};

static void blocker_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  struct blocker *b = w->data;
  while (tt_now_ns() < b->until) {
  }
}

struct late_rep {
  tide_timer t;
  uint64_t fired[8];
  int64_t remaining[8];
  int n, stop_at;
};

static void late_rep_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct late_rep *r = w->data;
  r->fired[r->n] = tt_now_ns();
  r->remaining[r->n] = tide_timer_remaining(loop, w);
  if (++r->n == r->stop_at) tide_timer_stop(loop, w);
}

Test(timer, repeat_rearms_from_previous_deadline) {
  /* period 50 ms; the loop is kept busy from 25 ms until 53 ms, so the first
   * firing is at least 3 ms late. The next deadline is 100 ms (previous deadline
   * + period), not (time of firing + period): in the callback, at most 47 ms
   * remain. */
  tide_loop *loop = tt_loop();
  struct late_rep r = {.stop_at = 2};
  struct blocker b;
  cr_assert_eq(tide_timer_init(&r.t, late_rep_cb, TT_MS(50), TT_MS(50)), 0);
  r.t.data = &r;
  cr_assert_eq(tide_timer_init(&b.t, blocker_cb, TT_MS(25), 0), 0);
  b.t.data = &b;
  uint64_t t0 = tt_now_ns();
  b.until = t0 + TT_MS(53);
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_timer_start(loop, &b.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 2);
  cr_assert_geq(r.fired[0] - t0, TT_MS(53));
  cr_assert_leq(r.remaining[0], (int64_t)TT_MS(48),
                "remaining %lld ns after a late firing: re-armed from the firing time, not the "
                "previous deadline (drift)",
                (long long)r.remaining[0]);
  cr_assert_geq(r.remaining[0], 0);
  cr_assert_geq(r.fired[1] - t0, TT_MS(100), "second firing early");
  tt_free(loop);
}

Test(timer, repeat_skips_missed_periods) {
  /* period 10 ms; the loop is busy until 45 ms: the periods at 10, 20, 30, 40 ms
   * were missed. One late callback, then the next at >= 50 ms, not a burst. */
  tide_loop *loop = tt_loop();
  struct late_rep r = {.stop_at = 3};
  struct blocker b;
  cr_assert_eq(tide_timer_init(&r.t, late_rep_cb, TT_MS(10), TT_MS(10)), 0);
  r.t.data = &r;
  cr_assert_eq(tide_timer_init(&b.t, blocker_cb, TT_MS(5), 0), 0);
  b.t.data = &b;
  uint64_t t0 = tt_now_ns();
  b.until = t0 + TT_MS(45);
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_timer_start(loop, &b.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 3);
  cr_assert_geq(r.fired[0] - t0, TT_MS(45));
  cr_assert_geq(r.fired[1] - t0, TT_MS(50),
                "second callback %llu ns after start: missed periods fired in a burst",
                (unsigned long long)(r.fired[1] - t0));
  cr_assert_geq(r.fired[2] - t0, TT_MS(60));
  tt_free(loop);
}

/* ------------------------------------------------------------ restart / re-init */

struct restarter {
  tide_timer t;
  int n;
  int second_cb;
};

static void second_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ((struct restarter *)w->data)->second_cb++;
}

static void restart_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct restarter *r = w->data;
  r->n++;
  if (r->n < 4) {
    cr_assert_eq(tide_timer_set(w, TT_MS(1) * (uint64_t)r->n, 0), 0);
    cr_assert_eq(tide_timer_start(loop, w), 0);
    cr_assert_eq(tide_is_active(w), 1);
  } else if (r->n == 4) {
    /* re-init our own (inactive) watcher with another callback, and start it */
    cr_assert_eq(tide_timer_init(w, second_cb, 0, 0), 0);
    w->data = r;
    cr_assert_eq(tide_timer_start(loop, w), 0);
  }
}

Test(timer, restart_and_reinit_in_own_callback) {
  tide_loop *loop = tt_loop();
  struct restarter r = {.n = 0};
  cr_assert_eq(tide_timer_init(&r.t, restart_cb, 0, 0), 0);
  r.t.data = &r;
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 4);
  cr_assert_eq(r.second_cb, 1);
  tt_free(loop);
}

Test(timer, start_on_active_timer_is_noop) {
  tide_loop *loop = tt_loop();
  struct rec_timer r;
  rec_start(loop, &r, 0, TT_SEC(1), 0);
  tt_spin_ns(TT_MS(20));
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem = tide_timer_remaining(loop, &r.t);
  cr_assert_leq(rem, (int64_t)(TT_SEC(1) - TT_MS(20)),
                "a second start re-armed the timer (remaining %lld ns)", (long long)rem);
  cr_assert_eq(tide_timer_stop(loop, &r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0, "one stop undoes a double start");
  tt_free(loop);
}

Test(timer, stop_prevents_firing) {
  tide_loop *loop = tt_loop();
  struct rec_timer a, b;
  rec_start(loop, &a, 0, TT_MS(5), 0);
  rec_start(loop, &b, 1, TT_MS(10), 0);
  cr_assert_eq(tide_timer_stop(loop, &a.t), 0);
  cr_assert_eq(tide_is_active(&a.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(a.calls, 0);
  cr_assert_eq(b.calls, 1);
  tt_free(loop);
}

/* ------------------------------------------------------------ again */

Test(timer, again_arms_inactive_timer_for_repeat) {
  tide_loop *loop = tt_loop();
  struct rep r = {.stop_at = 2};
  cr_assert_eq(tide_timer_init(&r.t, rep_cb, TT_SEC(5), TT_MS(20)), 0);
  r.t.data = &r;
  r.t0 = tt_now_ns();
  cr_assert_eq(tide_update_time(loop), 0);
  cr_assert_eq(tide_timer_again(loop, &r.t), 0);
  cr_assert_eq(tide_is_active(&r.t), 1);
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem = tide_timer_remaining(loop, &r.t);
  cr_assert(rem <= (int64_t)TT_MS(20) && rem > (int64_t)TT_MS(10),
            "after again, remaining %lld ns, want about repeat (20 ms), not after (5 s)",
            (long long)rem);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.n, 2, "again arms a repeating timer");
  cr_assert_geq(r.fired[0] - r.t0, TT_MS(20));
  cr_assert_geq(r.fired[1] - r.t0, TT_MS(40));
  tt_free(loop);
}

struct inactivity {
  tide_timer activity, timeout;
  uint64_t last_again;
  int activities, max_activities;
  int timeouts, activities_at_timeout;
  uint64_t timeout_clock;
  int again_rc;
};

static void activity_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct inactivity *s = w->data;
  s->last_again = tt_now_ns();
  int rc = tide_timer_again(loop, &s->timeout);
  if (rc != 0) s->again_rc = rc;
  if (++s->activities == s->max_activities) tide_timer_stop(loop, w);
}

static void timeout_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct inactivity *s = w->data;
  s->timeouts++;
  s->timeout_clock = tt_now_ns();
  s->activities_at_timeout = s->activities;
  tide_timer_stop(loop, w);
}

Test(timer, again_implements_inactivity_timeout) {
  tide_loop *loop = tt_loop();
  struct inactivity s = {.max_activities = 10};
  /* timeout 30 ms; activity every 10 ms for 100 ms. Without again it would fire at
   * 30 ms, after about 3 activities. */
  cr_assert_eq(tide_timer_init(&s.timeout, timeout_cb, 0, TT_MS(30)), 0);
  s.timeout.data = &s;
  cr_assert_eq(tide_timer_again(loop, &s.timeout), 0);
  cr_assert_eq(tide_timer_init(&s.activity, activity_cb, TT_MS(10), TT_MS(10)), 0);
  s.activity.data = &s;
  cr_assert_eq(tide_timer_start(loop, &s.activity), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(s.again_rc, 0);
  cr_assert_eq(s.activities, 10);
  cr_assert_eq(s.timeouts, 1);
  cr_assert_eq(s.activities_at_timeout, 10,
               "the inactivity timeout fired during activity (after %d of 10)",
               s.activities_at_timeout);
  cr_assert_geq(s.timeout_clock - s.last_again, TT_MS(30),
                "fired %llu ns after the last again, want >= 30 ms",
                (unsigned long long)(s.timeout_clock - s.last_again));
  tt_free(loop);
}

Test(timer, again_with_zero_repeat_stops) {
  tide_loop *loop = tt_loop();
  struct rec_timer r;
  rec_start(loop, &r, 0, TT_MS(5), 0);
  cr_assert_eq(tide_is_active(&r.t), 1);
  cr_assert_eq(tide_timer_again(loop, &r.t), 0);
  cr_assert_eq(tide_is_active(&r.t), 0, "again with repeat 0 stops the timer");
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.calls, 0);
  /* on an inactive timer with repeat 0: stays inactive */
  cr_assert_eq(tide_timer_again(loop, &r.t), 0);
  cr_assert_eq(tide_is_active(&r.t), 0);
  /* a repeating timer whose repeat is set to 0 is stopped by again */
  cr_assert_eq(tide_timer_set(&r.t, TT_MS(5), TT_MS(5)), 0);
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_timer_set(&r.t, TT_MS(5), 0), 0);
  cr_assert_eq(tide_timer_again(loop, &r.t), 0);
  cr_assert_eq(tide_is_active(&r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.calls, 0);
  tt_free(loop);
}

Test(timer, again_on_active_timer_rearms) {
  tide_loop *loop = tt_loop();
  struct rec_timer r;
  rec_start(loop, &r, 0, TT_MS(5), TT_SEC(2));
  cr_assert_eq(tide_timer_again(loop, &r.t), 0);
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem = tide_timer_remaining(loop, &r.t);
  cr_assert_gt(rem, (int64_t)TT_SEC(1), "again must re-arm for repeat (2 s), remaining %lld",
               (long long)rem);
  cr_assert_leq(rem, (int64_t)TT_SEC(2));
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(tide_timer_stop(loop, &r.t), 0);
  cr_assert_eq(r.calls, 0);
  tt_free(loop);
}

/* ------------------------------------------------------------ remaining */

Test(timer, remaining) {
  tide_loop *loop = tt_loop();
  struct rec_timer r;
  memset(&r, 0, sizeof r);
  cr_assert_eq(tide_timer_init(&r.t, rec_cb, 123456789, 7), 0);
  r.t.data = &r;
  cr_assert_eq(tide_timer_remaining(loop, &r.t), 123456789, "inactive: after_ns");
  cr_assert_eq(tide_timer_set(&r.t, 987654321, 0), 0);
  cr_assert_eq(tide_timer_remaining(loop, &r.t), 987654321);

  cr_assert_eq(tide_timer_set(&r.t, TT_SEC(1), 0), 0);
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem = tide_timer_remaining(loop, &r.t);
  cr_assert(rem > (int64_t)TT_MS(900) && rem <= (int64_t)TT_SEC(1), "remaining %lld",
            (long long)rem);
  tt_spin_ns(TT_MS(50));
  cr_assert_eq(tide_timer_remaining(loop, &r.t), rem, "measured from the cached tide_now");
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem2 = tide_timer_remaining(loop, &r.t);
  cr_assert_leq(rem2, rem - (int64_t)TT_MS(50));
  cr_assert_eq(tide_timer_stop(loop, &r.t), 0);
  cr_assert_eq(tide_timer_remaining(loop, &r.t), (int64_t)TT_SEC(1));

  /* due: 0 */
  cr_assert_eq(tide_timer_set(&r.t, 0, 0), 0);
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_update_time(loop), 0);
  cr_assert_eq(tide_timer_remaining(loop, &r.t), 0);
  cr_assert_eq(tide_timer_set(&r.t, TT_MS(1), 0), 0); /* affects only the next start */
  tt_spin_ns(TT_MS(3));
  cr_assert_eq(tide_update_time(loop), 0);
  cr_assert_eq(tide_timer_remaining(loop, &r.t), 0, "overdue: 0, never negative");
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.calls, 1);
  tt_free(loop);
}

Test(timer, remaining_of_repeating_timer_after_fire) {
  tide_loop *loop = tt_loop();
  struct rep r = {.stop_at = 100};
  cr_assert_eq(tide_timer_init(&r.t, rep_cb, 0, TT_SEC(1)), 0);
  r.t.data = &r;
  cr_assert_eq(tide_timer_start(loop, &r.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(tide_update_time(loop), 0);
  int64_t rem = tide_timer_remaining(loop, &r.t);
  cr_assert(rem > (int64_t)TT_MS(500) && rem <= (int64_t)TT_SEC(1),
            "re-armed for repeat: remaining %lld", (long long)rem);
  cr_assert_eq(tide_timer_stop(loop, &r.t), 0);
  tt_free(loop);
}

/* ------------------------------------------------------------ priorities */

Test(timer, priority_orders_simultaneous_timers) {
  tide_loop *loop = tt_loop();
  static const int prio[] = {-2, 0, 2, -1, 1, 2, -2, 0};
  enum { N = sizeof prio / sizeof prio[0] };
  struct rec_timer r[N];
  g_log.n = 0;
  for (int k = 0; k < N; k++) {
    memset(&r[k], 0, sizeof r[k]);
    r[k].id = k;
    cr_assert_eq(tide_timer_init(&r[k].t, rec_cb, 0, 0), 0);
    cr_assert_eq(tide_set_priority(&r[k].t, prio[k]), 0);
    r[k].t.data = &r[k];
  }
  for (int k = 0; k < N; k++) cr_assert_eq(tide_timer_start(loop, &r[k].t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 0);
  cr_assert_eq(g_log.n, N, "all were due in the first iteration");
  static const int want[N] = {2, 5, 4, 1, 7, 3, 0, 6};
  for (int k = 0; k < N; k++)
    cr_assert_eq(g_log.order[k], want[k], "position %d: timer %d (prio %d), want %d", k,
                 g_log.order[k], prio[g_log.order[k]], want[k]);
  tt_free(loop);
}
