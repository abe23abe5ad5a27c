/* b5_timers/libuv.c - B5 timers on libuv (uv_timer_t): start, fire, cancel and
 * re-arm a million timers. The same workload, options and checks as
 * b5_timers/tide.c (read its comment); what differs here:
 *   - uv_timer_start() arms relative to the loop's cached time (uv_now, whole
 *     milliseconds); the add phase measures exactly that. The fire phase's setup
 *     calls uv_update_time() before each start, so every timer counts from its
 *     real start, but libuv's clock is in whole milliseconds (CLOCK_MONOTONIC
 *     truncated, or CLOCK_MONOTONIC_COARSE when that ticks at 1 ms or finer), so a
 *     timer may fire up to 1 ms (+ the coarse tick) early on the precise clock:
 *     the early check allows that much (early_tol_ns).
 *   - again: uv_timer_again() (stop + start with the repeat, from uv_now).
 *   - uv_timer_init() is setup; every handle is uv_close()d after the phase.
 *   - libuv 1.44 on Linux always runs epoll: backend=epoll.
 *
 * CLI: libuv [--phase=add|fire|cancel|again] [--timers=1000000] [--max-ms=1000]
 *            [--again-target=one|each] [--watchdog=120] [--smoke]
 * Defaults: --phase=add, --again-target=one. --smoke: 1000 timers, max-ms 50.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>

#include <uv.h>

#define PEER "libuv"
#define PEER_ARGS
#define PEER_USAGE ""

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

/* ------------------------------------------------ libuv */

static uv_timer_t *timers;

static void fire_cb(uv_timer_t *h) { b5_fired((uint64_t)(h - timers)); }

int main(int argc, char **argv) {
  b5_setup(argc, argv);
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) < 0) bench_die("clock_getres: %s", strerror(errno));
  uint64_t coarse = (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec;
  g.tol_ns = 1000000u + (coarse <= 1000000u ? coarse : 0); /* libuv's UV_CLOCK_FAST rule */
  uv_loop_t loop;
  int r = uv_loop_init(&loop);
  if (r < 0) bench_die("uv_loop_init: %s", uv_strerror(r));
  const uint64_t n = g.n;
  const int repeat = g.phase == PH_AGAIN;
  timers = xcalloc(n, sizeof *timers);
  for (uint64_t i = 0; i < n; i++)
    if ((r = uv_timer_init(&loop, &timers[i])) < 0) bench_die("uv_timer_init: %s", uv_strerror(r));
  /* setup: every phase but add starts the timers first */
  if (g.phase != PH_ADD)
    for (uint64_t i = 0; i < n; i++) {
      if (g.phase == PH_FIRE) {
        g.t0[i] = bench_now_ns();
        uv_update_time(&loop); /* libuv counts from uv_now: make it the real start */
      }
      r = uv_timer_start(&timers[i], fire_cb, g.ms[i], repeat ? g.ms[i] : 0);
      if (r < 0) bench_die("uv_timer_start: %s", uv_strerror(r));
    }

  int err = 0;
  bench_clock clk;
  switch (g.phase) {
    case PH_ADD:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= uv_timer_start(&timers[i], fire_cb, g.ms[i], 0);
      bench_end(&clk);
      break;
    case PH_FIRE:
      bench_begin(&clk);
      g.run0 = bench_now_ns();
      err = uv_run(&loop, UV_RUN_DEFAULT);
      bench_end(&clk);
      b5_fire_check();
      break;
    case PH_CANCEL:
      bench_begin(&clk);
      for (uint64_t i = 0; i < n; i++) err |= uv_timer_stop(&timers[g.order[i]]);
      bench_end(&clk);
      break;
    case PH_AGAIN:
      if (g.again_each) {
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= uv_timer_again(&timers[g.order[i]]);
        bench_end(&clk);
      } else {
        uv_timer_t *h = &timers[0];
        bench_begin(&clk);
        for (uint64_t i = 0; i < n; i++) err |= uv_timer_again(h);
        bench_end(&clk);
      }
      break;
  }
  if (err < 0)
    b5_fail("a timer call failed: %s", uv_strerror(err));
  else if (err > 0)
    b5_fail("uv_run returned %d with nothing left to run", err);

  /* state checks, then close every handle */
  uint64_t active = 0, bad_due = 0;
  uv_update_time(&loop);
  for (uint64_t i = 0; i < n; i++) {
    active += uv_is_active((uv_handle_t *)&timers[i]) ? 1 : 0;
    if (g.phase == PH_AGAIN && uv_timer_get_due_in(&timers[i]) > g.ms[i]) bad_due++;
    uv_close((uv_handle_t *)&timers[i], NULL);
  }
  b5_active_check(active, bad_due);
  r = uv_run(&loop, UV_RUN_DEFAULT); /* runs the closes */
  if (r != 0) b5_fail("uv_run after closing: %d", r);
  r = uv_loop_close(&loop);
  if (r < 0) b5_fail("uv_loop_close: %s", uv_strerror(r));
  free(timers);
  if (b5_failed) {
    b5_free();
    return 1;
  }
  const char *bk = "epoll";
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
