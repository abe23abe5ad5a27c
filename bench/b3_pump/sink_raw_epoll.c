/* SPDX-License-Identifier: MIT */
/* B3 pump sink - raw epoll, the floor.
 *
 *   sink_raw_epoll [--port=N] [--conns=C] [--bytes=B] [--smoke]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first,
 * accepts C connections (1..1000, default 1) and reads B bytes (default 1 GiB;
 * --smoke: 1 MiB) from each: level-triggered epoll, one read() of up to 64 KiB
 * per readable event, every byte checked against (i * 131) & 0xff (i: offset in
 * the connection's stream). Measured from the first accepted connection to the
 * last expected byte:
 *   RESULT ops=<bytes received> wall_ns cpu_ns conns=C
 * Exit 1 if a byte differs, a connection ends early or sends too much.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define CHUNK 65536

typedef struct {
  int fd;
  uint64_t got;
  unsigned char buf[CHUNK];
} conn;

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

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t nconns = bench_arg_u64(argc, argv, "conns", 1);
  uint64_t want = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  if (nconns < 1 || nconns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < sizeof ref; i++) ref[i] = (unsigned char)(i * 131);

  conn *conns = calloc(nconns, sizeof *conns);
  if (!conns) bench_die("out of memory");
  int ep = epoll_create1(EPOLL_CLOEXEC), lfd = listen_on(port);
  if (ep < 0) bench_die("epoll_create1: %s", strerror(errno));
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0) bench_die("epoll_ctl: %s", strerror(errno));

  bench_clock clk;
  uint64_t accepted = 0, done = 0, total = 0;
  static struct epoll_event evs[256];
  while (done < nconns) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      bench_die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u64 == UINT64_MAX) { /* the listener */
        while (accepted < nconns) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
            bench_die("accept: %s", strerror(errno));
          }
          if (!accepted) bench_begin(&clk);
          conn *c = &conns[accepted];
          c->fd = fd;
          e = (struct epoll_event){.events = EPOLLIN, .data.u64 = accepted++};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) bench_die("epoll_ctl: %s", strerror(errno));
        }
        if (accepted == nconns) epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
        continue;
      }
      conn *c = &conns[evs[i].data.u64];
      ssize_t r = read(c->fd, c->buf, CHUNK);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        bench_die("connection %ld: read: %s", (long)(c - conns), strerror(errno));
      }
      if (r == 0) bench_die("connection %ld: EOF after %llu of %llu bytes", (long)(c - conns),
                            (unsigned long long)c->got, (unsigned long long)want);
      if (c->got + (uint64_t)r > want) bench_die("connection %ld: more than %llu bytes", (long)(c - conns),
                                                 (unsigned long long)want);
      if (!verify(c->got, c->buf, (size_t)r))
        bench_die("connection %ld: wrong data at offset %llu..%llu", (long)(c - conns),
                  (unsigned long long)c->got, (unsigned long long)(c->got + (uint64_t)r));
      c->got += (uint64_t)r;
      total += (uint64_t)r;
      if (c->got == want) {
        close(c->fd); /* also leaves the epoll set */
        done++;
      }
    }
  }
  bench_end(&clk);
  close(lfd);
  close(ep);
  free(conns);
  bench_result(&clk, total, NULL, " conns=%llu", (unsigned long long)nconns);
  return 0;
}
