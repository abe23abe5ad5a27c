/* SPDX-License-Identifier: MIT */
/*
 * echo-load.c - a ping-pong load generator for a TCP echo server, itself built
 * on libtide.
 *
 * Usage:
 *   echo-load --port N [--conns C] [--seconds S] [--size B]
 *             [--backend uring|epoll|poll|select] [--grace S] [--connect-timeout S]
 *
 *   --port N             the echo server's port on 127.0.0.1 (required)
 *   --conns C            connections, 1..10000 (default 1)
 *   --seconds S          how long to send, may be fractional (default 3)
 *   --size B             message size in bytes, 1..67108864 (default 64)
 *   --backend NAME       libtide backend for this program (default: the best one;
 *                        with --backend the TIDE_BACKEND variable is ignored);
 *                        a comma list (epoll,poll) runs the best of those
 *   --grace S            after the run, how long outstanding echoes may take to
 *                        arrive before they count as errors (default 5)
 *   --connect-timeout S  how long connecting may take (default 10)
 *
 * It opens C non-blocking connections (raising RLIMIT_NOFILE as needed) and,
 * once all of them are connected, starts the clock. Each connection then plays
 * ping-pong: it sends one message of B bytes, waits for the complete echo,
 * checks every byte, records the round-trip time (CLOCK_MONOTONIC), and sends
 * the next. The bytes of message number `seq` on connection `id` are a xorshift
 * stream seeded from (id, seq), so a lost, duplicated, reordered or misrouted
 * byte cannot go unnoticed. After S seconds (a tide_timer) no new message is
 * started; the ones in flight may finish within the grace period. Then ONE line
 * goes to stdout:
 *
 *   conns=C requests=N seconds=S rps=R p50_us=X p99_us=Y bytes_sent=B bytes_verified=V errors=E
 *
 * requests counts verified round trips, seconds is the measured time from the
 * start of sending to the last verified echo, and the latency percentiles come
 * from every round trip (a log-linear histogram with 256 sub-buckets per power
 * of two, so within 0.4%). An error is any failed connect, connection error,
 * early close by the server, wrong or extra byte, or echo missing at the end of
 * the grace period; the first ones are described on stderr.
 * Exit status: 0 if errors == 0, bytes_verified == bytes_sent and requests > 0;
 * 1 otherwise; 2 for bad usage; 3 if the requested backend is not available.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_NONBLOCK, SOCK_CLOEXEC */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <tide.h>

#define PROG "echo-load"
#define EXIT_USAGE 2
#define EXIT_NOBACKEND 3

#define MAX_CONNS 10000ul
#define MAX_SIZE (64ul * 1024ul * 1024ul)
#define CHUNK (64u * 1024u)     /* bytes per send()/recv() at most */
#define READS_PER_EVENT 4
#define MAX_ERROR_LINES 20

/* ---------------------------------------------------------------- payload */

