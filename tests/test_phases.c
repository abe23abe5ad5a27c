/* SPDX-License-Identifier: MIT */
/*
 * test_phases.c - iteration order (prepare, wait, io, timers, idle, check),
 * priorities and tide_feed_event, and what a callback may do: stop another pending
 * watcher, stop/restart/re-init/free its own.
 */
#include "common.h"

#include <stdio.h>

TestSuite(phases, .timeout = 30);
TestSuite(prio, .timeout = 30);
TestSuite(callback, .timeout = 30);

/* ------------------------------------------------------------ call log */

struct call_log {
  char s[256];
  int n;
};

static void log_put(tide_loop *loop, char c) {
  struct call_log *l = tide_loop_get_data(loop);
  if (l->n < (int)sizeof l->s - 1) l->s[l->n++] = c;
  l->s[l->n] = '\0';
}

/* Each watcher's data points at a char tag. */
static void tag_prepare_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}
static void tag_check_cb(tide_loop *loop, tide_check *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}
static void tag_idle_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}
static void tag_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}
static void tag_io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}
static void tag_io_stop_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
  tide_io_stop(loop, w);
}
static void tag_async_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)revents;
  log_put(loop, *(char *)w->data);
}

/* ------------------------------------------------------------ phases */

struct prep_write {
  tide_prepare p;
  int fd;
  char tag;
};

static void prep_write_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)revents;
  struct prep_write *pw = w->data;
  log_put(loop, pw->tag);
  tt_write1(pw->fd);
}

Test(phases, prepare_runs_before_the_wait_check_after) {
  /* The prepare callback makes the pipe readable; if prepare runs before the
   * backend wait, the same ONCE iteration sees the io event, then the check. */
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p[2];
  tt_pipe(p);
  struct prep_write pw = {.fd = p[1], .tag = 'P'};
  char r = 'R', c = 'C';
  cr_assert_eq(tide_prepare_init(&pw.p, prep_write_cb), 0);
  pw.p.data = &pw;
  tide_io io;
  cr_assert_eq(tide_io_init(&io, tag_io_stop_cb, p[0], TIDE_READ), 0);
  io.data = &r;
  tide_check ck;
  cr_assert_eq(tide_check_init(&ck, tag_check_cb), 0);
  ck.data = &c;
  cr_assert_eq(tide_prepare_start(loop, &pw.p), 0);
  cr_assert_eq(tide_io_start(loop, &io), 0);
  cr_assert_eq(tide_check_start(loop, &ck), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_str_eq(lg.s, "PRC");
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_prepare_stop(loop, &pw.p), 0);
  cr_assert_eq(tide_check_stop(loop, &ck), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(phases, io_timer_idle_check_order) {
  /* Iteration 1: io ready and a timer due -> P R T C (idle not: others pending).
   * Iteration 2: nothing else pending -> P I C. */
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p[2];
  tt_pipe(p);
  tt_write1(p[1]);
  char tp = 'P', tr = 'R', tt = 'T', ti = 'I', tc = 'C';
  tide_prepare pr;
  tide_io io;
  tide_timer tm;
  tide_idle id;
  tide_check ck;
  cr_assert_eq(tide_prepare_init(&pr, tag_prepare_cb), 0);
  cr_assert_eq(tide_io_init(&io, tag_io_stop_cb, p[0], TIDE_READ), 0);
  cr_assert_eq(tide_timer_init(&tm, tag_timer_cb, 0, 0), 0);
  cr_assert_eq(tide_idle_init(&id, tag_idle_cb), 0);
  cr_assert_eq(tide_check_init(&ck, tag_check_cb), 0);
  pr.data = &tp;
  io.data = &tr;
  tm.data = &tt;
  id.data = &ti;
  ck.data = &tc;
  /* started in an order unrelated to the phases */
  cr_assert_eq(tide_check_start(loop, &ck), 0);
  cr_assert_eq(tide_idle_start(loop, &id), 0);
  cr_assert_eq(tide_timer_start(loop, &tm), 0);
  cr_assert_eq(tide_io_start(loop, &io), 0);
  cr_assert_eq(tide_prepare_start(loop, &pr), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "PRTC", "first iteration");
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "PRTCPIC", "second iteration");
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_str_eq(lg.s, "PRTCPICPIC");
  cr_assert_eq(tide_idle_stop(loop, &id), 0);
  cr_assert_eq(tide_check_stop(loop, &ck), 0);
  cr_assert_eq(tide_prepare_stop(loop, &pr), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
  tt_close2(p);
}

struct prep_starter {
  tide_prepare p;
  tide_io *io;
};

static void prep_starter_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)revents;
  struct prep_starter *ps = w->data;
  log_put(loop, 'P');
  if (!tide_is_active(ps->io)) tide_io_start(loop, ps->io);
  tide_prepare_stop(loop, w);
}

