/* SPDX-License-Identifier: MIT */
/*
 * test_io.c - io watchers: level and edge triggering, ONESHOT, several watchers
 * on one fd, tide_io_modify, hang-up, many fds, fd number reuse.
 */
#include "common.h"

#include <stdio.h>

TestSuite(io, .timeout = 30);

/* An io watcher that records its calls. */
struct rio {
  tide_io w;
  int calls;
  unsigned revents;     /* last */
  unsigned all_revents; /* OR of all */
  int active_in_cb;     /* tide_is_active in the last call */
  int drain;            /* read to EAGAIN in the callback */
  int stop;             /* stop itself in the callback */
  long bytes;
};

static void rio_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct rio *r = w->data;
  r->calls++;
  r->revents = revents;
  r->all_revents |= revents;
  r->active_in_cb = tide_is_active(w);
  if (r->drain) r->bytes += tt_drain(tide_io_fd(w));
  if (r->stop) tide_io_stop(loop, w);
}

static void rio_init(struct rio *r, int fd, unsigned events) {
  memset(r, 0, sizeof *r);
  cr_assert_eq(tide_io_init(&r->w, rio_cb, fd, events), 0);
  r->w.data = r;
  cr_assert_eq(tide_io_fd(&r->w), fd);
}

/* ------------------------------------------------------------ level */

Test(io, level_triggered_fires_every_iteration_while_ready) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r.calls, 0, "not readable yet");
  tt_write1(p[1]);
  for (int k = 1; k <= 5; k++) {
    cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
    cr_assert_eq(wd.fired, 0);
    cr_assert_eq(r.calls, k, "level-triggered: one callback per iteration while unread");
    cr_assert_eq(r.revents, TIDE_READ, "revents %#x", r.revents);
    cr_assert_eq(r.active_in_cb, 1);
  }
  /* drained: no more callbacks */
  cr_assert_eq(tt_drain(p[0]), 1);
  tt_run_for(loop, TT_MS(50));
  cr_assert_eq(r.calls, 5);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(io, write_readiness) {
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct rio r;
  rio_init(&r, sv[0], TIDE_WRITE);
  r.stop = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.revents, TIDE_WRITE, "revents %#x", r.revents);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(sv);
}

/* ------------------------------------------------------------ edge */

Test(io, edge_triggered_fires_once_per_write_when_not_drained) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ | TIDE_EDGE);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_iter_counter ic;
  tt_iter_start(loop, &ic);
  tt_write1(p[1]);
  tt_run_for(loop, TT_MS(100));
  if (tt_edge_native(loop)) {
    cr_assert_eq(r.calls, 1, "%s: edge-triggered watcher fired %d times for one write",
                 tide_loop_backend(loop), r.calls);
    cr_assert_lt(ic.n, 50, "%s: %ld iterations in 100 ms: the loop spins", tide_loop_backend(loop),
                 ic.n);
  } else {
    /* poll/select deliver TIDE_EDGE level-triggered (documented) */
    cr_assert_gt(r.calls, 1, "%s: TIDE_EDGE is level-triggered here, fired only %d times",
                 tide_loop_backend(loop), r.calls);
  }
  cr_assert_eq(r.revents & (TIDE_READ | TIDE_WRITE | TIDE_ERROR), TIDE_READ, "revents %#x",
               r.revents);
  tt_iter_stop(loop, &ic);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(p);
}

struct edge_writer {
  tide_timer t;
  int fd;
  int writes, max;
};

static void edge_writer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct edge_writer *e = w->data;
  tt_write1(e->fd);
  if (++e->writes == e->max) tide_timer_stop(loop, w);
}

