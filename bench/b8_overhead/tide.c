/* SPDX-License-Identifier: MIT */
/* b8_overhead/tide.c - the fixed cost of a libtide loop iteration.
 *
 * Setup in every mode: a loop on the chosen backend and one io watcher (TIDE_READ)
 * on the read end of an empty pipe, so the backend has one registered fd that
 * never becomes ready; one warm-up NOWAIT iteration hands it to the kernel before
 * the measured section. Modes (--mode):
 *   nowait   ops x tide_run(TIDE_RUN_NOWAIT) on that loop, nothing else.
 *   idle     an idle watcher drives ops iterations of one tide_run(TIDE_RUN_DEFAULT):
 *            its callback counts, and at ops stops itself and calls tide_stop().
 *   restart  a prepare watcher whose callback does tide_io_stop + tide_io_start of
 *            the pipe's watcher; ops x tide_run(TIDE_RUN_NOWAIT). The stop+start
 *            pair within one iteration should cost no syscall (the kernel interest
 *            does not change); the driver counts syscalls per op with perf, so the
 *            measured section contains only the loop calls.
 * Checks: the io callback never runs, every tide_run returns 1 (watchers still
 * active), idle/prepare callbacks ran exactly ops times, the watcher is active at
 * the end, the loop frees cleanly.
 *
 * CLI: tide [--mode=nowait|idle|restart] [--ops=1000000]
 *           [--backend=uring|epoll|poll|select|auto] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available.
 */
#include "bench.h"

#include <tide.h>

static const char *const known_args[] = {"mode", "ops", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "tide: %s\nusage: tide [--mode=nowait|idle|restart] [--ops=N] "
          "[--backend=uring|epoll|poll|select|auto] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "tide"
#include "options.h"

enum { MODE_NOWAIT, MODE_IDLE, MODE_RESTART };

static struct {
  tide_io io;
  uint64_t ops, count, io_fired, bad_calls;
} g;

static void io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  (void)w;
  (void)revents;
  g.io_fired++;
}

static void idle_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  (void)revents;
  if (++g.count == g.ops) {
    if (tide_idle_stop(loop, w) < 0) g.bad_calls++;
    tide_stop(loop);
  }
}

static void prepare_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)w;
  (void)revents;
  g.count++;
  if (tide_io_stop(loop, &g.io) < 0) g.bad_calls++;
  if (tide_io_start(loop, &g.io) < 0) g.bad_calls++;
}

static unsigned backend_bit(const char *name) {
  int bits = strcmp(name, "auto") ? tide_backend_from_name(name) : 0;
  if (bits < 0) usage_exit("--backend must be uring, epoll, poll, select or auto");
  return (unsigned)bits;
}

static tide_loop *open_loop(const char *name) {
  unsigned bit = backend_bit(name);
  if (bit && !(tide_backends_supported() & bit)) {
    fprintf(stderr, "tide: backend %s is not available on this kernel/build\n", name);
    exit(3);
  }
  struct tide_loop_options o = {.size = sizeof o, .backends = bit, .flags = TIDE_LOOP_NOENV};
  tide_loop *loop = NULL;
  int r = tide_loop_new(&loop, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, "tide: backend %s is not available: %s\n", name, tide_strerror(r));
    exit(3);
  }
  if (r < 0) bench_die("tide_loop_new: %s", tide_strerror(r));
  return loop;
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t ops = arg_u64(argc, argv, "ops", smoke ? 1000 : 1000000);
  const char *mode_s = bench_arg_str(argc, argv, "mode", "nowait");
  const char *backend = bench_arg_str(argc, argv, "backend", "auto");
  int mode;
  if (!strcmp(mode_s, "nowait")) mode = MODE_NOWAIT;
  else if (!strcmp(mode_s, "idle")) mode = MODE_IDLE;
  else if (!strcmp(mode_s, "restart")) mode = MODE_RESTART;
  else usage_exit("--mode must be nowait, idle or restart");
  if (ops < 1) usage_exit("--ops must be >= 1");
  g.ops = ops;

  tide_loop *loop = open_loop(backend);
  const char *bk = tide_loop_backend(loop); /* a static string */
  int pfd[2];
  if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  int r = tide_io_init(&g.io, io_cb, pfd[0], TIDE_READ);
  if (r == 0) r = tide_io_start(loop, &g.io);
  if (r < 0) bench_die("tide_io_start: %s", tide_strerror(r));
  r = tide_run(loop, TIDE_RUN_NOWAIT); /* warm-up: the fd reaches the kernel */
  if (r != 1) bench_die("warm-up tide_run returned %d", r);

  tide_idle idle = {0}; /* zeroed: init checks the private storage for a signature */
  tide_prepare prep = {0};
  if (mode == MODE_IDLE) {
    r = tide_idle_init(&idle, idle_cb);
    if (r == 0) r = tide_idle_start(loop, &idle);
    if (r < 0) bench_die("tide_idle_start: %s", tide_strerror(r));
  } else if (mode == MODE_RESTART) {
    r = tide_prepare_init(&prep, prepare_cb);
    if (r == 0) r = tide_prepare_start(loop, &prep);
    if (r < 0) bench_die("tide_prepare_start: %s", tide_strerror(r));
    r = tide_run(loop, TIDE_RUN_NOWAIT); /* warm-up of the restart path */
    if (r != 1 || g.count != 1) bench_die("warm-up restart iteration failed (%d)", r);
    g.count = 0;
  }

  uint64_t bad_runs = 0;
  bench_clock clk;
  if (mode == MODE_IDLE) {
    bench_begin(&clk);
    r = tide_run(loop, TIDE_RUN_DEFAULT);
    bench_end(&clk);
    if (r != 1) bad_runs++;
  } else {
    bench_begin(&clk);
    for (uint64_t i = 0; i < ops; i++) bad_runs += tide_run(loop, TIDE_RUN_NOWAIT) != 1;
    bench_end(&clk);
    if (mode == MODE_NOWAIT) g.count = ops;
  }

  int fail = 0;
  if (bad_runs) fail = fprintf(stderr, "tide: %llu tide_run calls did not return 1\n", (unsigned long long)bad_runs);
  if (g.io_fired) fail = fprintf(stderr, "tide: the idle pipe's watcher fired %llu times\n", (unsigned long long)g.io_fired);
  if (g.bad_calls) fail = fprintf(stderr, "tide: %llu watcher calls failed\n", (unsigned long long)g.bad_calls);
  if (g.count != ops)
    fail = fprintf(stderr, "tide: %llu iterations counted, expected %llu\n", (unsigned long long)g.count,
                   (unsigned long long)ops);
  if (tide_is_active(&g.io) != 1) fail = fprintf(stderr, "tide: the io watcher is not active at the end\n");

  if (mode == MODE_RESTART) tide_prepare_stop(loop, &prep);
  if (mode == MODE_IDLE) tide_idle_stop(loop, &idle);
  tide_io_stop(loop, &g.io);
  r = tide_loop_free(loop);
  if (r < 0) fail = fprintf(stderr, "tide: tide_loop_free: %s\n", tide_strerror(r));
  close(pfd[0]);
  close(pfd[1]);
  if (fail) return 1;
  bench_result(&clk, ops, NULL, " mode=%s backend=%s", mode_s, bk);
  return 0;
}
