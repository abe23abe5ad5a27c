/* SPDX-License-Identifier: MIT */
/* B2 echo - the load generator shared by every server (plain C, raw epoll).
 *
 *   load --port=N [--conns=C] [--size=64|1024] [--seconds=S] [--warmup=S] [--smoke]
 *
 * Opens C connections to 127.0.0.1:N (1..10000; non-blocking connects in batches
 * of 128, the next batch only once every connection of the previous one has had
 * its first echo, so the server's listen backlog is never overrun; connections
 * wait after that first echo until all are connected). Then each connection
 * plays ping-pong with one message of --size bytes outstanding; the bytes of
 * message `seq` on connection `id` are derived from (id, seq) and every echoed
 * byte is compared with what was sent. After --warmup seconds (default 0.5) the
 * measured window of --seconds (default 3) starts; only round trips that
 * complete inside it are counted and put in the latency histogram.
 * --smoke: at most 10 connections, 0.05 s warmup, 0.2 s window.
 *
 *   RESULT ops=<round trips in the window> wall_ns cpu_ns (this process)
 *          p50_ns p99_ns p999_ns errors=E bytes=<echoed bytes verified in the window>
 *          conns=C size=S
 *
 * Exit 1 on any error: failed connect, connection error or early close, a
 * mismatched byte, a connection that made no progress during the window, or no
 * round trip at all.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BATCH 128
#define MAX_CONNS 10000
#define CONNECT_TIMEOUT_NS (30ull * 1000000000ull)

enum { C_CONNECTING, C_RUNNING, C_DEAD };

typedef struct {
  int fd;
  int state;
  int out; /* waiting for EPOLLOUT to finish a partial write */
  uint32_t seq;
  uint32_t sent, got;  /* bytes of the current message written / read back */
  uint64_t t0;         /* when the current message was started */
  uint64_t last_done;  /* when the last round trip completed (0: never) */
  unsigned char *sbuf, *rbuf;
} conn;

static conn *conns;
static int nconns, ep;
static uint32_t msize;
static uint64_t errors;

/* phase: while connecting, each connection does one round trip and waits */
static int running, measuring;
static uint64_t win_start, win_end, ops, bytes;
static bench_hist hist;

static void fill(unsigned char *p, uint32_t size, uint32_t id, uint32_t seq) {
  uint64_t x = ((uint64_t)id << 32 | seq) * 0x9E3779B97F4A7C15ull;
  for (uint32_t i = 0; i < size; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t w = x ^ ((uint64_t)id << 40) ^ ((uint64_t)seq << 8) ^ i;
    memcpy(p + i, &w, size - i < 8 ? size - i : 8);
  }
  memcpy(p, &id, 4); /* the header names the message plainly */
  memcpy(p + 4, &seq, 4);
}

static void kill_conn(conn *c, const char *why, int err) {
  if (errors < 10)
    fprintf(stderr, "load: connection %ld: %s%s%s\n", (long)(c - conns), why, err ? ": " : "",
            err ? strerror(err) : "");
  errors++;
  close(c->fd);
  c->fd = -1;
  c->state = C_DEAD;
}

static void set_events(conn *c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0) bench_die("epoll_ctl: %s", strerror(errno));
}

/* write what is left of the current message; 0 ok, -1 the conn died */
static int push(conn *c) {
  while (c->sent < msize) {
    ssize_t n = send(c->fd, c->sbuf + c->sent, msize - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!c->out) set_events(c, EPOLLIN | EPOLLOUT);
        c->out = 1;
        return 0;
      }
      kill_conn(c, "send", errno);
      return -1;
    }
    c->sent += (uint32_t)n;
  }
  if (c->out) set_events(c, EPOLLIN);
  c->out = 0;
  return 0;
}

static void start_msg(conn *c) {
  c->seq++;
  fill(c->sbuf, msize, (uint32_t)(c - conns), c->seq);
  c->sent = c->got = 0;
  c->t0 = bench_now_ns();
  push(c);
}

static void on_readable(conn *c) {
  ssize_t n = read(c->fd, c->rbuf + c->got, msize - c->got);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    kill_conn(c, "read", errno);
    return;
  }
  if (n == 0) {
    kill_conn(c, "server closed the connection", 0);
    return;
  }
  c->got += (uint32_t)n;
  if (c->got < msize) return;
  if (c->sent < msize) {
    kill_conn(c, "echo arrived before the request was fully sent", 0);
    return;
  }
  if (memcmp(c->rbuf, c->sbuf, msize)) {
    uint32_t i = 0;
    while (c->rbuf[i] == c->sbuf[i]) i++;
    fprintf(stderr, "load: connection %ld seq %u: byte %u is 0x%02x, expected 0x%02x\n",
            (long)(c - conns), c->seq, i, c->rbuf[i], c->sbuf[i]);
    kill_conn(c, "echo mismatch", 0);
    return;
  }
  uint64_t now = bench_now_ns();
  c->last_done = now;
  if (measuring && now >= win_start) {
    ops++;
    bytes += msize;
    bench_hist_add(&hist, now - c->t0);
  }
  if (running) start_msg(c);
}