Test(io, edge_triggered_fires_again_after_drain_and_new_write) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ | TIDE_EDGE);
  r.drain = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  /* a timer writes one byte every 20 ms, three times */
  struct edge_writer e = {.fd = p[1], .max = 3};
  cr_assert_eq(tide_timer_init(&e.t, edge_writer_cb, TT_MS(20), TT_MS(20)), 0);
  e.t.data = &e;
  cr_assert_eq(tide_timer_start(loop, &e.t), 0);
  tt_run_for(loop, TT_MS(150));
  cr_assert_eq(e.writes, 3);
  cr_assert_eq(r.bytes, 3);
  cr_assert_eq(r.calls, 3, "%s: drained edge watcher fired %d times for 3 writes",
               tide_loop_backend(loop), r.calls);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(io, edge_triggered_write_readiness) {
  /* writable socket: an edge watcher on WRITE reports once, not every iteration */
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct rio r;
  rio_init(&r, sv[0], TIDE_WRITE | TIDE_EDGE);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_run_for(loop, TT_MS(60));
  if (tt_edge_native(loop))
    cr_assert_eq(r.calls, 1, "%s: fired %d times", tide_loop_backend(loop), r.calls);
  else
    cr_assert_gt(r.calls, 1);
  cr_assert(r.all_revents & TIDE_WRITE);
  cr_assert_eq(r.all_revents & TIDE_READ, 0u, "a WRITE watcher got TIDE_READ");
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(sv);
}

/* ------------------------------------------------------------ oneshot */

Test(io, oneshot_stops_before_callback_and_can_restart) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ | TIDE_ONESHOT);
  r.active_in_cb = 99;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_write1(p[1]); /* never drained */
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.active_in_cb, 0, "ONESHOT: inactive inside the callback");
  cr_assert_eq(r.revents & TIDE_READ, TIDE_READ);
  cr_assert_eq(tide_is_active(&r.w), 0);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0, "a fired ONESHOT watcher holds no reference");
  tt_run_for(loop, TT_MS(30));
  cr_assert_eq(r.calls, 1, "ONESHOT fired again without a restart");

  /* restart: fires again (the byte is still unread) */
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 2);
  cr_assert_eq(r.active_in_cb, 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

struct oneshot_restart {
  tide_io w;
  int calls;
  int active_before, active_after;
};

static void oneshot_restart_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)revents;
  struct oneshot_restart *s = w->data;
  s->calls++;
  s->active_before = tide_is_active(w);
  if (s->calls < 5) tide_io_start(loop, w);
  s->active_after = tide_is_active(w);
}

