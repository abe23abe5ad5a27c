/* SPDX-License-Identifier: MIT */
/* b8_overhead/libevent.c - the fixed cost of a libevent 2.1 loop iteration.
 *
 * Setup in every mode: an event_base (libevent's default backend, epoll on Linux)
 * and one EV_READ|EV_PERSIST event on the read end of an empty pipe, so the backend
 * has one registered fd that never becomes ready; one warm-up EVLOOP_NONBLOCK
 * iteration precedes the measured section. Modes (--mode):
 *   nowait   ops x event_base_loop(EVLOOP_NONBLOCK), nothing else.
 *   idle     libevent has no idle watcher. The stand-in is a timer event with a
 *            zero timeout that its callback adds again (event_add with {0, 0}):
 *            it is due in every iteration, so the backend waits with timeout 0
 *            and the callback runs once per iteration, which is what an idle
 *            watcher does. Two near misses: EV_PERSIST with a zero timeout fires
 *            only once (libevent re-arms a persistent event's timeout only when
 *            it is non-zero), and event_active() from the callback runs the
 *            callback again in the same pass over the active queue, without a
 *            backend poll, so it would count callbacks, not loop iterations.
 *            One event_base_loop(0); the callback counts and at ops stops
 *            re-adding itself and calls event_base_loopbreak().
 *   restart  libevent 2.1 has no prepare or check watchers (evwatch_* arrive in
 *            2.2), so the io event is stopped and started (event_del + event_add)
 *            in the driving loop just before each event_base_loop(EVLOOP_NONBLOCK):
 *            the same sequence of calls as a prepare callback would make. With the
 *            default epoll backend each of them is an epoll_ctl at once;
 *            --changelist=1 sets EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST, which
 *            defers and coalesces them as libev and libtide do.
 * --backend is accepted and ignored.
 * Checks: the io callback never runs, every loop call returns 0, the timer
 * callback ran exactly ops times (idle), the io event is pending at the end.
 *
 * CLI: libevent [--mode=nowait|idle|restart] [--ops=1000000] [--changelist=0|1] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#include "bench.h"

#include <event2/event.h>

static const char *const known_args[] = {"mode", "ops", "changelist", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "libevent: %s\nusage: libevent [--mode=nowait|idle|restart] [--ops=N] [--changelist=0|1] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "libevent"
#include "options.h"

enum { MODE_NOWAIT, MODE_IDLE, MODE_RESTART };

static struct {
  struct event_base *base;
  struct event *io, *idle;
  uint64_t ops, count, io_fired, bad_calls;
} g;

static void io_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  g.io_fired++;
}

static void idle_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  static const struct timeval zero = {0, 0};
  if (++g.count == g.ops) event_base_loopbreak(g.base);
  else if (event_add(g.idle, &zero) < 0) g.bad_calls++;
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t ops = arg_u64(argc, argv, "ops", smoke ? 1000 : 1000000);
  const uint64_t changelist = arg_u64(argc, argv, "changelist", 0);
  const char *mode_s = bench_arg_str(argc, argv, "mode", "nowait");
  int mode;
  if (!strcmp(mode_s, "nowait")) mode = MODE_NOWAIT;
  else if (!strcmp(mode_s, "idle")) mode = MODE_IDLE;
  else if (!strcmp(mode_s, "restart")) mode = MODE_RESTART;
  else usage_exit("--mode must be nowait, idle or restart");
  if (ops < 1) usage_exit("--ops must be >= 1");
  if (changelist > 1) usage_exit("--changelist must be 0 or 1");
  g.ops = ops;

  struct event_config *cfg = event_config_new();
  if (!cfg) bench_die("event_config_new failed");
  if (changelist && event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) < 0)
    bench_die("event_config_set_flag failed");
  g.base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (!g.base) bench_die("event_base_new_with_config failed");

  int pfd[2];
  if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) bench_die("pipe2: %s", strerror(errno));
  g.io = event_new(g.base, pfd[0], EV_READ | EV_PERSIST, io_cb, NULL);
  if (!g.io || event_add(g.io, NULL) < 0) bench_die("event_new/event_add failed");
  if (event_base_loop(g.base, EVLOOP_NONBLOCK) != 0) bench_die("warm-up event_base_loop failed");

  const struct timeval zero = {0, 0};
  if (mode == MODE_IDLE) {
    g.idle = event_new(g.base, -1, 0, idle_cb, NULL);
    if (!g.idle || event_add(g.idle, &zero) < 0) bench_die("event_new/event_add (idle) failed");
  } else if (mode == MODE_RESTART) {
    /* warm-up of the restart path */
    if (event_del(g.io) < 0 || event_add(g.io, NULL) < 0) bench_die("event_del/event_add failed");
    if (event_base_loop(g.base, EVLOOP_NONBLOCK) != 0) bench_die("warm-up event_base_loop failed");
  }

  uint64_t bad_runs = 0;
  bench_clock clk;
  if (mode == MODE_IDLE) {
    bench_begin(&clk);
    bad_runs += event_base_loop(g.base, 0) != 0;
    bench_end(&clk);
  } else if (mode == MODE_RESTART) {
    bench_begin(&clk);
    for (uint64_t i = 0; i < ops; i++) {
      g.bad_calls += event_del(g.io) < 0;
      g.bad_calls += event_add(g.io, NULL) < 0;
      bad_runs += event_base_loop(g.base, EVLOOP_NONBLOCK) != 0;
    }
    bench_end(&clk);
    g.count = ops;
  } else {
    bench_begin(&clk);
    for (uint64_t i = 0; i < ops; i++) bad_runs += event_base_loop(g.base, EVLOOP_NONBLOCK) != 0;
    bench_end(&clk);
    g.count = ops;
  }

  int fail = 0;
  if (bad_runs) fail = fprintf(stderr, "libevent: %llu event_base_loop calls did not return 0\n", (unsigned long long)bad_runs);
  if (g.io_fired) fail = fprintf(stderr, "libevent: the idle pipe's event fired %llu times\n", (unsigned long long)g.io_fired);
  if (g.bad_calls) fail = fprintf(stderr, "libevent: %llu event_add/event_del calls failed\n", (unsigned long long)g.bad_calls);
  if (g.count != ops)
    fail = fprintf(stderr, "libevent: %llu iterations counted, expected %llu\n", (unsigned long long)g.count,
                   (unsigned long long)ops);
  if (!event_pending(g.io, EV_READ, NULL)) fail = fprintf(stderr, "libevent: the io event is not pending at the end\n");

  char method[32];
  snprintf(method, sizeof method, "%s", event_base_get_method(g.base));
  method[strcspn(method, " \t")] = 0; /* "epoll (with changelist)": keep the k=v format */
  if (g.idle) event_free(g.idle);
  event_free(g.io);
  event_base_free(g.base);
  libevent_global_shutdown();
  close(pfd[0]);
  close(pfd[1]);
  if (fail) return 1;
  bench_result(&clk, ops, NULL, " mode=%s backend=%s changelist=%llu", mode_s, method,
               (unsigned long long)changelist);
  return 0;
}