static void on_connected(conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err) {
    kill_conn(c, "connect", err);
    return;
  }
  c->state = C_RUNNING;
  set_events(c, EPOLLIN);
  start_msg(c);
}

static void open_conn(conn *c, const struct sockaddr_in *sa) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) bench_die("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = C_CONNECTING;
  struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0) bench_die("epoll_ctl: %s", strerror(errno));
  if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS)
    kill_conn(c, "connect", errno);
}

/* one epoll_wait, at most until `until` (ns); dispatch */
static void poll_once(uint64_t until) {
  static struct epoll_event evs[1024];
  uint64_t now = bench_now_ns();
  int ms = until > now ? (int)((until - now + 999999) / 1000000) : 0;
  int n = epoll_wait(ep, evs, 1024, ms);
  if (n < 0) {
    if (errno == EINTR) return;
    bench_die("epoll_wait: %s", strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    conn *c = &conns[evs[i].data.u32];
    uint32_t ev = evs[i].events;
    if (c->state == C_CONNECTING) {
      on_connected(c);
      continue;
    }
    if (c->state != C_RUNNING) continue;
    if ((ev & EPOLLOUT) && c->sent < msize && push(c) < 0) continue;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
  }
}

static double arg_seconds(int argc, char **argv, const char *name, double def) {
  const char *s = bench_arg_str(argc, argv, name, NULL);
  if (!s) return def;
  char *end;
  double v = strtod(s, &end);
  if (*end || v < 0 || v > 86400) bench_die("--%s=%s: not a number of seconds", name, s);
  return v;
}

int main(int argc, char **argv) {
  int smoke = bench_smoke(argc, argv);
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t nc = bench_arg_u64(argc, argv, "conns", 1);
  uint64_t size = bench_arg_u64(argc, argv, "size", 64);
  double seconds = arg_seconds(argc, argv, "seconds", 3.0);
  double warmup = arg_seconds(argc, argv, "warmup", 0.5);
  if (port == 0 || port > 65535) bench_die("--port=N (1..65535) is required");
  if (nc < 1 || nc > MAX_CONNS) bench_die("--conns must be 1..%d", MAX_CONNS);
  if (size < 8 || size > 65536) bench_die("--size must be 8..65536 (64 or 1024 in the suite)");
  if (smoke) {
    if (nc > 10) nc = 10;
    seconds = 0.2;
    warmup = 0.05;
  }
  if (seconds <= 0) bench_die("--seconds must be > 0");
  nconns = (int)nc;
  msize = (uint32_t)size;
  signal(SIGPIPE, SIG_IGN);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nc + 64) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > nc + 64 ? nc + 64 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < nc + 16)
      bench_die("RLIMIT_NOFILE too low for %d connections", nconns);
  }

  conns = calloc(nc, sizeof *conns);
  unsigned char *bufs = malloc(nc * size * 2);
  if (!conns || !bufs) bench_die("out of memory");
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = -1;
    conns[i].sbuf = bufs + (size_t)i * size * 2;
    conns[i].rbuf = conns[i].sbuf + size;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) bench_die("epoll_create1: %s", strerror(errno));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  /* connect in batches: the next batch once the previous one has been echoed */
  uint64_t deadline = bench_now_ns() + CONNECT_TIMEOUT_NS;
  for (int first = 0; first < nconns; first += BATCH) {
    int last = first + BATCH < nconns ? first + BATCH : nconns;
    for (int i = first; i < last; i++) open_conn(&conns[i], &sa);
    for (;;) {
      int waiting = 0;
      for (int i = first; i < last; i++) waiting += conns[i].state != C_DEAD && !conns[i].last_done;
      if (!waiting) break;
      if (bench_now_ns() > deadline) bench_die("connections not echoed within 30 s (%d waiting)", waiting);
      poll_once(deadline);
    }
  }

  running = 1;
  for (int i = 0; i < nconns; i++)
    if (conns[i].state == C_RUNNING) start_msg(&conns[i]);
  uint64_t t = bench_now_ns() + (uint64_t)(warmup * 1e9);
  while (bench_now_ns() < t) poll_once(t);

  bench_clock clk;
  bench_begin(&clk);
  win_start = bench_now_ns();
  win_end = win_start + (uint64_t)(seconds * 1e9);
  measuring = 1;
  while (bench_now_ns() < win_end) poll_once(win_end);
  measuring = 0;
  bench_end(&clk);

  int alive = 0;
  for (int i = 0; i < nconns; i++) {
    conn *c = &conns[i];
    if (c->state != C_RUNNING) continue;
    alive++;
    if (c->last_done < win_start) kill_conn(c, "no echo during the measured window", 0);
    else close(c->fd);
  }
  if (!ops) {
    fprintf(stderr, "load: no round trip completed in the window\n");
    errors++;
  }
  close(ep);
  free(bufs);
  free(conns);
  bench_result(&clk, ops, &hist, " errors=%llu bytes=%llu conns=%d size=%u",
               (unsigned long long)errors, (unsigned long long)bytes, nconns, msize);
  if (errors) fprintf(stderr, "load: %llu errors (%d of %d connections alive at the end)\n",
                      (unsigned long long)errors, alive, nconns);
  return errors ? 1 : 0;
}