Test(io, oneshot_restarted_in_its_callback) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  tt_write1(p[1]);
  struct oneshot_restart s = {.calls = 0};
  cr_assert_eq(tide_io_init(&s.w, oneshot_restart_cb, p[0], TIDE_READ | TIDE_ONESHOT), 0);
  s.w.data = &s;
  cr_assert_eq(tide_io_start(loop, &s.w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(s.calls, 5);
  cr_assert_eq(s.active_before, 0);
  cr_assert_eq(s.active_after, 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

/* ------------------------------------------------------------ two watchers, one fd */

struct duo {
  tide_io rd, wr;
  int fd, peer;
  int rd_calls, wr_calls;
  unsigned rd_rev, wr_rev;
  char seq[16];
  int n;
};

static void duo_rd_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct duo *d = w->data;
  d->rd_calls++;
  d->rd_rev |= revents;
  if (d->n < 15) d->seq[d->n++] = 'R';
  tt_drain(d->fd);
  tide_io_stop(loop, w);
}

static void duo_wr_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct duo *d = w->data;
  d->wr_calls++;
  d->wr_rev |= revents;
  if (d->n < 15) d->seq[d->n++] = 'W';
  tide_io_stop(loop, w);
  tt_write1(d->peer); /* now our fd becomes readable */
}

Test(io, read_and_write_watchers_on_one_fd) {
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct duo d;
  memset(&d, 0, sizeof d);
  d.fd = sv[0];
  d.peer = sv[1];
  cr_assert_eq(tide_io_init(&d.rd, duo_rd_cb, sv[0], TIDE_READ), 0);
  cr_assert_eq(tide_io_init(&d.wr, duo_wr_cb, sv[0], TIDE_WRITE), 0);
  d.rd.data = d.wr.data = &d;
  cr_assert_eq(tide_io_start(loop, &d.rd), 0);
  cr_assert_eq(tide_io_start(loop, &d.wr), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0, "the read watcher never fired (seq '%s')", d.seq);
  cr_assert_str_eq(d.seq, "WR");
  cr_assert_eq(d.wr_rev, TIDE_WRITE, "write watcher revents %#x", d.wr_rev);
  cr_assert_eq(d.rd_rev, TIDE_READ, "read watcher revents %#x", d.rd_rev);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(sv);
}

Test(io, both_watchers_fire_with_own_events_and_stop_independently) {
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  tt_write1(sv[1]); /* sv[0] readable and writable */
  struct rio rd, wr;
  rio_init(&rd, sv[0], TIDE_READ);
  rio_init(&wr, sv[0], TIDE_WRITE);
  cr_assert_eq(tide_io_start(loop, &rd.w), 0);
  cr_assert_eq(tide_io_start(loop, &wr.w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  /* both ready; a backend may report them in one or two waits */
  if (rd.calls == 0 || wr.calls == 0) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_geq(rd.calls, 1);
  cr_assert_geq(wr.calls, 1);
  cr_assert_eq(rd.all_revents, TIDE_READ, "read watcher got %#x", rd.all_revents);
  cr_assert_eq(wr.all_revents, TIDE_WRITE, "write watcher got %#x", wr.all_revents);

  /* stop the write watcher: the read watcher keeps firing, the write one not */
  cr_assert_eq(tide_io_stop(loop, &wr.w), 0);
  int wc = wr.calls, rc0 = rd.calls;
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wr.calls, wc, "stopped write watcher still called");
  cr_assert_eq(rd.calls, rc0 + 3);

  /* stop the read watcher, restart the write one: only write fires */
  cr_assert_eq(tide_io_stop(loop, &rd.w), 0);
  cr_assert_eq(tide_io_start(loop, &wr.w), 0);
  int rc1 = rd.calls;
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(rd.calls, rc1, "stopped read watcher still called");
  cr_assert_eq(wr.calls, wc + 3);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(tide_io_stop(loop, &wr.w), 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(sv);
}

Test(io, two_read_watchers_on_one_fd) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio a, b;
  rio_init(&a, p[0], TIDE_READ);
  rio_init(&b, p[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &a.w), 0);
  cr_assert_eq(tide_io_start(loop, &b.w), 0);
  tt_write1(p[1]);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(a.calls, 1);
  cr_assert_eq(b.calls, 1);
  cr_assert_eq(tide_io_stop(loop, &a.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(a.calls, 1);
  cr_assert_eq(b.calls, 2, "stopping one watcher must not silence the other on the same fd");
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(tide_io_stop(loop, &b.w), 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

/* ------------------------------------------------------------ modify */

struct modifier {
  tide_timer t;
  tide_io *w;
  struct rio *r;
  int calls_at_modify;
  int rc;
};

static void modifier_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  struct modifier *m = w->data;
  m->calls_at_modify = m->r->calls;
  m->rc = tide_io_modify(m->w, TIDE_WRITE);
}

Test(io, modify_active_watcher_read_to_write) {
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct rio r;
  rio_init(&r, sv[0], TIDE_READ); /* never readable */
  r.stop = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  struct modifier m = {.w = &r.w, .r = &r, .rc = 1};
  cr_assert_eq(tide_timer_init(&m.t, modifier_cb, TT_MS(30), 0), 0);
  m.t.data = &m;
  cr_assert_eq(tide_timer_start(loop, &m.t), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0, "the modified watcher never reported WRITE");
  cr_assert_eq(m.rc, 0);
  cr_assert_eq(m.calls_at_modify, 0, "fired before the modify (not readable)");
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.revents, TIDE_WRITE, "revents %#x", r.revents);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(sv);
}

static void modify_to_read_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  struct rio *r = w->data;
  r->calls++;
  r->all_revents |= revents;
  tide_io_modify(w, TIDE_READ);
}

Test(io, modify_active_watcher_write_to_read) {
  /* A WRITE watcher on an always-writable socket, changed to READ in its first
   * callback: no more callbacks until data arrives. */
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct rio r;
  memset(&r, 0, sizeof r);
  cr_assert_eq(tide_io_init(&r.w, modify_to_read_cb, sv[0], TIDE_WRITE), 0);
  r.w.data = &r;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_run_for(loop, TT_MS(60));
  cr_assert_eq(r.calls, 1, "still called (%d times) after modify to READ", r.calls);
  cr_assert_eq(r.all_revents, TIDE_WRITE, "revents %#x", r.all_revents);
  cr_assert_eq(tide_is_active(&r.w), 1);
  tt_write1(sv[1]);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 2);
  cr_assert_eq(r.all_revents, TIDE_WRITE | TIDE_READ);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(sv);
}

Test(io, modify_inactive_and_invalid) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[1], TIDE_READ); /* the write end never becomes readable */
  cr_assert_eq(tide_io_modify(&r.w, TIDE_WRITE), 0);
  cr_assert_eq(tide_io_modify(&r.w, 0), -EINVAL, "no READ/WRITE bit");
  cr_assert_eq(tide_io_modify(&r.w, TIDE_EDGE), -EINVAL);
  cr_assert_eq(tide_io_modify(&r.w, TIDE_WRITE | 0x4u), -EINVAL, "unknown bit");
  cr_assert_eq(tide_io_modify(&r.w, TIDE_WRITE | TIDE_TIMER), -EINVAL);
  r.stop = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(r.calls, 1, "the modify of the inactive watcher (to WRITE) took effect");
  cr_assert_eq(r.revents, TIDE_WRITE);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

/* ------------------------------------------------------------ misc */

Test(io, stop_clears_pending_event) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  cr_assert_eq(tide_feed_event(loop, &r.w, TIDE_READ), 0);
  cr_assert_eq(tide_is_pending(&r.w), 1);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  cr_assert_eq(tide_is_pending(&r.w), 0, "tide_io_stop clears a pending event");
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(r.calls, 0);
  /* also for a fed but inactive watcher */
  cr_assert_eq(tide_feed_event(loop, &r.w, TIDE_READ), 0);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  cr_assert_eq(tide_is_pending(&r.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(r.calls, 0);
  tt_free(loop);
  tt_close2(p);
}

Test(io, hangup_is_reported_as_readable) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ);
  r.stop = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  close(p[1]);
  p[1] = -1;
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(wd.fired, 0, "a hang-up must wake a READ watcher");
  cr_assert_eq(r.calls, 1);
  cr_assert(r.revents & TIDE_READ, "revents %#x", r.revents);
  char c;
  cr_assert_eq(read(p[0], &c, 1), 0, "EOF");
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

Test(io, socket_peer_close_wakes_reader) {
  tide_loop *loop = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  struct rio r;
  rio_init(&r, sv[0], TIDE_READ);
  r.stop = 1;
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r.calls, 0);
  close(sv[1]);
  sv[1] = -1;
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 1);
  cr_assert(r.revents & TIDE_READ, "revents %#x", r.revents);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(sv);
}

