/* SPDX-License-Identifier: MIT */
/* B2 echo server - libuv streams (uv_tcp_t, uv_read_start / uv_write).
 *
 *   libuv [--port=N] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * Per connection uv_read_start into a 4 KiB buffer of the connection and
 * uv_write of each chunk read (libuv writes at once when it can and queues the
 * rest itself). While a write of that buffer is still queued, a read goes into a
 * malloc'd buffer, written with its own uv_write_t (never with one outstanding
 * request per connection). SIGTERM/SIGINT (uv_signal) end the run: every handle
 * is closed and the loop drained and closed.
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=epoll
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one read, as on loopback), or
 * bytes / S with --size=S.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>
#include <uv.h>

#define BUF 4096

typedef struct {
  uv_tcp_t h;
  uv_write_t wreq;
  int writing;  /* wreq (and buf) in use */
  uint32_t len; /* bytes written with wreq */
  unsigned char buf[BUF];
} conn;

typedef struct { /* a write from an extra buffer */
  uv_write_t req;
  uint32_t len;
  char data[];
} extra_write;

static uv_loop_t loop;
static uv_tcp_t server;
static uv_signal_t term_w, int_w;
static uint64_t chunks, bytes, accepted;
static bench_clock clk;

static void on_close(uv_handle_t *h) {
  if (h->type == UV_TCP && h != (uv_handle_t *)&server) free(h);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  conn *c = (conn *)h;
  if (!c->writing) {
    *b = uv_buf_init((char *)c->buf, BUF);
    return;
  }
  extra_write *x = malloc(sizeof *x + BUF);
  if (!x) bench_die("out of memory");
  *b = uv_buf_init(x->data, BUF);
}

static void write_cb(uv_write_t *req, int status) {
  conn *c = req->data;
  uint32_t n = req == &c->wreq ? c->len : ((extra_write *)req)->len;
  if (status == 0) {
    chunks++;
    bytes += n;
  }
  if (req == &c->wreq) c->writing = 0;
  else free(req);
  if (status < 0 && status != UV_ECANCELED && !uv_is_closing((uv_handle_t *)c))
    uv_close((uv_handle_t *)c, on_close);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = (conn *)s;
  int own = b->base == (char *)c->buf;
  if (n <= 0) {
    if (!own && b->base) free((char *)b->base - offsetof(extra_write, data));
    if (n < 0) uv_close((uv_handle_t *)s, on_close); /* UV_EOF, or an error */
    return;
  }
  uv_write_t *req;
  if (own) {
    req = &c->wreq;
    c->writing = 1;
    c->len = (uint32_t)n;
  } else {
    extra_write *x = (extra_write *)(b->base - offsetof(extra_write, data));
    x->len = (uint32_t)n;
    req = &x->req;
  }
  req->data = c;
  uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
  int r = uv_write(req, s, &out, 1, write_cb);
  if (r < 0) {
    write_cb(req, r);
    if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_close);
  }
}

static void connection_cb(uv_stream_t *srv, int status) {
  if (status < 0) {
    fprintf(stderr, "libuv: accept: %s\n", uv_strerror(status));
    return;
  }
  if (!accepted++) bench_begin(&clk);
  conn *c = malloc(sizeof *c);
  if (!c) bench_die("out of memory");
  c->writing = 0;
  uv_tcp_init(&loop, &c->h);
  int r = uv_accept(srv, (uv_stream_t *)c);
  if (r == 0) r = uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
  if (r < 0) {
    fprintf(stderr, "libuv: accept: %s\n", uv_strerror(r));
    uv_close((uv_handle_t *)c, on_close);
  }
}

static void close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, on_close);
}

static void signal_cb(uv_signal_t *w, int sig) {
  (void)w, (void)sig;
  if (accepted) bench_end(&clk);
  uv_walk(&loop, close_all, NULL);
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
  if (uv_loop_init(&loop) < 0) bench_die("uv_loop_init failed");
  fprintf(stderr, "libuv %s: backend epoll\n", uv_version_string());

  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", (int)port, &sa);
  int r;
  uv_tcp_init(&loop, &server);
  if ((r = uv_tcp_bind(&server, (struct sockaddr *)&sa, 0)) < 0 ||
      (r = uv_listen((uv_stream_t *)&server, 65535, connection_cb)) < 0)
    bench_die("bind/listen 127.0.0.1:%llu: %s", (unsigned long long)port, uv_strerror(r));
  int len = sizeof sa;
  uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &len);
  printf("PORT %u\n", ntohs(sa.sin_port));
  fflush(stdout);
  uv_signal_init(&loop, &term_w);
  uv_signal_start(&term_w, signal_cb, SIGTERM);
  uv_signal_init(&loop, &int_w);
  uv_signal_start(&int_w, signal_cb, SIGINT);

  uv_run(&loop, UV_RUN_DEFAULT);
  if ((r = uv_loop_close(&loop)) < 0) bench_die("uv_loop_close: %s", uv_strerror(r));
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu backend=epoll",
               (unsigned long long)bytes, (unsigned long long)accepted);
  return 0;
}
