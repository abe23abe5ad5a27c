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

/* ------------------------------------------------ shared by the B6 programs */

enum { MODE_PINGPONG, MODE_HAMMER };
static const char *const known_args[] = {"mode",     "rounds",      "threads",     "sends",
                                         "watchdog", "max-seconds", PEER_ARGS NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          PEER ": %s\nusage: " PEER
               " [--mode=pingpong|hammer] [--rounds=R] [--threads=T] [--sends=S]" PEER_USAGE
               " [--max-seconds=S] [--watchdog=S] [--smoke]\n",
          why);
  exit(2);
}

static void check_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int ok = !strcmp(a, "--smoke");
    for (const char *const *k = known_args; !ok && *k; k++) {
      size_t len = strlen(*k);
      ok = !strncmp(a, "--", 2) && !strncmp(a + 2, *k, len) && a[2 + len] == '=';
    }
    if (!ok) {
      fprintf(stderr, PEER ": unknown argument '%s'\n", a);
      usage_exit("bad arguments");
    }
  }
}

static uint64_t arg_u64(int argc, char **argv, const char *name, uint64_t def) {
  const char *s = bench_arg_str(argc, argv, name, NULL);
  if (!s) return def;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end || *s == '-') usage_exit("option values are unsigned integers");
  return v;
}

static void watchdog_fire(int sig) {
  (void)sig;
  static const char m[] = "bench: watchdog: the run took too long (a lost wakeup?)\n";
  ssize_t r = write(2, m, sizeof m - 1);
  (void)r;
  _exit(1);
}

/* The options every B6 program takes. */
static struct {
  int mode;
  uint64_t rounds, warm;   /* pingpong: measured and warm-up round trips */
  uint64_t cap_ns;         /* pingpong: end the measured rounds early after this long */
  uint64_t threads, sends; /* hammer: sender threads, sends per thread */
} opt;

/* pingpong: does measured round trip m (1-based), ending at now, end the run?
 * At opt.rounds, or, checked every 1024 rounds, once the measured section has
 * run longer than --max-seconds. */
static inline int pingpong_last(uint64_t m, uint64_t now, uint64_t wall0) {
  return m == opt.rounds || (opt.cap_ns && !(m & 1023) && now - wall0 > opt.cap_ns);
}

static void b6_options(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const char *m = bench_arg_str(argc, argv, "mode", "pingpong");
  if (!strcmp(m, "pingpong"))
    opt.mode = MODE_PINGPONG;
  else if (!strcmp(m, "hammer"))
    opt.mode = MODE_HAMMER;
  else
    usage_exit("--mode must be pingpong or hammer");
  opt.rounds = arg_u64(argc, argv, "rounds", smoke ? 1000 : 200000);
  opt.warm = smoke ? 10 : 1000;
  opt.threads = arg_u64(argc, argv, "threads", 1);
  if (opt.rounds < 1) usage_exit("--rounds must be >= 1");
  if (opt.threads < 1 || opt.threads > 64) usage_exit("--threads must be 1..64");
  uint64_t total = smoke ? 1000 : 1000000;
  opt.sends = arg_u64(argc, argv, "sends", total / opt.threads ? total / opt.threads : 1);
  if (opt.sends < 1) usage_exit("--sends must be >= 1");
  uint64_t cap = arg_u64(argc, argv, "max-seconds", 8);
  if (cap > 86400) usage_exit("--max-seconds must be 0..86400");
  opt.cap_ns = cap * 1000000000u;
  uint64_t wd = arg_u64(argc, argv, "watchdog", 120);
  if (wd) {
    signal(SIGALRM, watchdog_fire);
    alarm(wd > 86400 ? 86400 : (unsigned)wd);
  }
}

static int b6_failed;
__attribute__((format(printf, 1, 2))) static void b6_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PEER ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  b6_failed = 1;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  int r = pthread_create(t, NULL, fn, arg);
  if (r) bench_die("pthread_create: %s", strerror(r));
}

static void join_thread(pthread_t t) {
  int r = pthread_join(t, NULL);
  if (r) bench_die("pthread_join: %s", strerror(r));
}

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
