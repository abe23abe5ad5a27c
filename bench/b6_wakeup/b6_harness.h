/* SPDX-License-Identifier: MIT */
/* b6_harness.h - the harness every b6_wakeup peer program shares: options, checks, the workload
 * driver and the RESULT line. A peer defines PEER, PEER_ARGS and PEER_USAGE, includes
 * this, then implements the peer_* / pl_* functions declared here. */
#ifndef BENCH_B6_HARNESS_H
#define BENCH_B6_HARNESS_H

/* ------------------------------------------------ shared by the B6 programs */

#include "b6_common.h"

/* The peer's side: one loop with one async watcher whose callback calls
 * on_async(pl, role). Each peer library defines these below. */
typedef struct peer_loop peer_loop;
static void peer_global_init(int argc, char **argv);
static void peer_global_fini(void);
static peer_loop *pl_new(int role);
static void pl_free(peer_loop *pl);
static void pl_run(peer_loop *pl);        /* until pl_stop() from one of its callbacks */
static void pl_run_once(peer_loop *pl);   /* one iteration; blocks until an event if needed */
static void pl_run_nowait(peer_loop *pl); /* one iteration; never blocks */
static void pl_stop(peer_loop *pl);       /* from a callback of this loop */
static int pl_send(peer_loop *pl);        /* the async send; any thread; 0 or an error */
static const char *pl_backend(peer_loop *pl);

enum { ROLE_A, ROLE_B, ROLE_HAMMER };

static struct {
  bench_clock clk;
  /* pingpong: A (main thread) and B (its own thread) */
  peer_loop *a, *b;
  _Atomic uint64_t ping, pong; /* sequence number of the last ping / pong sent */
  _Atomic int done;            /* A's last message to B: stop */
  uint64_t a_rounds, a_spurious, t_send;
  uint64_t b_last, b_count, b_bad, b_spurious; /* B's thread only (read after the join) */
  bench_hist hist;
  /* hammer */
  peer_loop *h;
  pthread_barrier_t go;
  _Atomic int joined;        /* every sender has been joined */
  _Atomic uint64_t send_err; /* failed sends */
  int stop_armed;            /* the loop thread's: stop the run on the first callback after joined */
  uint64_t k;                /* callbacks */
} g;

static void on_async(peer_loop *pl, int role) {
  if (role == ROLE_HAMMER) {
    g.k++;
    if (g.stop_armed && atomic_load(&g.joined)) {
      g.stop_armed = 0;
      pl_stop(pl);
    }
  } else if (role == ROLE_A) {
    /* a pong: the round trip of ping number a_rounds + 1 is complete */
    if (atomic_load(&g.pong) != g.a_rounds + 1) {
      g.a_spurious++; /* a callback without a new pong (never expected) */
      return;
    }
    uint64_t now = bench_now_ns();
    g.a_rounds++;
    if (g.a_rounds > opt.warm) bench_hist_add(&g.hist, now - g.t_send);
    if (g.a_rounds == opt.warm) {
      bench_begin(&g.clk); /* the measured rounds start with the next ping */
      now = bench_now_ns();
    } else if (g.a_rounds > opt.warm && pingpong_last(g.a_rounds - opt.warm, now, g.clk.wall0)) {
      bench_end(&g.clk);
      atomic_store(&g.done, 1);
      if (pl_send(g.b)) b6_fail("async send to B failed");
      pl_stop(pl);
      return;
    }
    g.t_send = now;
    atomic_store(&g.ping, g.a_rounds + 1);
    if (pl_send(g.b)) bench_die("async send to B failed");
  } else {
    /* B: a ping, or A's stop */
    if (atomic_load(&g.done)) {
      pl_stop(pl);
      return;
    }
    uint64_t s = atomic_load(&g.ping);
    if (s == g.b_last) {
      g.b_spurious++;
      return;
    }
    if (s != g.b_last + 1) g.b_bad++;
    g.b_last = s;
    g.b_count++;
    atomic_store(&g.pong, s);
    if (pl_send(g.a)) bench_die("async send to A failed");
  }
}

static void *b_thread(void *arg) {
  (void)arg;
  pl_run(g.b);
  return NULL;
}

/* pingpong: A sends to B, B's callback sends back; opt.warm round trips, then
 * opt.rounds measured ones (fewer if --max-seconds cuts them short: capped=1,
 * ops = the measured round trips), each with its latency. */
