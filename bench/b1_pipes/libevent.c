/* SPDX-License-Identifier: MIT */
/* b1_pipes/libevent.c - libevent's classic pipe benchmark on libevent 2.1, written
 * fresh for this harness (same workload as the other peers of b1_pipes).
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes:
 * the first A pairs get one byte; the read callback of pair i reads one byte and,
 * while the write budget lasts, sends one byte to pair (i+1) % N (a "hop"). One
 * EV_READ|EV_PERSIST event per pair. Only the event_base_loop that performs the W
 * hops (and reads the last A bytes) is measured; event_add (which registers with
 * epoll at once in libevent) and the first A writes are setup.
 *
 * --timeouts=1: every event is added with a 10 s timeout. For an EV_PERSIST event
 * libevent itself re-arms that timeout each time the event becomes active (from
 * the activation time), which is exactly "a timer re-armed per event"; calling
 * event_add() again from the callback would only redo that work. The timeout must
 * never fire (EV_TIMEOUT in the callback fails the run).
 *
 * The backend is libevent's default choice (epoll on Linux); --backend is accepted
 * and ignored so the driver may pass one option set to every peer.
 *
 * Checks: exactly W hops, W + A bytes read, each byte is the tag of the pair it
 * arrived on, no timeout fired.
 *
 * CLI: libevent [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 not enough fds.
 */
#include "bench.h"

#include <sys/socket.h>

#include <event2/event.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "libevent: %s\nusage: libevent [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "libevent"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

typedef struct {
  struct event *ev;
  int rfd, wfd;
  uint32_t idx;
} pair;

static struct {
  struct event_base *base;
  pair *p;
  uint64_t n, writes, want_reads;
  uint64_t hops, reads, bad_bytes, spurious, timer_fired;
} g;

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  pair *p = arg;
  (void)fd;
  if (what & EV_TIMEOUT) {
    g.timer_fired++;
    event_base_loopbreak(g.base);
    return;
  }
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
  if (g.hops < g.writes) {
    uint64_t j = p->idx + 1 == g.n ? 0 : p->idx + 1;
    unsigned char o = tag(j);
    if (send(g.p[j].wfd, &o, 1, 0) != 1) bench_die("send to pair %llu: %s", (unsigned long long)j, strerror(errno));
    g.hops++;
  }
  if (g.reads == g.want_reads) event_base_loopbreak(g.base);
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

  g.base = event_base_new();
  if (!g.base) bench_die("event_base_new failed");
  g.p = calloc(n, sizeof *g.p);
  if (!g.p) bench_die("out of memory");
  g.n = n;
  g.writes = writes;
  g.want_reads = writes + active;
  const struct timeval tv = {10, 0};
  for (uint64_t i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      bench_die("socketpair: %s", strerror(errno));
    pair *p = &g.p[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    p->ev = event_new(g.base, p->rfd, EV_READ | EV_PERSIST, read_cb, p);
    if (!p->ev || event_add(p->ev, timeouts ? &tv : NULL) < 0) bench_die("event_new/event_add failed");
  }
  if (event_base_loop(g.base, EVLOOP_NONBLOCK) < 0) bench_die("event_base_loop failed");
  if (g.reads || g.spurious) bench_die("callbacks ran before any byte was written");
  for (uint64_t i = 0; i < active; i++) {
    unsigned char o = tag(i);
    if (send(g.p[i].wfd, &o, 1, 0) != 1) bench_die("send: %s", strerror(errno));
  }

  bench_clock clk;
  bench_begin(&clk);
  int r = event_base_loop(g.base, 0);
  bench_end(&clk);

  int fail = 0;
  if (r < 0) fail = fprintf(stderr, "libevent: event_base_loop failed\n");
  if (g.timer_fired) fail = fprintf(stderr, "libevent: %llu timeouts fired\n", (unsigned long long)g.timer_fired);
  if (g.hops != writes)
    fail = fprintf(stderr, "libevent: %llu hops, expected %llu\n", (unsigned long long)g.hops, (unsigned long long)writes);
  if (g.reads != g.want_reads)
    fail = fprintf(stderr, "libevent: %llu bytes read, expected %llu\n", (unsigned long long)g.reads,
                   (unsigned long long)g.want_reads);
  if (g.bad_bytes)
    fail = fprintf(stderr, "libevent: %llu bytes arrived on the wrong pair\n", (unsigned long long)g.bad_bytes);

  char method[32];
  snprintf(method, sizeof method, "%s", event_base_get_method(g.base));
  for (uint64_t i = 0; i < n; i++) {
    event_free(g.p[i].ev);
    close(g.p[i].rfd);
    close(g.p[i].wfd);
  }
  event_base_free(g.base);
  libevent_global_shutdown();
  free(g.p);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=%s n=%llu active=%llu timeouts=%llu spurious=%llu", method,
               (unsigned long long)n, (unsigned long long)active, (unsigned long long)timeouts,
               (unsigned long long)g.spurious);
  return 0;
}