Test(phases, watcher_started_in_prepare_is_in_this_wait) {
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p[2];
  tt_pipe(p);
  tt_write1(p[1]);
  char tr = 'R';
  tide_io io;
  cr_assert_eq(tide_io_init(&io, tag_io_stop_cb, p[0], TIDE_READ), 0);
  io.data = &tr;
  struct prep_starter ps = {.io = &io};
  cr_assert_eq(tide_prepare_init(&ps.p, prep_starter_cb), 0);
  ps.p.data = &ps;
  cr_assert_eq(tide_prepare_start(loop, &ps.p), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "PR", "an io watcher started by a prepare callback is part of the wait");
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

struct idle_counter {
  tide_idle i;
  int n, stop_at;
};

static void idle_count_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  struct idle_counter *c = w->data;
  if (revents != TIDE_IDLE) c->stop_at = -1000;
  if (++c->n == c->stop_at) tide_idle_stop(loop, w);
}

Test(phases, idle_prevents_blocking_and_keeps_loop_alive) {
  tide_loop *loop = tt_loop();
  struct idle_counter ic = {.stop_at = 100};
  cr_assert_eq(tide_idle_init(&ic.i, idle_count_cb), 0);
  ic.i.data = &ic;
  cr_assert_eq(tide_idle_start(loop, &ic.i), 0);
  tide_timer t;
  char tt = 'T';
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  cr_assert_eq(tide_timer_init(&t, tag_timer_cb, TT_SEC(10), 0), 0);
  t.data = &tt;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(1), "ONCE blocked although an idle watcher is active");
  cr_assert_eq(ic.n, 1);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(ic.n, 100, "idle runs once per iteration until it stops itself");
  cr_assert_str_eq(lg.s, "");
  tt_free(loop);
}

Test(phases, idle_waits_while_io_is_pending) {
  /* A level-triggered io watcher that is always ready: idle never runs. */
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p[2];
  tt_pipe(p);
  tt_write1(p[1]);
  char tr = 'R', ti = 'I';
  tide_io io;
  tide_idle id;
  cr_assert_eq(tide_io_init(&io, tag_io_cb, p[0], TIDE_READ), 0);
  io.data = &tr;
  cr_assert_eq(tide_idle_init(&id, tag_idle_cb), 0);
  id.data = &ti;
  cr_assert_eq(tide_io_start(loop, &io), 0);
  cr_assert_eq(tide_idle_start(loop, &id), 0);
  for (int k = 0; k < 5; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "RRRRR");
  tt_drain(p[0]);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "RRRRRI");
  cr_assert_eq(tide_io_stop(loop, &io), 0);
  cr_assert_eq(tide_idle_stop(loop, &id), 0);
  tt_free(loop);
  tt_close2(p);
}

/* ------------------------------------------------------------ priorities */

