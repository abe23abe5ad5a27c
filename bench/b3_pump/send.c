/* SPDX-License-Identifier: MIT */
/* B3 pump - the sender shared by every sink (plain C, blocking sockets, one
 * thread per connection).
 *
 *   send --port=N [--conns=C] [--bytes=B] [--smoke]
 *
 * Connects C connections (1..1000, default 1) to 127.0.0.1:N, then streams B
 * bytes (default 1 GiB; --smoke: 1 MiB) over EACH of them in 64 KiB write()s,
 * byte i of a connection's stream being (i * 131) & 0xff, and closes them.
 *   RESULT ops=<bytes sent, all connections> wall_ns cpu_ns (this process)
 *          conns=C
 * measured from the first write to the last. Exit 1 on any connect or write
 * error. The sink is the side under test; this is only the load.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#define CHUNK 65536

static unsigned char pattern[CHUNK]; /* the stream is periodic: 65536 is a multiple of 256 */
static uint64_t per_conn;
static int failed;
static uint64_t sent; /* bytes, all connections */

static void *pump(void *arg) {
  int fd = (int)(intptr_t)arg;
  uint64_t pos = 0;
  while (pos < per_conn) {
    size_t at = pos % CHUNK, n = CHUNK - at;
    if (n > per_conn - pos) n = (size_t)(per_conn - pos);
    ssize_t w = write(fd, pattern + at, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "send: write: %s (after %llu bytes)\n", strerror(errno), (unsigned long long)pos);
      __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
      break;
    }
    pos += (uint64_t)w;
  }
  __atomic_fetch_add(&sent, pos, __ATOMIC_RELAXED);
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t conns = bench_arg_u64(argc, argv, "conns", 1);
  per_conn = bench_arg_u64(argc, argv, "bytes", bench_smoke(argc, argv) ? 1u << 20 : 1u << 30);
  if (port == 0 || port > 65535) bench_die("--port=N (1..65535) is required");
  if (conns < 1 || conns > 1000) bench_die("--conns must be 1..1000");
  signal(SIGPIPE, SIG_IGN);
  for (unsigned i = 0; i < CHUNK; i++) pattern[i] = (unsigned char)(i * 131);

  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int *fds = malloc(conns * sizeof *fds);
  pthread_t *th = malloc(conns * sizeof *th);
  if (!fds || !th) bench_die("out of memory");
  for (uint64_t i = 0; i < conns; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] < 0) bench_die("socket: %s", strerror(errno));
    if (connect(fds[i], (struct sockaddr *)&sa, sizeof sa) < 0)
      bench_die("connect 127.0.0.1:%llu: %s", (unsigned long long)port, strerror(errno));
  }

  bench_clock clk;
  bench_begin(&clk);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (uint64_t i = 0; i < conns; i++)
    if (pthread_create(&th[i], &attr, pump, (void *)(intptr_t)fds[i]))
      bench_die("pthread_create failed");
  for (uint64_t i = 0; i < conns; i++) pthread_join(th[i], NULL);
  bench_end(&clk);
  pthread_attr_destroy(&attr);
  free(fds);
  free(th);
  bench_result(&clk, sent, NULL, " conns=%llu", (unsigned long long)conns);
  return failed ? 1 : 0;
}
