/* SPDX-License-Identifier: MIT */
/* B3 pump sink - libevent 2.1 with raw events (no bufferevents).
 *
 *   sink_libevent [--port=N] [--conns=C] [--bytes=B] [--smoke]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first,
 * accepts C connections (1..1000, default 1) and reads B bytes (default 1 GiB;
 * --smoke: 1 MiB) from each, every byte checked against (i * 131) & 0xff (i:
 * offset in the connection's stream). One persistent EV_READ event per
 * connection, one read() of up to 64 KiB per callback.
 * Measured from the first accepted connection to the last expected byte:
 *   RESULT ops=<bytes received> wall_ns cpu_ns conns=C
 * Exit 1 if a byte differs, a connection ends early or sends too much.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#define CHUNK 65536

typedef struct {
  struct event *ev;
  int fd;
  uint64_t got;
  unsigned char buf[CHUNK];
} conn;

static conn *conns;
static struct event_base *base;
static struct event *accept_ev;
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

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  conn *c = arg;
  ssize_t n = read(fd, c->buf, CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (arrived((long)(c - conns), &c->got, c->buf, n < 0 ? -errno : n)) {
    event_free(c->ev);
    close(fd);
    if (++done == nconns) bench_end(&clk);
  }
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg) {
  (void)what, (void)arg;
  while (accepted < nconns) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      bench_die("accept: %s", strerror(errno));
    }
    if (!accepted) bench_begin(&clk);
    conn *c = &conns[accepted++];
    c->fd = fd;
    c->ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, c);
    if (!c->ev || event_add(c->ev, NULL) < 0) bench_die("event_new/event_add failed");
  }
  event_del(accept_ev);
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  nconns = bench_arg_u64(argc, argv, "conns", 1);
  want = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  if (nconns < 1 || nconns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < sizeof ref; i++) ref[i] = (unsigned char)(i * 131);
  if (!(conns = calloc(nconns, sizeof *conns))) bench_die("out of memory");
  if (!(base = event_base_new())) bench_die("event_base_new failed");
  int lfd = listen_on(port);
  accept_ev = event_new(base, lfd, EV_READ | EV_PERSIST, accept_cb, NULL);
  if (!accept_ev || event_add(accept_ev, NULL) < 0) bench_die("event setup failed");
  if (event_base_dispatch(base) < 0) bench_die("event_base_dispatch failed"); /* until no event is left */
  if (done != nconns) bench_die("loop ended early");
  event_free(accept_ev);
  close(lfd);
  free(conns);
  event_base_free(base);
  bench_result(&clk, total, NULL, " conns=%llu", (unsigned long long)nconns);
  return 0;
}