Test(prio, fed_events_run_by_priority_then_fifo) {
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  /* tags 'a'.. in feed order, with these priorities */
  static const int pr[] = {0, -2, 2, 1, -1, 2, 0, -2, 1, -1, 0, 2, -2, 1, 0};
  enum { N = sizeof pr / sizeof pr[0] };
  tide_idle w[N];
  char tag[N];
  for (int k = 0; k < N; k++) {
    tag[k] = (char)('a' + k);
    cr_assert_eq(tide_idle_init(&w[k], tag_idle_cb), 0);
    w[k].data = &tag[k];
    cr_assert_eq(tide_set_priority(&w[k], pr[k]), 0);
    int got = 99;
    cr_assert_eq(tide_get_priority(&w[k], &got), 0);
    cr_assert_eq(got, pr[k]);
  }
  for (int k = 0; k < N; k++) cr_assert_eq(tide_feed_event(loop, &w[k], TIDE_CUSTOM), 0);
  cr_assert_str_eq(lg.s, "", "tide_feed_event never runs the callback itself");
  /* expected: stable sort by priority, descending */
  char want[N + 1];
  int m = 0;
  for (int p = TIDE_MAXPRI; p >= TIDE_MINPRI; p--)
    for (int k = 0; k < N; k++)
      if (pr[k] == p) want[m++] = tag[k];
  want[m] = '\0';
  tt_watchdog keep;
  tt_watchdog_start(loop, &keep, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_str_eq(lg.s, want);
  for (int k = 0; k < N; k++) cr_assert_eq(tide_is_pending(&w[k]), 0);
  tt_watchdog_stop(loop, &keep);
  tt_free(loop);
}

Test(prio, fed_events_of_every_watcher_type) {
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p[2];
  tt_pipe(p);
  char tags[] = "IOTPCA";
  tide_idle wi;
  tide_io wo;
  tide_timer wt;
  tide_prepare wp;
  tide_check wc;
  tide_async wa;
  cr_assert_eq(tide_idle_init(&wi, tag_idle_cb), 0);
  cr_assert_eq(tide_io_init(&wo, tag_io_cb, p[0], TIDE_READ), 0);
  cr_assert_eq(tide_timer_init(&wt, tag_timer_cb, TT_SEC(10), 0), 0);
  cr_assert_eq(tide_prepare_init(&wp, tag_prepare_cb), 0);
  cr_assert_eq(tide_check_init(&wc, tag_check_cb), 0);
  cr_assert_eq(tide_async_init(&wa, tag_async_cb), 0);
  wi.data = &tags[0];
  wo.data = &tags[1];
  wt.data = &tags[2];
  wp.data = &tags[3];
  wc.data = &tags[4];
  wa.data = &tags[5];
  cr_assert_eq(tide_set_priority(&wa, TIDE_MAXPRI), 0);
  cr_assert_eq(tide_set_priority(&wi, TIDE_MINPRI), 0);
  /* wt is active; the others are not */
  cr_assert_eq(tide_timer_start(loop, &wt), 0);
  void *ws[] = {&wi, &wo, &wt, &wp, &wc, &wa};
  for (int k = 0; k < 6; k++) cr_assert_eq(tide_feed_event(loop, ws[k], TIDE_CUSTOM), 0);
  for (int k = 0; k < 6; k++) cr_assert_eq(tide_is_pending(ws[k]), 1);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_str_eq(lg.s, "AOTPCI");
  cr_assert_eq(tide_is_active(&wt), 1, "feeding an active timer does not stop it");
  cr_assert_eq(tide_is_active(&wo), 0, "feeding does not start a watcher");
  cr_assert_eq(tide_timer_stop(loop, &wt), 0);
  tt_free(loop);
  tt_close2(p);
}

struct revents_rec {
  tide_io io;
  int calls;
  unsigned revents;
  int pending_in_cb;
};

static void revents_io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  struct revents_rec *r = w->data;
  r->calls++;
  r->revents = revents;
  r->pending_in_cb = tide_is_pending(w);
}

