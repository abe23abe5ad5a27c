/* SPDX-License-Identifier: MIT */
/* B3 pump sink - libuv streams (uv_tcp_t, uv_read_start).
 *
 *   sink_libuv [--port=N] [--conns=C] [--bytes=B] [--smoke]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first,
 * accepts C connections (1..1000, default 1) and reads B bytes (default 1 GiB;
 * --smoke: 1 MiB) from each, every byte checked against (i * 131) & 0xff (i:
 * offset in the connection's stream). uv_read_start per connection; alloc_cb
 * hands out the connection's own 64 KiB buffer (libuv reads up to 32 times per
 * readiness event, its own policy).
 * Measured from the first accepted connection to the last expected byte:
 *   RESULT ops=<bytes received> wall_ns cpu_ns conns=C
 * Exit 1 if a byte differs, a connection ends early or sends too much.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <signal.h>
#include <uv.h>

#define CHUNK 65536

typedef struct {
  uv_tcp_t h;
  long i;
  uint64_t got;
  unsigned char buf[CHUNK];
} conn;

static conn *conns;
static uv_loop_t loop;
static uv_tcp_t server;
static unsigned char ref[CHUNK + 256]; /* ref[i] = (i * 131) & 0xff */

/* data at stream offset off matches the pattern? */
static int verify(uint64_t off, const unsigned char *p, size_t n) {
  for (size_t k; n; p += k, off += k, n -= k) {
    k = n < CHUNK ? n : CHUNK;
    if (memcmp(p, ref + off % 256, k)) return 0;
  }
  return 1;
}


static uint64_t nconns, want, accepted, done, total;
static bench_clock clk;

/* n bytes arrived for connection i at offset *got (n < 0: -errno); 1 if it got all it should */
static int arrived(long i, uint64_t *got, const unsigned char *buf, ssize_t n) {
  if (n < 0) bench_die("connection %ld: read: %s", i, uv_strerror((int)n));
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

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  *b = uv_buf_init((char *)((conn *)h)->buf, CHUNK);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  conn *c = (conn *)s;
  if (n == 0) return; /* EAGAIN */
  if (arrived(c->i, &c->got, c->buf, n == UV_EOF ? 0 : n)) {
    uv_close((uv_handle_t *)s, NULL);
    if (++done == nconns) bench_end(&clk);
  }
}

static void connection_cb(uv_stream_t *srv, int status) {
  if (status < 0) bench_die("accept: %s", uv_strerror(status));
  if (accepted == nconns) return; /* not expected: more connections than --conns */
  if (!accepted) bench_begin(&clk);
  conn *c = &conns[accepted];
  c->i = (long)accepted++;
  uv_tcp_init(&loop, &c->h);
  int r = uv_accept(srv, (uv_stream_t *)c);
  if (r == 0) r = uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
  if (r < 0) bench_die("accept: %s", uv_strerror(r));
  if (accepted == nconns) uv_close((uv_handle_t *)&server, NULL);
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  nconns = bench_arg_u64(argc, argv, "conns", 1);
  want = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  if (nconns < 1 || nconns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < sizeof ref; i++) ref[i] = (unsigned char)(i * 131);
  if (!(conns = calloc(nconns, sizeof *conns))) bench_die("out of memory");
  if (uv_loop_init(&loop) < 0) bench_die("uv_loop_init failed");
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
  uv_run(&loop, UV_RUN_DEFAULT); /* until every handle is closed */
  if (done != nconns) bench_die("loop ended early");
  if ((r = uv_loop_close(&loop)) < 0) bench_die("uv_loop_close: %s", uv_strerror(r));
  free(conns);
  bench_result(&clk, total, NULL, " conns=%llu", (unsigned long long)nconns);
  return 0;
}
