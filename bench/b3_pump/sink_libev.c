/* SPDX-License-Identifier: MIT */
/* B3 pump sink - libev (ev_io watchers on the default loop).
 *
 *   sink_libev [--port=N] [--conns=C] [--bytes=B] [--smoke]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first,
 * accepts C connections (1..1000, default 1) and reads B bytes (default 1 GiB;
 * --smoke: 1 MiB) from each, every byte checked against (i * 131) & 0xff (i:
 * offset in the connection's stream). One EV_READ watcher per connection, one
 * read() of up to 64 KiB per callback.
 * Measured from the first accepted connection to the last expected byte:
 *   RESULT ops=<bytes received> wall_ns cpu_ns conns=C
 * Exit 1 if a byte differs, a connection ends early or sends too much.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#define CHUNK 65536

typedef struct {
  ev_io w;
  uint64_t got;
  unsigned char buf[CHUNK];
} conn;

static conn *conns;
static unsigned char ref[CHUNK + 256]; /* ref[i] = (i * 131) & 0xff */

/* data at stream offset off matches the pattern? */
static int verify(uint64_t off, const unsigned char *p, size_t n) {
  for (size_t k; n; p += k, off += k, n -= k) {
    k = n < CHUNK ? n : CHUNK;
    if (memcmp(p, ref + off % 256, k)) return 0;
  }
  return 1;
}

#include "net.h"

static uint64_t nconns, want, accepted, done, total;
static bench_clock clk;

/* n bytes arrived for connection i at offset *got (n < 0: -errno); 1 if it got all it should */
static int arrived(long i, uint64_t *got, const unsigned char *buf, ssize_t n) {
  if (n < 0) bench_die("connection %ld: read: %s", i, strerror((int)-n));
  if (n == 0)
    bench_die("connection %ld: EOF after %llu of %llu bytes", i, (unsigned long long)*got,
              (unsigned long long)want);
  if (*got + (uint64_t)n > want) bench_die("connection %ld: more than %llu bytes", i, (unsigned long long)want);
  if (!verify(*got, buf, (size_t)n))
    bench_die("connection %ld: wrong data at offset %llu..%llu", i, (unsigned long long)*got,
              (unsigned long long)(*got + (uint64_t)n));
  *got += (uint64_t)n;
  total += (uint64_t)n;
  return *got == want;
}

static void read_cb(struct ev_loop *l, ev_io *w, int revents) {
  (void)revents;
  conn *c = (conn *)w;
  ssize_t n = read(w->fd, c->buf, CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (arrived((long)(c - conns), &c->got, c->buf, n < 0 ? -errno : n)) {
    ev_io_stop(l, w);
    close(w->fd);
    if (++done == nconns) bench_end(&clk);
  }
}

static void accept_cb(struct ev_loop *l, ev_io *w, int revents) {
  (void)revents;
  while (accepted < nconns) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      bench_die("accept: %s", strerror(errno));
    }
    if (!accepted) bench_begin(&clk);
    conn *c = &conns[accepted++];
    ev_io_init(&c->w, read_cb, fd, EV_READ);
    ev_io_start(l, &c->w);
  }
  ev_io_stop(l, w);
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  nconns = bench_arg_u64(argc, argv, "conns", 1);
  want = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  if (nconns < 1 || nconns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < sizeof ref; i++) ref[i] = (unsigned char)(i * 131);
  if (!(conns = calloc(nconns, sizeof *conns))) bench_die("out of memory");
  struct ev_loop *l = ev_default_loop(0);
  if (!l) bench_die("ev_default_loop failed");
  ev_io accept_w;
  int lfd = listen_on(port);
  ev_io_init(&accept_w, accept_cb, lfd, EV_READ);
  ev_io_start(l, &accept_w);
  ev_run(l, 0); /* until no watcher is left */
  if (done != nconns) bench_die("loop ended early");
  close(lfd);
  free(conns);
  ev_loop_destroy(l);
  bench_result(&clk, total, NULL, " conns=%llu", (unsigned long long)nconns);
  return 0;
}
