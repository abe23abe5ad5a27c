/* SPDX-License-Identifier: MIT */
/* b5_harness.h - what every b5_timers peer program shares: options, the fixed
 * pseudo-random timeouts and cancel order, the watchdog, the checks and the RESULT
 * line. A peer defines PEER, PEER_ARGS and PEER_USAGE, includes this, and writes its
 * main() with these helpers around its own library calls. */
#ifndef BENCH_B5_HARNESS_H
#define BENCH_B5_HARNESS_H

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

#define BENCH_PROG PEER
#include "options.h"

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

#endif
