/* SPDX-License-Identifier: MIT */
/* b1_pipes/tide.c - libevent's classic pipe benchmark on libtide io watchers.
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes.
 * Each of the first A pairs gets one byte; the read callback of pair i reads one
 * byte and, while the write budget lasts, sends one byte to pair (i+1) % N (a
 * "hop"). Only the loop run that performs the W hops (and reads the last A bytes)
 * is measured; creating the pairs, registering the watchers with the backend (one
 * warm-up NOWAIT iteration) and the first A writes are setup.
 *
 * --timeouts=1: every pair also has a 10 s timer, re-armed with tide_timer_again()
 * each time its fd fires (libev's variant of the benchmark); it must never fire.
 *
 * Checks: exactly W hops, W + A bytes read, every byte read is the tag of the pair
 * it arrived on (tag(j) is written to pair j), no timer fired.
 *
 * CLI: tide [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1]
 *           [--backend=uring|epoll|poll|select|auto] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 backend not available here
 * (select with fds >= FD_SETSIZE included).
 */
#include "bench.h"

#include <sys/select.h>
#include <sys/socket.h>

#include <tide.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "tide: %s\nusage: tide [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] "
          "[--backend=uring|epoll|poll|select|auto] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "tide"
#include "options.h"

/* the byte every writer sends to pair j, so the reader can check where it landed */
static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

typedef struct {
  tide_io io;
  tide_timer tm;
  int rfd, wfd; /* read end (watched), write end (the previous pair sends here) */
  uint32_t idx;
} pair;

static struct {
  pair *p;
  uint64_t n, writes, want_reads;
  uint64_t hops, reads, bad_bytes, spurious, timer_fired;
  int timeouts;
} g;

static void read_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  pair *p = w->data;
  if (revents & TIDE_ERROR) bench_die("io watcher error on pair %u", (unsigned)p->idx);
  unsigned char c;
  ssize_t r = recv(p->rfd, &c, 1, 0);
  if (r != 1) {
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      g.spurious++; /* readiness without data: not an error, not a read */
      return;
    }
    bench_die("recv on pair %u: %s", (unsigned)p->idx, r < 0 ? strerror(errno) : "EOF");
  }
  if (c != tag(p->idx)) g.bad_bytes++;
  g.reads++;
  if (g.timeouts) tide_timer_again(loop, &p->tm);
  if (g.hops < g.writes) {
    uint64_t j = p->idx + 1 == g.n ? 0 : p->idx + 1;
    unsigned char o = tag(j);
    if (send(g.p[j].wfd, &o, 1, 0) != 1) bench_die("send to pair %llu: %s", (unsigned long long)j, strerror(errno));
    g.hops++;
  }
  if (g.reads == g.want_reads) tide_stop(loop);
}

static void timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)w;
  (void)revents;
  g.timer_fired++;
  tide_stop(loop);
}

/* A backend name, as tide_backend_from_name() reads it -> its TIDE_BACKEND_* bit;
 * "auto" or absent -> 0 (the best the kernel has). */
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
  const uint64_t n = arg_u64(argc, argv, "n", smoke ? 50 : 1000);
  const uint64_t active = arg_u64(argc, argv, "active", smoke ? 5 : 100);
  const uint64_t writes = arg_u64(argc, argv, "writes", smoke ? 300 : 100000);
  const uint64_t timeouts = arg_u64(argc, argv, "timeouts", 0);
  const char *backend = bench_arg_str(argc, argv, "backend", "auto");
  if (n < 1 || n > 1000000) usage_exit("--n must be 1..1000000");
  if (active < 1 || active > n) usage_exit("--active must be 1..n");
  if (timeouts > 1) usage_exit("--timeouts must be 0 or 1");
  raise_nofile(2 * n + 64);

  tide_loop *loop = open_loop(backend);
  const char *bk = tide_loop_backend(loop); /* a static string */
  const int is_select = !strcmp(bk, "select");

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
    if (is_select && sv[1] >= FD_SETSIZE) {
      fprintf(stderr, "tide: select cannot watch fd %d (>= FD_SETSIZE %d): n=%llu needs %llu fds\n",
              sv[1], FD_SETSIZE, (unsigned long long)n, (unsigned long long)(2 * n));
      exit(3);
    }
    pair *p = &g.p[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    p->io.data = p;
    int r = tide_io_init(&p->io, read_cb, p->rfd, TIDE_READ);
    if (r == 0) r = tide_io_start(loop, &p->io);
    if (r == -ERANGE) {
      fprintf(stderr, "tide: backend %s cannot watch fd %d\n", bk, p->rfd);
      exit(3);
    }
    if (r < 0) bench_die("tide_io_start: %s", tide_strerror(r));
    if (timeouts) {
      p->tm.data = p;
      r = tide_timer_init(&p->tm, timer_cb, 10000000000ull, 10000000000ull);
      if (r == 0) r = tide_timer_start(loop, &p->tm);
      if (r < 0) bench_die("tide_timer_start: %s", tide_strerror(r));
    }
  }
  /* warm-up: hand the registrations to the kernel before anything is readable */
  int r = tide_run(loop, TIDE_RUN_NOWAIT);
  if (r < 0) bench_die("tide_run(NOWAIT): %s", tide_strerror(r));
  if (g.reads || g.spurious) bench_die("callbacks ran before any byte was written");
  for (uint64_t i = 0; i < active; i++) {
    unsigned char o = tag(i);
    if (send(g.p[i].wfd, &o, 1, 0) != 1) bench_die("send: %s", strerror(errno));
  }

  bench_clock clk;
  bench_begin(&clk);
  r = tide_run(loop, TIDE_RUN_DEFAULT);
  bench_end(&clk);

  int fail = 0;
  if (r < 0) fail = fprintf(stderr, "tide: tide_run: %s\n", tide_strerror(r));
  if (g.timer_fired) fail = fprintf(stderr, "tide: %llu timeouts fired\n", (unsigned long long)g.timer_fired);
  if (g.hops != writes)
    fail = fprintf(stderr, "tide: %llu hops, expected %llu\n", (unsigned long long)g.hops, (unsigned long long)writes);
  if (g.reads != g.want_reads)
    fail = fprintf(stderr, "tide: %llu bytes read, expected %llu\n", (unsigned long long)g.reads,
                   (unsigned long long)g.want_reads);
  if (g.bad_bytes) fail = fprintf(stderr, "tide: %llu bytes arrived on the wrong pair\n", (unsigned long long)g.bad_bytes);

  for (uint64_t i = 0; i < n; i++) {
    tide_io_stop(loop, &g.p[i].io);
    if (timeouts) tide_timer_stop(loop, &g.p[i].tm);
    close(g.p[i].rfd);
    close(g.p[i].wfd);
  }
  r = tide_loop_free(loop);
  if (r < 0) fail = fprintf(stderr, "tide: tide_loop_free: %s\n", tide_strerror(r));
  free(g.p);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=%s n=%llu active=%llu timeouts=%llu spurious=%llu",
               bk, (unsigned long long)n, (unsigned long long)active,
               (unsigned long long)timeouts, (unsigned long long)g.spurious);
  return 0;
}
