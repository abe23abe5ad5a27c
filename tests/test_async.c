/* SPDX-License-Identifier: MIT */
/*
 * test_async.c - tide_async_send from other threads: delivery, coalescing, and the
 * guarantee that no send is lost (the callback runs at least once after the last
 * send returned).
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

TestSuite(async, .timeout = 60);

struct acount {
  tide_async a;
  int calls;
  unsigned revents;
  int stop_at;
};

static void acount_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  struct acount *c = w->data;
  c->calls++;
  c->revents |= revents;
  if (c->calls == c->stop_at) tide_async_stop(loop, w);
}

Test(async, send_runs_callback_once) {
  tide_loop *loop = tt_loop();
  struct acount c = {.calls = 0};
  cr_assert_eq(tide_async_init(&c.a, acount_cb), 0);
  c.a.data = &c;
  cr_assert_eq(tide_async_start(loop, &c.a), 0);
  cr_assert_eq(tide_async_send(loop, &c.a), 0);
  cr_assert_eq(c.calls, 0, "never inside the send");
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(c.calls, 1);
  cr_assert_eq(c.revents, TIDE_ASYNC, "revents %#x", c.revents);
  cr_assert_eq(tide_is_active(&c.a), 1, "an async watcher stays active after its callback");
  tt_watchdog_stop(loop, &wd);
  /* no send: no callback */
  tt_run_for(loop, TT_MS(30));
  cr_assert_eq(c.calls, 1);
  cr_assert_eq(tide_async_stop(loop, &c.a), 0);
  tt_free(loop);
}

Test(async, sends_coalesce) {
  tide_loop *loop = tt_loop();
  struct acount c = {.calls = 0};
  cr_assert_eq(tide_async_init(&c.a, acount_cb), 0);
  c.a.data = &c;
  cr_assert_eq(tide_async_start(loop, &c.a), 0);
  for (int k = 0; k < 1000; k++) cr_assert_eq(tide_async_send(loop, &c.a), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(c.calls, 1, "1000 sends before the loop noticed: one callback, got %d", c.calls);
  tt_watchdog_stop(loop, &wd);
  tt_run_for(loop, TT_MS(30));
  cr_assert_eq(c.calls, 1, "the coalesced sends must not trigger later callbacks");
  /* and it works again afterwards */
  cr_assert_eq(tide_async_send(loop, &c.a), 0);
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(c.calls, 2);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_async_stop(loop, &c.a), 0);
  tt_free(loop);
}

