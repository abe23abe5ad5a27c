/* SPDX-License-Identifier: MIT */
/* B3 pump sink - libtide, readiness watchers or completion requests.
 *
 *   sink_tide [--port=N] [--conns=C] [--bytes=B] [--backend=uring|epoll|poll|select]
 *             [--mode=watch|req] [--smoke]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first,
 * accepts C connections (1..1000, default 1) and reads B bytes (default 1 GiB;
 * --smoke: 1 MiB) from each, every byte checked against (i * 131) & 0xff (i:
 * offset in the connection's stream).
 *   --mode=watch (default): a TIDE_READ io watcher on the listener (accept4 loop)
 *     and one per connection, one read() of up to 64 KiB per callback;
 *   --mode=req: one multishot tide_accept (cancelled once C arrived), and per
 *     connection a tide_recv of up to 64 KiB, resubmitted from its callback.
 * Measured from the first accepted connection to the last expected byte:
 *   RESULT ops=<bytes received> wall_ns cpu_ns conns=C backend=<name> mode=<mode>
 * Exit 1 if a byte differs, a connection ends early or sends too much; exit 3 if
 * the backend is not available.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <tide.h>

#define CHUNK 65536

typedef struct {
  tide_io w;
  tide_req req;
  int fd;
  uint64_t got;
  unsigned char buf[CHUNK];
} conn;

static unsigned char ref[CHUNK + 256]; /* ref[i] = (i * 131) & 0xff */
static conn *conns;
static uint64_t nconns, want, accepted, done, total;
static int lfd;
static tide_io accept_w;
static tide_req accept_req;
static bench_clock clk;

/* data at stream offset off matches the pattern? */
static int verify(uint64_t off, const unsigned char *p, size_t n) {
  for (size_t k; n; p += k, off += k, n -= k) {
    k = n < CHUNK ? n : CHUNK;
    if (memcmp(p, ref + off % 256, k)) return 0;
  }
  return 1;
}

#include "net.h"

#include "tide_loop.h"

/* n bytes arrived in c->buf (n < 0: -errno); 1 if the connection got all it should */
static int arrived(conn *c, ssize_t n) {
  long i = (long)(c - conns);
  if (n < 0) bench_die("connection %ld: read: %s", i, tide_strerror((int)n));
  if (n == 0)
    bench_die("connection %ld: EOF after %llu of %llu bytes", i, (unsigned long long)c->got,
              (unsigned long long)want);
  if (c->got + (uint64_t)n > want) bench_die("connection %ld: more than %llu bytes", i, (unsigned long long)want);
  if (!verify(c->got, c->buf, (size_t)n))
    bench_die("connection %ld: wrong data at offset %llu..%llu", i, (unsigned long long)c->got,
              (unsigned long long)(c->got + (uint64_t)n));
  c->got += (uint64_t)n;
  total += (uint64_t)n;
  return c->got == want;
}

static void complete(conn *c) {
  close(c->fd);
  if (++done == nconns) bench_end(&clk);
}

/* ---- --mode=watch */

static void read_cb(tide_loop *l, tide_io *w, unsigned revents) {
  (void)revents;
  conn *c = w->data;
  ssize_t n = read(c->fd, c->buf, CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (arrived(c, n < 0 ? -errno : n)) {
    tide_io_stop(l, w);
    complete(c);
  }
}

static void accept_cb(tide_loop *l, tide_io *w, unsigned revents) {
  (void)revents;
  while (accepted < nconns) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      bench_die("accept: %s", strerror(errno));
    }
    if (!accepted) bench_begin(&clk);
    conn *c = &conns[accepted++];
    c->fd = fd;
    c->w.data = c;
    int r = tide_io_init(&c->w, read_cb, fd, TIDE_READ);
    if (r == 0) r = tide_io_start(l, &c->w);
    if (r < 0) bench_die("tide_io_start: %s", tide_strerror(r));
  }
  tide_io_stop(l, w);
}

/* ---- --mode=req */

static void recv_cb(tide_loop *l, tide_req *req, ssize_t res) {
  conn *c = req->data;
  if (arrived(c, res)) {
    complete(c);
    return;
  }
  int r = tide_recv(l, req, c->fd, c->buf, CHUNK, 0, 0, recv_cb);
  if (r < 0) bench_die("tide_recv: %s", tide_strerror(r));
}

static void accept_req_cb(tide_loop *l, tide_req *req, ssize_t res) {
  if (res >= 0 && accepted < nconns) {
    if (!accepted) bench_begin(&clk);
    conn *c = &conns[accepted++];
    c->fd = (int)res;
    c->req.data = c;
    int r = tide_recv(l, &c->req, c->fd, c->buf, CHUNK, 0, 0, recv_cb);
    if (r < 0) bench_die("tide_recv: %s", tide_strerror(r));
    if (accepted == nconns) tide_cancel(l, req);
  } else if (res >= 0) {
    close((int)res); /* not expected: more connections than --conns */
  } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
    bench_die("accept: %s", tide_strerror((int)res));
  }
  if (!tide_req_more(req) && accepted < nconns) {
    int r = tide_accept(l, req, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC, TIDE_MULTISHOT, accept_req_cb);
    if (r < 0) bench_die("tide_accept: %s", tide_strerror(r));
  }
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  nconns = bench_arg_u64(argc, argv, "conns", 1);
  want = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  const char *mode = bench_arg_str(argc, argv, "mode", "watch");
  int req_mode = !strcmp(mode, "req");
  if (!req_mode && strcmp(mode, "watch")) bench_die("--mode=watch|req");
  if (nconns < 1 || nconns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < sizeof ref; i++) ref[i] = (unsigned char)(i * 131);
  if (!(conns = calloc(nconns, sizeof *conns))) bench_die("out of memory");

  tide_loop *loop = new_loop(bench_arg_str(argc, argv, "backend", NULL));
  const char *backend = tide_loop_backend(loop);
  fprintf(stderr, "sink_tide: backend %s, mode %s\n", backend, mode);
  lfd = listen_on(port);
  int r;
  if (req_mode) r = tide_accept(loop, &accept_req, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC,
                                TIDE_MULTISHOT, accept_req_cb);
  else if ((r = tide_io_init(&accept_w, accept_cb, lfd, TIDE_READ)) == 0)
    r = tide_io_start(loop, &accept_w);
  if (r < 0) bench_die("start: %s", tide_strerror(r));

  /* runs until every connection is complete and nothing is in flight */
  if ((r = tide_run(loop, TIDE_RUN_DEFAULT)) < 0) bench_die("tide_run: %s", tide_strerror(r));
  if (done != nconns) bench_die("loop ended with %llu of %llu connections complete",
                                (unsigned long long)done, (unsigned long long)nconns);
  close(lfd);
  free(conns);
  if ((r = tide_loop_free(loop)) < 0) bench_die("tide_loop_free: %s", tide_strerror(r));
  bench_result(&clk, total, NULL, " conns=%llu backend=%s mode=%s", (unsigned long long)nconns,
               backend, mode);
  return 0;
}
