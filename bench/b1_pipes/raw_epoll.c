/* SPDX-License-Identifier: MIT */
/* b1_pipes/raw_epoll.c - the floor of the pipe benchmark: plain epoll, no library.
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes:
 * the first A pairs get one byte; when the read end of pair i is reported readable
 * (level-triggered EPOLLIN, as every library peer uses) the program reads one byte
 * and, while the write budget lasts, sends one byte to pair (i+1) % N (a "hop").
 * Only the epoll_wait loop that performs the W hops (and reads the last A bytes) is
 * measured; the pairs, epoll_ctl(ADD) of each and the first A writes are setup.
 *
 * --timeouts=1: every pair also has a 10 s deadline re-armed each time its fd
 * fires. All deadlines have the same length, so re-arming in time order keeps them
 * sorted: a doubly linked list (unlink, append at the tail) is the cheapest correct
 * timer structure, O(1) per re-arm, the head is the next expiry and gives
 * epoll_wait's timeout. The loop time is read once per epoll_wait (CLOCK_MONOTONIC
 * through the vDSO), as the libraries cache it. A deadline that passes fails the
 * run.
 *
 * --backend is accepted and ignored so the driver may pass one option set to every
 * peer.
 *
 * Checks: exactly W hops, W + A bytes read, each byte is the tag of the pair it
 * arrived on, no deadline passed.
 *
 * CLI: raw_epoll [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 not enough fds.
 */
#include "bench.h"

#include <sys/epoll.h>
#include <sys/socket.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "raw_epoll: %s\nusage: raw_epoll [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] [--smoke]\n", why);
  exit(2);
}

#define BENCH_PROG "raw_epoll"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

#define TIMEOUT_NS 10000000000ull
#define MAX_EVENTS 256

typedef struct pair {
  int rfd, wfd;
  uint32_t idx;
  uint64_t deadline;             /* --timeouts=1: ns of CLOCK_MONOTONIC */
  struct pair *prev, *next;      /* deadline list, earliest first */
} pair;

/* the deadline list: a circular list through a sentinel */
static pair dl_head = {.prev = &dl_head, .next = &dl_head};

static inline void dl_unlink(pair *p) {
  p->prev->next = p->next;
  p->next->prev = p->prev;
}
static inline void dl_append(pair *p, uint64_t deadline) {
  p->deadline = deadline;
  p->prev = dl_head.prev;
  p->next = &dl_head;
  dl_head.prev->next = p;
  dl_head.prev = p;
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

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) bench_die("epoll_create1: %s", strerror(errno));
  pair *pairs = calloc(n, sizeof *pairs);
  if (!pairs) bench_die("out of memory");
  uint64_t now = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      bench_die("socketpair: %s", strerror(errno));
    pair *p = &pairs[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, p->rfd, &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));
    if (timeouts) dl_append(p, now + TIMEOUT_NS);
  }
  for (uint64_t i = 0; i < active; i++) {
    unsigned char o = tag(i);
    if (send(pairs[i].wfd, &o, 1, 0) != 1) bench_die("send: %s", strerror(errno));
  }

  const uint64_t want_reads = writes + active;
  uint64_t hops = 0, reads = 0, bad_bytes = 0, spurious = 0, expired = 0;
  struct epoll_event evs[MAX_EVENTS];

  bench_clock clk;
  bench_begin(&clk);
  while (reads < want_reads) {
    int timeout_ms = -1;
    if (timeouts) {
      uint64_t next = dl_head.next->deadline;
      timeout_ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
    }
    int ne = epoll_wait(ep, evs, MAX_EVENTS, timeout_ms);
    if (ne < 0) {
      if (errno == EINTR) continue;
      bench_die("epoll_wait: %s", strerror(errno));
    }
    if (timeouts) {
      now = bench_now_ns();
      if (dl_head.next->deadline <= now) {
        expired++;
        break;
      }
    }
    for (int k = 0; k < ne; k++) {
      pair *p = &pairs[evs[k].data.u32];
      unsigned char c;
      ssize_t r = recv(p->rfd, &c, 1, 0);
      if (r != 1) {
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          spurious++;
          continue;
        }
        bench_die("recv on pair %u: %s", (unsigned)p->idx, r < 0 ? strerror(errno) : "EOF");
      }
      if (c != tag(p->idx)) bad_bytes++;
      reads++;
      if (timeouts) {
        dl_unlink(p);
        dl_append(p, now + TIMEOUT_NS);
      }
      if (hops < writes) {
        uint64_t j = p->idx + 1 == n ? 0 : p->idx + 1;
        unsigned char o = tag(j);
        if (send(pairs[j].wfd, &o, 1, 0) != 1) bench_die("send to pair %llu: %s", (unsigned long long)j, strerror(errno));
        hops++;
      }
    }
  }
  bench_end(&clk);

  int fail = 0;
  if (expired) fail = fprintf(stderr, "raw_epoll: a 10 s deadline passed\n");
  if (hops != writes)
    fail = fprintf(stderr, "raw_epoll: %llu hops, expected %llu\n", (unsigned long long)hops, (unsigned long long)writes);
  if (reads != want_reads)
    fail = fprintf(stderr, "raw_epoll: %llu bytes read, expected %llu\n", (unsigned long long)reads,
                   (unsigned long long)want_reads);
  if (bad_bytes) fail = fprintf(stderr, "raw_epoll: %llu bytes arrived on the wrong pair\n", (unsigned long long)bad_bytes);

  for (uint64_t i = 0; i < n; i++) {
    close(pairs[i].rfd);
    close(pairs[i].wfd);
  }
  close(ep);
  free(pairs);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=epoll n=%llu active=%llu timeouts=%llu spurious=%llu",
               (unsigned long long)n, (unsigned long long)active, (unsigned long long)timeouts,
               (unsigned long long)spurious);
  return 0;
}
