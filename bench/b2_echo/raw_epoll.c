/* SPDX-License-Identifier: MIT */
/* B2 echo server - raw epoll, the floor for readiness-based servers.
 *
 *   raw_epoll [--port=N] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * Level-triggered epoll; per readable event one read() of up to 4 KiB, then
 * write() of it; a partial write keeps the rest and waits for EPOLLOUT (reading
 * stops meanwhile). SIGTERM/SIGINT (signalfd) end the run:
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one read, as on loopback), or
 * bytes / S with --size=S.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#define BUF 4096

typedef struct {
  int fd;
  uint32_t off, len; /* unwritten part of buf */
  unsigned char buf[BUF];
} conn;

static int ep, lfd, sfd;
static conn **byfd; /* connection of each fd */
static size_t nfds;
static uint64_t chunks, bytes, accepted;
static bench_clock clk;

#include "net.h"

static void ctl(int op, int fd, uint32_t events) {
  struct epoll_event e = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, op, fd, &e) < 0) bench_die("epoll_ctl: %s", strerror(errno));
}

static void drop(conn *c) {
  close(c->fd); /* also removes it from the epoll set */
  byfd[c->fd] = NULL;
  free(c);
}

static void on_accept(void) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      fprintf(stderr, "raw_epoll: accept: %s\n", strerror(errno));
      return;
    }
    if (!accepted++) bench_begin(&clk);
    conn *c = malloc(sizeof *c);
    if (!c || (size_t)fd >= nfds) bench_die("out of memory / fd %d too large", fd);
    c->fd = fd;
    c->off = c->len = 0;
    byfd[fd] = c;
    ctl(EPOLL_CTL_ADD, fd, EPOLLIN);
  }
}

/* write the buffered rest; 1 done, 0 would block, -1 error */
static int flush(conn *c) {
  while (c->off < c->len) {
    ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    c->off += (uint32_t)n;
  }
  chunks++;
  bytes += c->len;
  c->off = c->len = 0;
  return 1;
}

static void on_conn(conn *c, uint32_t ev) {
  if (c->len) { /* waiting for EPOLLOUT */
    int r = flush(c);
    if (r < 0) drop(c);
    else if (r > 0) ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN);
    return;
  }
  if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  ssize_t n = read(c->fd, c->buf, BUF);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(c); /* EOF or error (ECONNRESET when the load closes) */
    return;
  }
  c->len = (uint32_t)n;
  int r = flush(c);
  if (r < 0) drop(c);
  else if (r == 0) ctl(EPOLL_CTL_MOD, c->fd, EPOLLOUT);
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t size = bench_arg_u64(argc, argv, "size", 0);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  nfds = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ? (1u << 20) : rl.rlim_cur;
  byfd = calloc(nfds, sizeof *byfd);
  if (!byfd) bench_die("out of memory");

  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (sfd < 0 || ep < 0) bench_die("signalfd/epoll_create1: %s", strerror(errno));
  lfd = listen_on(port);
  ctl(EPOLL_CTL_ADD, lfd, EPOLLIN);
  ctl(EPOLL_CTL_ADD, sfd, EPOLLIN);

  static struct epoll_event evs[1024];
  for (int stop = 0; !stop;) {
    int n = epoll_wait(ep, evs, 1024, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      bench_die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) on_accept();
      else if (fd == sfd) stop = 1;
      else if (byfd[fd]) on_conn(byfd[fd], evs[i].events);
    }
  }
  if (accepted) bench_end(&clk);

  for (size_t fd = 0; fd < nfds; fd++)
    if (byfd[fd]) drop(byfd[fd]);
  free(byfd);
  close(lfd);
  close(sfd);
  close(ep);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu",
               (unsigned long long)bytes, (unsigned long long)accepted);
  return 0;
}