/* splitmix64 finaliser: turns (id, seq) into a well-mixed 64-bit seed. */
static uint64_t mix64(uint64_t z) {
  z += UINT64_C(0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* A position in the byte stream of one message: xorshift64 words, emitted
 * least significant byte first (independent of host byte order). */
struct gen {
  uint64_t s;   /* current word */
  unsigned pos; /* bytes of s already emitted, 0..8 */
};

static void gen_init(struct gen *g, uint32_t id, uint64_t seq) {
  g->s = mix64(mix64(id) ^ seq);
  if (g->s == 0) g->s = 1; /* xorshift must not start at 0 */
  g->pos = 8;              /* the first byte steps the generator */
}

static void gen_step(struct gen *g) {
  g->s ^= g->s << 13;
  g->s ^= g->s >> 7;
  g->s ^= g->s << 17;
  g->pos = 0;
}

static void gen_fill(struct gen *g, unsigned char *p, size_t n) {
  while (n > 0) {
    if (g->pos == 8) gen_step(g);
    if (g->pos == 0 && n >= 8) {
      unsigned k;
      for (k = 0; k < 8; k++) p[k] = (unsigned char)(g->s >> (8 * k));
      g->pos = 8;
      p += 8;
      n -= 8;
    } else {
      *p++ = (unsigned char)(g->s >> (8 * g->pos));
      g->pos++;
      n--;
    }
  }
}

static void gen_skip(struct gen *g, size_t n) {
  while (n > 0) {
    size_t take;
    if (g->pos == 8) gen_step(g);
    take = 8 - g->pos;
    if (take > n) take = n;
    g->pos += (unsigned)take;
    n -= take;
  }
}

/* ---------------------------------------------------------------- latency histogram */

/* Values below 2^SUB_BITS ns are exact; above, each power of two is cut into
 * 2^SUB_BITS equal buckets. */
#define SUB_BITS 8u
#define SUB (1u << SUB_BITS)
#define NBUCKETS (SUB + (64u - SUB_BITS) * SUB)

struct hist {
  uint64_t count[NBUCKETS];
  uint64_t n, min, max;
};

static unsigned floor_log2(uint64_t v) {
  unsigned e = 0;
  if (v >> 32) { e += 32; v >>= 32; }
  if (v >> 16) { e += 16; v >>= 16; }
  if (v >> 8) { e += 8; v >>= 8; }
  if (v >> 4) { e += 4; v >>= 4; }
  if (v >> 2) { e += 2; v >>= 2; }
  if (v >> 1) { e += 1; }
  return e;
}

static size_t hist_index(uint64_t v) {
  unsigned shift;
  if (v < SUB) return (size_t)v;
  shift = floor_log2(v) - SUB_BITS;
  return SUB + (size_t)shift * SUB + (size_t)((v >> shift) - SUB);
}

static void hist_add(struct hist *h, uint64_t v) {
  h->count[hist_index(v)]++;
  if (h->n == 0 || v < h->min) h->min = v;
  if (v > h->max) h->max = v;
  h->n++;
}

/* The value at fraction num/den of the samples (nearest rank), in ns. */
static uint64_t hist_quantile(const struct hist *h, uint64_t num, uint64_t den) {
  uint64_t rank, seen = 0, lo, width, v;
  size_t i;
  if (h->n == 0) return 0;
  rank = h->n / den * num + (h->n % den * num + den - 1) / den; /* ceil(n*num/den) */
  if (rank == 0) rank = 1;
  for (i = 0; i < NBUCKETS; i++) {
    seen += h->count[i];
    if (seen >= rank) break;
  }
  if (i >= NBUCKETS) return h->max;
  if (i < SUB) return (uint64_t)i;
  {
    unsigned shift = (unsigned)((i - SUB) / SUB);
    lo = (uint64_t)(SUB + (i - SUB) % SUB) << shift;
    width = (uint64_t)1 << shift;
  }
  v = lo + (width - 1) / 2; /* middle of the bucket */
  if (v < h->min) v = h->min;
  if (v > h->max) v = h->max;
  return v;
}

/* ---------------------------------------------------------------- state */

enum cstate { C_CONNECTING, C_READY, C_RUNNING, C_CLOSED };
enum phase { P_CONNECT, P_RUN, P_DRAIN, P_DONE };

struct lconn {
  tide_io io;          /* io.data points back here */
  int fd;
  uint32_t id;
  enum cstate state;
  unsigned events;     /* interest currently set */
  uint64_t seq;        /* number of the message in flight */
  size_t sent, rcvd;   /* bytes of it sent / echoed and verified */
  struct gen tx, rx;   /* stream positions for sending and for checking */
  uint64_t t0;         /* when its first byte was sent */
};

struct load {
  tide_loop *loop;
  struct lconn *c;
  size_t nconns;
  size_t size;
  uint64_t run_ns, grace_ns, connect_ns;
  tide_timer connect_timer, run_timer, grace_timer;
  size_t connecting, open; /* conns in C_CONNECTING; in C_READY or C_RUNNING */
  enum phase phase;
  int opening;             /* still in the loop that opens the connections */
  uint64_t t_start, t_end;
  unsigned long long requests, bytes_sent, bytes_verified, errors;
  unsigned char *txbuf, *rxbuf, *expbuf; /* CHUNK bytes each */
  struct hist *hist;
  unsigned short port;
};

static struct load L;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void die(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(status);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " --port N [--conns C] [--seconds S] [--size B]\n"
          "                 [--backend uring|epoll|poll|select] [--grace S] [--connect-timeout S]\n"
          "  --backend also takes a comma list (epoll,poll): the best of those runs\n");
}

/* ---------------------------------------------------------------- connection life */

static void finish(void);
static void begin_run(void);

static void check_done(void) {
  if ((L.phase == P_RUN || L.phase == P_DRAIN) && L.open == 0) finish();
}

static void close_conn(struct lconn *c) {
  int r;
  if (c->state == C_CLOSED) return;
  r = tide_io_stop(L.loop, &c->io);
  if (r < 0) fprintf(stderr, PROG ": tide_io_stop: %s\n", tide_strerror(r));
  close(c->fd);
  c->fd = -1;
  if (c->state == C_CONNECTING) {
    L.connecting--;
    c->state = C_CLOSED;
    if (L.connecting == 0 && L.phase == P_CONNECT && !L.opening) begin_run();
    return;
  }
  c->state = C_CLOSED;
  L.open--;
  check_done();
}

/* Count an error on c, describe it (the first few), and close c. */
static void fail_conn(struct lconn *c, const char *fmt, ...) {
  va_list ap;
  L.errors++;
  if (L.errors <= MAX_ERROR_LINES) {
    va_start(ap, fmt);
    fprintf(stderr, PROG ": conn %lu: ", (unsigned long)c->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (L.errors == MAX_ERROR_LINES) fputs(PROG ": further errors not shown\n", stderr);
  }
  close_conn(c);
}

/* Make the watcher's interest match the state. Returns 0, or -1 if c failed. */
static int set_interest(struct lconn *c) {
  unsigned want;
  int r;
  if (c->state == C_CONNECTING)
    want = TIDE_WRITE;
  else
    want = TIDE_READ | ((c->state == C_RUNNING && c->sent < L.size) ? TIDE_WRITE : 0u);
  if (want == c->events) return 0;
  r = tide_io_modify(&c->io, want);
  if (r < 0) {
    fail_conn(c, "tide_io_modify: %s", tide_strerror(r));
    return -1;
  }
  c->events = want;
  return 0;
}

/* Send what the socket takes of the current message. 0, or -1 if c failed. */
static int send_more(struct lconn *c) {
  while (c->sent < L.size) {
    size_t chunk = L.size - c->sent;
    struct gen g = c->tx;
    ssize_t n;
    if (chunk > CHUNK) chunk = CHUNK;
    gen_fill(&g, L.txbuf, chunk);
    n = send(c->fd, L.txbuf, chunk, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      fail_conn(c, "send: %s", strerror(errno));
      return -1;
    }
    L.bytes_sent += (unsigned long long)n;
    c->sent += (size_t)n;
    if ((size_t)n == chunk) {
      c->tx = g;
    } else {
      gen_skip(&c->tx, (size_t)n);
      return 0; /* the socket buffer is full; wait for TIDE_WRITE */
    }
  }
  return 0;
}

/* Start message seq+1 on c. 0, or -1 if c failed. */
static int start_request(struct lconn *c) {
  c->seq++;
  gen_init(&c->tx, c->id, c->seq);
  c->rx = c->tx;
  c->sent = c->rcvd = 0;
  c->state = C_RUNNING;
  c->t0 = now_ns();
  if (send_more(c) < 0) return -1;
  return set_interest(c);
}

/* Read and verify echoed bytes. 0, or -1 if c was closed (failed or done). */
static int recv_more(struct lconn *c) {
  int i;
  for (i = 0; i < READS_PER_EVENT; i++) {
    size_t expect = c->sent - c->rcvd; /* we never have more than this outstanding */
    ssize_t n = recv(c->fd, L.rxbuf, CHUNK, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      fail_conn(c, "recv: %s (message %llu, %zu of %zu bytes echoed)", strerror(errno),
                (unsigned long long)c->seq, c->rcvd, L.size);
      return -1;
    }
    if (n == 0) {
      fail_conn(c, "server closed the connection (message %llu, %zu of %zu bytes echoed)",
                (unsigned long long)c->seq, c->rcvd, L.size);
      return -1;
    }
    if ((size_t)n > expect) {
      fail_conn(c, "received %zd bytes but only %zu were outstanding (message %llu)", n, expect,
                (unsigned long long)c->seq);
      return -1;
    }
    gen_fill(&c->rx, L.expbuf, (size_t)n);
    if (memcmp(L.rxbuf, L.expbuf, (size_t)n) != 0) {
      size_t k = 0;
      while (L.rxbuf[k] == L.expbuf[k]) k++;
      fail_conn(c, "wrong byte at offset %zu of message %llu: got 0x%02x, expected 0x%02x",
                c->rcvd + k, (unsigned long long)c->seq, L.rxbuf[k], L.expbuf[k]);
      return -1;
    }
    L.bytes_verified += (unsigned long long)n;
    c->rcvd += (size_t)n;
    if (c->rcvd == L.size) { /* one complete round trip */
      hist_add(L.hist, now_ns() - c->t0);
      L.requests++;
      if (L.phase == P_RUN) return start_request(c) < 0 ? -1 : 0;
      close_conn(c); /* the run is over and this connection is drained */
      return -1;
    }
    if ((size_t)n < CHUNK) return 0;
  }
  return 0;
}

static void connected(struct lconn *c) {
  c->state = C_READY;
  L.connecting--;
  L.open++;
  if (set_interest(c) < 0) return; /* closed; close_conn() already counted it */
  if (L.connecting == 0 && L.phase == P_CONNECT && !L.opening) begin_run();
}

static void conn_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct lconn *c = w->data;
  (void)loop;

  if (revents & TIDE_ERROR) {
    fail_conn(c, "libtide reported an error on the socket");
    return;
  }
  switch (c->state) {
  case C_CONNECTING: {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == EINPROGRESS || err == EINTR) return; /* not yet */
    if (err != 0) {
      fail_conn(c, "connect to 127.0.0.1:%u: %s", (unsigned)L.port, strerror(err));
      return;
    }
    connected(c);
    return;
  }
  case C_READY: {
    /* Waiting for the other connections; the server has no reason to talk. */
    unsigned char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0)
      fail_conn(c, "recv before the run: %s", strerror(errno));
    else if (n == 0)
      fail_conn(c, "server closed the connection before the run");
    else
      fail_conn(c, "server sent data before the run");
    return;
  }
  case C_RUNNING:
    if ((revents & TIDE_WRITE) && c->sent < L.size && send_more(c) < 0) return;
    if ((revents & TIDE_READ) && recv_more(c) < 0) return;
    (void)set_interest(c);
    return;
  case C_CLOSED:
    return; /* cannot happen: a closed connection's watcher is stopped */
  }
}

