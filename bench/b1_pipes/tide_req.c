/* SPDX-License-Identifier: MIT */
/* b1_pipes/tide_req.c - libevent's classic pipe benchmark on libtide completion
 * requests (the proactor half of the API) instead of io watchers.
 *
 * Same workload as tide.c: N socketpairs, A active chains, W hops. Every pair keeps
 * one 1-byte tide_recv in flight on its read end; when it completes the program
 * checks the byte, resubmits the recv and, while the write budget lasts, sends the
 * next pair's tag byte with tide_send (a hop). At most A sends are in flight at
 * once (one per chain), so A send requests are kept in a free list. The send
 * buffers are a constant table of tags (tag j is what pair j expects), so no buffer
 * is reused while the kernel may still read it.
 *
 * --timeouts=1: every recv carries a 10 s timeout (tide_req_set_timeout before each
 * submit, i.e. re-armed every time the pair's recv completes): the request-world
 * form of libev's "timer re-armed per event" variant. On io_uring it is a linked
 * timeout SQE; elsewhere a loop timer. It must never fire (-ETIMEDOUT fails).
 *
 * Measured: the loop run from the first A bytes to the W-th hop's byte being read
 * and every send completed. Setup (pairs, the N recvs submitted and handed to the
 * kernel by one warm-up NOWAIT iteration, the first A sends) and teardown
 * (cancelling the N recvs) are not measured.
 *
 * CLI: tide_req [--n=1000] [--active=100] [--writes=100000] [--timeouts=0|1]
 *               [--backend=uring|epoll|poll|select|auto] [--smoke]
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
          "tide_req: %s\nusage: tide_req [--n=N] [--active=A] [--writes=W] [--timeouts=0|1] "
          "[--backend=uring|epoll|poll|select|auto] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG "tide_req"
#include "options.h"

static inline unsigned char tag(uint64_t j) { return (unsigned char)(j * 131u + 7u); }

#define TIMEOUT_NS 10000000000ull

typedef struct {
  tide_req recv;
  int rfd, wfd;
  uint32_t idx;
  unsigned char rbuf;
} pair;

typedef struct sender {
  tide_req req;
  struct sender *next_free;
} sender;

static struct {
  tide_loop *loop;
  pair *p;
  unsigned char *tags; /* tags[j] = tag(j): constant send buffers */
  sender *senders, *free_senders;
  uint64_t n, writes, want_reads;
  uint64_t hops, reads, bad_bytes, sends_in_flight, timed_out, recvs_in_flight;
  int timeouts, finishing;
} g;

static void recv_cb(tide_loop *loop, tide_req *req, ssize_t res);

static void submit_recv(pair *p) {
  if (g.timeouts) {
    int r = tide_req_set_timeout(&p->recv, TIMEOUT_NS);
    if (r < 0) bench_die("tide_req_set_timeout: %s", tide_strerror(r));
  }
  int r = tide_recv(g.loop, &p->recv, p->rfd, &p->rbuf, 1, 0, 0, recv_cb);
  if (r == -ERANGE || r == -EOPNOTSUPP) {
    fprintf(stderr, "tide_req: backend %s cannot receive on fd %d: %s\n", tide_loop_backend(g.loop),
            p->rfd, tide_strerror(r));
    exit(3);
  }
  if (r < 0) bench_die("tide_recv: %s", tide_strerror(r));
  g.recvs_in_flight++;
}

static void maybe_done(tide_loop *loop) {
  if (g.reads == g.want_reads && g.sends_in_flight == 0) tide_stop(loop);
}

static void send_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  sender *s = req->data;
  if (res != 1) bench_die("send completed with %zd (%s)", res, res < 0 ? tide_strerror((int)res) : "short");
  s->next_free = g.free_senders;
  g.free_senders = s;
  g.sends_in_flight--;
  maybe_done(loop);
}

static void recv_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  pair *p = req->data;
  g.recvs_in_flight--;
  if (g.finishing) {
    if (res != -ECANCELED) bench_die("cancelled recv on pair %u completed with %zd", (unsigned)p->idx, res);
    return;
  }
  if (res != 1) {
    if (res == -ETIMEDOUT) {
      g.timed_out++;
      tide_stop(loop);
      return;
    }
    bench_die("recv on pair %u completed with %zd (%s)", (unsigned)p->idx, res,
              res < 0 ? tide_strerror((int)res) : "EOF");
  }
  if (p->rbuf != tag(p->idx)) g.bad_bytes++;
  g.reads++;
  submit_recv(p);
  if (g.hops < g.writes) {
    uint64_t j = p->idx + 1 == g.n ? 0 : p->idx + 1;
    sender *s = g.free_senders;
    if (!s) bench_die("more than A sends in flight");
    g.free_senders = s->next_free;
    int r = tide_send(loop, &s->req, g.p[j].wfd, &g.tags[j], 1, 0, 0, send_cb);
    if (r < 0) bench_die("tide_send: %s", tide_strerror(r));
    g.sends_in_flight++;
    g.hops++;
  }
  maybe_done(loop);
}

