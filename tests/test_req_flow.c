/* SPDX-License-Identifier: MIT */
/*
 * test_req_flow.c - completion requests over time: waiting for readiness
 * (EAGAIN paths), FIFO order per fd, TIDE_ALL across segments / EOF / a slow
 * reader, cancellation races, timeouts, tide_close with requests in flight,
 * multishot accept, sendfile of a large file, 10,000 requests in flight,
 * provided-buffer pools, tide_op_support.
 *
 * Every test runs on the backend named by TIDE_TEST_BACKEND (tests/common.h).
 */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

TestSuite(flow, .timeout = 60);

static tide_loop *req_loop(void) {
  tide_loop *loop = tt_loop();
  tt_req_loop = loop;
  tt_req_order_next = 0;
  return loop;
}

static char g_tmp[256];
static void rm_tmp(void) {
  tt_rmtree(g_tmp);
  g_tmp[0] = '\0';
}

enum { K_SOCKETPAIR, K_TCP, K_PIPE };
static const char *kind_name[] = {"socketpair", "tcp", "pipe"};

/* fds for a byte stream of the given kind: rw[0] is read by the request,
 * rw[1] written by the test. */
static void stream_open(int kind, int rw[2]) {
  if (kind == K_PIPE) {
    tt_pipe(rw);
  } else if (kind == K_SOCKETPAIR) {
    tt_socketpair(rw);
  } else {
    tt_tcp_pair(rw);
  }
}

static int stream_read(tide_loop *loop, int kind, tide_req *req, int fd, void *buf, size_t len,
                       unsigned flags, tide_req_cb cb) {
  if (kind == K_PIPE) return tide_read(loop, req, fd, buf, len, -1, flags, cb);
  return tide_recv(loop, req, fd, buf, len, 0, flags, cb);
}

/* ------------------------------------------------------------ EAGAIN: receive waits */

static void read_waits_for_data(int kind) {
  tide_loop *loop = req_loop();
  int rw[2];
  stream_open(kind, rw);
  tt_req r;
  tt_req_init(&r);
  char buf[64];
  memset(buf, 0, sizeof buf);
  cr_assert_eq(TT_SUBMIT(stream_read(loop, kind, &r.req, rw[0], buf, sizeof buf, 0, tt_req_cb)), 0);
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r.calls, 0, "%s: completed without data: %zd (%s)", kind_name[kind], r.res,
               tide_strerror((int)r.res));
  tt_later w;
  tt_later_start(loop, &w, TT_MS(30), rw[1], TT_LATER_WRITE, "hello", 5);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "%s: no completion after the data came",
            kind_name[kind]);
  cr_assert_eq(w.rc, 5);
  cr_assert_eq(r.res, 5, "%s: %zd (%s)", kind_name[kind], r.res, tide_strerror((int)r.res));
  cr_assert_eq(memcmp(buf, "hello", 5), 0);
  cr_assert_geq(r.at_ns, w.at_ns);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(r.calls, 1);
  tt_close2(rw);
  tt_free(loop);
}

Test(flow, recv_before_data_socketpair) { read_waits_for_data(K_SOCKETPAIR); }
Test(flow, recv_before_data_tcp) { read_waits_for_data(K_TCP); }
Test(flow, read_before_data_pipe) { read_waits_for_data(K_PIPE); }

/* ------------------------------------------------------------ EAGAIN: send waits */

/* A repeating timer that drains an fd: counts bytes, keeps those past skip in
 * tail[] (up to tail_cap). */
struct drainer {
  tide_timer t;
  int fd;
  size_t per_tick; /* max bytes read per tick (0: until EAGAIN) */
  size_t total;
  size_t skip;
  unsigned char *tail;
  size_t tail_cap;
  size_t tail_len;
  uint64_t fnv;
  size_t pattern_bad_at; /* SIZE_MAX: pattern intact so far (if check_pattern) */
  int check_pattern;
  int eof;
  int done; /* total reached want */
  size_t want;
};

static void drainer_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)loop;
  (void)revents;
  struct drainer *d = t->data;
  static unsigned char buf[65536];
  size_t budget = d->per_tick ? d->per_tick : SIZE_MAX;
  while (budget > 0) {
    size_t ask = budget < sizeof buf ? budget : sizeof buf;
    ssize_t n = read(d->fd, buf, ask);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) d->eof = 1;
    if (n <= 0) break;
    budget -= (size_t)n;
    for (size_t i = 0; i < (size_t)n; i++) {
      size_t pos = d->total + i;
      if (pos >= d->skip && d->tail != NULL && d->tail_len < d->tail_cap)
        d->tail[d->tail_len++] = buf[i];
    }
    if (d->check_pattern && d->pattern_bad_at == SIZE_MAX) {
      size_t bad = tt_check_pattern(buf, (size_t)n, d->total);
      if (bad != (size_t)n) d->pattern_bad_at = d->total + bad;
    }
    d->fnv = tt_fnv1a(d->fnv, buf, (size_t)n);
    d->total += (size_t)n;
  }
  if (d->want && d->total >= d->want) d->done = 1;
}

static void drainer_start(tide_loop *loop, struct drainer *d, int fd, uint64_t period) {
  cr_assert_eq(tide_timer_init(&d->t, drainer_cb, period, period), 0);
  d->t.data = d;
  d->fd = fd;
  d->fnv = TT_FNV1A_INIT;
  d->pattern_bad_at = SIZE_MAX;
  cr_assert_eq(tide_timer_start(loop, &d->t), 0);
}

static void send_waits_for_room(int kind) {
  tide_loop *loop = req_loop();
  int sv[2];
  stream_open(kind, sv);
  size_t filled = tt_fill_socket(sv[0]);
  cr_assert_gt(filled, 0u);
  static char msg[1000];
  tt_fill_pattern(msg, sizeof msg, 0);
  tt_req s;
  tt_req_init(&s);
  cr_assert_eq(TT_SUBMIT(tide_send(loop, &s.req, sv[0], msg, sizeof msg, 0, 0, tt_req_cb)), 0);
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(s.calls, 0, "%s: send into a full socket completed: %zd (%s)", kind_name[kind],
               s.res, tide_strerror((int)s.res));
  struct drainer d;
  memset(&d, 0, sizeof d);
  unsigned char tail[sizeof msg];
  d.skip = filled;
  d.tail = tail;
  d.tail_cap = sizeof tail;
  drainer_start(loop, &d, sv[1], TT_MS(5));
  cr_assert(tt_run_until(loop, &s.calls, 1, TT_SEC(10)), "%s: send did not complete after drain",
            kind_name[kind]);
  cr_assert_gt(s.res, 0, "%s: send: %zd (%s)", kind_name[kind], s.res, tide_strerror((int)s.res));
  cr_assert_leq(s.res, (ssize_t)sizeof msg);
  d.want = filled + (size_t)s.res;
  cr_assert(tt_run_until(loop, &d.done, 1, TT_SEC(10)), "%s: peer got %zu of %zu bytes",
            kind_name[kind], d.total, d.want);
  cr_assert_eq(d.total, d.want, "%s: peer got %zu bytes, expected %zu", kind_name[kind], d.total,
               d.want);
  cr_assert_eq(memcmp(tail, msg, (size_t)s.res), 0, "%s: the sent bytes differ", kind_name[kind]);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(tide_timer_stop(loop, &d.t), 0);
  tt_close2(sv);
  tt_free(loop);
}

Test(flow, send_into_full_buffer_socketpair) { send_waits_for_room(K_SOCKETPAIR); }
Test(flow, send_into_full_buffer_tcp) { send_waits_for_room(K_TCP); }

/* ------------------------------------------------------------ FIFO per fd */

