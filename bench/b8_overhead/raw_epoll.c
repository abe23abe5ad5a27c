/* SPDX-License-Identifier: MIT */
/* b8_overhead/raw_epoll.c - the floor of a loop iteration: one epoll_wait.
 *
 * --mode=nowait: an epoll instance with the read end of an empty pipe registered
 * (EPOLLIN, level-triggered), then ops x epoll_wait(timeout 0), nothing else; each
 * must return 0 events. This is the syscall every library peer's NOWAIT iteration
 * makes on epoll, with no loop bookkeeping around it.
 *
 * --mode=idle and --mode=restart have no meaning without a loop library (there
 * are no idle or prepare watchers to drive, and a raw program would simply not
 * stop and restart anything): the program brackets an empty measured section
 * (so a perf run still gets its enable/disable), prints
 * "RESULT ops=0 wall_ns=0 cpu_ns=0 mode=... backend=epoll unsupported=1" and exits
 * 0, so the driver can run every mode on every peer and skip the rows with ops=0.
 * --backend is accepted and ignored.
 *
 * CLI: raw_epoll [--mode=nowait|idle|restart] [--ops=1000000] [--smoke]
 * Exit: 0 ok (or mode not applicable), 1 check failed, 2 bad arguments.
 */
#include "bench.h"

#include <sys/epoll.h>

static const char *const known_args[] = {"mode", "ops", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr, "raw_epoll: %s\nusage: raw_epoll [--mode=nowait|idle|restart] [--ops=N] [--smoke]\n", why);
  exit(2);
}

#define BENCH_PROG "raw_epoll"
#include "options.h"

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t ops = arg_u64(argc, argv, "ops", smoke ? 1000 : 1000000);
  const char *mode_s = bench_arg_str(argc, argv, "mode", "nowait");
  if (strcmp(mode_s, "nowait") && strcmp(mode_s, "idle") && strcmp(mode_s, "restart"))
    usage_exit("--mode must be nowait, idle or restart");
  if (ops < 1) usage_exit("--ops must be >= 1");

  bench_clock clk;
  if (strcmp(mode_s, "nowait")) {
    /* an empty measured section, so perf's counters are enabled and read as 0ish
     * like everyone else's, then the zero RESULT */
    bench_begin(&clk);
    bench_end(&clk);
    clk.wall = clk.cpu = 0;
    bench_result(&clk, 0, NULL, " mode=%s backend=epoll unsupported=1", mode_s);
    return 0;
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) bench_die("epoll_create1: %s", strerror(errno));
  int pfd[2];
  if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));

  struct epoll_event evs[8];
  uint64_t bad = 0;
  bench_begin(&clk);
  for (uint64_t i = 0; i < ops; i++) bad += epoll_wait(ep, evs, 8, 0) != 0;
  bench_end(&clk);

  close(pfd[0]);
  close(pfd[1]);
  close(ep);
  if (bad) {
    fprintf(stderr, "raw_epoll: %llu epoll_wait calls did not return 0 events\n", (unsigned long long)bad);
    return 1;
  }
  bench_result(&clk, ops, NULL, " mode=nowait backend=epoll");
  return 0;
}