Test(async, only_the_sent_watcher_runs) {
  tide_loop *loop = tt_loop();
  struct acount c[3];
  for (int k = 0; k < 3; k++) {
    memset(&c[k], 0, sizeof c[k]);
    cr_assert_eq(tide_async_init(&c[k].a, acount_cb), 0);
    c[k].a.data = &c[k];
    cr_assert_eq(tide_async_start(loop, &c[k].a), 0);
  }
  cr_assert_eq(tide_async_send(loop, &c[1].a), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(c[0].calls, 0);
  cr_assert_eq(c[1].calls, 1);
  cr_assert_eq(c[2].calls, 0);
  cr_assert_eq(tide_async_send(loop, &c[0].a), 0);
  cr_assert_eq(tide_async_send(loop, &c[2].a), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(c[0].calls, 1);
  cr_assert_eq(c[1].calls, 1);
  cr_assert_eq(c[2].calls, 1);
  cr_assert_eq(wd.fired, 0);
  tt_watchdog_stop(loop, &wd);
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_async_stop(loop, &c[k].a), 0);
  tt_free(loop);
}

Test(async, send_to_inactive_watcher_takes_effect_on_start) {
  tide_loop *loop = tt_loop();
  struct acount c = {.stop_at = 1};
  cr_assert_eq(tide_async_init(&c.a, acount_cb), 0);
  c.a.data = &c;
  cr_assert_eq(tide_async_send(loop, &c.a), 0, "sending to an inactive watcher is accepted");
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(c.calls, 0, "an inactive watcher's callback does not run");
  cr_assert_eq(tide_async_start(loop, &c.a), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0, "the earlier send was lost when the watcher was started");
  cr_assert_eq(c.calls, 1);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
}

Test(async, active_watcher_keeps_loop_alive) {
  tide_loop *loop = tt_loop();
  struct acount c = {.stop_at = 1};
  cr_assert_eq(tide_async_init(&c.a, acount_cb), 0);
  c.a.data = &c;
  cr_assert_eq(tide_async_start(loop, &c.a), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(tide_async_send(loop, &c.a), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0); /* the callback stops it */
  cr_assert_eq(c.calls, 1);
  tt_free(loop);
}

/* ------------------------------------------------------------ many threads */

enum { NTHREADS = 4, PER_THREAD = 2500, TOTAL = NTHREADS * PER_THREAD };

struct storm {
  tide_async a;
  tide_timer watchdog;
  tide_loop *loop;
  atomic_int announced; /* incremented before each send */
  atomic_int bad_rc;
  /* loop thread only */
  int calls;
  int last_seen;
  int monotonic_ok;
  int watchdog_fired;
};

static void *storm_thread(void *arg) {
  struct storm *s = arg;
  for (int k = 0; k < PER_THREAD; k++) {
    /* seq_cst: happens before the send; so a callback that runs because of this
     * send (or a later one) sees the increment. */
    atomic_fetch_add(&s->announced, 1);
    if (tide_async_send(s->loop, &s->a) != 0) atomic_fetch_add(&s->bad_rc, 1);
  }
  return NULL;
}

static void storm_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)revents;
  struct storm *s = w->data;
  int seen = atomic_load(&s->announced);
  s->calls++;
  if (seen < s->last_seen) s->monotonic_ok = 0;
  s->last_seen = seen;
  /* Every send was announced before it was made. The guarantee: after the last
   * send returned, the callback runs at least once more; that run sees all
   * TOTAL announcements. If a send were lost, this never happens and only the
   * watchdog ends the loop. */
  if (seen == TOTAL) {
    tide_async_stop(loop, w);
    tide_timer_stop(loop, &s->watchdog);
  }
}

static void storm_watchdog_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct storm *s = w->data;
  s->watchdog_fired = 1;
  tide_async_stop(loop, &s->a);
}

Test(async, four_threads_no_send_lost) {
  tide_loop *loop = tt_loop();
  struct storm s;
  memset(&s, 0, sizeof s);
  s.loop = loop;
  s.monotonic_ok = 1;
  atomic_init(&s.announced, 0);
  atomic_init(&s.bad_rc, 0);
  cr_assert_eq(tide_async_init(&s.a, storm_cb), 0);
  s.a.data = &s;
  cr_assert_eq(tide_async_start(loop, &s.a), 0);
  cr_assert_eq(tide_timer_init(&s.watchdog, storm_watchdog_cb, TT_SEC(30), 0), 0);
  s.watchdog.data = &s;
  cr_assert_eq(tide_timer_start(loop, &s.watchdog), 0);

  pthread_t th[NTHREADS];
  for (int k = 0; k < NTHREADS; k++)
    cr_assert_eq(pthread_create(&th[k], NULL, storm_thread, &s), 0);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  for (int k = 0; k < NTHREADS; k++) pthread_join(th[k], NULL);

  cr_assert_eq(s.watchdog_fired, 0,
               "a send was lost: last callback saw %d of %d announced sends (%d callbacks)",
               s.last_seen, TOTAL, s.calls);
  cr_assert_eq(rc, 0);
  cr_assert_eq(atomic_load(&s.bad_rc), 0, "tide_async_send failed");
  cr_assert_geq(s.calls, 1);
  cr_assert_leq(s.calls, TOTAL, "more callbacks (%d) than sends", s.calls);
  cr_assert_eq(s.last_seen, TOTAL);
  cr_assert(s.monotonic_ok);
  cr_assert_eq(tide_is_active(&s.a), 0);
  cr_assert_eq(tide_is_active(&s.watchdog), 0);
  cr_log_info("%s: %d sends from %d threads gave %d callbacks", tide_loop_backend(loop), TOTAL,
              NTHREADS, s.calls);
  tt_free(loop);
}

/* Ping-pong: the thread sends, then waits for the callback's acknowledgement
 * before the next send. Any lost send deadlocks (bounded by the watchdog). */
enum { ROUNDS = 2000 };

