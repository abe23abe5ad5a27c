/* SPDX-License-Identifier: MIT */
/* options.h - strict command-line options for the benchmark programs (bench.h has
 * the lenient readers). Before including it a program defines
 *   BENCH_PROG                 its name in messages (a string literal),
 *   known_args[]               the NULL-terminated option names it accepts,
 *   usage_exit(const char *)   print the usage and exit 2.
 * check_args() rejects unknown options; arg_u64() rejects malformed numbers;
 * raise_nofile() lifts RLIMIT_NOFILE to its hard limit and exits 3 ("cannot run
 * here") if that is still below want. */
#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static inline void check_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int ok = !strcmp(a, "--smoke");
    for (const char *const *k = known_args; !ok && *k; k++) {
      size_t n = strlen(*k);
      ok = !strncmp(a, "--", 2) && !strncmp(a + 2, *k, n) && a[2 + n] == '=';
    }
    if (!ok) {
      fprintf(stderr, BENCH_PROG ": unknown argument '%s'\n", a);
      usage_exit("bad arguments");
    }
  }
}

static inline uint64_t arg_u64(int argc, char **argv, const char *name, uint64_t def) {
  const char *s = bench_arg_str(argc, argv, name, NULL);
  if (!s) return def;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end || *s == '-') usage_exit("option values are unsigned integers");
  return v;
}

static inline void raise_nofile(uint64_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    fprintf(stderr, BENCH_PROG ": needs %llu fds, RLIMIT_NOFILE hard limit is %llu\n",
            (unsigned long long)want, (unsigned long long)rl.rlim_cur);
    exit(3);
  }
}

#endif /* BENCH_OPTIONS_H */