static unsigned backend_bit(const char *name) {
  int bits = strcmp(name, "auto") ? tide_backend_from_name(name) : 0;
  if (bits < 0) usage_exit("--backend must be uring, epoll, poll, select or auto");
  return (unsigned)bits;
}

static tide_loop *open_loop(const char *name) {
  unsigned bit = backend_bit(name);
  if (bit && !(tide_backends_supported() & bit)) {
    fprintf(stderr, "tide_req: backend %s is not available on this kernel/build\n", name);
    exit(3);
  }
  struct tide_loop_options o = {.size = sizeof o, .backends = bit, .flags = TIDE_LOOP_NOENV};
  tide_loop *loop = NULL;
  int r = tide_loop_new(&loop, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, "tide_req: backend %s is not available: %s\n", name, tide_strerror(r));
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

  g.loop = open_loop(backend);
  const char *bk = tide_loop_backend(g.loop); /* a static string */
  const int is_select = !strcmp(bk, "select");

  g.p = calloc(n, sizeof *g.p);
  g.tags = malloc(n);
  g.senders = calloc(active, sizeof *g.senders);
  if (!g.p || !g.tags || !g.senders) bench_die("out of memory");
  g.n = n;
  g.writes = writes;
  g.want_reads = writes + active;
  g.timeouts = (int)timeouts;
  for (uint64_t i = 0; i < active; i++) {
    g.senders[i].req.data = &g.senders[i];
    g.senders[i].next_free = g.free_senders;
    g.free_senders = &g.senders[i];
  }
  for (uint64_t i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      bench_die("socketpair: %s", strerror(errno));
    if (is_select && sv[1] >= FD_SETSIZE) {
      fprintf(stderr, "tide_req: select cannot watch fd %d (>= FD_SETSIZE %d): n=%llu needs %llu fds\n",
              sv[1], FD_SETSIZE, (unsigned long long)n, (unsigned long long)(2 * n));
      exit(3);
    }
    pair *p = &g.p[i];
    p->rfd = sv[0];
    p->wfd = sv[1];
    p->idx = (uint32_t)i;
    p->recv.data = p;
    g.tags[i] = tag(i);
    submit_recv(p);
  }
  /* warm-up: the N recvs reach the kernel before anything is readable */
  int r = tide_run(g.loop, TIDE_RUN_NOWAIT);
  if (r < 0) bench_die("tide_run(NOWAIT): %s", tide_strerror(r));
  if (g.reads || g.recvs_in_flight != n) bench_die("a recv completed before any byte was written");
  for (uint64_t i = 0; i < active; i++)
    if (send(g.p[i].wfd, &g.tags[i], 1, 0) != 1) bench_die("send: %s", strerror(errno));

  bench_clock clk;
  bench_begin(&clk);
  r = tide_run(g.loop, TIDE_RUN_DEFAULT);
  bench_end(&clk);

  int fail = 0;
  if (r < 0) fail = fprintf(stderr, "tide_req: tide_run: %s\n", tide_strerror(r));
  if (g.timed_out) fail = fprintf(stderr, "tide_req: %llu recvs timed out\n", (unsigned long long)g.timed_out);
  if (g.hops != writes)
    fail = fprintf(stderr, "tide_req: %llu hops, expected %llu\n", (unsigned long long)g.hops,
                   (unsigned long long)writes);
  if (g.reads != g.want_reads)
    fail = fprintf(stderr, "tide_req: %llu bytes read, expected %llu\n", (unsigned long long)g.reads,
                   (unsigned long long)g.want_reads);
  if (g.sends_in_flight)
    fail = fprintf(stderr, "tide_req: %llu sends still in flight\n", (unsigned long long)g.sends_in_flight);
  if (g.bad_bytes)
    fail = fprintf(stderr, "tide_req: %llu bytes arrived on the wrong pair\n", (unsigned long long)g.bad_bytes);

  /* teardown: cancel the recvs still in flight and let their callbacks run */
  g.finishing = 1;
  for (uint64_t i = 0; i < n; i++) {
    r = tide_cancel(g.loop, &g.p[i].recv);
    if (r < 0 && r != -ENOENT) bench_die("tide_cancel: %s", tide_strerror(r));
  }
  while (g.recvs_in_flight || g.sends_in_flight) {
    r = tide_run(g.loop, TIDE_RUN_ONCE);
    if (r < 0) bench_die("tide_run (teardown): %s", tide_strerror(r));
    if (r == 0) break;
  }
  if (g.recvs_in_flight) fail = fprintf(stderr, "tide_req: %llu recvs never completed\n", (unsigned long long)g.recvs_in_flight);
  r = tide_loop_free(g.loop);
  if (r < 0) fail = fprintf(stderr, "tide_req: tide_loop_free: %s\n", tide_strerror(r));
  for (uint64_t i = 0; i < n; i++) {
    close(g.p[i].rfd);
    close(g.p[i].wfd);
  }
  free(g.p);
  free(g.tags);
  free(g.senders);
  if (fail) return 1;
  bench_result(&clk, writes, NULL, " backend=%s n=%llu active=%llu timeouts=%llu", bk,
               (unsigned long long)n, (unsigned long long)active, (unsigned long long)timeouts);
  return 0;
}