/* ---------------------------------------------------------------- phases */

static void stop_timer(tide_timer *t) {
  int r = tide_timer_stop(L.loop, t);
  if (r < 0) fprintf(stderr, PROG ": tide_timer_stop: %s\n", tide_strerror(r));
}

static void finish(void) {
  if (L.phase == P_DONE) return;
  L.phase = P_DONE;
  L.t_end = now_ns();
  stop_timer(&L.connect_timer);
  stop_timer(&L.run_timer);
  stop_timer(&L.grace_timer);
  /* Every connection is closed by now, so no watcher is active and tide_run()
   * returns. */
}

static void begin_run(void) {
  size_t i;
  int r;
  stop_timer(&L.connect_timer);
  L.phase = P_RUN;
  L.t_start = now_ns();
  if (L.open == 0) {
    finish();
    return;
  }
  r = tide_timer_start(L.loop, &L.run_timer);
  if (r < 0) die(1, "tide_timer_start: %s", tide_strerror(r));
  for (i = 0; i < L.nconns && L.phase == P_RUN; i++)
    if (L.c[i].state == C_READY) (void)start_request(&L.c[i]);
}

static void connect_timeout_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  size_t i;
  (void)loop;
  (void)w;
  (void)revents;
  for (i = 0; i < L.nconns; i++)
    if (L.c[i].state == C_CONNECTING) fail_conn(&L.c[i], "connect timed out");
  /* The last one closed has called begin_run(). */
}

