/*
 * echo-server.c - a TCP echo server built on libtide io watchers.
 *
 * Usage:
 *   echo-server [--port N] [--backend uring|epoll|poll|select] [--max-conns N]
 *
 *   --port N        TCP port on 127.0.0.1 (default 7777). 0 lets the kernel pick
 *                   one; in every case the first line on stdout is "port N"
 *                   (flushed), so a script can read it.
 *   --backend NAME  run exactly this libtide backend (the TIDE_BACKEND
 *                   environment variable is then ignored: TIDE_LOOP_NOENV).
 *                   If the build or the kernel lacks it, the server says so
 *                   and exits with status 3. Without --backend the loop picks
 *                   the best backend available (TIDE_BACKEND narrows it).
 *   --max-conns N   connections served at once (default 10000); beyond that
 *                   the server stops accepting, and new clients wait in the
 *                   listen backlog until a connection closes.
 *
 * The backend in use, and the reason for any fallback, go to stderr.
 * SIGINT or SIGTERM stops the server cleanly: every connection is closed, the
 * loop is freed and the exit status is 0.
 * Exit status: 0 clean shutdown, 1 run-time error, 2 usage, 3 backend not
 * available.
 *
 * How it works: one level-triggered tide_io per connection. Normally it watches
 * TIDE_READ only; what is read is written back at once. When a write would
 * block, the rest is kept in a per-connection buffer and TIDE_WRITE is added
 * with tide_io_modify() until the buffer is drained, then the watcher goes back
 * to read-only. Above a high-water mark of buffered bytes the server stops
 * reading from that client (write interest only) so that a client that sends
 * without reading cannot make it buffer without bound. The listening socket is
 * non-blocking and accepted from in a loop until EAGAIN. A signal handler only
 * calls tide_async_send(), which is async-signal-safe; the shutdown itself runs
 * in the loop's async callback.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4(), SOCK_NONBLOCK, SOCK_CLOEXEC */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
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
#include <unistd.h>

#include <tide.h>

#define PROG "echo-server"
#define EXIT_USAGE 2
#define EXIT_NOBACKEND 3

#define READ_CHUNK (64u * 1024u)        /* one recv() at most */
#define READS_PER_EVENT 4               /* recv() calls per callback, for fairness */
#define HIGH_WATER (256u * 1024u)       /* stop reading above this many pending bytes */
#define SHRINK_ABOVE (1024u * 1024u)    /* free an emptied buffer bigger than this */
#define ACCEPT_PAUSE_NS 100000000ull    /* retry accept 100 ms after EMFILE & co */

struct conn {
  tide_io io;          /* io->data points back here */
  int fd;
  unsigned events;     /* interest currently set on io */
  int eof;             /* the client shut down its sending side */
  unsigned char *buf;  /* bytes still to be written back: buf[off..len) */
  size_t off, len, cap;
  struct conn *prev, *next;
};

struct server {
  tide_loop *loop;
  int lfd;
  tide_io listen_io;
  tide_timer pause_timer;  /* resumes accepting after a resource shortage */
  tide_async stop_async;   /* signalled from the SIGINT/SIGTERM handler */
  struct conn *conns;      /* doubly linked list of open connections */
  size_t nconns, max_conns, peak;
  unsigned long long accepted, rejected, bytes_echoed;
  unsigned long warnings;
  int stopping;
  unsigned char *scratch;  /* READ_CHUNK bytes */
};

/* Global only so that the signal handler can reach the loop and the async
 * watcher; both are set before the handler is installed and never change. */
static struct server srv;
static volatile sig_atomic_t got_signal;

static void warn(const char *fmt, ...) {
  va_list ap;
  /* A misbehaving peer must not make us flood stderr. */
  if (srv.warnings >= 50) return;
  srv.warnings++;
  va_start(ap, fmt);
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (srv.warnings == 50) fputs(PROG ": further warnings suppressed\n", stderr);
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
          "usage: " PROG " [--port N] [--backend uring|epoll|poll|select] [--max-conns N]\n"
          "  --port N        port on 127.0.0.1, 0 = any (default 7777); prints \"port N\" first\n"
          "  --backend NAME  use exactly this libtide backend (exit 3 if unavailable)\n"
          "  --max-conns N   maximum simultaneous connections (default 10000)\n");
}

