/* SPDX-License-Identifier: MIT */
/* b8_overhead/libuv.c - the fixed cost of a libuv loop iteration.
 *
 * Setup in every mode: a uv_loop_t (epoll on Linux) and one uv_poll_t
 * (UV_READABLE) on the read end of an empty pipe, so the backend has one
 * registered fd that never becomes ready; one warm-up UV_RUN_NOWAIT iteration
 * hands it to epoll before the measured section. Modes (--mode):
 *   nowait   ops x uv_run(UV_RUN_NOWAIT), nothing else.
 *   idle     a uv_idle_t drives ops iterations of one uv_run(UV_RUN_DEFAULT): its
 *            callback counts, and at ops stops itself and calls uv_stop().
 *   restart  a uv_prepare_t whose callback does uv_poll_stop + uv_poll_start of
 *            the pipe's poll handle; ops x uv_run(UV_RUN_NOWAIT).
 * --backend is accepted and ignored.
 * Checks: the poll callback never runs, uv_run returns non-zero (handles active),
 * idle/prepare callbacks ran exactly ops times, the poll handle is active at the
 * end, the loop closes cleanly.
 *
 * CLI: libuv [--mode=nowait|idle|restart] [--ops=1000000] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#include "bench.h"

#include <uv.h>

static const char *const known_args[] = {"mode", "ops", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr, "libuv: %s\nusage: libuv [--mode=nowait|idle|restart] [--ops=N] [--smoke]\n", why);
  exit(2);
}

#define BENCH_PROG "libuv"
#include "options.h"

enum { MODE_NOWAIT, MODE_IDLE, MODE_RESTART };

static struct {
  uv_poll_t poll;
  uint64_t ops, count, io_fired, bad_calls;
} g;

static void poll_cb(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)status;
  (void)events;
  g.io_fired++;
}

static void idle_cb(uv_idle_t *h) {
  if (++g.count == g.ops) {
    if (uv_idle_stop(h) < 0) g.bad_calls++;
    uv_stop(h->loop);
  }
}

static void prepare_cb(uv_prepare_t *h) {
  (void)h;
  g.count++;
  if (uv_poll_stop(&g.poll) < 0) g.bad_calls++;
  if (uv_poll_start(&g.poll, UV_READABLE, poll_cb) < 0) g.bad_calls++;
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t ops = arg_u64(argc, argv, "ops", smoke ? 1000 : 1000000);
  const char *mode_s = bench_arg_str(argc, argv, "mode", "nowait");
  int mode;
  if (!strcmp(mode_s, "nowait")) mode = MODE_NOWAIT;
  else if (!strcmp(mode_s, "idle")) mode = MODE_IDLE;
  else if (!strcmp(mode_s, "restart")) mode = MODE_RESTART;
  else usage_exit("--mode must be nowait, idle or restart");
  if (ops < 1) usage_exit("--ops must be >= 1");
  g.ops = ops;

  uv_loop_t loop;
  int r = uv_loop_init(&loop);
  if (r < 0) bench_die("uv_loop_init: %s", uv_strerror(r));
  int pfd[2];
  if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  r = uv_poll_init(&loop, &g.poll, pfd[0]);
  if (r == 0) r = uv_poll_start(&g.poll, UV_READABLE, poll_cb);
  if (r < 0) bench_die("uv_poll_init/start: %s", uv_strerror(r));
  if (!uv_run(&loop, UV_RUN_NOWAIT)) bench_die("warm-up uv_run returned 0");

  uv_idle_t idle;
  uv_prepare_t prep;
  if (mode == MODE_IDLE) {
    r = uv_idle_init(&loop, &idle);
    if (r == 0) r = uv_idle_start(&idle, idle_cb);
    if (r < 0) bench_die("uv_idle_start: %s", uv_strerror(r));
  } else if (mode == MODE_RESTART) {
    r = uv_prepare_init(&loop, &prep);
    if (r == 0) r = uv_prepare_start(&prep, prepare_cb);
    if (r < 0) bench_die("uv_prepare_start: %s", uv_strerror(r));
    uv_run(&loop, UV_RUN_NOWAIT); /* warm-up of the restart path */
    if (g.count != 1) bench_die("warm-up restart iteration failed");
    g.count = 0;
  }

  uint64_t bad_runs = 0;
  bench_clock clk;
  if (mode == MODE_IDLE) {
    bench_begin(&clk);
    bad_runs += !uv_run(&loop, UV_RUN_DEFAULT);
    bench_end(&clk);
  } else {
    bench_begin(&clk);
    for (uint64_t i = 0; i < ops; i++) bad_runs += !uv_run(&loop, UV_RUN_NOWAIT);
    bench_end(&clk);
    if (mode == MODE_NOWAIT) g.count = ops;
  }

  int fail = 0;
  if (bad_runs) fail = fprintf(stderr, "libuv: %llu uv_run calls returned 0\n", (unsigned long long)bad_runs);
  if (g.io_fired) fail = fprintf(stderr, "libuv: the idle pipe's poll handle fired %llu times\n", (unsigned long long)g.io_fired);
  if (g.bad_calls) fail = fprintf(stderr, "libuv: %llu handle calls failed\n", (unsigned long long)g.bad_calls);
  if (g.count != ops)
    fail = fprintf(stderr, "libuv: %llu iterations counted, expected %llu\n", (unsigned long long)g.count,
                   (unsigned long long)ops);
  if (!uv_is_active((uv_handle_t *)&g.poll)) fail = fprintf(stderr, "libuv: the poll handle is not active at the end\n");

  if (mode == MODE_IDLE) uv_close((uv_handle_t *)&idle, NULL);
  if (mode == MODE_RESTART) uv_close((uv_handle_t *)&prep, NULL);
  uv_close((uv_handle_t *)&g.poll, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&loop);
  if (r < 0) fail = fprintf(stderr, "libuv: uv_loop_close: %s\n", uv_strerror(r));
  close(pfd[0]);
  close(pfd[1]);
  if (fail) return 1;
  bench_result(&clk, ops, NULL, " mode=%s backend=epoll", mode_s);
  return 0;
}
