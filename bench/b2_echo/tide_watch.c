/* SPDX-License-Identifier: MIT */
/* B2 echo server - libtide io watchers (the readiness API).
 *
 *   tide_watch [--port=N] [--backend=uring|epoll|poll|select] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One level-triggered TIDE_READ watcher per connection: one read() of up to
 * 4 KiB, then write() of it; a partial write keeps the rest and switches the
 * watcher to TIDE_WRITE until it is flushed. SIGTERM/SIGINT (a signal handler
 * calling tide_async_send) end the run:
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted> backend=<name>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one read, as on loopback), or
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
  tide_io w;
  int fd;
  uint32_t off, len; /* unwritten part of buf */
  struct conn *prev, *next;
  unsigned char buf[BUF];
} conn;

static tide_loop *loop;
static tide_io accept_w;
static tide_async stop_w;
static conn *conns; /* every open connection */
static uint64_t chunks, bytes, accepted, refused;
static bench_clock clk;

#include "net.h"

#include "tide_loop.h"

static void drop(conn *c) {
  tide_io_stop(loop, &c->w);
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

static void conn_cb(tide_loop *l, tide_io *w, unsigned revents) {
  (void)l;
  conn *c = w->data;
  if (revents & TIDE_ERROR) {
    drop(c);
    return;
  }
  if (c->len) { /* TIDE_WRITE: finish the partial write */
    int r = flush(c);
    if (r < 0) drop(c);
    else if (r > 0) tide_io_modify(&c->w, TIDE_READ);
    return;
  }
  ssize_t n = read(c->fd, c->buf, BUF);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    drop(c); /* EOF or error (ECONNRESET when the load closes) */
    return;
  }
  c->len = (uint32_t)n;
  int r = flush(c);
  if (r < 0) drop(c);
  else if (r == 0) tide_io_modify(&c->w, TIDE_WRITE);
}

static void accept_cb(tide_loop *l, tide_io *w, unsigned revents) {
  (void)revents;
  int lfd = tide_io_fd(w);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        fprintf(stderr, "tide_watch: accept: %s\n", strerror(errno));
      return;
    }
    if (!accepted++) bench_begin(&clk);
    conn *c = malloc(sizeof *c);
    if (!c) bench_die("out of memory");
    c->fd = fd;
    c->off = c->len = 0;
    c->w.data = c;
    int r = tide_io_init(&c->w, conn_cb, fd, TIDE_READ);
    if (r == 0) r = tide_io_start(l, &c->w);
    if (r < 0) { /* e.g. -ERANGE: fd >= FD_SETSIZE on select */
      if (!refused++) fprintf(stderr, "tide_watch: fd %d: %s; closing\n", fd, tide_strerror(r));
      close(fd);
      free(c);
      continue;
    }
    c->prev = NULL;
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
  }
}

static void stop_cb(tide_loop *l, tide_async *w, unsigned revents) {
  (void)w, (void)revents;
  tide_stop(l);
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
  fprintf(stderr, "tide_watch: backend %s\n", tide_loop_backend(loop));

  int lfd = listen_on(port), r;
  if ((r = tide_async_init(&stop_w, stop_cb)) < 0 || (r = tide_async_start(loop, &stop_w)) < 0 ||
      (r = tide_io_init(&accept_w, accept_cb, lfd, TIDE_READ)) < 0 ||
      (r = tide_io_start(loop, &accept_w)) < 0)
    bench_die("watchers: %s", tide_strerror(r));
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  if ((r = tide_run(loop, TIDE_RUN_DEFAULT)) < 0) bench_die("tide_run: %s", tide_strerror(r));
  if (accepted) bench_end(&clk);
  signal(SIGTERM, SIG_IGN); /* the handler must not touch the loop once it is gone */
  signal(SIGINT, SIG_IGN);

  const char *backend = tide_loop_backend(loop);
  while (conns) drop(conns);
  tide_io_stop(loop, &accept_w);
  tide_async_stop(loop, &stop_w);
  close(lfd);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu backend=%s",
               (unsigned long long)bytes, (unsigned long long)accepted, backend);
  if ((r = tide_loop_free(loop)) < 0) bench_die("tide_loop_free: %s", tide_strerror(r));
  return 0;
}
