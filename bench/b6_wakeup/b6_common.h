/* SPDX-License-Identifier: MIT */
/* b6_common.h - what every b6_wakeup program shares, the raw eventfd floor included:
 * options (--mode, --rounds, --threads, --sends, --watchdog, --max-seconds), the
 * watchdog, failure reporting and thread helpers. A program defines PEER, PEER_ARGS
 * and PEER_USAGE, then includes this (b6_harness.h does for the library peers). */
#ifndef BENCH_B6_COMMON_H
#define BENCH_B6_COMMON_H

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

#define BENCH_PROG PEER
#include "options.h"

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

#endif
