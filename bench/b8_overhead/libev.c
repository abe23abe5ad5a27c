/* SPDX-License-Identifier: MIT */
/* b8_overhead/libev.c - the fixed cost of a libev loop iteration.
 *
 * Setup in every mode: a loop on the chosen backend (EVFLAG_NOENV; epoll unless
 * --backend says otherwise) and one ev_io (EV_READ) on the read end of an empty
 * pipe, so the backend has one registered fd that never becomes ready; one warm-up
 * EVRUN_NOWAIT iteration hands it to the kernel before the measured section.
 * Modes (--mode):
 *   nowait   ops x ev_run(EVRUN_NOWAIT), nothing else.
 *   idle     an ev_idle drives ops iterations of one ev_run(0): its callback
 *            counts, and at ops stops itself and calls ev_break().
 *   restart  an ev_prepare whose callback does ev_io_stop + ev_io_start of the
 *            pipe's watcher; ops x ev_run(EVRUN_NOWAIT). libev documents that such
 *            a stop+start within one iteration costs no syscall (fd changes are
 *            applied once, before the backend wait).
 * Checks: the io callback never runs, ev_run returns non-zero (watchers active),
 * idle/prepare callbacks ran exactly ops times, the io watcher is active at the end.
 *
 * CLI: libev [--mode=nowait|idle|restart] [--ops=1000000] [--backend=epoll|poll|select] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available.
 */
#include "bench.h"

#include <ev.h>

static const char *const known_args[] = {"mode", "ops", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "libev: %s\nusage: libev [--mode=nowait|idle|restart] [--ops=N] [--backend=epoll|poll|select] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "libev"
#include "options.h"

enum { MODE_NOWAIT, MODE_IDLE, MODE_RESTART };

static struct {
  ev_io io;
  uint64_t ops, count, io_fired;
} g;

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
  g.io_fired++;
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  (void)revents;
  if (++g.count == g.ops) {
    ev_idle_stop(loop, w);
    ev_break(loop, EVBREAK_ALL);
  }
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
  (void)w;
  (void)revents;
  g.count++;
  ev_io_stop(loop, &g.io);
  ev_io_start(loop, &g.io);
}

static const char *backend_name(unsigned b) {
  switch (b) {
  case EVBACKEND_EPOLL: return "epoll";
  case EVBACKEND_POLL: return "poll";
  case EVBACKEND_SELECT: return "select";
  default: return "other";
  }
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t ops = arg_u64(argc, argv, "ops", smoke ? 1000 : 1000000);
  const char *mode_s = bench_arg_str(argc, argv, "mode", "nowait");
  const char *backend = bench_arg_str(argc, argv, "backend", "epoll");
  int mode;
  if (!strcmp(mode_s, "nowait")) mode = MODE_NOWAIT;
  else if (!strcmp(mode_s, "idle")) mode = MODE_IDLE;
  else if (!strcmp(mode_s, "restart")) mode = MODE_RESTART;
  else usage_exit("--mode must be nowait, idle or restart");
  if (ops < 1) usage_exit("--ops must be >= 1");
  unsigned want_backend;
  if (!strcmp(backend, "epoll")) want_backend = EVBACKEND_EPOLL;
  else if (!strcmp(backend, "poll")) want_backend = EVBACKEND_POLL;
  else if (!strcmp(backend, "select")) want_backend = EVBACKEND_SELECT;
  else usage_exit("--backend must be epoll, poll or select");
  g.ops = ops;

  struct ev_loop *loop = (ev_supported_backends() & want_backend) ? ev_loop_new(want_backend | EVFLAG_NOENV) : NULL;
  if (!loop || ev_backend(loop) != want_backend) {
    fprintf(stderr, "libev: could not create a %s loop\n", backend);
    exit(3);
  }
  int pfd[2];
  if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  ev_io_init(&g.io, io_cb, pfd[0], EV_READ);
  ev_io_start(loop, &g.io);
  if (!ev_run(loop, EVRUN_NOWAIT)) bench_die("warm-up ev_run returned 0");

  ev_idle idle;
  ev_prepare prep;
  if (mode == MODE_IDLE) {
    ev_idle_init(&idle, idle_cb);
    ev_idle_start(loop, &idle);
  } else if (mode == MODE_RESTART) {
    ev_prepare_init(&prep, prepare_cb);
    ev_prepare_start(loop, &prep);
    ev_run(loop, EVRUN_NOWAIT); /* warm-up of the restart path */
    if (g.count != 1) bench_die("warm-up restart iteration failed");
    g.count = 0;
  }

  uint64_t bad_runs = 0;
  bench_clock clk;
  if (mode == MODE_IDLE) {
    bench_begin(&clk);
    bad_runs += !ev_run(loop, 0);
    bench_end(&clk);
  } else {
    bench_begin(&clk);
    for (uint64_t i = 0; i < ops; i++) bad_runs += !ev_run(loop, EVRUN_NOWAIT);
    bench_end(&clk);
    if (mode == MODE_NOWAIT) g.count = ops;
  }

  int fail = 0;
  if (bad_runs) fail = fprintf(stderr, "libev: %llu ev_run calls returned 0\n", (unsigned long long)bad_runs);
  if (g.io_fired) fail = fprintf(stderr, "libev: the idle pipe's watcher fired %llu times\n", (unsigned long long)g.io_fired);
  if (g.count != ops)
    fail = fprintf(stderr, "libev: %llu iterations counted, expected %llu\n", (unsigned long long)g.count,
                   (unsigned long long)ops);
  if (!ev_is_active(&g.io)) fail = fprintf(stderr, "libev: the io watcher is not active at the end\n");

  const char *bk = backend_name(ev_backend(loop));
  if (mode == MODE_RESTART) ev_prepare_stop(loop, &prep);
  if (mode == MODE_IDLE) ev_idle_stop(loop, &idle);
  ev_io_stop(loop, &g.io);
  ev_loop_destroy(loop);
  close(pfd[0]);
  close(pfd[1]);
  if (fail) return 1;
  bench_result(&clk, ops, NULL, " mode=%s backend=%s", mode_s, bk);
  return 0;
}