Test(prio, feed_ors_revents_of_a_pending_watcher) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct revents_rec r = {.calls = 0};
  cr_assert_eq(tide_io_init(&r.io, revents_io_cb, p[0], TIDE_READ), 0);
  r.io.data = &r;
  cr_assert_eq(tide_is_pending(&r.io), 0);
  cr_assert_eq(tide_feed_event(loop, &r.io, TIDE_CUSTOM), 0);
  cr_assert_eq(tide_is_pending(&r.io), 1);
  cr_assert_eq(tide_feed_event(loop, &r.io, TIDE_WRITE), 0);
  cr_assert_eq(tide_feed_event(loop, &r.io, TIDE_CUSTOM), 0);
  cr_assert_eq(r.calls, 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(r.calls, 1, "one pending event, one callback");
  cr_assert_eq(r.revents, TIDE_CUSTOM | TIDE_WRITE, "revents %#x", r.revents);
  cr_assert_eq(r.pending_in_cb, 0, "not pending any more while its callback runs");
  cr_assert_eq(tide_is_pending(&r.io), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(prio, real_events_run_by_priority) {
  /* In one iteration: two io watchers, two timers and a check, all pending. */
  tide_loop *loop = tt_loop();
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  int p1[2], p2[2];
  tt_pipe(p1);
  tt_pipe(p2);
  tt_write1(p1[1]);
  tt_write1(p2[1]);
  char ta = 'a', tb = 'b', tc = 'c', td = 'd', te = 'e';
  tide_io io1, io2;
  tide_timer t1, t2;
  tide_check ck;
  cr_assert_eq(tide_io_init(&io1, tag_io_stop_cb, p1[0], TIDE_READ), 0);
  cr_assert_eq(tide_io_init(&io2, tag_io_stop_cb, p2[0], TIDE_READ), 0);
  cr_assert_eq(tide_timer_init(&t1, tag_timer_cb, 0, 0), 0);
  cr_assert_eq(tide_timer_init(&t2, tag_timer_cb, 0, 0), 0);
  cr_assert_eq(tide_check_init(&ck, tag_check_cb), 0);
  /* a: timer +2, b: io +1, c: check 0, d: io -1, e: timer -2 */
  t1.data = &ta;
  io1.data = &tb;
  ck.data = &tc;
  io2.data = &td;
  t2.data = &te;
  cr_assert_eq(tide_set_priority(&t1, 2), 0);
  cr_assert_eq(tide_set_priority(&io1, 1), 0);
  cr_assert_eq(tide_set_priority(&io2, -1), 0);
  cr_assert_eq(tide_set_priority(&t2, -2), 0);
  cr_assert_eq(tide_timer_start(loop, &t2), 0);
  cr_assert_eq(tide_io_start(loop, &io2), 0);
  cr_assert_eq(tide_check_start(loop, &ck), 0);
  cr_assert_eq(tide_io_start(loop, &io1), 0);
  cr_assert_eq(tide_timer_start(loop, &t1), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  /* The io events may need the kernel to report them in one wait; with all
   * fds ready and both timers due before the first wait, one ONCE suffices. */
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_str_eq(lg.s, "abcde");
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_check_stop(loop, &ck), 0);
  tt_free(loop);
  tt_close2(p1);
  tt_close2(p2);
}

Test(prio, set_priority_rules) {
  tide_loop *loop = tt_loop();
  tide_timer t;
  int got = 42;
  cr_assert_eq(tide_timer_init(&t, tag_timer_cb, TT_SEC(10), 0), 0);
  cr_assert_eq(tide_get_priority(&t, &got), 0);
  cr_assert_eq(got, 0, "default priority is 0");
  cr_assert_eq(tide_set_priority(&t, TIDE_MAXPRI + 1), -EINVAL);
  cr_assert_eq(tide_set_priority(&t, TIDE_MINPRI - 1), -EINVAL);
  cr_assert_eq(tide_set_priority(&t, 1000), -EINVAL);
  cr_assert_eq(tide_get_priority(&t, &got), 0);
  cr_assert_eq(got, 0, "a refused set changes nothing");
  cr_assert_eq(tide_set_priority(&t, TIDE_MINPRI), 0);
  cr_assert_eq(tide_set_priority(&t, TIDE_MAXPRI), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_set_priority(&t, 0), -EBUSY, "active");
  cr_assert_eq(tide_get_priority(&t, &got), 0);
  cr_assert_eq(got, TIDE_MAXPRI);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  char tag = 'x';
  t.data = &tag;
  struct call_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  cr_assert_eq(tide_feed_event(loop, &t, TIDE_CUSTOM), 0);
  cr_assert_eq(tide_set_priority(&t, 0), -EBUSY, "pending");
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_str_eq(lg.s, "x");
  cr_assert_eq(tide_set_priority(&t, -1), 0);
  /* init resets the priority */
  cr_assert_eq(tide_timer_init(&t, tag_timer_cb, 0, 0), 0);
  cr_assert_eq(tide_get_priority(&t, &got), 0);
  cr_assert_eq(got, 0, "init resets the priority");
  tt_free(loop);
}

/* ------------------------------------------------------------ callbacks */

struct stopper_pair {
  tide_timer a, b;
  int a_calls, b_calls;
  int b_pending_before, b_pending_after, stop_rc;
};

static void pair_a_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct stopper_pair *s = w->data;
  s->a_calls++;
  s->b_pending_before = tide_is_pending(&s->b);
  s->stop_rc = tide_timer_stop(loop, &s->b);
  s->b_pending_after = tide_is_pending(&s->b);
}

static void pair_b_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ((struct stopper_pair *)w->data)->b_calls++;
}

