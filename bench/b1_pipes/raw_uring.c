/* SPDX-License-Identifier: MIT */
/* b1_pipes/raw_uring.c - the io_uring floor of the pipe benchmark: plain liburing,
 * completion style, no library.
 *
 * N socketpairs (AF_UNIX, SOCK_STREAM, non-blocking), A active chains, W writes.
 * Every pair keeps one 1-byte IORING_OP_RECV in flight on its read end; when it
 * completes the program checks the byte, queues the next recv on that pair and,
 * while the write budget lasts, an IORING_OP_SEND of the next pair's tag byte (a
 * "hop"). The SQEs made while reaping one batch of CQEs all go to the kernel in the
 * single io_uring_submit_and_wait() of the next loop pass (an extra submit happens
 * only if the SQ ring fills up, which these sizes avoid). Send buffers are a
 * constant tag table, recv buffers one byte per pair.
 *
 * Measured: from the first A bytes to the W-th hop's byte being read and every
 * send completed. Setup (pairs, the N recvs submitted, the first A sends) is not
 * measured; teardown is io_uring_queue_exit (which cancels the N recvs).
 *
 * --timeouts=1: every pair also has a 10 s deadline re-armed each time its recv
 * completes; as in raw_epoll.c the deadlines live in a list kept in expiry order
 * (all have the same length) and the head bounds the wait through
 * io_uring_submit_and_wait_timeout() (IORING_ENTER_EXT_ARG: still one syscall per
 * pass). A deadline that passes fails the run.
 *
 * --setup=defer (default): IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
 * (Linux 6.1), the cheapest mode for a one-thread loop; falls back to plain if the
 * kernel refuses. --setup=plain: no setup flags (what libtide's backend uses).
 * Both get IORING_SETUP_CQSIZE so every in-flight operation has a CQ slot.
 * --backend is accepted and ignored.
 *
 * Checks: exactly W hops, W + A bytes read, every send moved 1 byte, each byte read
 * is the tag of the pair it arrived on, no deadline passed.
 *
 * CLI: raw_uring [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1]
 *                [--setup=defer|plain] [--smoke]
 * Exit: 0 ok, 1 check failed, 2 bad arguments, 3 io_uring or fds not available.
 */
#include "bench.h"

#include <sys/socket.h>

#include <liburing.h>

static const char *const known_args[] = {"n", "active", "writes", "timeouts", "setup", "backend", NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          "raw_uring: %s\nusage: raw_uring [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] "
          "[--setup=defer|plain] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "raw_uring"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

#define TIMEOUT_NS 10000000000ull
#define SQ_ENTRIES 4096u
#define MAX_CQ_ENTRIES 65536u /* the kernel's IORING_MAX_CQ_ENTRIES */
#define UD_SEND 1u            /* user_data = pair index << 1 | UD_SEND for sends */

typedef struct pair {
  int rfd, wfd;
  uint32_t idx;
  unsigned char rbuf;
  uint64_t deadline;
  struct pair *prev, *next;
} pair;

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

static struct io_uring ring;
static uint64_t extra_submits; /* submits forced by a full SQ ring */

static struct io_uring_sqe *get_sqe(void) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) {
    int r = io_uring_submit(&ring);
    if (r < 0) bench_die("io_uring_submit: %s", strerror(-r));
    extra_submits++;
    sqe = io_uring_get_sqe(&ring);
    if (!sqe) bench_die("SQ ring still full after a submit");
  }
  return sqe;
}

static inline void queue_recv(pair *p) {
  struct io_uring_sqe *sqe = get_sqe();
  io_uring_prep_recv(sqe, p->rfd, &p->rbuf, 1, 0);
  io_uring_sqe_set_data64(sqe, (uint64_t)p->idx << 1);
}