/* ---------------------------------------------------------------- helpers */

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

/* Map a --backend name to its TIDE_BACKEND_* bit; 0 if unknown. */
static unsigned backend_bit(const char *name) {
  if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0) return TIDE_BACKEND_URING;
  if (strcmp(name, "epoll") == 0) return TIDE_BACKEND_EPOLL;
  if (strcmp(name, "poll") == 0) return TIDE_BACKEND_POLL;
  if (strcmp(name, "select") == 0) return TIDE_BACKEND_SELECT;
  return 0;
}

static void supported_list(char *out, size_t outsz) {
  static const struct { unsigned bit; const char *name; } names[] = {
      {TIDE_BACKEND_URING, "uring"}, {TIDE_BACKEND_EPOLL, "epoll"},
      {TIDE_BACKEND_POLL, "poll"}, {TIDE_BACKEND_SELECT, "select"}};
  unsigned mask = tide_backends_supported();
  size_t i, used = 0;
  out[0] = '\0';
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    int n;
    if (!(mask & names[i].bit)) continue;
    n = snprintf(out + used, outsz - used, "%s%s", used ? " " : "", names[i].name);
    if (n < 0 || (size_t)n >= outsz - used) break; /* truncated: good enough for a message */
    used += (size_t)n;
  }
  if (used == 0) snprintf(out, outsz, "none");
}

/* Raise the soft RLIMIT_NOFILE so that max_conns connections fit; returns the
 * number of connections that do fit (max_conns, or less if the hard limit is
 * lower). */
static size_t raise_nofile(size_t max_conns) {
  const rlim_t reserve = 32; /* stdio, listening socket, the loop's own fds */
  struct rlimit rl;
  rlim_t want = (rlim_t)max_conns + reserve;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return max_conns;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = old;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    size_t fit = rl.rlim_cur > reserve ? (size_t)(rl.rlim_cur - reserve) : 1;
    fprintf(stderr, PROG ": RLIMIT_NOFILE is %llu: serving at most %zu connections\n",
            (unsigned long long)rl.rlim_cur, fit);
    return fit;
  }
  return max_conns;
}

/* ---------------------------------------------------------------- connections */

static void accept_cb(tide_loop *loop, tide_io *w, unsigned revents);

static size_t pending(const struct conn *c) { return c->len - c->off; }

/* Start the listening watcher again if we are allowed to accept. */
static void maybe_resume_accept(void) {
  int r;
  if (srv.stopping || srv.nconns >= srv.max_conns) return;
  if (tide_is_active(&srv.listen_io) == 1 || tide_is_active(&srv.pause_timer) == 1) return;
  r = tide_io_start(srv.loop, &srv.listen_io);
  if (r < 0) warn("tide_io_start(listen): %s", tide_strerror(r));
}

static void conn_close(struct conn *c) {
  int r = tide_io_stop(srv.loop, &c->io);
  if (r < 0) warn("tide_io_stop: %s", tide_strerror(r));
  close(c->fd);
  free(c->buf);
  if (c->prev) c->prev->next = c->next; else srv.conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
  srv.nconns--;
  maybe_resume_accept();
}

/* Write as much of p[0..n) as the socket takes. Returns the number of bytes
 * written (possibly 0 when it would block) or -1 on a connection error. */
static ssize_t send_some(int fd, const unsigned char *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t k = send(fd, p + done, n - done, MSG_NOSIGNAL);
    if (k > 0) {
      done += (size_t)k;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      if (k == 0) errno = EIO; /* cannot happen for n > 0; be defensive */
      return -1;
    }
  }
  srv.bytes_echoed += done;
  return (ssize_t)done;
}

