/* SPDX-License-Identifier: MIT */
/* B2 echo server - libevent 2.1 with raw events (no bufferevents), like the others.
 *
 *   libevent [--port=N] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One persistent EV_READ event per connection: one read() of up to 4 KiB, then
 * write() of it; a partial write keeps the rest, deletes the read event and
 * adds a persistent EV_WRITE event until it is flushed. SIGTERM/SIGINT
 * (evsignal) end the run:
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=<libevent method>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one read, as on loopback), or
 * bytes / S with --size=S.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#define BUF 4096

typedef struct conn {
  struct event *rev, *wev; /* wev: created on the first partial write */
  int fd;
  uint32_t off, len; /* unwritten part of buf */
  struct conn *prev, *next;
  unsigned char buf[BUF];
} conn;

static struct event_base *base;
static conn *conns; /* every open connection */
static uint64_t chunks, bytes, accepted;
static bench_clock clk;

#include "net.h"

static void drop(conn *c) {
  event_free(c->rev); /* deletes it if pending */
  if (c->wev) event_free(c->wev);
  close(c->fd);
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
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

static void write_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  conn *c = arg;
  int r = flush(c);
  if (r < 0) {
    drop(c);
  } else if (r > 0) {
    event_del(c->wev);
    event_add(c->rev, NULL);
  }
}

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  conn *c = arg;
  ssize_t n = read(fd, c->buf, BUF);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(c); /* EOF or error (ECONNRESET when the load closes) */
    return;
  }
  c->len = (uint32_t)n;
  int r = flush(c);
  if (r < 0) {
    drop(c);
  } else if (r == 0) {
    if (!c->wev && !(c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, write_cb, c)))
      bench_die("event_new failed");
    event_del(c->rev);
    event_add(c->wev, NULL);
  }
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg) {
  (void)what, (void)arg;
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        fprintf(stderr, "libevent: accept: %s\n", strerror(errno));
      return;
    }
    if (!accepted++) bench_begin(&clk);
    conn *c = malloc(sizeof *c);
    if (!c) bench_die("out of memory");
    c->fd = fd;
    c->off = c->len = 0;
    c->wev = NULL;
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, c);
    if (!c->rev || event_add(c->rev, NULL) < 0) bench_die("event_new/event_add failed");
    c->prev = NULL;
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
  }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what, (void)arg;
  event_base_loopbreak(base);
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
  base = event_base_new();
  if (!base) bench_die("event_base_new failed");
  const char *backend = event_base_get_method(base);
  fprintf(stderr, "libevent: backend %s\n", backend);

  int lfd = listen_on(port);
  struct event *accept_ev = event_new(base, lfd, EV_READ | EV_PERSIST, accept_cb, NULL);
  struct event *term_ev = evsignal_new(base, SIGTERM, signal_cb, NULL);
  struct event *int_ev = evsignal_new(base, SIGINT, signal_cb, NULL);
  if (!accept_ev || !term_ev || !int_ev || event_add(accept_ev, NULL) < 0 ||
      event_add(term_ev, NULL) < 0 || event_add(int_ev, NULL) < 0)
    bench_die("event setup failed");

  if (event_base_dispatch(base) < 0) bench_die("event_base_dispatch failed");
  if (accepted) bench_end(&clk);

  while (conns) drop(conns);
  event_free(accept_ev);
  event_free(term_ev);
  event_free(int_ev);
  close(lfd);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu backend=%s",
               (unsigned long long)bytes, (unsigned long long)accepted, backend);
  event_base_free(base);
  return 0;
}
