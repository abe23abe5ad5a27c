/* SPDX-License-Identifier: MIT */
/* b6_wakeup/libevent.c - B6 cross-thread wakeups on libevent 2.1 (event_active()
 * from another thread).
 *
 * --mode=pingpong: two threads, each with its own loop and one async watcher.
 *   Thread A (main) stores a sequence number and sends to B's watcher; B's
 *   callback checks it, stores it back and sends to A's watcher; A's callback
 *   completes the round trip and starts the next. 1000 warm-up round trips (10
 *   with --smoke), then --rounds measured ones, each timed from A's send to A's
 *   callback (p50/p99/p999_ns). Checks: every round trip completed, B saw the
 *   pings in sequence, a callback without a new message is counted (spurious=).
 * --mode=hammer: --threads sender threads call the async send --sends times each
 *   (default 1,000,000 in total) on one async watcher of the loop thread (main),
 *   whose callback counts. A controller thread joins the senders and sends once
 *   more; the measured section runs from releasing the senders (a barrier) to the
 *   first callback that sees the controller's flag. Sends coalesce, so
 *   callbacks=K <= S_total + 1. Then the loop is drained, one more send from
 *   another thread must give at least one more callback (final_callbacks=; a lost
 *   send would hang: --watchdog seconds, default 120, end the run with exit 1).
 *   RESULT ops=S_total callbacks=K.
 * libevent has no async watcher. The closest native equivalent is used: with
 * threading enabled (evthread_use_pthreads()'s pthread callbacks, installed
 * here directly, see peer_global_init) every event_base has a lock and a
 * notification eventfd, and event_active() may be called from any thread: it
 * takes the base lock, queues the event (a no-op while it is already active:
 * that is the coalescing) and, while the loop runs in another thread, writes the
 * eventfd unless a notification is already pending. The "watcher" is one caller-allocated event
 * (event_assign, fd -1, never added), so the loop runs with EVLOOP_NO_EXIT_ON_EMPTY until
 * event_base_loopbreak() from a callback. A pipe or eventfd event written by the
 * sender would measure a syscall per send instead of libevent's mechanism.
 *
 * CLI: libevent [--mode=pingpong|hammer] [--rounds=200000] [--threads=1]
 *               [--sends=1000000/threads] [--max-seconds=8] [--watchdog=120] [--smoke]
 * --max-seconds (default 8, 0 = none): a pingpong run whose measured rounds take
 * longer stops at the next multiple of 1024 rounds and reports those (capped=1),
 * so every default run stays bounded (libuv 1.44's async spin-wait can make a
 * round trip cost ~70 us on a loaded 2-CPU machine).
 * Defaults: --mode=pingpong, --threads=1. --smoke: 1000 rounds / 1000 sends in total.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>

#define PEER "libevent"
#define PEER_ARGS
#define PEER_USAGE ""

#include "b6_harness.h"

/* ------------------------------------------------ libevent */

struct peer_loop {
  struct event_base *base;
  struct event ev;
  int role;
};

/* What evthread_use_pthreads() installs. That function lives in libevent_pthreads,
 * which the Makefile does not link for libevent peers (-levent only), so the
 * same pthread mutexes, condition variables and thread ids are handed to
 * libevent core through evthread_set_*_callbacks(). */
static void *lock_alloc(unsigned locktype) {
  pthread_mutex_t *m = malloc(sizeof *m);
  if (!m) return NULL;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (locktype & EVTHREAD_LOCKTYPE_RECURSIVE) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  int r = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  if (r) {
    free(m);
    return NULL;
  }
  return m;
}
static void lock_free(void *lock, unsigned locktype) {
  (void)locktype;
  pthread_mutex_destroy(lock);
  free(lock);
}
static int lock_lock(unsigned mode, void *lock) {
  return mode & EVTHREAD_TRY ? pthread_mutex_trylock(lock) : pthread_mutex_lock(lock);
}
static int lock_unlock(unsigned mode, void *lock) {
  (void)mode;
  return pthread_mutex_unlock(lock);
}
static void *cond_alloc(unsigned condtype) {
  (void)condtype;
  pthread_cond_t *c = malloc(sizeof *c);
  if (c && pthread_cond_init(c, NULL)) {
    free(c);
    return NULL;
  }
  return c;
}
static void cond_free(void *cond) {
  pthread_cond_destroy(cond);
  free(cond);
}
static int cond_signal(void *cond, int broadcast) {
  return (broadcast ? pthread_cond_broadcast(cond) : pthread_cond_signal(cond)) ? -1 : 0;
}
static int cond_wait(void *cond, void *lock, const struct timeval *tv) {
  if (!tv) return pthread_cond_wait(cond, lock) ? -1 : 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts); /* pthread_cond_timedwait's default clock */
  ts.tv_sec += tv->tv_sec;
  ts.tv_nsec += (long)tv->tv_usec * 1000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  int r = pthread_cond_timedwait(cond, lock, &ts);
  return r == ETIMEDOUT ? 1 : r ? -1 : 0;
}
static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

static void peer_global_init(int argc, char **argv) {
  (void)argc;
  (void)argv;
  static const struct evthread_lock_callbacks locks = {
      EVTHREAD_LOCK_API_VERSION, EVTHREAD_LOCKTYPE_RECURSIVE, lock_alloc, lock_free, lock_lock, lock_unlock};
  static const struct evthread_condition_callbacks conds = {EVTHREAD_CONDITION_API_VERSION, cond_alloc,
                                                            cond_free, cond_signal, cond_wait};
  evthread_set_id_callback(thread_id);
  if (evthread_set_lock_callbacks(&locks) < 0 || evthread_set_condition_callbacks(&conds) < 0)
    bench_die("evthread_set_*_callbacks failed");
}

static void peer_global_fini(void) { libevent_global_shutdown(); }

static void async_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  peer_loop *pl = arg;
  on_async(pl, pl->role);
}

static peer_loop *pl_new(int role) {
  peer_loop *pl = calloc(1, sizeof *pl);
  if (!pl) bench_die("out of memory");
  pl->base = event_base_new();
  if (!pl->base) bench_die("event_base_new failed");
  pl->role = role;
  if (event_assign(&pl->ev, pl->base, -1, 0, async_cb, pl) < 0) bench_die("event_assign failed");
  return pl;
}

static void pl_free(peer_loop *pl) {
  event_del(&pl->ev); /* drops a still-queued activation, if any */
  event_base_free(pl->base);
  free(pl);
}

static void run_flags(peer_loop *pl, int flags) {
  if (event_base_loop(pl->base, flags | EVLOOP_NO_EXIT_ON_EMPTY) < 0) bench_die("event_base_loop failed");
}
static void pl_run(peer_loop *pl) { run_flags(pl, 0); }
static void pl_run_once(peer_loop *pl) { run_flags(pl, EVLOOP_ONCE); }
static void pl_run_nowait(peer_loop *pl) { run_flags(pl, EVLOOP_NONBLOCK); }
static void pl_stop(peer_loop *pl) { event_base_loopbreak(pl->base); }
static int pl_send(peer_loop *pl) {
  event_active(&pl->ev, EV_READ, 0);
  return 0;
}
static const char *pl_backend(peer_loop *pl) { return event_base_get_method(pl->base); }