/* Append p[0..n) to the pending output. Returns 0, or -1 when out of memory. */
static int buf_append(struct conn *c, const unsigned char *p, size_t n) {
  size_t have = pending(c);
  if (c->off > 0 && c->cap - have >= n) {
    memmove(c->buf, c->buf + c->off, have);
    c->off = 0;
    c->len = have;
  } else if (c->cap - c->len < n) {
    size_t need, ncap;
    unsigned char *nb;
    if (n > SIZE_MAX - have) return -1;
    need = have + n;
    ncap = c->cap ? c->cap : 4096;
    while (ncap < need) {
      if (ncap > SIZE_MAX / 2) { ncap = need; break; }
      ncap *= 2;
    }
    if (c->off > 0) { /* compact first so that realloc copies only live bytes */
      memmove(c->buf, c->buf + c->off, have);
      c->off = 0;
      c->len = have;
    }
    nb = realloc(c->buf, ncap);
    if (nb == NULL) return -1;
    c->buf = nb;
    c->cap = ncap;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
  return 0;
}

/* Write out pending bytes. Returns 0 or -1 on a connection error. */
static int flush(struct conn *c) {
  ssize_t k;
  if (pending(c) == 0) return 0;
  k = send_some(c->fd, c->buf + c->off, pending(c));
  if (k < 0) return -1;
  c->off += (size_t)k;
  if (c->off == c->len) {
    c->off = c->len = 0;
    if (c->cap > SHRINK_ABOVE) {
      free(c->buf);
      c->buf = NULL;
      c->cap = 0;
    }
  }
  return 0;
}

/* Is this errno an ordinary way for a client to go away? */
static int quiet_errno(int e) { return e == ECONNRESET || e == EPIPE || e == ETIMEDOUT; }

static void conn_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct conn *c = w->data;
  unsigned want;
  int i, r;
  (void)loop;

  if (revents & TIDE_ERROR) {
    warn("fd %d: watcher reported an error; closing", c->fd);
    conn_close(c);
    return;
  }
  if (revents & TIDE_WRITE) {
    if (flush(c) < 0) {
      if (!quiet_errno(errno)) warn("send: %s", strerror(errno));
      conn_close(c);
      return;
    }
  }
  if ((revents & TIDE_READ) && !c->eof) {
    for (i = 0; i < READS_PER_EVENT && pending(c) < HIGH_WATER; i++) {
      ssize_t n = recv(c->fd, srv.scratch, READ_CHUNK, 0);
      if (n > 0) {
        size_t got = (size_t)n, off = 0;
        if (pending(c) == 0) { /* common case: echo straight from the scratch buffer */
          ssize_t k = send_some(c->fd, srv.scratch, got);
          if (k < 0) {
            if (!quiet_errno(errno)) warn("send: %s", strerror(errno));
            conn_close(c);
            return;
          }
          off = (size_t)k;
        }
        if (off < got && buf_append(c, srv.scratch + off, got - off) < 0) {
          warn("out of memory buffering %zu bytes; closing connection", got - off);
          conn_close(c);
          return;
        }
        if ((size_t)n < READ_CHUNK) break; /* drained for now */
      } else if (n == 0) {
        c->eof = 1;
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        if (!quiet_errno(errno)) warn("recv: %s", strerror(errno));
        conn_close(c);
        return;
      }
    }
  }

  if (c->eof && pending(c) == 0) { /* client is done and has all its bytes back */
    conn_close(c);
    return;
  }
  if (c->eof)
    want = TIDE_WRITE;
  else
    want = (pending(c) < HIGH_WATER ? TIDE_READ : 0u) | (pending(c) ? TIDE_WRITE : 0u);
  if (want != c->events) {
    r = tide_io_modify(&c->io, want);
    if (r < 0) {
      warn("tide_io_modify: %s; closing connection", tide_strerror(r));
      conn_close(c);
      return;
    }
    c->events = want;
  }
}

static void pause_accepting(void) {
  int r = tide_io_stop(srv.loop, &srv.listen_io);
  if (r < 0) warn("tide_io_stop(listen): %s", tide_strerror(r));
  r = tide_timer_start(srv.loop, &srv.pause_timer);
  if (r < 0) warn("tide_timer_start: %s", tide_strerror(r));
}

