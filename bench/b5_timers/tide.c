/* b5_timers/tide.c - B5 timers on libtide: start, fire, cancel and re-arm a
 * million timers.
 *
 * One phase per run (--phase), so each gets its own RESULT line; the other
 * phases' setup (initialising watchers, starting the timers a phase needs) is
 * done before bench_begin():
 *   add     measure tide_timer_start() of N initialised timers.
 *   fire    start N timers (setup), measure tide_run() until all N fired.
 *   cancel  start N timers (setup), measure tide_timer_stop() of all of them in
 *           a random order (Fisher-Yates permutation, fixed seed).
 *   again   start N timers with repeat = their timeout (setup), measure N
 *           tide_timer_again() calls: --again-target=one (default) re-arms the
 *           same timer (timer 0) N times while the other N-1 sit in the heap;
 *           --again-target=each re-arms every timer once, in the permutation's
 *           order.
 * Timeouts: timer i gets 1 + x_i % max_ms milliseconds (as after and repeat),
 * x_i from xorshift64 with a fixed seed: the same sequence in every B5 peer.
 * --max-ms (default 1000) bounds the timeouts in every phase, and so the fire
 * phase's wall time (about max_ms); a quick fire run can use --max-ms=100.
 *
 * Checks (exit 1): every start/stop/again call succeeded; add/again: every timer
 * is active afterwards (again: due within its repeat from now); cancel: none is;
 * fire: exactly N callbacks, each timer exactly once, none early: the callback's
 * clock reading is >= the clock read just before the timer was started plus its
 * timeout (libtide reads the clock at each start, so no tolerance is needed).
 * The start times live in one uint64_t array (8 bytes a timer).
 *
 * RESULT ops=N wall_ns cpu_ns [fire: p50/p99/p999_ns = lateness of a callback:
 * its clock reading minus its due time, or minus the start of the measured run
 * for the timers that fell due during setup] rss_kb=<peak RSS of the whole run,
 * getrusage ru_maxrss> max_ms backend [fire: fired early_tol_ns] [again: target].
 *
 * CLI: tide [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *           [--again-target=one|each] [--backend=any|uring|epoll|poll|select]
 *           [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * --watchdog: seconds before the run is declared hung (exit 1); 0 disables it.
 * --backend=any lets libtide pick (TIDE_BACKEND in the environment is ignored).
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available here.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>

#include <tide.h>

#define PEER "tide"
#define PEER_ARGS "backend",
#define PEER_USAGE " [--backend=any|uring|epoll|poll|select]"

/* ------------------------------------------------ shared by the B5 peers */

enum { PH_ADD, PH_FIRE, PH_CANCEL, PH_AGAIN };
static const char *const phase_names[] = {"add", "fire", "cancel", "again"};
static const char *const known_args[] = {"phase",        "timers",   "max-ms",
                                         "again-target", "watchdog", PEER_ARGS NULL};

#define B5_SEED_TIMEOUTS 0x9e3779b97f4a7c15ull
#define B5_SEED_ORDER 0xd1b54a32d192ed03ull
#define B5_FIRED UINT64_MAX /* t0[i] once timer i fired */

static struct {
  uint64_t n, max_ms;
  int phase, again_each;
  uint32_t *ms;    /* timeout of timer i, ms */
  uint32_t *order; /* cancel / again-each: a permutation of 0..n-1 */
  uint64_t *t0;    /* fire: clock before timer i was started; B5_FIRED after */
  uint64_t tol_ns; /* fire: how early a callback may run (the peer's clock granularity) */
  uint64_t run0;   /* fire: clock when the measured loop run began */
  uint64_t fired, early, twice;
  bench_hist late; /* fire: now - max(due, run0) per callback */
} g;