struct pingpong {
  tide_async a;
  tide_timer watchdog;
  tide_loop *loop;
  int ack[2]; /* blocking pipe: loop -> thread */
  atomic_int sent;
  int acked;
  int calls;
  int watchdog_fired;
  atomic_int thread_err;
};

static void *pingpong_thread(void *arg) {
  struct pingpong *p = arg;
  char c;
  for (int k = 0; k < ROUNDS; k++) {
    atomic_fetch_add(&p->sent, 1);
    if (tide_async_send(p->loop, &p->a) != 0) atomic_store(&p->thread_err, 1);
    if (read(p->ack[0], &c, 1) != 1) {
      atomic_store(&p->thread_err, 2);
      return NULL;
    }
  }
  return NULL;
}

static void pingpong_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)revents;
  struct pingpong *p = w->data;
  p->calls++;
  int seen = atomic_load(&p->sent);
  /* acknowledge each new send once; a spurious callback acknowledges nothing */
  while (p->acked < seen) {
    p->acked++;
    tt_write1(p->ack[1]);
  }
  if (p->acked == ROUNDS) {
    tide_async_stop(loop, w);
    tide_timer_stop(loop, &p->watchdog);
  }
}

static void pingpong_watchdog_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct pingpong *p = w->data;
  p->watchdog_fired = 1;
  tide_async_stop(loop, &p->a);
  close(p->ack[1]); /* unblocks the thread with EOF */
  p->ack[1] = -1;
}

Test(async, ping_pong_every_send_delivered) {
  tide_loop *loop = tt_loop();
  struct pingpong p;
  memset(&p, 0, sizeof p);
  p.loop = loop;
  atomic_init(&p.sent, 0);
  atomic_init(&p.thread_err, 0);
  cr_assert_eq(pipe(p.ack), 0);
  cr_assert_eq(tide_async_init(&p.a, pingpong_cb), 0);
  p.a.data = &p;
  cr_assert_eq(tide_async_start(loop, &p.a), 0);
  cr_assert_eq(tide_timer_init(&p.watchdog, pingpong_watchdog_cb, TT_SEC(30), 0), 0);
  p.watchdog.data = &p;
  cr_assert_eq(tide_timer_start(loop, &p.watchdog), 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, pingpong_thread, &p), 0);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  pthread_join(th, NULL);
  cr_assert_eq(p.watchdog_fired, 0, "a send was lost after %d of %d rounds", p.acked, ROUNDS);
  cr_assert_eq(rc, 0);
  cr_assert_eq(atomic_load(&p.thread_err), 0);
  cr_assert_eq(p.acked, ROUNDS);
  cr_assert_geq(p.calls, ROUNDS);
  tt_free(loop);
  tt_close2(p.ack);
}

/* Sends racing with the loop's scan for sent watchers. Watcher X is started
 * first, then many idle async watchers, then N. Each round the thread sends to N
 * (which wakes the loop and makes it scan all watchers), waits a varying few
 * microseconds, then sends to X as its *last* send and waits until X's callback
 * has seen it. If a send that lands during the scan, after X was looked at, is
 * dropped, nothing sends again and the thread waits forever (watchdog). The
 * spin only varies the interleaving; correctness never depends on it. */
enum { RROUNDS = 4000, NDUMMY = 2048 };

struct racer {
  tide_async x, n;
  tide_async *dummy;
  tide_timer watchdog;
  tide_loop *loop;
  atomic_int announced;
  atomic_int acked;
  int ack[2]; /* blocking pipe: X's callback -> thread */
  int watchdog_fired;
  int x_calls, n_calls;
};

static void racer_x_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)revents;
  struct racer *r = w->data;
  r->x_calls++;
  int seen = atomic_load(&r->announced);
  if (seen > atomic_load(&r->acked)) {
    atomic_store(&r->acked, seen);
    tt_write1(r->ack[1]);
  }
  if (seen == RROUNDS) {
    tide_async_stop(loop, w);
    tide_async_stop(loop, &r->n);
    tide_timer_stop(loop, &r->watchdog);
  }
}

static void racer_n_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ((struct racer *)w->data)->n_calls++;
}

static void racer_dummy_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