static void run_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  int r;
  (void)loop;
  (void)w;
  (void)revents;
  if (L.phase != P_RUN) return;
  L.phase = P_DRAIN; /* no new messages; the ones in flight may finish */
  if (L.open == 0) {
    finish();
    return;
  }
  r = tide_timer_start(L.loop, &L.grace_timer);
  if (r < 0) die(1, "tide_timer_start: %s", tide_strerror(r));
}

static void grace_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  size_t i;
  (void)loop;
  (void)w;
  (void)revents;
  for (i = 0; i < L.nconns; i++) {
    struct lconn *c = &L.c[i];
    if (c->state == C_RUNNING)
      fail_conn(c, "echo of message %llu incomplete after the grace period (%zu of %zu bytes)",
                (unsigned long long)c->seq, c->rcvd, L.size);
    else if (c->state == C_READY)
      close_conn(c);
  }
  finish(); /* in case nothing was left to close */
}

/* ---------------------------------------------------------------- setup */

static int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  unsigned long v;
  if (s == NULL || *s == '\0' || *s == '-' || *s == '+') return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Seconds (fractional) to ns, > 0 and at most a year. */
static int parse_seconds(const char *s, uint64_t *out) {
  char *end;
  double v;
  if (s == NULL || *s == '\0') return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !(v > 0.0) || v > 31536000.0) return -1;
  *out = (uint64_t)(v * 1e9 + 0.5);
  if (*out == 0) *out = 1;
  return 0;
}