static void fifo_reads(int kind) {
  tide_loop *loop = req_loop();
  int rw[2];
  stream_open(kind, rw);
  enum { N = 6 };
  tt_req r[N];
  char got[N];
  memset(got, 0, sizeof got);
  for (int k = 0; k < N; k++) {
    tt_req_init(&r[k]);
    cr_assert_eq(stream_read(loop, kind, &r[k].req, rw[0], &got[k], 1, 0, tt_req_cb), 0);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  for (int k = 0; k < N; k++) cr_assert_eq(r[k].calls, 0);
  cr_assert_eq(write(rw[1], "ABCDEF", N), N);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  for (;;) {
    int done = 0;
    for (int k = 0; k < N; k++) done += r[k].calls;
    if (done >= N || wd.fired) break;
    tide_run(loop, TIDE_RUN_ONCE);
  }
  tt_watchdog_stop(loop, &wd);
  for (int k = 0; k < N; k++) {
    cr_assert_eq(r[k].calls, 1, "%s: read %d: %d callbacks", kind_name[kind], k, r[k].calls);
    cr_assert_eq(r[k].res, 1, "%s: read %d: %zd", kind_name[kind], k, r[k].res);
  }
  cr_assert_eq(memcmp(got, "ABCDEF", N), 0,
               "%s: reads queued in order 0..5 got '%.6s', not 'ABCDEF' (FIFO per fd)",
               kind_name[kind], got);
  for (int k = 1; k < N; k++)
    cr_assert_lt(r[k - 1].order, r[k].order, "%s: callbacks out of submit order",
                 kind_name[kind]);
  tt_close2(rw);
  tt_free(loop);
}

Test(flow, fifo_reads_on_one_pipe) { fifo_reads(K_PIPE); }
Test(flow, fifo_recvs_on_one_socket) { fifo_reads(K_SOCKETPAIR); }

/* ------------------------------------------------------------ TIDE_ALL */

/* Writes a message in segments of 1, 7, 100, 1000, 1, 7, ... bytes, one per tick. */
struct seg_writer {
  tide_timer t;
  int fd;
  const char *data;
  size_t len, off;
  int idx;
  int segments;
  uint64_t done_at;
  int error;
};

static void seg_writer_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)revents;
  static const size_t sizes[] = {1, 7, 100, 1000};
  struct seg_writer *w = t->data;
  size_t n = sizes[w->idx++ % 4];
  if (n > w->len - w->off) n = w->len - w->off;
  if (tt_write_all(w->fd, w->data + w->off, n, 5000) != n) w->error = 1;
  w->off += n;
  w->segments++;
  if (w->off == w->len) {
    w->done_at = tt_now_ns();
    tide_timer_stop(loop, t);
  }
}

static void all_in_segments(int kind) {
  tide_loop *loop = req_loop();
  int rw[2];
  stream_open(kind, rw);
  enum { LEN = 3000 };
  static char msg[LEN], buf[LEN + 16];
  tt_fill_pattern(msg, LEN, 3);
  memset(buf, 0, sizeof buf);
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(TT_SUBMIT(stream_read(loop, kind, &r.req, rw[0], buf, LEN, TIDE_ALL, tt_req_cb)), 0);
  struct seg_writer w;
  memset(&w, 0, sizeof w);
  w.fd = rw[1];
  w.data = msg;
  w.len = LEN;
  cr_assert_eq(tide_timer_init(&w.t, seg_writer_cb, TT_MS(2), TT_MS(2)), 0);
  w.t.data = &w;
  cr_assert_eq(tide_timer_start(loop, &w.t), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "%s: no completion", kind_name[kind]);
  cr_assert_eq(w.error, 0);
  cr_assert_eq(r.res, LEN, "%s: TIDE_ALL completed with %zd after %d segments (%zu bytes sent)",
               kind_name[kind], r.res, w.segments, w.off);
  cr_assert_eq(w.off, (size_t)LEN);
  cr_assert_geq(r.at_ns, w.done_at, "%s: completed before the last segment", kind_name[kind]);
  cr_assert_eq(memcmp(buf, msg, LEN), 0, "%s: data differs at %zu", kind_name[kind],
               tt_check_pattern(buf, LEN, 3));
  cr_assert_eq(w.segments, 12, "segments: %d", w.segments); /* (1+7+100+1000) * 2 + 1 + 7 + 100 + 676 */
  tt_run_for0(loop, TT_MS(20));
  cr_assert_eq(r.calls, 1, "%s: %d callbacks", kind_name[kind], r.calls);
  tide_timer_stop(loop, &w.t);
  tt_close2(rw);
  tt_free(loop);
}

Test(flow, all_recv_3000_bytes_in_segments_socketpair) { all_in_segments(K_SOCKETPAIR); }
Test(flow, all_recv_3000_bytes_in_segments_tcp) { all_in_segments(K_TCP); }
Test(flow, all_read_3000_bytes_in_segments_pipe) { all_in_segments(K_PIPE); }

static void all_until_eof(int kind) {
  tide_loop *loop = req_loop();
  int rw[2];
  stream_open(kind, rw);
  static char msg[800], buf[3000];
  tt_fill_pattern(msg, sizeof msg, 11);
  memset(buf, 0, sizeof buf);
  cr_assert_eq(write(rw[1], msg, 500), 500);
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(TT_SUBMIT(stream_read(loop, kind, &r.req, rw[0], buf, sizeof buf, TIDE_ALL,
                                     tt_req_cb)),
               0);
  tt_later w, c;
  tt_later_start(loop, &w, TT_MS(15), rw[1], TT_LATER_WRITE, msg + 500, 300);
  tt_later_start(loop, &c, TT_MS(30), rw[1], kind == K_PIPE ? TT_LATER_CLOSE : TT_LATER_SHUTWR,
                 NULL, 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "%s: no completion at EOF",
            kind_name[kind]);
  cr_assert_eq(w.rc, 300);
  cr_assert_eq(c.rc, 0);
  cr_assert_eq(r.res, 800, "%s: TIDE_ALL ended by EOF: res %zd, expected the 800 bytes moved",
               kind_name[kind], r.res);
  cr_assert_geq(r.at_ns, c.at_ns, "%s: completed before EOF", kind_name[kind]);
  cr_assert_eq(memcmp(buf, msg, 800), 0);
  if (kind == K_PIPE) rw[1] = -1;
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(r.calls, 1);
  tt_close2(rw);
  tt_free(loop);
}

Test(flow, all_recv_stops_at_eof_with_the_count_socketpair) { all_until_eof(K_SOCKETPAIR); }
Test(flow, all_read_stops_at_eof_with_the_count_pipe) { all_until_eof(K_PIPE); }

Test(flow, all_send_4mib_to_a_slow_reader) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_tcp_pair(sv);
  /* small buffers, so the 4 MiB cannot sit in the kernel: the send must wait */
  int small = 32 * 1024;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const size_t LEN = 4u << 20;
  char *msg = malloc(LEN);
  cr_assert_not_null(msg);
  tt_fill_pattern(msg, LEN, 0);
  uint64_t want_fnv = tt_fnv1a(TT_FNV1A_INIT, msg, LEN);
  tt_req s;
  tt_req_init(&s);
  cr_assert_eq(TT_SUBMIT(tide_send(loop, &s.req, sv[0], msg, LEN, 0, TIDE_ALL, tt_req_cb)), 0);
  struct drainer d;
  memset(&d, 0, sizeof d);
  d.per_tick = 32 * 1024;
  d.check_pattern = 1;
  d.want = LEN;
  drainer_start(loop, &d, sv[1], TT_MS(1));
  cr_assert(tt_run_until(loop, &s.calls, 1, TT_SEC(30)), "send stalled; reader got %zu",
            d.total);
  size_t drained_at_cb = d.total;
  cr_assert_eq(s.res, (ssize_t)LEN, "TIDE_ALL send: %zd of %zu", s.res, LEN);
  cr_assert_gt(drained_at_cb, LEN / 2,
               "completed when the reader had only %zu bytes: buffers cannot hold the rest",
               drained_at_cb);
  cr_assert(tt_run_until(loop, &d.done, 1, TT_SEC(20)), "reader got %zu of %zu", d.total, LEN);
  cr_assert_eq(d.total, LEN);
  cr_assert_eq(d.pattern_bad_at, SIZE_MAX, "data differs at byte %zu", d.pattern_bad_at);
  cr_assert_eq(d.fnv, want_fnv);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(tide_timer_stop(loop, &d.t), 0);
  free(msg);
  tt_close2(sv);
  tt_free(loop);
}

