/* SPDX-License-Identifier: MIT */
/* B2 echo server - libtide completion requests.
 *
 *   tide_req [--port=N] [--backend=uring|epoll|poll|select] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One multishot tide_accept; per connection one request in flight at a time:
 * tide_recv of up to 4 KiB, then tide_send of what arrived with TIDE_ALL, then
 * the next tide_recv. SIGTERM/SIGINT (a signal handler calling tide_async_send)
 * end the run: every request is cancelled, the loop drains and is freed.
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=<name>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one recv, as on loopback), or
 * bytes / S with --size=S. Exit 3 if the backend is not available.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <tide.h>

#define BUF 4096

typedef struct conn {
  tide_req rreq, sreq;
  tide_req *inflight; /* the one request of this connection in flight */
  int fd;
  uint32_t len; /* bytes being sent */
  struct conn *prev, *next;
  unsigned char buf[BUF];
} conn;

static tide_loop *loop;
static tide_req accept_req;
static tide_async stop_w;
static int lfd, stopping;
static conn *conns; /* every open connection */
static uint64_t chunks, bytes, accepted, refused;
static bench_clock clk;

#include "net.h"

#include "tide_loop.h"

static void drop(conn *c) {
  close(c->fd);
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

static void send_cb(tide_loop *l, tide_req *req, ssize_t res);

static void recv_cb(tide_loop *l, tide_req *req, ssize_t res) {
  conn *c = req->data;
  if (res <= 0 || stopping) { /* EOF, error (ECONNRESET when the load closes), cancelled */
    drop(c);
    return;
  }
  c->len = (uint32_t)res;
  int r = tide_send(l, &c->sreq, c->fd, c->buf, c->len, 0, TIDE_ALL, send_cb);
  if (r < 0) bench_die("tide_send: %s", tide_strerror(r));
  c->inflight = &c->sreq;
}

static void send_cb(tide_loop *l, tide_req *req, ssize_t res) {
  conn *c = req->data;
  if (res == (ssize_t)c->len) {
    chunks++;
    bytes += c->len;
  }
  if (res != (ssize_t)c->len || stopping) {
    drop(c);
    return;
  }
  int r = tide_recv(l, &c->rreq, c->fd, c->buf, BUF, 0, 0, recv_cb);
  if (r < 0) bench_die("tide_recv: %s", tide_strerror(r));
  c->inflight = &c->rreq;
}

static void accept_cb(tide_loop *l, tide_req *req, ssize_t res) {
  if (res >= 0) {
    int fd = (int)res;
    if (!accepted++) bench_begin(&clk);
    conn *c = malloc(sizeof *c);
    if (!c) bench_die("out of memory");
    c->fd = fd;
    c->rreq.data = c->sreq.data = c;
    int r = stopping ? -ECANCELED : tide_recv(l, &c->rreq, fd, c->buf, BUF, 0, 0, recv_cb);
    if (r < 0) { /* e.g. fd >= FD_SETSIZE on select */
      if (r != -ECANCELED && !refused++)
        fprintf(stderr, "tide_req: fd %d: %s; closing\n", fd, tide_strerror(r));
      close(fd);
      free(c);
    } else {
      c->inflight = &c->rreq;
      c->prev = NULL;
      c->next = conns;
      if (conns) conns->prev = c;
      conns = c;
    }
  } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
    fprintf(stderr, "tide_req: accept: %s\n", tide_strerror((int)res));
  }
  if (!tide_req_more(req) && !stopping) {
    int r = tide_accept(l, req, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC, TIDE_MULTISHOT, accept_cb);
    if (r < 0) bench_die("tide_accept: %s", tide_strerror(r));
  }
}

/* the signal: stop measuring, cancel everything; tide_run returns once all is done */
static void stop_cb(tide_loop *l, tide_async *w, unsigned revents) {
  (void)revents;
  if (accepted) bench_end(&clk);
  stopping = 1;
  tide_async_stop(l, w);
  tide_cancel(l, &accept_req);
  for (conn *c = conns; c; c = c->next) tide_cancel(l, c->inflight);
}

static void on_signal(int sig) {
  (void)sig;
  tide_async_send(loop, &stop_w);
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
  loop = new_loop(bench_arg_str(argc, argv, "backend", NULL));
  fprintf(stderr, "tide_req: backend %s\n", tide_loop_backend(loop));

  lfd = listen_on(port);
  int r;
  if ((r = tide_async_init(&stop_w, stop_cb)) < 0 || (r = tide_async_start(loop, &stop_w)) < 0 ||
      (r = tide_accept(loop, &accept_req, lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC,
                       TIDE_MULTISHOT, accept_cb)) < 0)
    bench_die("start: %s", tide_strerror(r));
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  if ((r = tide_run(loop, TIDE_RUN_DEFAULT)) < 0) bench_die("tide_run: %s", tide_strerror(r));
  signal(SIGTERM, SIG_IGN); /* the handler must not touch the loop once it is gone */
  signal(SIGINT, SIG_IGN);
  if (conns) bench_die("connections left after the loop drained");

  const char *backend = tide_loop_backend(loop);
  close(lfd);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu backend=%s",
               (unsigned long long)bytes, (unsigned long long)accepted, backend);
  if ((r = tide_loop_free(loop)) < 0) bench_die("tide_loop_free: %s", tide_strerror(r));
  return 0;
}