static void raise_nofile(size_t conns) {
  struct rlimit rl;
  rlim_t want = (rlim_t)conns + 64; /* stdio, the loop's own fds, slack */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die(1, "getrlimit: %s", strerror(errno));
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) return;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
    struct rlimit hard = {want, want}; /* works when privileged */
    if (setrlimit(RLIMIT_NOFILE, &hard) == 0) return;
    die(1, "%zu connections need %llu file descriptors but the hard RLIMIT_NOFILE is %llu",
        conns, (unsigned long long)want, (unsigned long long)rl.rlim_max);
  }
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die(1, "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
}

static void open_conn(struct lconn *c, const struct sockaddr_in *sa) {
  int one = 1, r;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    L.errors++;
    c->state = C_CLOSED;
    if (L.errors <= MAX_ERROR_LINES)
      fprintf(stderr, PROG ": conn %lu: socket: %s\n", (unsigned long)c->id, strerror(errno));
    return;
  }
  (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = C_CONNECTING;
  L.connecting++;
  r = tide_io_init(&c->io, conn_cb, c->fd, TIDE_WRITE);
  if (r < 0) die(1, "tide_io_init: %s", tide_strerror(r));
  c->io.data = c;
  c->events = TIDE_WRITE;
  if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS &&
      errno != EINTR) {
    fail_conn(c, "connect to 127.0.0.1:%u: %s", (unsigned)L.port, strerror(errno));
    return;
  }
  /* Connected at once or in progress: either way, writability says it is done
   * and SO_ERROR says how it went. */
  r = tide_io_start(L.loop, &c->io);
  if (r < 0) {
    if (r == -ERANGE)
      fail_conn(c, "fd %d is beyond what the %s backend can watch", c->fd, tide_loop_backend(L.loop));
    else
      fail_conn(c, "tide_io_start: %s", tide_strerror(r));
  }
}