Test(flow, all_send_peer_closes_midway_gives_the_partial_count) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  const size_t LEN = 4u << 20;
  char *msg = calloc(1, LEN);
  cr_assert_not_null(msg);
  tt_req s;
  tt_req_init(&s);
  cr_assert_eq(tide_send(loop, &s.req, sv[0], msg, LEN, 0, TIDE_ALL, tt_req_cb), 0);
  tt_later c;
  tt_later_start(loop, &c, TT_MS(20), sv[1], TT_LATER_CLOSE, NULL, 0);
  cr_assert(tt_run_until(loop, &s.calls, 1, TT_SEC(10)));
  sv[1] = -1;
  cr_assert_gt(s.res, 0, "bytes moved before the error must be reported, got %zd (%s)", s.res,
               tide_strerror((int)s.res));
  cr_assert_lt(s.res, (ssize_t)LEN);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(s.calls, 1);
  free(msg);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ cancel */

Test(flow, cancel_before_completion_gives_one_ecanceled) {
  tide_loop *loop = req_loop();
  int sv[2], p[2], full[2];
  tt_socketpair(sv);
  tt_pipe(p);
  tt_socketpair(full);
  tt_fill_socket(full[0]);
  struct sockaddr_in la;
  int l = tt_tcp_listener(1, &la);
  char buf[16];
  static char out[4096];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const char *names[] = {"recv", "read", "accept", "sleep", "recvmsg", "send(full)", "readv"};
  enum { N = 7 };
  for (int op = 0; op < N; op++) {
    tt_req r;
    tt_req_init(&r);
    int rc = -1;
    switch (op) {
      case 0: rc = tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb); break;
      case 1: rc = tide_read(loop, &r.req, p[0], buf, sizeof buf, -1, 0, tt_req_cb); break;
      case 2: rc = tide_accept(loop, &r.req, l, NULL, NULL, 0, 0, tt_req_cb); break;
      case 3: rc = tide_sleep(loop, &r.req, TT_SEC(20), tt_req_cb); break;
      case 4: rc = tide_recvmsg(loop, &r.req, sv[0], &msg, 0, tt_req_cb); break;
      case 5: rc = tide_send(loop, &r.req, full[0], out, sizeof out, 0, 0, tt_req_cb); break;
      case 6: rc = tide_readv(loop, &r.req, p[0], &iov, 1, -1, 0, tt_req_cb); break;
    }
    cr_assert_eq(rc, 0, "%s: submit %d", names[op], rc);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
    cr_assert_eq(r.calls, 0, "%s completed on its own: %zd", names[op], r.res);
    uint64_t t0 = tt_now_ns();
    cr_assert_eq(tide_cancel(loop, &r.req), 0, "%s: cancel", names[op]);
    cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)), "%s: no callback after cancel",
              names[op]);
    cr_assert_eq(r.res, -ECANCELED, "%s: res %zd (%s)", names[op], r.res,
                 tide_strerror((int)r.res));
    cr_assert_eq(r.more, 0);
    cr_assert_lt(r.at_ns - t0, TT_SEC(2), "%s: cancel took %llu ms", names[op],
                 (unsigned long long)((r.at_ns - t0) / 1000000));
    cr_assert_eq(tide_cancel(loop, &r.req), -ENOENT, "%s: cancel after the callback", names[op]);
    tt_run_for0(loop, TT_MS(10));
    cr_assert_eq(r.calls, 1, "%s: %d callbacks", names[op], r.calls);
    /* the request can be used again */
    tt_req_init(&r);
    cr_assert_eq(tide_nop(loop, &r.req, tt_req_cb), 0);
    cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
    cr_assert_eq(r.res, 0);
  }
  /* the cancelled reads consumed nothing; the fds still work */
  cr_assert(tt_write1(p[1]));
  cr_assert_eq(tt_drain(p[0]), 1);
  cr_assert(tt_write1(sv[1]));
  cr_assert_eq(tt_drain(sv[0]), 1);
  close(l);
  tt_close2(sv);
  tt_close2(p);
  tt_close2(full);
  tt_free(loop);
}

/* Cancel B from A's callback, when both completed in the same batch. */
struct pair_cancel {
  tt_req a, b;
  int cancel_rc;
  int cancelled;
};
static struct pair_cancel *g_pc;
static void pc_a_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  tt_req_cb(loop, req, res);
  if (!g_pc->cancelled) {
    g_pc->cancelled = 1;
    g_pc->cancel_rc = tide_cancel(loop, &g_pc->b.req);
  }
}