int main(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const uint64_t n = arg_u64(argc, argv, "n", smoke ? 50 : 1000);
  const uint64_t active = arg_u64(argc, argv, "active", smoke ? 5 : 100);
  const uint64_t writes = arg_u64(argc, argv, "writes", smoke ? 300 : 100000);
  const uint64_t timeouts = arg_u64(argc, argv, "timeouts", 0);
  const char *setup = bench_arg_str(argc, argv, "setup", "defer");
  if (n < 1 || n > MAX_CQ_ENTRIES / 2 - 1024) usage_exit("--n must be 1..31744");
  if (active < 1 || active > n) usage_exit("--active must be 1..n");
  if (timeouts > 1) usage_exit("--timeouts must be 0 or 1");
  int defer;
  if (!strcmp(setup, "defer")) defer = 1;
  else if (!strcmp(setup, "plain")) defer = 0;
  else usage_exit("--setup must be defer or plain");
  raise_nofile(2 * n + 64);

  /* CQ: room for every operation that can be in flight (N recvs + A sends), x2;
   * the kernel wants at least as many CQ as SQ entries */
  unsigned cq = 2 * SQ_ENTRIES;
  while (cq < 2 * (n + active) && cq < MAX_CQ_ENTRIES) cq *= 2;
  struct io_uring_params prm;
  int r = -EINVAL;
  if (defer) {
    memset(&prm, 0, sizeof prm);
    prm.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    prm.cq_entries = cq;
    r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &prm);
    if (r < 0) defer = 0;
  }
  if (!defer) {
    memset(&prm, 0, sizeof prm);
    prm.flags = IORING_SETUP_CQSIZE;
    prm.cq_entries = cq;
    r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &prm);
  }
  if (r < 0) {
    fprintf(stderr, "raw_uring: io_uring_queue_init: %s\n", strerror(-r));
    exit(3);
  }
  if (timeouts && !(prm.features & IORING_FEAT_EXT_ARG)) {
    fprintf(stderr, "raw_uring: --timeouts=1 needs IORING_FEAT_EXT_ARG (Linux 5.11)\n");
    exit(3);
  }

  pair *pairs = calloc(n, sizeof *pairs);
  unsigned char *tags = malloc(n);
  if (!pairs || !tags) bench_die("out of memory");
  uint64_t now = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      bench_die("socketpair: %s", strerror(errno));
    pair *p = &pairs[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    tags[i] = tag(i);
    queue_recv(p);
    if (timeouts) dl_append(p, now + TIMEOUT_NS);
  }
  r = io_uring_submit(&ring);
  if (r < 0) bench_die("io_uring_submit: %s", strerror(-r));
  if (io_uring_cq_ready(&ring)) bench_die("a recv completed before any byte was written");
  for (uint64_t i = 0; i < active; i++)
    if (send(pairs[i].wfd, &tags[i], 1, 0) != 1) bench_die("send: %s", strerror(errno));
  extra_submits = 0;

  const uint64_t want_reads = writes + active;
  uint64_t hops = 0, reads = 0, bad_bytes = 0, sends_in_flight = 0, expired = 0;

  bench_clock clk;
  bench_begin(&clk);
  while (reads < want_reads || sends_in_flight) {
    if (timeouts) {
      uint64_t next = dl_head.next->deadline, left = next > now ? next - now : 0;
      struct __kernel_timespec ts = {.tv_sec = (long long)(left / 1000000000u),
                                     .tv_nsec = (long long)(left % 1000000000u)};
      struct io_uring_cqe *first;
      r = io_uring_submit_and_wait_timeout(&ring, &first, 1, &ts, NULL);
      now = bench_now_ns();
      if (dl_head.next->deadline <= now) {
        expired++;
        break;
      }
    } else {
      r = io_uring_submit_and_wait(&ring, 1);
    }
    if (r < 0 && r != -EINTR && r != -ETIME && r != -EAGAIN && r != -EBUSY)
      bench_die("io_uring_submit_and_wait: %s", strerror(-r));

    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      pair *p = &pairs[ud >> 1];
      if (ud & UD_SEND) {
        if (cqe->res != 1) bench_die("send to pair %u completed with %d", (unsigned)p->idx, cqe->res);
        sends_in_flight--;
        continue;
      }
      if (cqe->res != 1)
        bench_die("recv on pair %u completed with %d (%s)", (unsigned)p->idx, cqe->res,
                  cqe->res < 0 ? strerror(-cqe->res) : "EOF");
      if (p->rbuf != tags[p->idx]) bad_bytes++;
      reads++;
      queue_recv(p);
      if (timeouts) {
        dl_unlink(p);
        dl_append(p, now + TIMEOUT_NS);
      }
      if (hops < writes) {
        uint32_t j = p->idx + 1 == n ? 0 : p->idx + 1;
        struct io_uring_sqe *sqe = get_sqe();
        io_uring_prep_send(sqe, pairs[j].wfd, &tags[j], 1, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)j << 1 | UD_SEND);
        sends_in_flight++;
        hops++;
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  bench_end(&clk);

  int fail = 0;
  if (expired) fail = fprintf(stderr, "raw_uring: a 10 s deadline passed\n");
  if (hops != writes)
    fail = fprintf(stderr, "raw_uring: %llu hops, expected %llu\n", (unsigned long long)hops, (unsigned long long)writes);
  if (reads != want_reads)
    fail = fprintf(stderr, "raw_uring: %llu bytes read, expected %llu\n", (unsigned long long)reads,
                   (unsigned long long)want_reads);
  if (bad_bytes) fail = fprintf(stderr, "raw_uring: %llu bytes arrived on the wrong pair\n", (unsigned long long)bad_bytes);

  io_uring_queue_exit(&ring); /* cancels the recvs still in flight */
  for (uint64_t i = 0; i < n; i++) {
    close(pairs[i].rfd);
    close(pairs[i].wfd);
  }
  free(pairs);
  free(tags);
  if (fail) return 1;
  bench_result(&clk, writes, NULL,
               " backend=io_uring setup=%s n=%llu active=%llu timeouts=%llu extra_submits=%llu",
               defer ? "defer" : "plain", (unsigned long long)n, (unsigned long long)active,
               (unsigned long long)timeouts, (unsigned long long)extra_submits);
  return 0;
}