static void accept_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)w;
  if (revents & TIDE_ERROR) {
    warn("listening socket reported an error; no longer accepting");
    return; /* the watcher has been stopped by libtide */
  }
  for (;;) {
    struct conn *c;
    int fd, r, one = 1;
    if (srv.nconns >= srv.max_conns) {
      r = tide_io_stop(loop, &srv.listen_io); /* resumed by conn_close() */
      if (r < 0) warn("tide_io_stop(listen): %s", tide_strerror(r));
      return;
    }
    fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      if (e == ECONNABORTED || e == EPROTO || e == EPERM || e == ENETDOWN || e == ENOPROTOOPT ||
          e == EHOSTDOWN || e == ENONET || e == EHOSTUNREACH || e == EOPNOTSUPP ||
          e == ENETUNREACH)
        continue; /* that one client is gone; try the next */
      /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or something unexpected: back off. */
      warn("accept: %s; pausing accept for 100 ms", strerror(e));
      pause_accepting();
      return;
    }
    /* Latency matters more than packet count for an echo service. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
      warn("setsockopt(TCP_NODELAY): %s", strerror(errno));
    c = calloc(1, sizeof *c);
    if (c == NULL) {
      close(fd);
      warn("out of memory; pausing accept for 100 ms");
      pause_accepting();
      return;
    }
    c->fd = fd;
    c->events = TIDE_READ;
    r = tide_io_init(&c->io, conn_cb, fd, TIDE_READ);
    if (r == 0) {
      c->io.data = c;
      r = tide_io_start(loop, &c->io);
    }
    if (r < 0) {
      if (r == -ERANGE)
        warn("fd %d is beyond what the %s backend can watch; connection refused", fd,
             tide_loop_backend(loop));
      else
        warn("tide_io_start: %s; connection refused", tide_strerror(r));
      close(fd);
      free(c);
      srv.rejected++;
      continue;
    }
    c->next = srv.conns;
    if (srv.conns) srv.conns->prev = c;
    srv.conns = c;
    srv.nconns++;
    srv.accepted++;
    if (srv.nconns > srv.peak) srv.peak = srv.nconns;
  }
}

static void pause_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)w;
  (void)revents;
  maybe_resume_accept();
}

/* ---------------------------------------------------------------- shutdown */

static void on_signal(int sig) {
  got_signal = sig;
  (void)tide_async_send(srv.loop, &srv.stop_async); /* async-signal-safe */
}