Test(flow, cancel_after_completion_is_queued_gives_exactly_one_callback) {
  tide_loop *loop = req_loop();
  /* (a) two nops; A's callback cancels B, whose completion is queued or close */
  struct pair_cancel pc;
  memset(&pc, 0, sizeof pc);
  g_pc = &pc;
  tt_req_init(&pc.a);
  tt_req_init(&pc.b);
  cr_assert_eq(tide_nop(loop, &pc.a.req, pc_a_cb), 0);
  cr_assert_eq(tide_nop(loop, &pc.b.req, tt_req_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  while ((pc.a.calls == 0 || pc.b.calls == 0) && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(pc.a.calls, 1);
  cr_assert_eq(pc.b.calls, 1, "B: %d callbacks", pc.b.calls);
  cr_assert(pc.cancel_rc == 0 || (pc.cancel_rc == -ENOENT && pc.b.order < pc.a.order),
            "cancel of a request whose callback has not run: %d", pc.cancel_rc);
  cr_assert(pc.b.res == 0 || pc.b.res == -ECANCELED, "B: res %zd", pc.b.res);

  /* (b) a read whose data is already there, cancelled right after the submit:
   * one callback; res 1 iff the byte was consumed */
  int p[2];
  tt_pipe(p);
  for (int round = 0; round < 20; round++) {
    cr_assert(tt_write1(p[1]));
    tt_req r;
    tt_req_init(&r);
    char ch = 0;
    cr_assert_eq(tide_read(loop, &r.req, p[0], &ch, 1, -1, 0, tt_req_cb), 0);
    if (round % 2) tide_run(loop, TIDE_RUN_NOWAIT); /* sometimes let it complete first */
    int rc = tide_cancel(loop, &r.req);
    if (r.calls == 0) cr_assert_eq(rc, 0, "round %d: cancel in flight: %d", round, rc);
    else cr_assert_eq(rc, -ENOENT, "round %d: cancel after the callback: %d", round, rc);
    cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
    tt_run_for0(loop, TT_MS(2));
    cr_assert_eq(r.calls, 1, "round %d: %d callbacks", round, r.calls);
    long left = tt_drain(p[0]);
    if (r.res == 1) {
      cr_assert_eq(ch, 'x');
      cr_assert_eq(left, 0, "round %d: res 1 but the byte is still in the pipe", round);
    } else {
      cr_assert_eq(r.res, -ECANCELED, "round %d: res %zd", round, r.res);
      cr_assert_eq(left, 1, "round %d: -ECANCELED but the byte was consumed (lost)", round);
    }
  }
  tt_close2(p);
  /* (c) sleep(0) cancelled at once */
  tt_req z;
  tt_req_init(&z);
  cr_assert_eq(tide_sleep(loop, &z.req, 0, tt_req_cb), 0);
  cr_assert_eq(tide_cancel(loop, &z.req), 0);
  cr_assert(tt_run_until(loop, &z.calls, 1, TT_SEC(5)));
  tt_run_for0(loop, TT_MS(5));
  cr_assert_eq(z.calls, 1);
  cr_assert(z.res == 0 || z.res == -ECANCELED, "res %zd", z.res);
  tt_free(loop);
}

Test(flow, double_cancel_is_ealready_and_other_loop_is_enoent) {
  tide_loop *loop = req_loop();
  tide_loop *other = tt_loop();
  int sv[2];
  tt_socketpair(sv);
  char buf[4];
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_cancel(other, &r.req), -ENOENT, "cancel on a loop the request is not on");
  cr_assert_eq(tide_run(other, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(tide_cancel(loop, &r.req), 0);
  cr_assert_eq(tide_cancel(loop, &r.req), -EALREADY);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, -ECANCELED);
  cr_assert_eq(tide_cancel(loop, &r.req), -ENOENT);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(tide_loop_free(other), 0);
  tt_close2(sv);
  tt_free(loop);
}

/* tide_work cancelled while queued behind blocked pool threads. */
static pthread_mutex_t g_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cv = PTHREAD_COND_INITIALIZER;
static int g_gate_open;
static atomic_int g_target_ran;

static void blocker_fn(tide_req *req) {
  (void)req;
  pthread_mutex_lock(&g_gate_mu);
  while (!g_gate_open) pthread_cond_wait(&g_gate_cv, &g_gate_mu);
  pthread_mutex_unlock(&g_gate_mu);
}

static void target_fn(tide_req *req) {
  (void)req;
  atomic_store(&g_target_ran, 1);
}

static void open_gate(void) {
  pthread_mutex_lock(&g_gate_mu);
  g_gate_open = 1;
  pthread_cond_broadcast(&g_gate_cv);
  pthread_mutex_unlock(&g_gate_mu);
}

Test(flow, cancel_queued_work) {
  tide_loop *loop = req_loop();
  /* more blockers than the pool can have threads (at most 128): the target
   * cannot start before the gate opens */
  enum { B = 130 };
  tt_req *b = calloc(B, sizeof *b);
  cr_assert_not_null(b);
  g_gate_open = 0;
  atomic_store(&g_target_ran, 0);
  for (int k = 0; k < B; k++) {
    tt_req_init(&b[k]);
    cr_assert_eq(tide_work(loop, &b[k].req, blocker_fn, tt_req_cb), 0);
  }
  tt_req t;
  tt_req_init(&t);
  cr_assert_eq(tide_work(loop, &t.req, target_fn, tt_req_cb), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  int rc = tide_cancel(loop, &t.req);
  int ran_at_cancel = atomic_load(&g_target_ran);
  open_gate();
  cr_assert_eq(rc, 0);
  cr_assert(tt_run_until(loop, &t.calls, 1, TT_SEC(10)));
  int all = 0;
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  while (!wd.fired) {
    all = 0;
    for (int k = 0; k < B; k++) all += b[k].calls;
    if (all == B) break;
    tide_run(loop, TIDE_RUN_ONCE);
  }
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(all, B, "%d of %d blockers completed", all, B);
  for (int k = 0; k < B; k++) cr_assert_eq(b[k].res, 0);
  cr_assert_eq(t.calls, 1);
  if (atomic_load(&g_target_ran)) {
    /* a LIFO pool could have run it first: then the real result */
    cr_assert_eq(t.res, 0, "target ran, res %zd", t.res);
    cr_log_warn("%s: queued work ran before %d earlier blockers (ran at cancel: %d)",
                tide_loop_backend(loop), B, ran_at_cancel);
  } else {
    cr_assert_eq(t.res, -ECANCELED, "queued work cancelled: res %zd", t.res);
  }
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(atomic_load(&g_target_ran), ran_at_cancel, "cancelled work ran afterwards");
  cr_assert_eq(t.calls, 1);
  free(b);
  tt_free(loop);
}

/* ------------------------------------------------------------ fd reuse */

/* A recv completes; in its callback the program closes the fd with plain close(2)
 * and the same number names a new socket at once (dup2 forces the number), and a
 * recv is submitted on it. The new file must be watched: on epoll the kernel
 * dropped the old file's registration with the close, and the loop used to think
 * the interest it had for that number still stood. */
struct reuse {
  tt_req first, second;
  int fd;       /* the number that gets reused */
  int new_peer; /* the peer of the new socket */
  char buf[8];
};

static void reuse_first_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct reuse *u = (struct reuse *)((char *)req->data - offsetof(struct reuse, first));
  tt_req_cb(loop, req, res);
  int sv[2];
  tt_socketpair(sv);
  cr_assert_eq(dup2(sv[0], u->fd), u->fd); /* closes the old file, same number */
  close(sv[0]);
  u->new_peer = sv[1];
  cr_assert_eq(tide_recv(loop, &u->second.req, u->fd, u->buf, sizeof u->buf, 0, 0, tt_req_cb), 0);
}

Test(flow, a_request_on_a_reused_fd_number_watches_the_new_file) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  struct reuse u;
  memset(&u, 0, sizeof u);
  tt_req_init(&u.first);
  tt_req_init(&u.second);
  u.first.req.data = &u.first;
  u.fd = sv[0];
  char b1[8];
  cr_assert_eq(tide_recv(loop, &u.first.req, u.fd, b1, sizeof b1, 0, 0, reuse_first_cb), 0);
  cr_assert_eq(write(sv[1], "old", 3), 3);
  cr_assert(tt_run_until(loop, &u.first.calls, 1, TT_SEC(5)));
  cr_assert_eq(u.first.res, 3);
  close(sv[1]); /* the old peer is gone too */
  tt_run_for0(loop, TT_MS(20)); /* an iteration passes with the recv waiting */
  cr_assert_eq(write(u.new_peer, "new", 3), 3);
  cr_assert(tt_run_until(loop, &u.second.calls, 1, TT_SEC(3)),
            "the recv on the new file never completed");
  cr_assert_eq(u.second.res, 3, "%zd", u.second.res);
  cr_assert_eq(memcmp(u.buf, "new", 3), 0);
  close(u.new_peer);
  close(u.fd);
  tt_free(loop);
}

/* ------------------------------------------------------------ timeouts */

Test(flow, timeout_on_a_recv_that_never_gets_data) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  char buf[8];
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_MS(50)), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, -ETIMEDOUT, "res %zd (%s)", r.res, tide_strerror((int)r.res));
  cr_assert_geq(r.at_ns - t0, TT_MS(50), "timed out after %llu us",
                (unsigned long long)((r.at_ns - t0) / 1000));
  tt_run_for0(loop, TT_MS(20));
  cr_assert_eq(r.calls, 1);
  /* the timeout applied to that submit only */
  tt_req_init(&r);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  tt_run_for0(loop, TT_MS(120));
  cr_assert_eq(r.calls, 0, "a second submit inherited the timeout: %zd", r.res);
  cr_assert_eq(write(sv[1], "late", 4), 4);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 4);
  cr_assert_eq(memcmp(buf, "late", 4), 0);
  /* set then removed (ns = 0) */
  tt_req_init(&r);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_MS(10)), 0);
  cr_assert_eq(tide_req_set_timeout(&r.req, 0), 0);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  tt_run_for0(loop, TT_MS(60));
  cr_assert_eq(r.calls, 0, "removed timeout still fired: %zd", r.res);
  cr_assert_eq(tide_cancel(loop, &r.req), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, -ECANCELED);
  tt_close2(sv);
  tt_free(loop);
}

/* A sleep that ends before its timeout completes with 0 when the sleep ends (on
 * io_uring the sleep's own timespec used to be overwritten by the link timeout's
 * deadline, so a 10 ms sleep with a 2 s timeout ended after 2 s with -ETIMEDOUT). */
