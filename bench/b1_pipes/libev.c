/* SPDX-License-Identifier: MIT */
/* b1_pipes/libev.c - libevent's classic pipe benchmark on libev (ev_io).
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes:
 * the first A pairs get one byte; the read callback of pair i reads one byte and,
 * while the write budget lasts, sends one byte to pair (i+1) % N (a "hop"). Only
 * the ev_run that performs the W hops (and reads the last A bytes) is measured;
 * the pairs, the registration with the kernel (one warm-up EVRUN_NOWAIT) and the
 * first A writes are setup.
 *
 * --timeouts=1: every pair also has an ev_timer (10 s) re-armed with
 * ev_timer_again() each time its fd fires, as in libev's own variant of this
 * benchmark; it must never fire.
 *
 * --backend picks libev's backend (EVFLAG_NOENV): epoll (the default, what
 * EVFLAG_AUTO picks on Linux), poll or select.
 *
 * Checks: exactly W hops, W + A bytes read, each byte is the tag of the pair it
 * arrived on, no timer fired.
 *
 * CLI: libev [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1]
 *            [--backend=epoll|poll|select] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available.
 */
#include "bench.h"

#include <sys/socket.h>

#include <ev.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "libev: %s\nusage: libev [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] "
          "[--backend=epoll|poll|select] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "libev"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

typedef struct {
  ev_io io;
  ev_timer tm;
  int rfd, wfd;
  uint32_t idx;
} pair;

static struct {
  pair *p;
  uint64_t n, writes, want_reads;
  uint64_t hops, reads, bad_bytes, spurious, timer_fired;
  int timeouts;
} g;

static void read_cb(struct ev_loop *loop, ev_io *w, int revents) {
  pair *p = w->data;
  if (revents & EV_ERROR) bench_die("ev_io error on pair %u", (unsigned)p->idx);
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
  if (g.timeouts) ev_timer_again(loop, &p->tm);
  if (g.hops < g.writes) {
    uint64_t j = p->idx + 1 == g.n ? 0 : p->idx + 1;
    unsigned char o = tag(j);
    if (send(g.p[j].wfd, &o, 1, 0) != 1) bench_die("send to pair %llu: %s", (unsigned long long)j, strerror(errno));
    g.hops++;
  }
  if (g.reads == g.want_reads) ev_break(loop, EVBREAK_ALL);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  g.timer_fired++;
  ev_break(loop, EVBREAK_ALL);
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
  const uint64_t n = arg_u64(argc, argv, "n", smoke ? 50 : 1000);
  const uint64_t active = arg_u64(argc, argv, "active", smoke ? 5 : 100);
  const uint64_t writes = arg_u64(argc, argv, "writes", smoke ? 300 : 100000);
  const uint64_t timeouts = arg_u64(argc, argv, "timeouts", 0);
  const char *backend = bench_arg_str(argc, argv, "backend", "epoll");
  if (n < 1 || n > 1000000) usage_exit("--n must be 1..1000000");
  if (active < 1 || active > n) usage_exit("--active must be 1..n");
  if (timeouts > 1) usage_exit("--timeouts must be 0 or 1");
  unsigned want_backend;
  if (!strcmp(backend, "epoll")) want_backend = EVBACKEND_EPOLL;
  else if (!strcmp(backend, "poll")) want_backend = EVBACKEND_POLL;
  else if (!strcmp(backend, "select")) want_backend = EVBACKEND_SELECT;
  else usage_exit("--backend must be epoll, poll or select");
  raise_nofile(2 * n + 64);

  if (!(ev_supported_backends() & want_backend)) {
    fprintf(stderr, "libev: backend %s not supported by this libev\n", backend);
    exit(3);
  }
  struct ev_loop *loop = ev_loop_new(want_backend | EVFLAG_NOENV);
  if (!loop || ev_backend(loop) != want_backend) {
    fprintf(stderr, "libev: could not create a %s loop\n", backend);
    exit(3);
  }

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
    ev_io_init(&p->io, read_cb, p->rfd, EV_READ);
    p->io.data = p;
    ev_io_start(loop, &p->io);
    if (timeouts) {
      ev_timer_init(&p->tm, timer_cb, 10., 10.);
      p->tm.data = p;
      ev_timer_again(loop, &p->tm);
    }
  }
  ev_run(loop, EVRUN_NOWAIT); /* warm-up: registrations reach the kernel */
  if (g.reads || g.spurious) bench_die("callbacks ran before any byte was written");
  for (uint64_t i = 0; i < active; i++) {
    unsigned char o = tag(i);
    if (send(g.p[i].wfd, &o, 1, 0) != 1) bench_die("send: %s", strerror(errno));
  }

  bench_clock clk;
  bench_begin(&clk);
  ev_run(loop, 0);
  bench_end(&clk);

  int fail = 0;
  if (g.timer_fired) fail = fprintf(stderr, "libev: %llu timeouts fired\n", (unsigned long long)g.timer_fired);
  if (g.hops != writes)
    fail = fprintf(stderr, "libev: %llu hops, expected %llu\n", (unsigned long long)g.hops, (unsigned long long)writes);
  if (g.reads != g.want_reads)
    fail = fprintf(stderr, "libev: %llu bytes read, expected %llu\n", (unsigned long long)g.reads,
                   (unsigned long long)g.want_reads);
  if (g.bad_bytes) fail = fprintf(stderr, "libev: %llu bytes arrived on the wrong pair\n", (unsigned long long)g.bad_bytes);

  const char *bk = backend_name(ev_backend(loop));
  for (uint64_t i = 0; i < n; i++) {
    ev_io_stop(loop, &g.p[i].io);
    if (timeouts) ev_timer_stop(loop, &g.p[i].tm);
    close(g.p[i].rfd);
    close(g.p[i].wfd);
  }
  ev_loop_destroy(loop);
  free(g.p);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=%s n=%llu active=%llu timeouts=%llu spurious=%llu", bk,
               (unsigned long long)n, (unsigned long long)active, (unsigned long long)timeouts,
               (unsigned long long)g.spurious);
  return 0;
}
