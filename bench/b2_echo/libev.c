/* SPDX-License-Identifier: MIT */
/* B2 echo server - libev (ev_io watchers on the default loop).
 *
 *   libev [--port=N] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One EV_READ watcher per connection: one read() of up to 4 KiB, then write()
 * of it; a partial write keeps the rest and switches the watcher to EV_WRITE
 * until it is flushed. SIGTERM/SIGINT (ev_signal) end the run:
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=<libev backend>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one read, as on loopback), or
 * bytes / S with --size=S.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#define BUF 4096

typedef struct conn {
  ev_io w;
  uint32_t off, len; /* unwritten part of buf */
  struct conn *prev, *next;
  unsigned char buf[BUF];
} conn;

static conn *conns; /* every open connection */
static uint64_t chunks, bytes, accepted;
static bench_clock clk;

#include "net.h"

static void drop(struct ev_loop *l, conn *c) {
  ev_io_stop(l, &c->w);
  close(c->w.fd);
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

/* write the buffered rest; 1 done, 0 would block, -1 error */
static int flush(conn *c) {
  while (c->off < c->len) {
    ssize_t n = write(c->w.fd, c->buf + c->off, c->len - c->off);
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

static void set_events(struct ev_loop *l, conn *c, int events) {
  ev_io_stop(l, &c->w);
  ev_io_set(&c->w, c->w.fd, events);
  ev_io_start(l, &c->w);
}

static void conn_cb(struct ev_loop *l, ev_io *w, int revents) {
  (void)revents;
  conn *c = (conn *)w;
  if (c->len) { /* EV_WRITE: finish the partial write */
    int r = flush(c);
    if (r < 0) drop(l, c);
    else if (r > 0) set_events(l, c, EV_READ);
    return;
  }
  ssize_t n = read(w->fd, c->buf, BUF);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(l, c); /* EOF or error (ECONNRESET when the load closes) */
    return;
  }
  c->len = (uint32_t)n;
  int r = flush(c);
  if (r < 0) drop(l, c);
  else if (r == 0) set_events(l, c, EV_WRITE);
}

static void accept_cb(struct ev_loop *l, ev_io *w, int revents) {
  (void)revents;
  for (;;) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        fprintf(stderr, "libev: accept: %s\n", strerror(errno));
      return;
    }
    if (!accepted++) bench_begin(&clk);
    conn *c = malloc(sizeof *c);
    if (!c) bench_die("out of memory");
    c->off = c->len = 0;
    ev_io_init(&c->w, conn_cb, fd, EV_READ);
    ev_io_start(l, &c->w);
    c->prev = NULL;
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
  }
}

static void signal_cb(struct ev_loop *l, ev_signal *w, int revents) {
  (void)w, (void)revents;
  ev_break(l, EVBREAK_ALL);
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
  struct ev_loop *l = ev_default_loop(0);
  if (!l) bench_die("ev_default_loop failed");
  unsigned be = ev_backend(l);
  const char *backend = be == EVBACKEND_EPOLL ? "epoll" : be == EVBACKEND_POLL ? "poll"
                      : be == EVBACKEND_SELECT ? "select" : "other";
  fprintf(stderr, "libev: backend %s\n", backend);

  ev_io accept_w;
  ev_signal term_w, int_w;
  int lfd = listen_on(port);
  ev_io_init(&accept_w, accept_cb, lfd, EV_READ);
  ev_io_start(l, &accept_w);
  ev_signal_init(&term_w, signal_cb, SIGTERM);
  ev_signal_start(l, &term_w);
  ev_signal_init(&int_w, signal_cb, SIGINT);
  ev_signal_start(l, &int_w);

  ev_run(l, 0);
  if (accepted) bench_end(&clk);

  while (conns) drop(l, conns);
  ev_io_stop(l, &accept_w);
  ev_signal_stop(l, &term_w);
  ev_signal_stop(l, &int_w);
  close(lfd);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu backend=%s",
               (unsigned long long)bytes, (unsigned long long)accepted, backend);
  ev_loop_destroy(l);
  return 0;
}