Test(flow, a_sleep_shorter_than_its_timeout_ends_on_time) {
  tide_loop *loop = req_loop();
  tt_req s;
  tt_req_init(&s);
  cr_assert_eq(tide_req_set_timeout(&s.req, TT_SEC(2)), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_sleep(loop, &s.req, TT_MS(10), tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &s.calls, 1, TT_SEC(5)));
  cr_assert_eq(s.res, 0, "sleep: %zd (%s)", s.res, tide_strerror((int)s.res));
  cr_assert_geq(s.at_ns - t0, TT_MS(10), "the sleep ended early");
  cr_assert_lt(s.at_ns - t0, TT_SEC(1), "a 10 ms sleep took %llu ms",
               (unsigned long long)((s.at_ns - t0) / 1000000));
  /* The timeout is gone with it: nothing more arrives. */
  tt_run_for0(loop, TT_MS(30));
  cr_assert_eq(s.calls, 1);
  tt_free(loop);
}

Test(flow, timeout_on_a_pipe_read_and_a_long_sleep) {
  tide_loop *loop = req_loop();
  int p[2];
  tt_pipe(p);
  char ch;
  tt_req r, s;
  tt_req_init(&r);
  tt_req_init(&s);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_MS(30)), 0);
  cr_assert_eq(tide_req_set_timeout(&s.req, TT_MS(30)), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_read(loop, &r.req, p[0], &ch, 1, -1, 0, tt_req_cb), 0);
  cr_assert_eq(tide_sleep(loop, &s.req, TT_SEC(20), tt_req_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  while ((r.calls == 0 || s.calls == 0) && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(r.res, -ETIMEDOUT, "read: %zd", r.res);
  cr_assert_eq(s.res, -ETIMEDOUT, "sleep: %zd", s.res);
  cr_assert_geq(r.at_ns - t0, TT_MS(30));
  cr_assert_geq(s.at_ns - t0, TT_MS(30));
  /* the timed-out read consumed nothing */
  cr_assert(tt_write1(p[1]));
  cr_assert_eq(tt_drain(p[0]), 1);
  tt_close2(p);
  tt_free(loop);
}

Test(flow, timeout_not_reached_gives_the_real_result) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  char buf[8];
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_MS(150)), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  tt_later w;
  tt_later_start(loop, &w, TT_MS(10), sv[1], TT_LATER_WRITE, "quick", 5);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 5, "res %zd (%s)", r.res, tide_strerror((int)r.res));
  cr_assert_eq(memcmp(buf, "quick", 5), 0);
  /* past the timeout: nothing more */
  uint64_t left = t0 + TT_MS(250) > tt_now_ns() ? t0 + TT_MS(250) - tt_now_ns() : 0;
  tt_run_for0(loop, left + TT_MS(1));
  cr_assert_eq(r.calls, 1, "the timeout fired after the completion: res %zd", r.res);
  /* completed in time with TIDE_ALL too */
  tt_req_init(&r);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_SEC(5)), 0);
  cr_assert_eq(write(sv[1], "12345678", 8), 8);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, 8, 0, TIDE_ALL, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 8);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ tide_close with requests in flight */

Test(flow, close_with_requests_in_flight) {
  tide_loop *loop = req_loop();
  int sv[2], other[2];
  tt_socketpair(sv);
  tt_socketpair(other);
  tt_fill_socket(sv[0]);
  char b1[8], b2[8], b3[8];
  static char out[8192];
  tt_req r1, r2, s1, oth, cl;
  tt_req_init(&r1);
  tt_req_init(&r2);
  tt_req_init(&s1);
  tt_req_init(&oth);
  tt_req_init(&cl);
  cr_assert_eq(tide_recv(loop, &r1.req, sv[0], b1, sizeof b1, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_recv(loop, &r2.req, sv[0], b2, sizeof b2, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_send(loop, &s1.req, sv[0], out, sizeof out, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_recv(loop, &oth.req, other[0], b3, sizeof b3, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r1.calls + r2.calls + s1.calls + oth.calls, 0);
  int fd = sv[0];
  cr_assert_eq(TT_SUBMIT(tide_close(loop, &cl.req, fd, tt_req_cb)), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  while ((r1.calls == 0 || r2.calls == 0 || s1.calls == 0 || cl.calls == 0) && !wd.fired)
    tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(cl.calls, 1);
  cr_assert_eq(cl.res, 0, "close: %zd (%s)", cl.res, tide_strerror((int)cl.res));
  tt_req *in[3] = {&r1, &r2, &s1};
  const char *nm[3] = {"recv 1", "recv 2", "send"};
  for (int k = 0; k < 3; k++) {
    cr_assert_eq(in[k]->calls, 1, "%s: %d callbacks", nm[k], in[k]->calls);
    cr_assert(in[k]->res == -ECANCELED || in[k]->res >= 0, "%s: res %zd (%s), want -ECANCELED",
              nm[k], in[k]->res, tide_strerror((int)in[k]->res));
  }
  cr_assert_eq(r1.res, -ECANCELED, "no data ever came: %zd", r1.res);
  cr_assert_eq(r2.res, -ECANCELED, "no data ever came: %zd", r2.res);
  cr_assert_eq(tt_fd_open(fd), 0, "fd still open");
  sv[0] = -1;
  /* the request on another fd is untouched */
  cr_assert_eq(oth.calls, 0, "a request on another fd completed: %zd", oth.res);
  cr_assert_eq(write(other[1], "ok", 2), 2);
  cr_assert(tt_run_until(loop, &oth.calls, 1, TT_SEC(5)));
  cr_assert_eq(oth.res, 2);
  tt_close2(sv);
  tt_close2(other);
  tt_free(loop);
}

/* ------------------------------------------------------------ multishot accept */

enum { CONNS = 1000 };

struct clients {
  struct sockaddr_in addr;
  int fds[CONNS];
  unsigned short ports[CONNS];
  int n;
  int err;
};

static void *client_main(void *arg) {
  struct clients *c = arg;
  for (int k = 0; k < CONNS; k++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&c->addr, sizeof c->addr) != 0) {
      c->err = errno;
      if (fd >= 0) close(fd);
      break;
    }
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &len);
    c->fds[k] = fd;
    c->ports[k] = ntohs(me.sin_port);
    c->n = k + 1;
  }
  return NULL;
}

struct mshot {
  tide_req req;
  int calls;
  int fds[CONNS + 8];
  int nfds;
  int more_zero_early; /* a callback with more == 0 before the final one */
  int err_with_more;
  int final_calls;
  ssize_t final_res;
  int after_final;
  int cancel_rc;
  int cancelled;
};

static void mshot_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct mshot *m = req->data;
  m->calls++;
  if (m->final_calls) m->after_final++;
  int more = tide_req_more(req);
  if (res >= 0 && m->nfds < CONNS + 8) m->fds[m->nfds++] = (int)res;
  if (res < 0 && more) m->err_with_more++;
  if (!more) {
    m->final_calls++;
    m->final_res = res;
    if (!m->cancelled) m->more_zero_early++;
  }
  if (m->nfds == CONNS && !m->cancelled) {
    m->cancelled = 1;
    m->cancel_rc = tide_cancel(loop, req);
  }
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

Test(flow, multishot_accept_1000_connections) {
  /* 1,000 client fds + 1,000 accepted fds stay open: raise the soft limit */
  struct rlimit rl;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  const rlim_t need = 2 * CONNS + 100;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
      cr_skip_test("RLIMIT_NOFILE hard limit %llu below the %llu fds this test needs",
                   (unsigned long long)rl.rlim_max, (unsigned long long)need);
  }
  tide_loop *loop = req_loop();
  struct clients *cl = calloc(1, sizeof *cl);
  struct mshot *m = calloc(1, sizeof *m);
  cr_assert(cl != NULL && m != NULL);
  int l = tt_tcp_listener(1, &cl->addr);
  m->req.data = m;
  cr_assert_eq(TT_SUBMIT(tide_accept(loop, &m->req, l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC,
                                     TIDE_MULTISHOT, mshot_cb)),
               0);
  cr_assert_eq(m->calls, 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, client_main, cl), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(30));
  while (m->final_calls == 0 && !wd.fired) cr_assert_geq(tide_run(loop, TIDE_RUN_ONCE), 0);
  tt_watchdog_stop(loop, &wd);
  pthread_join(th, NULL);
  cr_assert_eq(cl->err, 0, "client connect: %s", strerror(cl->err));
  cr_assert_eq(cl->n, CONNS);
  cr_assert_eq(m->more_zero_early, 0, "multishot accept ended before the cancel (after %d fds, res %zd)",
               m->nfds, m->final_res);
  cr_assert_eq(m->err_with_more, 0, "error callback that says more will follow");
  cr_assert_eq(m->nfds, CONNS, "accepted %d connections", m->nfds);
  cr_assert_eq(m->cancel_rc, 0, "cancel: %d", m->cancel_rc);
  cr_assert_eq(m->final_calls, 1);
  cr_assert_eq(m->final_res, -ECANCELED, "final callback res %zd", m->final_res);
  cr_assert_eq(m->calls, CONNS + 1, "%d callbacks for %d connections + the final one", m->calls,
               CONNS);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(m->after_final, 0, "callbacks after the final one");
  /* distinct, open, non-blocking fds whose peers are exactly the clients */
  int *peer = malloc(sizeof(int) * CONNS), *mine = malloc(sizeof(int) * CONNS);
  int *sorted = malloc(sizeof(int) * CONNS);
  cr_assert(peer != NULL && mine != NULL && sorted != NULL);
  memcpy(sorted, m->fds, sizeof(int) * CONNS);
  qsort(sorted, CONNS, sizeof(int), cmp_int);
  for (int k = 1; k < CONNS; k++)
    cr_assert_neq(sorted[k - 1], sorted[k], "fd %d delivered twice", sorted[k]);
  for (int k = 0; k < CONNS; k++) {
    int fd = m->fds[k];
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd %d: SOCK_NONBLOCK not applied", fd);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    cr_assert_eq(getpeername(fd, (struct sockaddr *)&a, &len), 0);
    peer[k] = ntohs(a.sin_port);
    mine[k] = cl->ports[k];
  }
  qsort(peer, CONNS, sizeof(int), cmp_int);
  qsort(mine, CONNS, sizeof(int), cmp_int);
  cr_assert_eq(memcmp(peer, mine, sizeof(int) * CONNS), 0,
               "accepted connections are not the clients' connections");
  /* the listener and the request are usable again (single shot) */
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_eq(connect(c, (struct sockaddr *)&cl->addr, sizeof cl->addr), 0);
  tt_req one;
  tt_req_init(&one);
  cr_assert_eq(tide_accept(loop, &one.req, l, NULL, NULL, 0, 0, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &one.calls, 1, TT_SEC(5)));
  cr_assert_geq(one.res, 0);
  close((int)one.res);
  close(c);
  for (int k = 0; k < CONNS; k++) {
    close(m->fds[k]);
    close(cl->fds[k]);
  }
  close(l);
  free(peer);
  free(mine);
  free(sorted);
  free(cl);
  free(m);
  tt_free(loop);
}

