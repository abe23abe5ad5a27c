/* SPDX-License-Identifier: MIT */
/* b1_pipes/libuv.c - libevent's classic pipe benchmark on libuv.
 *
 * Readiness through uv_poll_t (UV_READABLE) and plain recv/send in the callback,
 * to compare like with like with the other readiness peers (libev ev_io, libevent
 * events, libtide io watchers). libuv's idiomatic uv_read_start streams would
 * also work, but they read into an allocated buffer as much as is available and
 * hide the per-event syscalls, so they measure a different thing; uv_poll is the
 * chosen form here.
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes:
 * the first A pairs get one byte; the poll callback of pair i reads one byte and,
 * while the write budget lasts, sends one byte to pair (i+1) % N (a "hop"). Only
 * the uv_run that performs the W hops (and reads the last A bytes) is measured;
 * the pairs, registration with epoll (one warm-up UV_RUN_NOWAIT) and the first A
 * writes are setup.
 *
 * --timeouts=1: every pair also has a uv_timer_t (10 s, repeat 10 s) re-armed with
 * uv_timer_again() each time its fd fires; it must never fire.
 *
 * The backend is libuv's (epoll on Linux); --backend is accepted and ignored so the
 * driver may pass one option set to every peer.
 *
 * Checks: exactly W hops, W + A bytes read, each byte is the tag of the pair it
 * arrived on, no timer fired.
 *
 * CLI: libuv [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 not enough fds.
 */
#include "bench.h"

#include <sys/socket.h>

#include <uv.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr, "libuv: %s\nusage: libuv [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "libuv"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

typedef struct {
  uv_poll_t poll;
  uv_timer_t tm;
  int rfd, wfd;
  uint32_t idx;
} pair;

static struct {
  pair *p;
  uint64_t n, writes, want_reads;
  uint64_t hops, reads, bad_bytes, spurious, timer_fired;
  int timeouts;
} g;

static void poll_cb(uv_poll_t *h, int status, int events) {
  pair *p = h->data;
  (void)events;
  if (status < 0) bench_die("uv_poll on pair %u: %s", (unsigned)p->idx, uv_strerror(status));
  unsigned char c;
  ssize_t r = recv(p->rfd, &c, 1, 0);
  if (r != 1) {
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      g.spurious++;
      return;
    }
    bench_die("recv on pair %u: %s", (unsigned)p->idx, r < 0 ? strerror(errno) : "EOF");
  }
  if (c != tag(p->idx)) g.bad_bytes++;
  g.reads++;
  if (g.timeouts) uv_timer_again(&p->tm);
  if (g.hops < g.writes) {
    uint64_t j = p->idx + 1 == g.n ? 0 : p->idx + 1;
    unsigned char o = tag(j);
    if (send(g.p[j].wfd, &o, 1, 0) != 1) bench_die("send to pair %llu: %s", (unsigned long long)j, strerror(errno));
    g.hops++;
  }
  if (g.reads == g.want_reads) uv_stop(h->loop);
}

static void timer_cb(uv_timer_t *t) {
  g.timer_fired++;
  uv_stop(t->loop);
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t n = arg_u64(argc, argv, "n", smoke ? 50 : 1000);
  const uint64_t active = arg_u64(argc, argv, "active", smoke ? 5 : 100);
  const uint64_t writes = arg_u64(argc, argv, "writes", smoke ? 300 : 100000);
  const uint64_t timeouts = arg_u64(argc, argv, "timeouts", 0);
  if (n < 1 || n > 1000000) usage_exit("--n must be 1..1000000");
  if (active < 1 || active > n) usage_exit("--active must be 1..n");
  if (timeouts > 1) usage_exit("--timeouts must be 0 or 1");
  raise_nofile(2 * n + 64);

  uv_loop_t loop;
  int r = uv_loop_init(&loop);
  if (r < 0) bench_die("uv_loop_init: %s", uv_strerror(r));
  g.p = calloc(n, sizeof *g.p);
  if (!g.p) bench_die("out of memory");
  g.n = n;
  g.writes = writes;
  g.want_reads = writes + active;
  g.timeouts = (int)timeouts;
  for (uint64_t i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      bench_die("socketpair: %s", strerror(errno));
    pair *p = &g.p[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    r = uv_poll_init(&loop, &p->poll, p->rfd);
    if (r == 0) r = uv_poll_start(&p->poll, UV_READABLE, poll_cb);
    if (r < 0) bench_die("uv_poll_init/start: %s", uv_strerror(r));
    p->poll.data = p;
    if (timeouts) {
      r = uv_timer_init(&loop, &p->tm);
      if (r == 0) r = uv_timer_start(&p->tm, timer_cb, 10000, 10000);
      if (r < 0) bench_die("uv_timer_init/start: %s", uv_strerror(r));
      p->tm.data = p;
    }
  }
  uv_run(&loop, UV_RUN_NOWAIT); /* warm-up: registrations reach epoll */
  if (g.reads || g.spurious) bench_die("callbacks ran before any byte was written");
  for (uint64_t i = 0; i < active; i++) {
    unsigned char o = tag(i);
    if (send(g.p[i].wfd, &o, 1, 0) != 1) bench_die("send: %s", strerror(errno));
  }

  bench_clock clk;
  bench_begin(&clk);
  uv_run(&loop, UV_RUN_DEFAULT);
  bench_end(&clk);

  int fail = 0;
  if (g.timer_fired) fail = fprintf(stderr, "libuv: %llu timeouts fired\n", (unsigned long long)g.timer_fired);
  if (g.hops != writes)
    fail = fprintf(stderr, "libuv: %llu hops, expected %llu\n", (unsigned long long)g.hops, (unsigned long long)writes);
  if (g.reads != g.want_reads)
    fail = fprintf(stderr, "libuv: %llu bytes read, expected %llu\n", (unsigned long long)g.reads,
                   (unsigned long long)g.want_reads);
  if (g.bad_bytes) fail = fprintf(stderr, "libuv: %llu bytes arrived on the wrong pair\n", (unsigned long long)g.bad_bytes);

  /* teardown: close every handle, let the loop finish the closes, then the fds */
  for (uint64_t i = 0; i < n; i++) {
    uv_close((uv_handle_t *)&g.p[i].poll, NULL);
    if (timeouts) uv_close((uv_handle_t *)&g.p[i].tm, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&loop);
  if (r < 0) fail = fprintf(stderr, "libuv: uv_loop_close: %s\n", uv_strerror(r));
  for (uint64_t i = 0; i < n; i++) {
    close(g.p[i].rfd);
    close(g.p[i].wfd);
  }
  free(g.p);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=epoll n=%llu active=%llu timeouts=%llu spurious=%llu",
               (unsigned long long)n, (unsigned long long)active, (unsigned long long)timeouts,
               (unsigned long long)g.spurious);
  return 0;
}