static void stop_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  int r, sig = got_signal;
  (void)revents;
  if (sig == 0) return; /* not from our handler */
  srv.stopping = 1;
  fprintf(stderr, PROG ": %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  if ((r = tide_io_stop(loop, &srv.listen_io)) < 0) warn("tide_io_stop: %s", tide_strerror(r));
  if ((r = tide_timer_stop(loop, &srv.pause_timer)) < 0) warn("tide_timer_stop: %s", tide_strerror(r));
  while (srv.conns) conn_close(srv.conns);
  if ((r = tide_async_stop(loop, w)) < 0) warn("tide_async_stop: %s", tide_strerror(r));
  /* No watcher is active any more: tide_run() returns 0. */
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
  unsigned long port = 7777, max_conns = 10000;
  const char *backend = NULL;
  struct tide_loop_options opt;
  struct sockaddr_in addr;
  socklen_t alen = sizeof addr;
  struct sigaction sa;
  const char *why;
  int i, r, one = 1, status = 0;

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
      if (parse_ulong(val, 0, 65535, &port) < 0) die(EXIT_USAGE, "bad --port '%s' (0..65535)", val);
    } else if (strcmp(name, "--max-conns") == 0) {
      if (parse_ulong(val, 1, 1000000, &max_conns) < 0)
        die(EXIT_USAGE, "bad --max-conns '%s' (1..1000000)", val);
    } else if (strcmp(name, "--backend") == 0) {
      if (backend_bit(val) == 0) die(EXIT_USAGE, "unknown backend '%s' (uring, epoll, poll, select)", val);
      backend = val;
    } else {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
  }

  {
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN; /* a client that vanishes must not kill us */
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
  }

  srv.lfd = -1;
  srv.max_conns = raise_nofile((size_t)max_conns);
  srv.scratch = malloc(READ_CHUNK);
  if (srv.scratch == NULL) die(1, "out of memory");

  /* The loop. */
  memset(&opt, 0, sizeof opt);
  opt.size = sizeof opt;
  if (backend) {
    char list[64];
    opt.backends = backend_bit(backend);
    opt.flags = TIDE_LOOP_NOENV;
    if (!(tide_backends_supported() & opt.backends)) {
      supported_list(list, sizeof list);
      die(EXIT_NOBACKEND, "backend %s is not available here (available: %s)", backend, list);
    }
  }
  r = tide_loop_new(&srv.loop, &opt);
  if (r == -ENOSYS && backend)
    die(EXIT_NOBACKEND, "backend %s is not available here: %s", backend, tide_strerror(r));
  if (r < 0) die(1, "tide_loop_new: %s", tide_strerror(r));
  fprintf(stderr, PROG ": backend %s", tide_loop_backend(srv.loop));
  why = tide_loop_fallback_reason(srv.loop);
  if (why) fprintf(stderr, " (fallback: %s)", why);
  fputc('\n', stderr);

  /* The listening socket. */
  srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (srv.lfd < 0) die(1, "socket: %s", strerror(errno));
  if (setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    die(1, "setsockopt(SO_REUSEADDR): %s", strerror(errno));
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(srv.lfd, (struct sockaddr *)&addr, sizeof addr) != 0)
    die(1, "bind 127.0.0.1:%lu: %s", port, strerror(errno));
  if (listen(srv.lfd, SOMAXCONN) != 0) die(1, "listen: %s", strerror(errno));
  if (getsockname(srv.lfd, (struct sockaddr *)&addr, &alen) != 0)
    die(1, "getsockname: %s", strerror(errno));

  /* Watchers. */
  if ((r = tide_io_init(&srv.listen_io, accept_cb, srv.lfd, TIDE_READ)) < 0 ||
      (r = tide_io_start(srv.loop, &srv.listen_io)) < 0)
    die(1, "listening watcher: %s", tide_strerror(r));
  if ((r = tide_timer_init(&srv.pause_timer, pause_cb, ACCEPT_PAUSE_NS, 0)) < 0)
    die(1, "tide_timer_init: %s", tide_strerror(r));
  if ((r = tide_async_init(&srv.stop_async, stop_cb)) < 0 ||
      (r = tide_async_start(srv.loop, &srv.stop_async)) < 0)
    die(1, "async watcher: %s", tide_strerror(r));

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  {
    /* SIGINT stays ignored if it was ignored at start (a background job of a
     * non-interactive shell), as POSIX utilities do. */
    struct sigaction old;
    if (sigaction(SIGINT, NULL, &old) != 0 || (old.sa_handler != SIG_IGN && sigaction(SIGINT, &sa, NULL) != 0) ||
        sigaction(SIGTERM, &sa, NULL) != 0)
      die(1, "sigaction: %s", strerror(errno));
  }

  printf("port %u\n", (unsigned)ntohs(addr.sin_port));
  if (fflush(stdout) != 0) die(1, "writing the port to stdout: %s", strerror(errno));
  fprintf(stderr, PROG ": listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));

  for (;;) {
    r = tide_run(srv.loop, TIDE_RUN_DEFAULT);
    if (r == 0) break;              /* all watchers stopped: shutdown finished */
    if (r == 1 || r == -EINTR) continue;
    fprintf(stderr, PROG ": tide_run: %s\n", tide_strerror(r));
    status = 1;
    /* Leave cleanly anyway: stop everything so that the loop can be freed. */
    srv.stopping = 1;
    tide_io_stop(srv.loop, &srv.listen_io);
    tide_timer_stop(srv.loop, &srv.pause_timer);
    while (srv.conns) conn_close(srv.conns);
    tide_async_stop(srv.loop, &srv.stop_async);
    break;
  }

  /* From here on a late signal must not touch the loop any more. */
  sa.sa_handler = SIG_IGN;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  got_signal = 0;

  fprintf(stderr, PROG ": served %llu connections (peak %zu at once, %llu refused), echoed %llu bytes\n",
          srv.accepted, srv.peak, srv.rejected, srv.bytes_echoed);
  close(srv.lfd);
  r = tide_loop_free(srv.loop);
  if (r < 0) {
    fprintf(stderr, PROG ": tide_loop_free: %s\n", tide_strerror(r));
    status = 1;
  }
  free(srv.scratch);
  return status;
}