Test(io, many_fds_only_ready_ones_fire) {
  tide_loop *loop = tt_loop();
  enum { N = 200 };
  int (*p)[2] = calloc(N, sizeof *p);
  struct rio *r = calloc(N, sizeof *r);
  cr_assert(p && r);
  for (int k = 0; k < N; k++) {
    tt_pipe(p[k]);
    rio_init(&r[k], p[k][0], TIDE_READ);
    r[k].drain = 1;
    r[k].stop = 1;
    cr_assert_eq(tide_io_start(loop, &r[k].w), 0);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  for (int k = 0; k < N; k += 3) tt_write1(p[k][1]);
  tt_run_for(loop, TT_MS(100));
  for (int k = 0; k < N; k++) {
    if (k % 3 == 0) {
      cr_assert_eq(r[k].calls, 1, "fd %d (ready) called %d times", k, r[k].calls);
      cr_assert_eq(r[k].bytes, 1);
    } else {
      cr_assert_eq(r[k].calls, 0, "fd %d (not ready) called", k);
      cr_assert_eq(tide_io_stop(loop, &r[k].w), 0);
    }
  }
  tt_free(loop);
  for (int k = 0; k < N; k++) tt_close2(p[k]);
  free(p);
  free(r);
}

/* A watcher on fd N is stopped and N is closed; a new file gets number N and a
 * new watcher is started on it, all before the loop iterates again. The kernel
 * dropped (epoll) or still holds (io_uring) the old file; the new one must be
 * watched. variant 0: stop, then close. variant 1: close while watched, then stop. */
static void fd_number_reused(int variant) {
  tide_loop *loop = tt_loop();
  tt_watchdog wd;
  int p[2];
  tt_pipe(p);
  struct rio a;
  rio_init(&a, p[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &a.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1); /* registered with the kernel */
  int old = p[0];
  if (variant == 0) {
    cr_assert_eq(tide_io_stop(loop, &a.w), 0);
    tt_close2(p);
  } else {
    tt_close2(p);
    cr_assert_eq(tide_io_stop(loop, &a.w), 0);
  }
  int q[2];
  tt_pipe(q);
  cr_assert_eq(q[0], old, "test setup: the fd number was not reused");
  struct rio b;
  rio_init(&b, q[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &b.w), 0);
  tt_write1(q[1]);
  tt_watchdog_start(loop, &wd, TT_SEC(3));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0, "%s: a watcher on a reused fd number never fired",
               tide_loop_backend(loop));
  cr_assert_eq(b.calls, 1);
  cr_assert_eq(b.revents, TIDE_READ);
  cr_assert_eq(a.calls, 0);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &b.w), 0);
  tt_close2(q);
  tt_free(loop);
}