int main(int argc, char **argv) {
  unsigned long port = 0, conns = 1, size = 64;
  int have_port = 0, i, r, backends = 0;
  const char *backend = NULL, *why;
  struct tide_loop_options opt;
  struct sockaddr_in sa;
  struct sigaction ign;
  double secs, rps;

  L.run_ns = UINT64_C(3000000000);
  L.grace_ns = UINT64_C(5000000000);
  L.connect_ns = UINT64_C(10000000000);

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    const char *eq = strchr(a, '=');
    char name[32];
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (nlen >= sizeof name) {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      fprintf(stderr, PROG ": option %s needs a value\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    if (strcmp(name, "--port") == 0) {
      if (parse_ulong(val, 1, 65535, &port) < 0) die(EXIT_USAGE, "bad --port '%s' (1..65535)", val);
      have_port = 1;
    } else if (strcmp(name, "--conns") == 0) {
      if (parse_ulong(val, 1, MAX_CONNS, &conns) < 0)
        die(EXIT_USAGE, "bad --conns '%s' (1..%lu)", val, MAX_CONNS);
    } else if (strcmp(name, "--size") == 0) {
      if (parse_ulong(val, 1, MAX_SIZE, &size) < 0)
        die(EXIT_USAGE, "bad --size '%s' (1..%lu)", val, MAX_SIZE);
    } else if (strcmp(name, "--seconds") == 0) {
      if (parse_seconds(val, &L.run_ns) < 0) die(EXIT_USAGE, "bad --seconds '%s'", val);
    } else if (strcmp(name, "--grace") == 0) {
      if (parse_seconds(val, &L.grace_ns) < 0) die(EXIT_USAGE, "bad --grace '%s'", val);
    } else if (strcmp(name, "--connect-timeout") == 0) {
      if (parse_seconds(val, &L.connect_ns) < 0) die(EXIT_USAGE, "bad --connect-timeout '%s'", val);
    } else if (strcmp(name, "--backend") == 0) {
      backends = tide_backend_from_name(val);
      if (backends < 0) die(EXIT_USAGE, "unknown backend '%s' (uring, epoll, poll, select)", val);
      backend = val;
    } else {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (!have_port) {
    fprintf(stderr, PROG ": --port is required\n");
    usage(stderr);
    return EXIT_USAGE;
  }

  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, NULL);

  L.nconns = (size_t)conns;
  L.size = (size_t)size;
  L.port = (unsigned short)port;
  raise_nofile(L.nconns);
  L.c = calloc(L.nconns, sizeof *L.c);
  L.hist = calloc(1, sizeof *L.hist);
  L.txbuf = malloc(CHUNK);
  L.rxbuf = malloc(CHUNK);
  L.expbuf = malloc(CHUNK);
  if (!L.c || !L.hist || !L.txbuf || !L.rxbuf || !L.expbuf) die(1, "out of memory");

  memset(&opt, 0, sizeof opt);
  opt.size = sizeof opt;
  if (backend) {
    opt.backends = (unsigned)backends;
    opt.flags = TIDE_LOOP_NOENV;
    if (!(tide_backends_built() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is not built into this libtide (configured without it)", backend);
    if (!(tide_backends_supported() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is refused by the running kernel", backend);
  }
  r = tide_loop_new(&L.loop, &opt);
  if (r == -ENOSYS && backend) die(EXIT_NOBACKEND, "backend %s is not available here", backend);
  if (r < 0) die(1, "tide_loop_new: %s", tide_strerror(r));
  fprintf(stderr, PROG ": backend %s", tide_loop_backend(L.loop));
  why = tide_loop_fallback_reason(L.loop);
  if (why) fprintf(stderr, " (fallback: %s)", why);
  fputc('\n', stderr);

  if ((r = tide_timer_init(&L.connect_timer, connect_timeout_cb, L.connect_ns, 0)) < 0 ||
      (r = tide_timer_init(&L.run_timer, run_timer_cb, L.run_ns, 0)) < 0 ||
      (r = tide_timer_init(&L.grace_timer, grace_timer_cb, L.grace_ns, 0)) < 0)
    die(1, "tide_timer_init: %s", tide_strerror(r));

  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(L.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  L.phase = P_CONNECT;
  L.opening = 1;
  for (i = 0; (size_t)i < L.nconns; i++) {
    L.c[i].id = (uint32_t)i;
    L.c[i].fd = -1;
    open_conn(&L.c[i], &sa);
  }
  L.opening = 0;
  if (L.phase == P_CONNECT) {
    if (L.connecting == 0) {
      begin_run(); /* no connect is in progress: all failed at once */
    } else {
      r = tide_timer_start(L.loop, &L.connect_timer);
      if (r < 0) die(1, "tide_timer_start: %s", tide_strerror(r));
    }
  }

  for (;;) {
    r = tide_run(L.loop, TIDE_RUN_DEFAULT);
    if (r == 0) break;
    if (r == 1 || r == -EINTR) continue;
    die(1, "tide_run: %s", tide_strerror(r));
  }
  if (L.phase != P_DONE) {
    /* tide_run() said no watcher is active while connections were still open:
     * a lost watcher. Report it rather than print numbers that look fine. */
    fprintf(stderr, PROG ": the loop ran out of watchers with %zu connections still open\n", L.open);
    L.errors += L.open + L.connecting;
    L.t_end = now_ns();
    if (L.t_start == 0) L.t_start = L.t_end;
  }

  secs = (double)(L.t_end - L.t_start) / 1e9;
  rps = secs > 0.0 ? (double)L.requests / secs : 0.0;
  printf("conns=%zu requests=%llu seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f "
         "bytes_sent=%llu bytes_verified=%llu errors=%llu\n",
         L.nconns, L.requests, secs, rps, (double)hist_quantile(L.hist, 50, 100) / 1e3,
         (double)hist_quantile(L.hist, 99, 100) / 1e3, L.bytes_sent, L.bytes_verified, L.errors);
  fflush(stdout);

  /* Stop whatever is still active (only after the error above), then free. */
  for (i = 0; (size_t)i < L.nconns; i++)
    if (L.c[i].state != C_CLOSED) {
      tide_io_stop(L.loop, &L.c[i].io);
      close(L.c[i].fd);
    }
  r = tide_loop_free(L.loop);
  if (r < 0) {
    fprintf(stderr, PROG ": tide_loop_free: %s\n", tide_strerror(r));
    L.errors++;
  }
  free(L.c);
  free(L.hist);
  free(L.txbuf);
  free(L.rxbuf);
  free(L.expbuf);
  return (L.errors == 0 && L.bytes_verified == L.bytes_sent && L.requests > 0) ? 0 : 1;
}