static void usage_exit(const char *why) {
  fprintf(stderr,
          PEER ": %s\nusage: " PEER
               " [--phase=add|fire|cancel|again] [--timers=N] [--max-ms=M] "
               "[--again-target=one|each]" PEER_USAGE " [--watchdog=S] [--smoke]\n",
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
  static const char m[] = "bench: watchdog: the run took too long (a timer never fired?)\n";
  ssize_t r = write(2, m, sizeof m - 1);
  (void)r;
  _exit(1);
}

static void watchdog_arm(uint64_t seconds) {
  if (!seconds) return;
  signal(SIGALRM, watchdog_fire);
  alarm(seconds > 86400 ? 86400 : (unsigned)seconds);
}

static inline uint64_t xorshift64(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static void *xcalloc(uint64_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) bench_die("out of memory (%llu x %zu bytes)", (unsigned long long)n, size);
  return p;
}

/* Options, the timeout sequence and the permutation. */
static void b5_setup(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const char *ph = bench_arg_str(argc, argv, "phase", "add");
  g.phase = -1;
  for (int i = 0; i < 4; i++)
    if (!strcmp(ph, phase_names[i])) g.phase = i;
  if (g.phase < 0) usage_exit("--phase must be add, fire, cancel or again");
  g.n = arg_u64(argc, argv, "timers", smoke ? 1000 : 1000000);
  g.max_ms = arg_u64(argc, argv, "max-ms", smoke ? 50 : 1000);
  if (g.n < 1 || g.n > 100000000) usage_exit("--timers must be 1..100000000");
  if (g.max_ms < 1 || g.max_ms > 86400000) usage_exit("--max-ms must be 1..86400000");
  const char *tg = bench_arg_str(argc, argv, "again-target", "one");
  if (strcmp(tg, "one") && strcmp(tg, "each")) usage_exit("--again-target must be one or each");
  g.again_each = !strcmp(tg, "each");
  watchdog_arm(arg_u64(argc, argv, "watchdog", 120));

  g.ms = xcalloc(g.n, sizeof *g.ms);
  uint64_t s = B5_SEED_TIMEOUTS;
  for (uint64_t i = 0; i < g.n; i++) g.ms[i] = (uint32_t)(1 + xorshift64(&s) % g.max_ms);
  if (g.phase == PH_CANCEL || (g.phase == PH_AGAIN && g.again_each)) {
    g.order = xcalloc(g.n, sizeof *g.order);
    for (uint64_t i = 0; i < g.n; i++) g.order[i] = (uint32_t)i;
    s = B5_SEED_ORDER;
    for (uint64_t i = g.n - 1; i > 0; i--) {
      uint64_t j = xorshift64(&s) % (i + 1);
      uint32_t t = g.order[i];
      g.order[i] = g.order[j];
      g.order[j] = t;
    }
  }
  if (g.phase == PH_FIRE) g.t0 = xcalloc(g.n, sizeof *g.t0);
}

/* Report a failed check: the message goes to stderr, the run will exit 1. */
static int b5_failed;
__attribute__((format(printf, 1, 2))) static void b5_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PEER ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  b5_failed = 1;
}

/* A fire callback for timer i: count it, check it is neither a repeat nor early. */
static inline void b5_fired(uint64_t i) {
  uint64_t now = bench_now_ns(), t0 = g.t0[i];
  if (t0 == B5_FIRED) {
    g.twice++;
    return;
  }
  g.t0[i] = B5_FIRED;
  g.fired++;
  uint64_t due = t0 + (uint64_t)g.ms[i] * 1000000u;
  if (now + g.tol_ns < due) g.early++;
  uint64_t from = due > g.run0 ? due : g.run0; /* timers due during setup count from run0 */
  bench_hist_add(&g.late, now > from ? now - from : 0);
}

/* The fire phase's checks. */
static void b5_fire_check(void) {
  if (g.fired != g.n)
    b5_fail("%llu of %llu timers fired", (unsigned long long)g.fired, (unsigned long long)g.n);
  if (g.twice) b5_fail("%llu callbacks for timers that had fired already", (unsigned long long)g.twice);
  if (g.early)
    b5_fail("%llu timers fired early (tolerance %llu ns)", (unsigned long long)g.early,
            (unsigned long long)g.tol_ns);
}