Test(io, fd_number_reused_stop_then_close) { fd_number_reused(0); }
Test(io, fd_number_reused_close_then_stop) { fd_number_reused(1); }

/* Same, but the old watcher stays active on the fd number while it is closed and
 * reused: a *second* watcher started on the new file must be watched too
 * (the library cannot know the file changed, except by asking the kernel). This
 * is the caller's mistake (close before stop), so only "no crash, no hang of the
 * healthy fd" is asserted: a second, healthy fd keeps working. */
Test(io, closed_and_reused_fd_does_not_disturb_other_fds) {
  tide_loop *loop = tt_loop();
  int p[2], h[2];
  tt_pipe(p);
  tt_pipe(h);
  struct rio a, healthy;
  rio_init(&a, p[0], TIDE_READ);
  rio_init(&healthy, h[0], TIDE_READ);
  healthy.drain = 1;
  cr_assert_eq(tide_io_start(loop, &a.w), 0);
  cr_assert_eq(tide_io_start(loop, &healthy.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  tt_close2(p);
  int q[2];
  tt_pipe(q);
  tt_write1(h[1]);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(3));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(healthy.calls, 1);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &a.w), 0);
  cr_assert_eq(tide_io_stop(loop, &healthy.w), 0);
  tt_free(loop);
  tt_close2(q);
  tt_close2(h);
}

Test(io, dup_fds_are_watched_independently) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  int d = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
  cr_assert_geq(d, 0);
  struct rio a, b;
  rio_init(&a, p[0], TIDE_READ);
  rio_init(&b, d, TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &a.w), 0);
  cr_assert_eq(tide_io_start(loop, &b.w), 0);
  tt_write1(p[1]);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  if (a.calls == 0 || b.calls == 0) cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_geq(a.calls, 1);
  cr_assert_geq(b.calls, 1);
  /* stop and close the duplicate: the original keeps working */
  cr_assert_eq(tide_io_stop(loop, &b.w), 0);
  close(d);
  int ac = a.calls;
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(a.calls, ac + 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(tide_io_stop(loop, &a.w), 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
  tt_close2(p);
}

Test(io, restart_after_stop_in_same_iteration) {
  /* stop + start without an iteration in between: the watcher keeps working */
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  for (int k = 0; k < 10; k++) {
    cr_assert_eq(tide_io_stop(loop, &r.w), 0);
    cr_assert_eq(tide_io_start(loop, &r.w), 0);
  }
  tt_write1(p[1]);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 1);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(io, init_resets_watcher) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct rio r;
  rio_init(&r, p[0], TIDE_READ);
  cr_assert_eq(tide_set_priority(&r.w, 2), 0);
  cr_assert_eq(tide_io_start(loop, &r.w), 0);
  cr_assert_eq(tide_io_init(&r.w, rio_cb, p[1], TIDE_WRITE), -EINVAL, "init of an active watcher");
  cr_assert_eq(tide_io_fd(&r.w), p[0], "a refused init changes nothing");
  cr_assert_eq(tide_is_active(&r.w), 1);
  cr_assert_eq(tide_io_stop(loop, &r.w), 0);
  cr_assert_eq(tide_io_init(&r.w, rio_cb, p[1], TIDE_WRITE), 0);
  int prio = 9;
  cr_assert_eq(tide_get_priority(&r.w, &prio), 0);
  cr_assert_eq(prio, 0);
  cr_assert_eq(tide_io_fd(&r.w), p[1]);
  cr_assert_eq(tide_is_active(&r.w), 0);
  cr_assert_eq(tide_is_pending(&r.w), 0);
  tt_free(loop);
  tt_close2(p);
}