/* ------------------------------------------------------------ sendfile */

struct reader {
  int fd;
  size_t total;
  uint64_t fnv;
  int err;
};

static void *reader_main(void *arg) {
  struct reader *r = arg;
  static char buf[1 << 16];
  r->fnv = TT_FNV1A_INIT;
  for (;;) {
    ssize_t n = read(r->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r->err = errno;
      break;
    }
    if (n == 0) break;
    r->fnv = tt_fnv1a(r->fnv, buf, (size_t)n);
    r->total += (size_t)n;
  }
  return NULL;
}

Test(flow, sendfile_64mib_to_a_socket, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  char path[512];
  snprintf(path, sizeof path, "%s/big", g_tmp);
  int f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq(f, 0);
  const size_t LEN = 64u << 20, CH = 1u << 20;
  char *chunk = malloc(CH);
  cr_assert_not_null(chunk);
  uint64_t want = TT_FNV1A_INIT;
  for (size_t off = 0; off < LEN; off += CH) {
    tt_fill_pattern(chunk, CH, off);
    want = tt_fnv1a(want, chunk, CH);
    cr_assert_eq(write(f, chunk, CH), (ssize_t)CH);
  }
  free(chunk);
  int sv[2];
  tt_tcp_pair(sv);
  tt_set_nonblock(sv[1], 0);
  struct reader rd = {.fd = sv[1]};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, reader_main, &rd), 0);
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(TT_SUBMIT(tide_sendfile(loop, &r.req, sv[0], f, 0, LEN, tt_req_cb)), 0);
  int ok = tt_run_until(loop, &r.calls, 1, TT_SEC(60));
  shutdown(sv[0], SHUT_WR); /* the reader ends at EOF, even on failure */
  pthread_join(th, NULL);
  cr_assert(ok, "sendfile did not complete; reader got %zu bytes", rd.total);
  cr_assert_eq(r.res, (ssize_t)LEN, "sendfile completed with %zd of %zu bytes%s%s", r.res, LEN,
               r.res < 0 ? ": " : "", r.res < 0 ? tide_strerror((int)r.res) : "");
  cr_assert_eq(rd.err, 0, "reader: %s", strerror(rd.err));
  cr_assert_eq(rd.total, LEN, "reader got %zu bytes", rd.total);
  cr_assert_eq(rd.fnv, want, "checksum differs");
  cr_assert_eq(lseek(f, 0, SEEK_CUR), (off_t)LEN, "explicit offset 0 moved the file position");
  tt_run_for0(loop, TT_MS(5));
  cr_assert_eq(r.calls, 1);
  close(f);
  tt_close2(sv);
  tt_free(loop);
}