Test(callback, stopping_a_pending_watcher_cancels_its_callback) {
  tide_loop *loop = tt_loop();
  struct stopper_pair s;
  memset(&s, 0, sizeof s);
  cr_assert_eq(tide_timer_init(&s.a, pair_a_cb, 0, 0), 0);
  cr_assert_eq(tide_timer_init(&s.b, pair_b_cb, 0, 0), 0);
  s.a.data = s.b.data = &s;
  /* same priority, a first in FIFO order */
  cr_assert_eq(tide_timer_start(loop, &s.a), 0);
  cr_assert_eq(tide_timer_start(loop, &s.b), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(s.a_calls, 1);
  cr_assert_eq(s.b_pending_before, 1, "b was due in the same iteration");
  cr_assert_eq(s.stop_rc, 0);
  cr_assert_eq(s.b_pending_after, 0);
  cr_assert_eq(s.b_calls, 0, "a stopped watcher's pending callback must not run");
  tt_free(loop);
}

struct io_pair {
  tide_io a, b;
  int a_calls, b_calls;
};

static void io_pair_a_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  struct io_pair *s = w->data;
  s->a_calls++;
  tide_io_stop(loop, &s->b);
  tide_io_stop(loop, w);
}

static void io_pair_b_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  struct io_pair *s = w->data;
  s->b_calls++;
  tide_io_stop(loop, w);
}

Test(callback, stopping_a_pending_io_watcher_cancels_its_callback) {
  tide_loop *loop = tt_loop();
  int p1[2], p2[2];
  tt_pipe(p1);
  tt_pipe(p2);
  tt_write1(p1[1]);
  tt_write1(p2[1]);
  struct io_pair s;
  memset(&s, 0, sizeof s);
  cr_assert_eq(tide_io_init(&s.a, io_pair_a_cb, p1[0], TIDE_READ), 0);
  cr_assert_eq(tide_io_init(&s.b, io_pair_b_cb, p2[0], TIDE_READ), 0);
  cr_assert_eq(tide_set_priority(&s.a, 1), 0); /* a runs first */
  s.a.data = s.b.data = &s;
  cr_assert_eq(tide_io_start(loop, &s.a), 0);
  cr_assert_eq(tide_io_start(loop, &s.b), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(s.a_calls, 1);
  cr_assert_eq(s.b_calls, 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p1);
  tt_close2(p2);
}

/* A heap-allocated watcher freed by its own callback while the loop continues. */
struct heap_timer {
  tide_timer t;
  int *counter;
  int repeating;
};

static void free_self_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct heap_timer *h = (struct heap_timer *)w; /* t is the first member */
  ++*h->counter;
  if (h->repeating) tide_timer_stop(loop, w);
  memset(h, 0x5A, sizeof *h); /* make a use after free visible without ASan too */
  free(h);
}

struct heap_io {
  tide_io io;
  int fd;
  int *counter;
};

static void free_self_io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  struct heap_io *h = (struct heap_io *)w;
  ++*h->counter;
  tide_io_stop(loop, w);
  memset(h, 0x5A, sizeof *h);
  free(h);
}

static void free_self_oneshot_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  (void)revents;
  struct heap_io *h = (struct heap_io *)w;
  ++*h->counter;
  memset(h, 0x5A, sizeof *h); /* ONESHOT: already stopped */
  free(h);
}

static void count_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ++*(int *)w->data;
}

