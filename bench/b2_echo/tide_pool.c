/* SPDX-License-Identifier: MIT */
/* B2 echo server - libtide multishot receive into a shared buffer pool.
 *
 *   tide_pool [--port=N] [--backend=uring|epoll|poll|select] [--bufs=16384] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One multishot tide_accept; per connection one multishot tide_recv_pool on a
 * tide_bufpool shared by all connections (--bufs buffers of 4 KiB, a power of
 * two; the default covers 10,000 connections with one buffer held each), and a
 * tide_send with TIDE_ALL of each received buffer, in order; the buffer goes
 * back to the pool when its send completes. SIGTERM/SIGINT (a signal handler
 * calling tide_async_send) end the run: every request is cancelled, the loop
 * drains, the pool and loop are freed.
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=<name>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one piece, as on loopback), or
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

typedef struct {
  void *p;
  int id;
  uint32_t len;
} chunk;

typedef struct conn {
  tide_req rreq, sreq;
  int fd;
  int receiving, sending, closing;
  chunk *q; /* received chunks not yet echoed; q[head] is being sent */
  uint32_t head, n, cap;
  chunk first[4]; /* q's storage until it has to grow */
  struct conn *prev, *next;
} conn;

static tide_loop *loop;
static tide_bufpool *pool;
static tide_req accept_req;
static tide_async stop_w;
static int lfd, stopping;
static conn *conns; /* every open connection */
static uint64_t chunks, bytes, accepted, refused;
static bench_clock clk;

#include "net.h"

#include "tide_loop.h"

static void put(int id) {
  int r = tide_bufpool_put(pool, id);
  if (r < 0) bench_die("tide_bufpool_put(%d): %s", id, tide_strerror(r));
}

/* free the connection once neither of its requests is in flight */
static void maybe_drop(conn *c) {
  if (!c->closing || c->receiving || c->sending) return;
  for (; c->n; c->n--, c->head = (c->head + 1) % c->cap) put(c->q[c->head].id);
  close(c->fd);
  if (c->q != c->first) free(c->q);
  if (c->prev) c->prev->next = c->next;
  else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

static void close_conn(tide_loop *l, conn *c) {
  c->closing = 1;
  if (c->receiving) tide_cancel(l, &c->rreq);
  if (c->sending) tide_cancel(l, &c->sreq);
  maybe_drop(c);
}

static void send_cb(tide_loop *l, tide_req *req, ssize_t res);

static void send_head(tide_loop *l, conn *c) {
  chunk *k = &c->q[c->head];
  int r = tide_send(l, &c->sreq, c->fd, k->p, k->len, 0, TIDE_ALL, send_cb);
  if (r < 0) bench_die("tide_send: %s", tide_strerror(r));
  c->sending = 1;
}

static void send_cb(tide_loop *l, tide_req *req, ssize_t res) {
  conn *c = req->data;
  chunk *k = &c->q[c->head];
  c->sending = 0;
  if (res == (ssize_t)k->len) {
    chunks++;
    bytes += k->len;
  }
  put(k->id);
  c->head = (c->head + 1) % c->cap;
  c->n--;
  if (res != (ssize_t)k->len) close_conn(l, c); /* error (EPIPE, ECONNRESET), cancelled */
  else if (c->n && !c->closing) send_head(l, c);
  else maybe_drop(c);
}

static void recv_cb(tide_loop *l, tide_req *req, ssize_t res);

static int start_recv(tide_loop *l, conn *c) {
  int r = tide_recv_pool(l, &c->rreq, c->fd, pool, recv_cb);
  c->receiving = r == 0;
  return r;
}

static void recv_cb(tide_loop *l, tide_req *req, ssize_t res) {
  conn *c = req->data;
  int more = tide_req_more(req);
  if (res > 0) {
    void *p;
    int id = tide_req_buffer(req, &p);
    if (id < 0) bench_die("tide_req_buffer: %s", tide_strerror(id));
    if (c->closing) {
      put(id);
    } else {
      if (c->n == c->cap) { /* grow the queue (never happens with one request outstanding) */
        chunk *q = malloc(2 * c->cap * sizeof *q);
        if (!q) bench_die("out of memory");
        for (uint32_t i = 0; i < c->n; i++) q[i] = c->q[(c->head + i) % c->cap];
        if (c->q != c->first) free(c->q);
        c->q = q, c->head = 0, c->cap *= 2;
      }
      c->q[(c->head + c->n++) % c->cap] = (chunk){p, id, (uint32_t)res};
      if (!c->sending) send_head(l, c);
    }
  }
  if (more) return;
  c->receiving = 0;
  if (res > 0 && !c->closing) { /* ended without EOF or error: receive on */
    int r = start_recv(l, c);
    if (r < 0) bench_die("tide_recv_pool: %s", tide_strerror(r));
    return;
  }
  close_conn(l, c); /* EOF, error (ECONNRESET when the load closes), cancelled */
}

static void accept_cb(tide_loop *l, tide_req *req, ssize_t res) {
  if (res >= 0) {
    int fd = (int)res;
    if (!accepted++) bench_begin(&clk);
    conn *c = calloc(1, sizeof *c);
    if (!c) bench_die("out of memory");
    c->fd = fd;
    c->rreq.data = c->sreq.data = c;
    c->q = c->first;
    c->cap = sizeof c->first / sizeof c->first[0];
    int r = stopping ? -ECANCELED : start_recv(l, c);
    if (r < 0) { /* e.g. fd >= FD_SETSIZE on select */
      if (r != -ECANCELED && !refused++)
        fprintf(stderr, "tide_pool: fd %d: %s; closing\n", fd, tide_strerror(r));
      close(fd);
      free(c);
    } else {
      c->next = conns;
      if (conns) conns->prev = c;
      conns = c;
    }
  } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
    fprintf(stderr, "tide_pool: accept: %s\n", tide_strerror((int)res));
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
  for (conn *c = conns, *next; c; c = next) {
    next = c->next; /* close_conn may free c */
    close_conn(l, c);
  }
}

static void on_signal(int sig) {
  (void)sig;
  tide_async_send(loop, &stop_w);
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t size = bench_arg_u64(argc, argv, "size", 0);
  uint64_t nbufs = bench_arg_u64(argc, argv, "bufs", 16384);
  if (nbufs < 1 || nbufs > 32768 || (nbufs & (nbufs - 1))) bench_die("--bufs: a power of two, 1..32768");
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  loop = new_loop(bench_arg_str(argc, argv, "backend", NULL));
  int r = tide_bufpool_new(loop, &pool, (unsigned)nbufs, BUF);
  if (r < 0) bench_die("tide_bufpool_new: %s", tide_strerror(r));
  fprintf(stderr, "tide_pool: backend %s, tide_recv_pool %s\n", tide_loop_backend(loop),
          tide_op_support(loop, TIDE_OP_RECV_POOL) == TIDE_OP_NATIVE ? "native" : "emulated");

  lfd = listen_on(port);
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
  if ((r = tide_bufpool_free(pool)) < 0) bench_die("tide_bufpool_free: %s", tide_strerror(r));
  if ((r = tide_loop_free(loop)) < 0) bench_die("tide_loop_free: %s", tide_strerror(r));
  return 0;
}
