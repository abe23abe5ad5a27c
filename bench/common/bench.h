/* SPDX-License-Identifier: MIT */
/* bench.h - what every benchmark program shares (header-only, C99 + POSIX).
 *
 * Protocol (read by bench/run):
 *   - options are --key=value (bench_arg_u64 / bench_arg_str); --smoke asks for the
 *     smallest run that still checks the protocol (a few hundred operations);
 *   - the measured section is bracketed by bench_begin() / bench_end(); only it
 *     counts for wall time, CPU time and (through perf's control fifo) syscalls;
 *   - the program prints exactly one line starting with "RESULT " on stdout:
 *       RESULT ops=N wall_ns=W cpu_ns=C [p50_ns=.. p99_ns=.. p999_ns=..] [k=v ...]
 *     and exits 0 only if the workload's own correctness checks passed (bytes
 *     verified, every timer fired once, ...); any check failure exits 1 with a
 *     message on stderr.
 *   - syscalls: when the driver runs the program under
 *       perf stat -e raw_syscalls:sys_enter -D -1 --control fifo:CTL,ACK
 *     it sets BENCH_PERF_CTL=CTL and BENCH_PERF_ACK=ACK; bench_begin()/bench_end()
 *     then write "enable"/"disable" to CTL and wait for perf's ack on ACK, so
 *     only the measured section is counted.
 */
#ifndef TIDE_BENCH_H
#define TIDE_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* user + system CPU of the whole process (all threads), ns */
static inline uint64_t bench_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static inline void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* --name=value; the default if absent. */
static inline const char *bench_arg_str(int argc, char **argv, const char *name, const char *def) {
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++)
    if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) && argv[i][2 + n] == '=')
      return argv[i] + 3 + n;
  return def;
}
static inline uint64_t bench_arg_u64(int argc, char **argv, const char *name, uint64_t def) {
  const char *s = bench_arg_str(argc, argv, name, NULL);
  return s ? strtoull(s, NULL, 0) : def;
}
static inline int bench_smoke(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--smoke")) return 1;
  return 0;
}

/* perf control (see the protocol above) */
static inline void bench_perf(const char *cmd) {
  const char *ctl = getenv("BENCH_PERF_CTL"), *ack = getenv("BENCH_PERF_ACK");
  if (!ctl || !ack) return;
  int c = open(ctl, O_WRONLY | O_CLOEXEC), a = open(ack, O_RDONLY | O_CLOEXEC);
  if (c < 0 || a < 0) bench_die("perf control fifos: %s", strerror(errno));
  if (write(c, cmd, strlen(cmd)) < 0) bench_die("perf control: %s", strerror(errno));
  char buf[16];
  if (read(a, buf, sizeof buf) < 0) bench_die("perf ack: %s", strerror(errno));
  close(c);
  close(a);
}

typedef struct {
  uint64_t wall0, cpu0, wall, cpu;
} bench_clock;

static inline void bench_begin(bench_clock *c) {
  bench_perf("enable\n");
  c->cpu0 = bench_cpu_ns();
  c->wall0 = bench_now_ns();
}
static inline void bench_end(bench_clock *c) {
  c->wall = bench_now_ns() - c->wall0;
  c->cpu = bench_cpu_ns() - c->cpu0;
  bench_perf("disable\n");
}

/* Latency histogram: log-linear buckets, 1/64 relative precision, 1 ns .. ~1 hour. */
#define BENCH_HIST_SUB 64
#define BENCH_HIST_BUCKETS (42 * BENCH_HIST_SUB)
typedef struct {
  uint64_t count[BENCH_HIST_BUCKETS];
  uint64_t n;
} bench_hist;

static inline unsigned bench_hist_index(uint64_t v) {
  if (v < BENCH_HIST_SUB) return (unsigned)v;
  unsigned e = 63 - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)) */
  unsigned sub = (unsigned)((v >> (e - 6)) & (BENCH_HIST_SUB - 1));
  unsigned i = (e - 5) * BENCH_HIST_SUB + sub;
  return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}
static inline uint64_t bench_hist_value(unsigned i) {
  if (i < BENCH_HIST_SUB) return i;
  unsigned e = i / BENCH_HIST_SUB + 5, sub = i % BENCH_HIST_SUB;
  return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 6));
}
static inline void bench_hist_add(bench_hist *h, uint64_t v) {
  h->count[bench_hist_index(v)]++;
  h->n++;
}
static inline uint64_t bench_hist_pct(const bench_hist *h, double p) {
  uint64_t want = (uint64_t)(p * (double)h->n), seen = 0;
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
    seen += h->count[i];
    if (seen > want) return bench_hist_value(i);
  }
  return 0;
}

/* The RESULT line. extra: "" or " key=value ..." (printf format). */
static inline void bench_result(const bench_clock *c, uint64_t ops, const bench_hist *h,
                                const char *extra, ...) {
  printf("RESULT ops=%llu wall_ns=%llu cpu_ns=%llu", (unsigned long long)ops,
         (unsigned long long)c->wall, (unsigned long long)c->cpu);
  if (h && h->n)
    printf(" p50_ns=%llu p99_ns=%llu p999_ns=%llu", (unsigned long long)bench_hist_pct(h, 0.50),
           (unsigned long long)bench_hist_pct(h, 0.99), (unsigned long long)bench_hist_pct(h, 0.999));
  if (extra && *extra) {
    va_list ap;
    va_start(ap, extra);
    vprintf(extra, ap);
    va_end(ap);
  }
  putchar('\n');
  fflush(stdout);
}

#endif /* TIDE_BENCH_H */