Test(callback, watcher_may_free_itself) {
  tide_loop *loop = tt_loop();
  int fired = 0, later = 0;
  enum { NT = 20 };
  for (int k = 0; k < NT; k++) {
    struct heap_timer *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    h->counter = &fired;
    h->repeating = k & 1;
    cr_assert_eq(tide_timer_init(&h->t, free_self_timer_cb, TT_US(100) * (uint64_t)(k % 4),
                                 h->repeating ? TT_MS(1) : 0),
                 0);
    cr_assert_eq(tide_timer_start(loop, &h->t), 0);
  }
  int p[2];
  tt_pipe(p);
  tt_write1(p[1]);
  int io_fired = 0;
  for (int k = 0; k < 4; k++) { /* four watchers on one fd, all pending together */
    struct heap_io *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    h->counter = &io_fired;
    h->fd = p[0];
    cr_assert_eq(tide_io_init(&h->io, (k & 1) ? free_self_oneshot_cb : free_self_io_cb, p[0],
                              TIDE_READ | ((k & 1) ? TIDE_ONESHOT : 0)),
                 0);
    cr_assert_eq(tide_io_start(loop, &h->io), 0);
  }
  tide_timer after;
  cr_assert_eq(tide_timer_init(&after, count_timer_cb, TT_MS(20), 0), 0);
  after.data = &later;
  cr_assert_eq(tide_timer_start(loop, &after), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(fired, NT);
  cr_assert_eq(io_fired, 4);
  cr_assert_eq(later, 1, "the loop continues after watchers freed themselves");
  /* the fd is still usable by a new watcher after all watchers on it were freed */
  int again = 0;
  struct heap_io *h = malloc(sizeof *h);
  cr_assert_not_null(h);
  h->counter = &again;
  cr_assert_eq(tide_io_init(&h->io, free_self_io_cb, p[0], TIDE_READ), 0);
  cr_assert_eq(tide_io_start(loop, &h->io), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(again, 1);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

struct self_restart {
  tide_idle i;
  int n;
  int active_after_stop, active_after_start;
};

static void idle_restart_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  (void)revents;
  struct self_restart *s = w->data;
  s->n++;
  tide_idle_stop(loop, w);
  s->active_after_stop = tide_is_active(w);
  if (s->n < 5) {
    tide_idle_start(loop, w);
    s->active_after_start = tide_is_active(w);
  }
}

Test(callback, watcher_may_stop_and_restart_itself) {
  tide_loop *loop = tt_loop();
  struct self_restart s = {.n = 0};
  cr_assert_eq(tide_idle_init(&s.i, idle_restart_cb), 0);
  s.i.data = &s;
  cr_assert_eq(tide_idle_start(loop, &s.i), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(s.n, 5);
  cr_assert_eq(s.active_after_stop, 0);
  cr_assert_eq(s.active_after_start, 1);
  tt_free(loop);
}

struct self_reinit {
  tide_check c;
  int first, second;
  int reinit_rc;
};

static void check_second_cb(tide_loop *loop, tide_check *w, unsigned revents) {
  struct self_reinit *s = w->data;
  (void)revents;
  s->second++;
  tide_check_stop(loop, w);
}

static void check_first_cb(tide_loop *loop, tide_check *w, unsigned revents) {
  struct self_reinit *s = w->data;
  (void)revents;
  s->first++;
  tide_check_stop(loop, w);
  s->reinit_rc = tide_check_init(w, check_second_cb);
  w->data = s;
  tide_check_start(loop, w);
}

Test(callback, watcher_may_reinit_itself) {
  tide_loop *loop = tt_loop();
  struct self_reinit s = {.first = 0};
  cr_assert_eq(tide_check_init(&s.c, check_first_cb), 0);
  s.c.data = &s;
  cr_assert_eq(tide_check_start(loop, &s.c), 0);
  /* NOWAIT: a check watcher alone does not stop the loop from blocking */
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(s.first, 1);
  cr_assert_eq(s.second, 0);
  cr_assert_eq(tide_is_active(&s.c), 1);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(s.reinit_rc, 0);
  cr_assert_eq(s.first, 1);
  cr_assert_eq(s.second, 1);
  tt_free(loop);
}

/* prepare and check watchers count as active and keep the loop alive */
struct pc_counter {
  tide_prepare p;
  tide_check c;
  int np, nc;
};

static void pc_prepare_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  struct pc_counter *s = w->data;
  if (revents != TIDE_PREPARE) s->np = -1000;
  if (++s->np == 10) tide_prepare_stop(loop, w);
}

static void pc_check_cb(tide_loop *loop, tide_check *w, unsigned revents) {
  struct pc_counter *s = w->data;
  if (revents != TIDE_CHECK) s->nc = -1000;
  if (++s->nc == 10) tide_check_stop(loop, w);
}

Test(phases, prepare_and_check_run_each_iteration) {
  tide_loop *loop = tt_loop();
  struct pc_counter s = {.np = 0};
  cr_assert_eq(tide_prepare_init(&s.p, pc_prepare_cb), 0);
  cr_assert_eq(tide_check_init(&s.c, pc_check_cb), 0);
  s.p.data = s.c.data = &s;
  cr_assert_eq(tide_prepare_start(loop, &s.p), 0);
  cr_assert_eq(tide_check_start(loop, &s.c), 0);
  for (int k = 1; k <= 10; k++) {
    int rc = tide_run(loop, TIDE_RUN_NOWAIT);
    cr_assert_eq(rc, k < 10 ? 1 : 0, "iteration %d: %d", k, rc);
    cr_assert_eq(s.np, k);
    cr_assert_eq(s.nc, k);
  }
  cr_assert_eq(tide_is_active(&s.p), 0);
  cr_assert_eq(tide_is_active(&s.c), 0);
  tt_free(loop);
}