Test(flow, sendfile_offsets_and_eof, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  char path[512];
  snprintf(path, sizeof path, "%s/small", g_tmp);
  int f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq(f, 0);
  static char data[10000], back[10000];
  tt_fill_pattern(data, sizeof data, 0);
  cr_assert_eq(write(f, data, sizeof data), (ssize_t)sizeof data);
  cr_assert_eq(lseek(f, 0, SEEK_SET), 0);
  int sv[2];
  tt_socketpair(sv);
  tt_req r;
  /* explicit offset: the position does not move */
  tt_req_init(&r);
  cr_assert_eq(tide_sendfile(loop, &r.req, sv[0], f, 10, 100, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 100, "res %zd (%s)", r.res, tide_strerror((int)r.res));
  cr_assert_eq(tt_read_exact(sv[1], back, 100, 5000), 100u);
  cr_assert_eq(memcmp(back, data + 10, 100), 0);
  cr_assert_eq(lseek(f, 0, SEEK_CUR), 0);
  /* -1: from the current position, which advances */
  cr_assert_eq(lseek(f, 50, SEEK_SET), 50);
  tt_req_init(&r);
  cr_assert_eq(tide_sendfile(loop, &r.req, sv[0], f, -1, 200, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 200, "res %zd (%s)", r.res, tide_strerror((int)r.res));
  cr_assert_eq(tt_read_exact(sv[1], back, 200, 5000), 200u);
  cr_assert_eq(memcmp(back, data + 50, 200), 0);
  cr_assert_eq(lseek(f, 0, SEEK_CUR), 250, "offset -1 did not advance the position");
  /* count past EOF: completes at EOF with the bytes moved */
  tt_req_init(&r);
  cr_assert_eq(tide_sendfile(loop, &r.req, sv[0], f, 9900, 1000, tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 100, "sendfile past EOF: %zd", r.res);
  cr_assert_eq(tt_read_exact(sv[1], back, 100, 5000), 100u);
  cr_assert_eq(memcmp(back, data + 9900, 100), 0);
  close(f);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ 10,000 in flight */

struct many {
  tide_req req;
  int calls;
  ssize_t res;
  unsigned char byte;
};

static int g_many_done;
static void many_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  struct many *m = req->data;
  m->calls++;
  m->res = res;
  g_many_done++;
}

Test(flow, ten_thousand_requests_in_flight) {
  tide_loop *loop = req_loop();
  enum { SLEEPS = 6000, NOPS = 2000, PIPES = 50, PER_PIPE = 40, READS = PIPES * PER_PIPE };
  enum { N = SLEEPS + NOPS + READS };
  struct many *m = calloc(N, sizeof *m);
  int(*pp)[2] = calloc(PIPES, sizeof *pp);
  cr_assert(m != NULL && pp != NULL);
  for (int k = 0; k < PIPES; k++) tt_pipe(pp[k]);
  g_many_done = 0;
  int k = 0;
  for (int i = 0; i < SLEEPS; i++, k++) {
    m[k].req.data = &m[k];
    cr_assert_eq(tide_sleep(loop, &m[k].req, TT_US((i % 50) * 200), many_cb), 0, "sleep %d", i);
  }
  for (int i = 0; i < NOPS; i++, k++) {
    m[k].req.data = &m[k];
    cr_assert_eq(tide_nop(loop, &m[k].req, many_cb), 0, "nop %d", i);
  }
  for (int i = 0; i < READS; i++, k++) {
    m[k].req.data = &m[k];
    cr_assert_eq(tide_read(loop, &m[k].req, pp[i % PIPES][0], &m[k].byte, 1, -1, 0, many_cb), 0,
                 "read %d", i);
  }
  cr_assert_eq(k, N);
  cr_assert_eq(g_many_done, 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  /* let the loop take them in, then feed the pipes */
  cr_assert_geq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  for (int p = 0; p < PIPES; p++) {
    unsigned char bytes[PER_PIPE];
    for (int j = 0; j < PER_PIPE; j++) bytes[j] = (unsigned char)j;
    cr_assert_eq(write(pp[p][1], bytes, PER_PIPE), PER_PIPE);
  }
  cr_assert(tt_run_until(loop, &g_many_done, N, TT_SEC(20)), "%d of %d completed", g_many_done, N);
  tt_run_for0(loop, TT_MS(20));
  cr_assert_eq(g_many_done, N, "%d callbacks for %d requests", g_many_done, N);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(m[i].calls, 1, "request %d: %d callbacks", i, m[i].calls);
    if (i < SLEEPS + NOPS)
      cr_assert_eq(m[i].res, 0, "request %d: %zd", i, m[i].res);
    else
      cr_assert_eq(m[i].res, 1, "read %d: %zd (%s)", i - SLEEPS - NOPS, m[i].res,
                   tide_strerror((int)m[i].res));
  }
  /* per pipe: each of the 40 bytes went to exactly one read */
  for (int p = 0; p < PIPES; p++) {
    int seen[PER_PIPE];
    memset(seen, 0, sizeof seen);
    for (int i = p; i < READS; i += PIPES) {
      unsigned char b = m[SLEEPS + NOPS + i].byte;
      cr_assert_lt(b, PER_PIPE);
      seen[b]++;
    }
    for (int j = 0; j < PER_PIPE; j++) cr_assert_eq(seen[j], 1, "pipe %d byte %d read %d times", p, j, seen[j]);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  for (int p = 0; p < PIPES; p++) tt_close2(pp[p]);
  free(pp);
  free(m);
  tt_free(loop);
}

/* ------------------------------------------------------------ provided buffers */

struct pooled {
  tide_req req;
  tide_bufpool *pool;
  int data_calls;
  int eof_calls;
  int err_calls;
  ssize_t err;
  int calls_after_end;
  int ended;
  int last_more;
  int more_wrong; /* data callback with more == 0, or EOF/error with more == 1 */
  int buffer_missing;
  int eof_buffer_rc;
  char *acc;
  size_t got, cap;
  int held[64];
  int nheld;
};

static void pooled_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  struct pooled *p = req->data;
  int more = tide_req_more(req);
  p->last_more = more;
  if (p->ended) p->calls_after_end++;
  if (res > 0) {
    p->data_calls++;
    if (!more) p->more_wrong++;
    void *ptr = NULL;
    int id = tide_req_buffer(req, &ptr);
    if (id < 0 || ptr == NULL) {
      p->buffer_missing++;
    } else {
      if (p->got + (size_t)res <= p->cap) memcpy(p->acc + p->got, ptr, (size_t)res);
      p->got += (size_t)res;
      if (p->nheld < 64) p->held[p->nheld++] = id;
    }
  } else if (res == 0) {
    p->eof_calls++;
    void *ptr = NULL;
    p->eof_buffer_rc = tide_req_buffer(req, &ptr);
    if (more) p->more_wrong++;
  } else {
    p->err_calls++;
    p->err = res;
    if (more) p->more_wrong++;
  }
  if (!more) p->ended = 1;
}

static int put_oldest(struct pooled *p) {
  int id = p->held[0];
  memmove(p->held, p->held + 1, sizeof(int) * (size_t)(p->nheld - 1));
  p->nheld--;
  return tide_bufpool_put(p->pool, id);
}

/* The race of a multishot receive that ran dry, driven step by step: both
 * buffers are held, more data arrives (on io_uring the kernel ends the receive
 * with -ENOBUFS at once, as the write returns), and the program puts both
 * buffers back before the loop has reaped that -ENOBUFS. The receive must go on
 * with the buffers now in the pool; it used to park itself as paused with every
 * buffer already back, and no later put woke it: the stream stalled, no EOF, no
 * error. On the other backends the same steps must deliver the data too. */
struct dry_race {
  struct pooled p; /* first: pooled_cb reads req->data as a struct pooled */
  int writer;      /* the peer socket */
  int done;        /* the step ran */
};

static void dry_race_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct dry_race *d = req->data;
  pooled_cb(loop, req, res);
  if (res > 0 && d->p.data_calls == 2 && !d->done) {
    d->done = 1;
    cr_assert_eq(write(d->writer, "C", 1), 1); /* no buffer left for it */
    while (d->p.nheld > 0) cr_assert_eq(put_oldest(&d->p), 0);
  }
}

Test(flow, recv_pool_resumes_when_buffers_return_before_enobufs_is_reaped) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  struct dry_race d;
  memset(&d, 0, sizeof d);
  d.p.req.data = &d;
  d.writer = sv[1];
  char acc[16];
  d.p.acc = acc;
  d.p.cap = sizeof acc;
  cr_assert_eq(tide_bufpool_new(loop, &d.p.pool, 2, 4096), 0);
  cr_assert_eq(tide_recv_pool(loop, &d.p.req, sv[0], d.p.pool, dry_race_cb), 0);
  cr_assert_eq(write(sv[1], "A", 1), 1);
  cr_assert(tt_run_until(loop, &d.p.data_calls, 1, TT_SEC(5)));
  cr_assert_eq(write(sv[1], "B", 1), 1);
  cr_assert(tt_run_until(loop, &d.p.data_calls, 2, TT_SEC(5)));
  cr_assert_eq(d.done, 1);
  /* "C" was written with both buffers held, and they are back now. */
  cr_assert(tt_run_until(loop, &d.p.data_calls, 3, TT_SEC(3)),
            "the receive stalled after its buffers came back (%zu bytes, %d errors)", d.p.got,
            d.p.err_calls);
  cr_assert_eq(d.p.got, 3u);
  cr_assert_eq(memcmp(acc, "ABC", 3), 0);
  cr_assert_eq(d.p.err_calls, 0, "error %zd", d.p.err);
  /* The stream goes on, and ends with EOF. */
  while (d.p.nheld > 0) cr_assert_eq(put_oldest(&d.p), 0);
  cr_assert_eq(write(sv[1], "D", 1), 1);
  cr_assert(tt_run_until(loop, &d.p.data_calls, 4, TT_SEC(3)));
  while (d.p.nheld > 0) cr_assert_eq(put_oldest(&d.p), 0);
  close(sv[1]);
  cr_assert(tt_run_until(loop, &d.p.eof_calls, 1, TT_SEC(3)));
  cr_assert_eq(memcmp(acc, "ABCD", 4), 0);
  close(sv[0]);
  cr_assert_eq(tide_bufpool_free(d.p.pool), 0);
  tt_free(loop);
}

Test(flow, recv_pool_pauses_when_dry_and_resumes_on_put) {
  tide_loop *loop = req_loop();
  long ps = sysconf(_SC_PAGESIZE);
  int sv[2];
  tt_socketpair(sv);
  struct pooled p;
  memset(&p, 0, sizeof p);
  p.req.data = &p;
  cr_assert_eq(tide_bufpool_new(loop, &p.pool, 4, (size_t)ps), 0);
  cr_assert_not_null(p.pool);
  /* all buffers are in the pool: putting one back is -EALREADY; range checks */
  cr_assert_eq(tide_bufpool_put(p.pool, 0), -EALREADY);
  cr_assert_eq(tide_bufpool_put(p.pool, 4), -EINVAL);
  cr_assert_eq(tide_bufpool_put(p.pool, -1), -EINVAL);
  const size_t total = 10 * (size_t)ps + 123;
  char *msg = malloc(total);
  p.acc = malloc(total);
  p.cap = total;
  cr_assert(msg != NULL && p.acc != NULL);
  tt_fill_pattern(msg, total, 42);
  cr_assert_eq(TT_SUBMIT(tide_recv_pool(loop, &p.req, sv[0], p.pool, pooled_cb)), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(p.data_calls + p.eof_calls + p.err_calls, 0, "callback without data");
  cr_assert_eq(tt_write_all(sv[1], msg, total, 5000), total);

  /* the 4 buffers fill up, then the request pauses: no error, no end */
  cr_assert(tt_run_until(loop, &p.data_calls, 4, TT_SEC(5)), "only %d chunks", p.data_calls);
  tt_run_for0(loop, TT_MS(100));
  cr_assert_eq(p.err_calls, 0, "error while the pool was dry: %zd (%s)", p.err,
               tide_strerror((int)p.err));
  cr_assert_eq(p.data_calls, 4, "%d chunks with 4 buffers held", p.data_calls);
  cr_assert_eq(p.ended, 0, "the request ended while the pool was dry");
  cr_assert_eq(p.last_more, 1);
  cr_assert_eq(p.buffer_missing, 0);
  cr_assert_eq(p.nheld, 4);
  cr_assert_eq(tide_bufpool_free(p.pool), -EBUSY, "free while a request uses the pool");
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++) cr_assert_neq(p.held[i], p.held[j], "buffer id given twice");

  /* give one back at a time: exactly one more chunk each time */
  int rounds = 0;
  while (p.got < total && rounds < 100) {
    int before = p.data_calls;
    cr_assert_eq(put_oldest(&p), 0);
    cr_assert(tt_run_until(loop, &p.data_calls, before + 1, TT_SEC(5)),
              "no resume after tide_bufpool_put (round %d, %zu of %zu bytes)", rounds, p.got,
              total);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
    cr_assert_eq(p.data_calls, before + 1, "one free buffer gave %d chunks", p.data_calls - before);
    cr_assert_eq(p.err_calls, 0, "error %zd", p.err);
    rounds++;
  }
  cr_assert_eq(p.got, total, "received %zu of %zu bytes", p.got, total);
  cr_assert_eq(memcmp(p.acc, msg, total), 0, "data out of order or corrupt at %zu",
               tt_check_pattern(p.acc, total, 42));
  cr_assert_eq(p.buffer_missing, 0);
  cr_assert_eq(p.more_wrong, 0);
  /* all back, then EOF ends it */
  while (p.nheld > 0) cr_assert_eq(put_oldest(&p), 0);
  cr_assert_eq(tide_bufpool_put(p.pool, 0), -EALREADY);
  cr_assert_eq(shutdown(sv[1], SHUT_WR), 0);
  cr_assert(tt_run_until(loop, &p.eof_calls, 1, TT_SEC(5)), "no EOF callback");
  cr_assert_eq(p.ended, 1);
  cr_assert_eq(p.last_more, 0, "EOF is the last callback");
  cr_assert_eq(p.eof_buffer_rc, -ENOENT, "tide_req_buffer at EOF: %d", p.eof_buffer_rc);
  cr_assert_eq(p.more_wrong, 0);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(p.calls_after_end, 0);
  cr_assert_eq(tide_bufpool_free(p.pool), 0);
  free(msg);
  free(p.acc);
  tt_close2(sv);
  tt_free(loop);
}

Test(flow, recv_pool_cancel_and_pool_free) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  struct pooled p;
  memset(&p, 0, sizeof p);
  p.req.data = &p;
  char acc[256];
  p.acc = acc;
  p.cap = sizeof acc;
  cr_assert_eq(tide_bufpool_new(loop, &p.pool, 2, 100), 0);
  cr_assert_eq(tide_recv_pool(loop, &p.req, sv[0], p.pool, pooled_cb), 0);
  cr_assert_eq(write(sv[1], "abc", 3), 3);
  cr_assert(tt_run_until(loop, &p.data_calls, 1, TT_SEC(5)));
  cr_assert_eq(p.got, 3u);
  cr_assert_eq(memcmp(acc, "abc", 3), 0);
  cr_assert_eq(p.last_more, 1);
  cr_assert_eq(tide_bufpool_free(p.pool), -EBUSY);
  cr_assert_eq(tide_cancel(loop, &p.req), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  while (!p.ended && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(p.ended, 1, "no final callback after cancel");
  cr_assert_eq(p.err_calls, 1);
  cr_assert_eq(p.err, -ECANCELED, "final: %zd", p.err);
  cr_assert_eq(tide_cancel(loop, &p.req), -ENOENT);
  tt_run_for0(loop, TT_MS(10));
  cr_assert_eq(p.calls_after_end, 0);
  cr_assert_eq(put_oldest(&p), 0);
  cr_assert_eq(tide_bufpool_free(p.pool), 0);
  tt_close2(sv);
  tt_free(loop);
}

Test(flow, bufpool_size_is_rounded_to_pages) {
  tide_loop *loop = req_loop();
  long ps = sysconf(_SC_PAGESIZE);
  int sv[2];
  tt_socketpair(sv);
  struct pooled p;
  memset(&p, 0, sizeof p);
  p.req.data = &p;
  size_t n = (size_t)ps;
  char *msg = malloc(n);
  p.acc = malloc(n);
  p.cap = n;
  tt_fill_pattern(msg, n, 9);
  cr_assert_eq(tide_bufpool_new(loop, &p.pool, 1, 1), 0);
  cr_assert_eq(write(sv[1], msg, n), (ssize_t)n);
  cr_assert_eq(tide_recv_pool(loop, &p.req, sv[0], p.pool, pooled_cb), 0);
  cr_assert(tt_run_until(loop, &p.data_calls, 1, TT_SEC(5)));
  cr_assert_eq(p.got, n, "a 1-byte pool buffer is a page: one chunk of %zu, got %zu", n, p.got);
  cr_assert_eq(memcmp(p.acc, msg, n), 0);
  cr_assert_eq(put_oldest(&p), 0);
  cr_assert_eq(shutdown(sv[1], SHUT_WR), 0);
  cr_assert(tt_run_until(loop, &p.eof_calls, 1, TT_SEC(5)));
  cr_assert_eq(tide_bufpool_free(p.pool), 0);
  free(msg);
  free(p.acc);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ tide_op_support */

Test(flow, op_support_per_backend) {
  tide_loop *loop = req_loop();
  int uring = tt_is(loop, "io_uring");
  for (int op = 0; op < TIDE_OP_COUNT_; op++) {
    int v = tide_op_support(loop, op);
    if (uring && op != TIDE_OP_WORK)
      cr_assert_eq(v, TIDE_OP_NATIVE, "io_uring: op %d reports %d, want NATIVE (2)", op, v);
    else
      cr_assert_eq(v, TIDE_OP_EMULATED, "%s: op %d reports %d, want EMULATED (1)",
                   tide_loop_backend(loop), op, v);
  }
  cr_assert_eq(tide_op_support(loop, TIDE_OP_COUNT_), -EINVAL);
  cr_assert_eq(tide_op_support(loop, -1), -EINVAL);
  tt_free(loop);
}