/* The state checks after the phase: active timers counted by the peer. */
static void b5_active_check(uint64_t active, uint64_t bad_due) {
  uint64_t want = (g.phase == PH_ADD || g.phase == PH_AGAIN) ? g.n : 0;
  if (active != want)
    b5_fail("%llu timers active after the phase, expected %llu", (unsigned long long)active,
            (unsigned long long)want);
  if (bad_due) b5_fail("%llu timers not due within their repeat after again", (unsigned long long)bad_due);
}

static long b5_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void b5_free(void) {
  free(g.ms);
  free(g.order);
  free(g.t0);
}

/* ------------------------------------------------ libtide */

static tide_timer *timers;

static unsigned backend_bit(const char *name) {
  static const struct {
    const char *name;
    unsigned bit;
  } all[] = {{"uring", TIDE_BACKEND_URING},
             {"epoll", TIDE_BACKEND_EPOLL},
             {"poll", TIDE_BACKEND_POLL},
             {"select", TIDE_BACKEND_SELECT},
             {"any", 0},
             {"auto", 0}};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (!strcmp(name, all[i].name)) return all[i].bit;
  usage_exit("--backend must be any, uring, epoll, poll or select");
  return 0;
}

static tide_loop *open_loop(const char *name) {
  unsigned bit = backend_bit(name);
  if (bit && !(tide_backends_supported() & bit)) {
    fprintf(stderr, PEER ": backend %s is not available on this kernel/build\n", name);
    exit(3);
  }
  struct tide_loop_options o = {.size = sizeof o, .backends = bit, .flags = TIDE_LOOP_NOENV};
  tide_loop *loop = NULL;
  int r = tide_loop_new(&loop, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, PEER ": backend %s is not available: %s\n", name, tide_strerror(r));
    exit(3);
  }
  if (r < 0) bench_die("tide_loop_new: %s", tide_strerror(r));
  return loop;
}

static void fire_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  b5_fired((uint64_t)(w - timers));
}

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  tide_loop *loop = open_loop(bench_arg_str(argc, argv, "backend", "any"));
  const uint64_t n = g.n;
  const int repeat = g.phase == PH_AGAIN;
  timers = xcalloc(n, sizeof *timers);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t ns = (uint64_t)g.ms[i] * 1000000u;
    int r = tide_timer_init(&timers[i], fire_cb, ns, repeat ? ns : 0);
    if (r < 0) bench_die("tide_timer_init: %s", tide_strerror(r));
  }
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      if (g.phase == PH_FIRE) g.t0[i] = bench_now_ns(); /* tide_timer_start reads the clock after */
      int r = tide_timer_start(loop, &timers[i]);
      if (r < 0) bench_die("tide_timer_start: %s", tide_strerror(r));
    }

  int err = 0;
  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= tide_timer_start(loop, &timers[i]);
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      err = tide_run(loop, TIDE_RUN_DEFAULT);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= tide_timer_stop(loop, &timers[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= tide_timer_again(loop, &timers[g.order[i]]);
        bench_end(&clk);
      } else {
        tide_timer *w = &timers[0];
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= tide_timer_again(loop, w);
        bench_end(&clk);
      }
      break;
  }
  if (err < 0) b5_fail("a timer call failed: %s", tide_strerror(err));

  /* state checks, then stop everything */
  uint64_t active = 0, bad_due = 0;
  tide_update_time(loop);
  for (uint64_t i = 0; i < n; i++) {
    int a = tide_is_active(&timers[i]);
    if (a < 0) bench_die("tide_is_active: %s", tide_strerror(a));
    active += (uint64_t)a;
    if (g.phase == PH_AGAIN) {
      int64_t rem = tide_timer_remaining(loop, &timers[i]);
      if (rem < 0 || (uint64_t)rem > (uint64_t)g.ms[i] * 1000000u) bad_due++;
    }
    tide_timer_stop(loop, &timers[i]);
  }
  b5_active_check(active, bad_due);

  const char *bk = tide_loop_backend(loop); /* static string */
  int r = tide_loop_free(loop);
  if (r < 0) b5_fail("tide_loop_free: %s", tide_strerror(r));
  free(timers);
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