static void pingpong(void) {
  g.a = pl_new(ROLE_A);
  g.b = pl_new(ROLE_B);
  const char *bk = pl_backend(g.a);
  pthread_t tb;
  start_thread(&tb, b_thread, NULL);
  g.t_send = bench_now_ns();
  atomic_store(&g.ping, 1);
  if (pl_send(g.b)) bench_die("async send to B failed");
  pl_run(g.a);
  join_thread(tb);
  const uint64_t measured = g.a_rounds > opt.warm ? g.a_rounds - opt.warm : 0;
  if (measured < 1 || measured > opt.rounds || (measured < opt.rounds && !opt.cap_ns))
    b6_fail("A completed %llu measured round trips, expected %llu", (unsigned long long)measured,
            (unsigned long long)opt.rounds);
  if (g.b_count != g.a_rounds)
    b6_fail("B answered %llu pings, A got %llu answers", (unsigned long long)g.b_count,
            (unsigned long long)g.a_rounds);
  if (g.b_bad) b6_fail("B saw %llu pings out of sequence", (unsigned long long)g.b_bad);
  if (g.hist.n != measured) b6_fail("%llu latencies recorded", (unsigned long long)g.hist.n);
  pl_free(g.a);
  pl_free(g.b);
  if (!b6_failed)
    bench_result(&g.clk, measured, &g.hist, " rounds=%llu warmup=%llu capped=%d backend=%s spurious=%llu",
                 (unsigned long long)opt.rounds, (unsigned long long)opt.warm, measured < opt.rounds, bk,
                 (unsigned long long)(g.a_spurious + g.b_spurious));
}

static void *sender_thread(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g.go);
  uint64_t err = 0;
  for (uint64_t i = 0; i < opt.sends; i++) err += pl_send(g.h) != 0;
  if (err) atomic_fetch_add(&g.send_err, err);
  return NULL;
}

static void *controller_thread(void *arg) {
  pthread_t *senders = arg;
  for (uint64_t i = 0; i < opt.threads; i++) join_thread(senders[i]);
  atomic_store(&g.joined, 1);
  if (pl_send(g.h)) atomic_fetch_add(&g.send_err, 1); /* the send after the join */
  return NULL;
}

static void *one_send_thread(void *arg) {
  (void)arg;
  if (pl_send(g.h)) atomic_fetch_add(&g.send_err, 1);
  return NULL;
}

/* hammer: opt.threads threads send opt.sends times each to one async watcher of
 * the loop (this thread); a controller thread joins them and sends once more.
 * Measured: from releasing the senders to the first callback that runs after the
 * controller's join (its send, or a later one, comes with or before it). */
static void hammer(void) {
  g.h = pl_new(ROLE_HAMMER);
  const char *bk = pl_backend(g.h);
  const uint64_t total = opt.threads * opt.sends;
  pthread_t *senders = calloc(opt.threads, sizeof *senders), ctl;
  if (!senders) bench_die("out of memory");
  int r = pthread_barrier_init(&g.go, NULL, (unsigned)opt.threads + 1);
  if (r) bench_die("pthread_barrier_init: %s", strerror(r));
  for (uint64_t i = 0; i < opt.threads; i++) start_thread(&senders[i], sender_thread, NULL);
  start_thread(&ctl, controller_thread, senders);
  g.stop_armed = 1;
  bench_begin(&g.clk);
  pthread_barrier_wait(&g.go);
  pl_run(g.h);
  bench_end(&g.clk);
  const uint64_t k = g.k;
  join_thread(ctl);
  /* Quiesce (a wakeup of the last sends may still be pending), then one more
   * send from another thread must give at least one more callback. */
  for (int i = 0; i < 3; i++) pl_run_nowait(g.h);
  const uint64_t k0 = g.k;
  pthread_t one;
  start_thread(&one, one_send_thread, NULL);
  join_thread(one);
  while (g.k == k0) pl_run_once(g.h); /* a lost send hangs here: the watchdog ends it */
  for (int i = 0; i < 3; i++) pl_run_nowait(g.h);
  const uint64_t final_cb = g.k - k0;
  if (atomic_load(&g.send_err))
    b6_fail("%llu async sends failed", (unsigned long long)atomic_load(&g.send_err));
  if (k < 1 || k > total + 1)
    b6_fail("%llu callbacks for %llu sends (+1 after the join)", (unsigned long long)k,
            (unsigned long long)total);
  pthread_barrier_destroy(&g.go);
  free(senders);
  pl_free(g.h);
  if (!b6_failed)
    bench_result(&g.clk, total, NULL,
                 " callbacks=%llu threads=%llu sends=%llu backend=%s final_callbacks=%llu",
                 (unsigned long long)k, (unsigned long long)opt.threads, (unsigned long long)opt.sends, bk,
                 (unsigned long long)final_cb);
}

int main(int argc, char **argv) {
  b6_options(argc, argv);
  peer_global_init(argc, argv);
  if (opt.mode == MODE_PINGPONG)
    pingpong();
  else
    hammer();
  peer_global_fini();
  return b6_failed ? 1 : 0;
}

#endif