static void racer_watchdog_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct racer *r = w->data;
  r->watchdog_fired = 1;
  tide_async_stop(loop, &r->x);
  tide_async_stop(loop, &r->n);
  close(r->ack[1]); /* EOF unblocks the thread */
  r->ack[1] = -1;
}

static void *racer_thread(void *arg) {
  struct racer *r = arg;
  unsigned seed = 1;
  char c;
  for (int k = 1; k <= RROUNDS; k++) {
    tide_async_send(r->loop, &r->n);
    seed = seed * 1103515245u + 12345u;
    tt_spin_ns((seed >> 16) % 40000u); /* 0..40 us */
    atomic_store(&r->announced, k);
    tide_async_send(r->loop, &r->x);
    while (atomic_load(&r->acked) < k)
      if (read(r->ack[0], &c, 1) != 1) return (void *)1;
  }
  return NULL;
}

Test(async, send_racing_with_the_scan_is_not_lost) {
  tide_loop *loop = tt_loop();
  struct racer r;
  memset(&r, 0, sizeof r);
  r.loop = loop;
  atomic_init(&r.announced, 0);
  atomic_init(&r.acked, 0);
  cr_assert_eq(pipe(r.ack), 0);
  cr_assert_eq(tide_async_init(&r.x, racer_x_cb), 0);
  cr_assert_eq(tide_async_init(&r.n, racer_n_cb), 0);
  r.x.data = r.n.data = &r;
  r.dummy = calloc(NDUMMY, sizeof *r.dummy);
  cr_assert_not_null(r.dummy);
  cr_assert_eq(tide_async_start(loop, &r.x), 0);
  for (int k = 0; k < NDUMMY; k++) {
    cr_assert_eq(tide_async_init(&r.dummy[k], racer_dummy_cb), 0);
    cr_assert_eq(tide_async_start(loop, &r.dummy[k]), 0);
    cr_assert_eq(tide_unref(loop), 0); /* the dummies do not keep the loop alive */
  }
  cr_assert_eq(tide_async_start(loop, &r.n), 0);
  cr_assert_eq(tide_timer_init(&r.watchdog, racer_watchdog_cb, TT_SEC(20), 0), 0);
  r.watchdog.data = &r;
  cr_assert_eq(tide_timer_start(loop, &r.watchdog), 0);

  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, racer_thread, &r), 0);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  void *tr;
  pthread_join(th, &tr);
  cr_assert_eq(r.watchdog_fired, 0, "a send was lost in round %d of %d (%d X callbacks)",
               atomic_load(&r.acked) + 1, RROUNDS, r.x_calls);
  cr_assert_null(tr);
  cr_assert_eq(rc, 0);
  cr_assert_eq(atomic_load(&r.acked), RROUNDS);
  for (int k = 0; k < NDUMMY; k++) {
    cr_assert_eq(tide_ref(loop), 0);
    cr_assert_eq(tide_async_stop(loop, &r.dummy[k]), 0);
  }
  cr_assert_eq(tide_unref(loop), -ERANGE, "reference count is off");
  free(r.dummy);
  tt_free(loop);
  tt_close2(r.ack);
}

/* tide_loop_wakeup from several threads at once while the loop blocks: every
 * round returns; nothing crashes (the function is thread-safe). */
struct wake_storm {
  tide_loop *loop;
  atomic_int stop;
};

static void *wake_thread(void *arg) {
  struct wake_storm *w = arg;
  while (!atomic_load(&w->stop)) tide_loop_wakeup(w->loop);
  return NULL;
}

Test(async, concurrent_wakeups) {
  tide_loop *loop = tt_loop();
  struct wake_storm w;
  w.loop = loop;
  atomic_init(&w.stop, 0);
  tt_watchdog keep;
  tt_watchdog_start(loop, &keep, TT_SEC(30));
  pthread_t th[3];
  for (int k = 0; k < 3; k++) cr_assert_eq(pthread_create(&th[k], NULL, wake_thread, &w), 0);
  uint64_t t0 = tt_now_ns();
  for (int k = 0; k < 1000; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  atomic_store(&w.stop, 1);
  for (int k = 0; k < 3; k++) pthread_join(th[k], NULL);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(20));
  cr_assert_eq(keep.fired, 0);
  tt_watchdog_stop(loop, &keep);
  tt_free(loop);
}
