/* SPDX-License-Identifier: MIT */
/*
 * echo-server.c - a TCP echo server built on libtide, in two styles: io
 * watchers (readiness, the reactor half of the API) or requests (completions,
 * the proactor half).
 *
 * Usage:
 *   echo-server [--port N] [--backend uring|epoll|poll|select] [--max-conns N]
 *               [--mode watchers|requests]
 *
 *   --port N        TCP port on 127.0.0.1 (default 7777). 0 lets the kernel pick
 *                   one; in every case the first line on stdout is "port N"
 *                   (flushed), so a script can read it.
 *   --backend NAME  run exactly this libtide backend (the TIDE_BACKEND
 *                   environment variable is then ignored: TIDE_LOOP_NOENV).
 *                   If the build or the kernel lacks it, the server says so
 *                   and exits with status 3. A comma list (epoll,poll) runs
 *                   the best of those backends that is available. Without
 *                   --backend the loop picks the best backend available
 *                   (TIDE_BACKEND narrows it).
 *   --max-conns N   connections served at once (default 10000); beyond that
 *                   the server stops accepting, and new clients wait in the
 *                   listen backlog until a connection closes.
 *   --mode MODE     "watchers" (default) or "requests"; see below.
 *
 * The backend in use, and the reason for any fallback, go to stderr, then the
 * mode and how it runs on this backend.
 * SIGINT or SIGTERM stops the server cleanly: every connection is closed, the
 * loop is freed and the exit status is 0.
 * Exit status: 0 clean shutdown, 1 run-time error, 2 usage, 3 backend not
 * available.
 *
 * --mode=watchers: one level-triggered tide_io per connection. Normally it
 * watches TIDE_READ only; what is read is written back at once. When a write
 * would block, the rest is kept in a per-connection buffer and TIDE_WRITE is
 * added with tide_io_modify() until the buffer is drained, then the watcher
 * goes back to read-only. Above a high-water mark of buffered bytes the server
 * stops reading from that client (write interest only) so that a client that
 * sends without reading cannot make it buffer without bound. The listening
 * socket is non-blocking and accepted from in a loop until EAGAIN.
 *
 * --mode=requests: no watcher touches a socket; the loop is handed operations
 * and calls back when they are done. One multishot tide_accept delivers every
 * new connection; at --max-conns it is cancelled, and connections that it still
 * delivers before the cancellation lands are closed at once (counted as
 * refused), so the limit holds. Per connection:
 *   - where the loop runs tide_recv_pool natively (io_uring with provided-buffer
 *     rings), one multishot tide_recv_pool receives into buffers that the kernel
 *     picks from a pool shared by all connections. Each chunk is queued and
 *     echoed with tide_send(TIDE_ALL), one send in flight at a time so that the
 *     bytes stay in order; its buffer goes back to the pool (tide_bufpool_put)
 *     when that send completes. When a client has PAUSE_BUFS chunks waiting
 *     (it sends but does not read), its receive is cancelled and submitted
 *     again once the queue is down to RESUME_BUFS.
 *   - elsewhere, tide_recv into a per-connection buffer, then tide_send
 *     (TIDE_ALL) of what arrived, then the next tide_recv: one request in
 *     flight at a time, which bounds memory by itself.
 * At EOF the queued bytes are echoed, then the connection is closed with
 * tide_close (which also cancels whatever is still in flight on it); on an
 * error it is closed at once. A connection's memory is released only when none
 * of its requests is in flight any more, and never inside the callback of one
 * of its own requests (a request belongs to the library until its callback
 * returns): a tide_nop request frees such connections in a later callback.
 *
 * In both modes a signal handler only calls tide_async_send(), which is
 * async-signal-safe; the shutdown itself runs in the loop's async callback.
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

/* --mode=requests */
#define RECV_BUF (16u * 1024u)          /* per-connection buffer without a pool */
#define POOL_BUFS 2048u                 /* buffers in the shared pool (a power of two) */
#define POOL_BUF_SIZE (16u * 1024u)     /* bytes per pool buffer */
#define PAUSE_BUFS (HIGH_WATER / POOL_BUF_SIZE) /* chunks queued: stop receiving */
#define RESUME_BUFS (PAUSE_BUFS / 4)    /* ... and resume at or below this many */

enum mode { MODE_WATCHERS, MODE_REQUESTS };

struct conn {
  tide_io io;          /* io->data points back here */
  int fd;
  unsigned events;     /* interest currently set on io */
  int eof;             /* the client shut down its sending side */
  unsigned char *buf;  /* bytes still to be written back: buf[off..len) */
  size_t off, len, cap;
  struct conn *prev, *next;
};

/* A received pool buffer that waits to be echoed (--mode=requests with a pool). */
struct chunk {
  unsigned char *p;
  size_t len;
  int id;              /* the pool's buffer id, for tide_bufpool_put() */
};

/* A connection in --mode=requests. Each request's data points back here. */
struct rconn {
  tide_req recv_req;   /* tide_recv_pool (multishot) or tide_recv */
  tide_req send_req;   /* tide_send; one in flight at a time, so bytes stay in order */
  tide_req close_req;  /* tide_close at the end */
  int fd;
  unsigned inflight;   /* how many of the three requests are in flight */
  int recving, sending;
  int recv_cancelled;  /* tide_cancel() was asked for recv_req (back-pressure) */
  int eof;             /* the client shut down its sending side */
  int closing;         /* no new requests; waiting for inflight to reach 0 */
  int close_direct;    /* tide_close could not be submitted: close(2) at the end */
  int retired;         /* unlinked and queued for freeing */
  size_t send_len;     /* length of the send in flight */
  struct chunk *q;     /* with a pool: ring of chunks to echo, q[qhead..qhead+qlen) */
  size_t qhead, qlen, qcap;
  struct rconn *prev, *next;   /* open connections; next also links the free list */
  unsigned char rbuf[];        /* without a pool: RECV_BUF bytes */
};

struct server {
  tide_loop *loop;
  enum mode mode;
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
  /* --mode=requests */
  tide_bufpool *pool;      /* NULL: plain tide_recv per connection */
  tide_req accept_req;     /* multishot tide_accept */
  int accepting, accept_cancelled;
  struct rconn *rconns;    /* open connections (closing ones included) */
  struct rconn *retired;   /* finished connections waiting to be freed */
  tide_req reap_req;       /* tide_nop whose callback frees them */
  int reaping;
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
          "                   [--mode watchers|requests]\n"
          "  --port N        port on 127.0.0.1, 0 = any (default 7777); prints \"port N\" first\n"
          "  --backend NAME  use exactly this libtide backend (exit 3 if unavailable);\n"
          "                  NAME,NAME,... runs the best of those\n"
          "  --max-conns N   maximum simultaneous connections (default 10000)\n"
          "  --mode MODE     watchers (io watchers, default) or requests (completion requests)\n");
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

/* The names of the backends usable here, best first, separated by spaces. */
static void supported_list(char *out, size_t outsz) {
  unsigned mask = tide_backends_supported(), bit;
  size_t used = 0;
  out[0] = '\0';
  for (bit = 1; bit & TIDE_BACKEND_ALL; bit <<= 1) {
    int n;
    if (!(mask & bit)) continue;
    n = snprintf(out + used, outsz - used, "%s%s", used ? " " : "", tide_backend_name(bit));
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
static void req_resume_accept(void);

static size_t pending(const struct conn *c) { return c->len - c->off; }

/* Start the listening watcher (or the accept request) again if we are allowed
 * to accept. */
static void maybe_resume_accept(void) {
  int r;
  if (srv.mode == MODE_REQUESTS) {
    req_resume_accept();
    return;
  }
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
  int r = srv.mode == MODE_WATCHERS ? tide_io_stop(srv.loop, &srv.listen_io) : 0;
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

/* ---------------------------------------------------------------- requests mode */

/* The accept errors that concern one client only: skip it, keep accepting. */
static int client_errno(int e) {
  return e == ECONNABORTED || e == EPROTO || e == EPERM || e == ENETDOWN || e == ENOPROTOOPT ||
         e == EHOSTDOWN || e == ENONET || e == EHOSTUNREACH || e == EOPNOTSUPP ||
         e == ENETUNREACH || e == EINTR;
}

static const char *support_name(int op) {
  switch (tide_op_support(srv.loop, op)) {
  case TIDE_OP_NATIVE: return "native";
  case TIDE_OP_EMULATED: return "emulated";
  case TIDE_OP_UNSUPPORTED: return "unsupported";
  default: return "unknown";
  }
}

static void reap_cb(tide_loop *loop, tide_req *req, ssize_t res);

/* Free the retired connections. Called from the callback of reap_req, or after
 * tide_run() returned: never while a callback of one of their requests runs. */
static void free_retired(void) {
  while (srv.retired) {
    struct rconn *c = srv.retired;
    srv.retired = c->next;
    free(c->q);
    free(c);
  }
}

static void reap_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  (void)req;
  (void)res; /* a nop cannot fail */
  srv.reaping = 0;
  free_retired();
}

/* The last request of c has completed (we may be inside its callback): give
 * back its buffers, close the fd if tide_close was not used, unlink it and queue
 * it for freeing. */
static void rconn_retire(struct rconn *c) {
  int r;
  if (c->retired) return;
  c->retired = 1;
  while (c->qlen > 0) {
    r = tide_bufpool_put(srv.pool, c->q[c->qhead].id);
    if (r < 0) warn("tide_bufpool_put: %s", tide_strerror(r));
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
  }
  if (c->close_direct) close(c->fd);
  if (c->prev) c->prev->next = c->next; else srv.rconns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = NULL;
  c->next = srv.retired;
  srv.retired = c;
  if (!srv.reaping) {
    r = tide_nop(srv.loop, &srv.reap_req, reap_cb);
    if (r == 0)
      srv.reaping = 1;
    else /* not fatal: main() frees what is left after tide_run() */
      warn("tide_nop: %s", tide_strerror(r));
  }
  srv.nconns--;
  maybe_resume_accept();
}

/* Call at the end of every callback and after rconn_close(). */
static void rconn_settle(struct rconn *c) {
  if (c->closing && c->inflight == 0) rconn_retire(c);
}

static void rclose_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct rconn *c = req->data;
  (void)loop;
  c->inflight--;
  if (res < 0) warn("close fd %d: %s", c->fd, tide_strerror((int)res));
  rconn_settle(c);
}

static void cancel_req(tide_req *req) {
  int r = tide_cancel(srv.loop, req);
  if (r < 0 && r != -EALREADY) warn("tide_cancel: %s", tide_strerror(r));
}

/* Start closing c: tide_close cancels what is still in flight on the fd and
 * closes it. c is freed once every request has called back. */
static void rconn_close(struct rconn *c) {
  int r;
  if (c->closing) return;
  c->closing = 1;
  r = tide_close(srv.loop, &c->close_req, c->fd, rclose_cb);
  if (r == 0) {
    c->inflight++;
    return;
  }
  warn("tide_close: %s; cancelling and closing directly", tide_strerror(r));
  c->close_direct = 1;
  if (c->recving) cancel_req(&c->recv_req);
  if (c->sending) cancel_req(&c->send_req);
}

static void pool_recv_cb(tide_loop *loop, tide_req *req, ssize_t res);
static void plain_recv_cb(tide_loop *loop, tide_req *req, ssize_t res);
static void send_cb(tide_loop *loop, tide_req *req, ssize_t res);

/* Submit the receive. Returns 0 or a negative errno (c is then unchanged). */
static int rconn_recv(struct rconn *c) {
  int r;
  if (srv.pool)
    r = tide_recv_pool(srv.loop, &c->recv_req, c->fd, srv.pool, pool_recv_cb);
  else
    r = tide_recv(srv.loop, &c->recv_req, c->fd, c->rbuf, RECV_BUF, 0, 0, plain_recv_cb);
  if (r == 0) {
    c->recving = 1;
    c->recv_cancelled = 0;
    c->inflight++;
  }
  return r;
}

/* Submit the send of p[0..len). Returns 0 or a negative errno. */
static int rconn_send(struct rconn *c, const unsigned char *p, size_t len) {
  int r = tide_send(srv.loop, &c->send_req, c->fd, p, len, 0, TIDE_ALL, send_cb);
  if (r == 0) {
    c->sending = 1;
    c->send_len = len;
    c->inflight++;
  }
  return r;
}

/* With a pool: echo the oldest queued chunk unless a send is in flight. */
static void pump_send(struct rconn *c) {
  int r;
  if (c->closing || c->sending || c->qlen == 0) return;
  r = rconn_send(c, c->q[c->qhead].p, c->q[c->qhead].len);
  if (r < 0) {
    warn("tide_send: %s; closing connection", tide_strerror(r));
    rconn_close(c);
  }
}

/* With a pool: receive again if the receive ended (cancelled for back-pressure,
 * or a multishot that the kernel ended) and the client is not too far behind. */
static void maybe_resume_recv(struct rconn *c) {
  int r;
  if (c->closing || c->eof || c->recving || c->qlen > RESUME_BUFS) return;
  r = rconn_recv(c);
  if (r < 0) {
    warn("tide_recv_pool: %s; closing connection", tide_strerror(r));
    rconn_close(c);
  }
}

static int queue_push(struct rconn *c, unsigned char *p, size_t len, int id) {
  if (c->qlen == c->qcap) {
    size_t i, ncap = c->qcap ? 2 * c->qcap : 8;
    struct chunk *nq = malloc(ncap * sizeof *nq);
    if (nq == NULL) return -1;
    for (i = 0; i < c->qlen; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qcap = ncap;
    c->qhead = 0;
  }
  c->q[(c->qhead + c->qlen) % c->qcap].p = p;
  c->q[(c->qhead + c->qlen) % c->qcap].len = len;
  c->q[(c->qhead + c->qlen) % c->qcap].id = id;
  c->qlen++;
  return 0;
}

static void pool_recv_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct rconn *c = req->data;
  int more = tide_req_more(req) == 1;
  (void)loop;
  if (!more) { /* this request is finished */
    c->recving = 0;
    c->inflight--;
  }
  if (res > 0) {
    void *p;
    int r, id = tide_req_buffer(req, &p);
    if (id < 0) {
      warn("fd %d: %zd bytes received but no buffer (%s); closing", c->fd, res, tide_strerror(id));
      rconn_close(c);
    } else if (c->closing || queue_push(c, p, (size_t)res, id) < 0) {
      if (!c->closing) {
        warn("out of memory queueing a chunk; closing connection");
        rconn_close(c);
      }
      if ((r = tide_bufpool_put(srv.pool, id)) < 0) warn("tide_bufpool_put: %s", tide_strerror(r));
    } else {
      pump_send(c);
    }
  } else if (res == 0) {
    c->eof = 1;
  } else if (res != -ECANCELED) {
    if (!quiet_errno((int)-res)) warn("recv: %s", tide_strerror((int)res));
    rconn_close(c);
  }
  if (!c->closing) {
    if (c->eof && !c->sending && c->qlen == 0)
      rconn_close(c); /* the client is done and has all its bytes back */
    else if (!c->recving)
      maybe_resume_recv(c);
    else if (c->qlen >= PAUSE_BUFS && !c->recv_cancelled) {
      int r = tide_cancel(srv.loop, &c->recv_req); /* resumed by send_cb() */
      if (r == 0 || r == -EALREADY)
        c->recv_cancelled = 1;
      else
        warn("tide_cancel(recv): %s", tide_strerror(r));
    }
  }
  rconn_settle(c);
}

static void plain_recv_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct rconn *c = req->data;
  int r;
  (void)loop;
  c->recving = 0;
  c->inflight--;
  if (c->closing) {
    /* cancelled by tide_close, or completed first: the bytes are not wanted */
  } else if (res > 0) {
    if ((r = rconn_send(c, c->rbuf, (size_t)res)) < 0) {
      warn("tide_send: %s; closing connection", tide_strerror(r));
      rconn_close(c);
    }
  } else if (res == 0) {
    c->eof = 1; /* every byte received so far has been echoed */
    rconn_close(c);
  } else {
    if (!quiet_errno((int)-res)) warn("recv: %s", tide_strerror((int)res));
    rconn_close(c);
  }
  rconn_settle(c);
}

static void send_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct rconn *c = req->data;
  int r;
  (void)loop;
  c->sending = 0;
  c->inflight--;
  if (res > 0) srv.bytes_echoed += (unsigned long long)res;
  if (c->closing) {
    /* cancelled by tide_close, or completed first; queued chunks go back to
     * the pool in rconn_retire() */
  } else if (res < 0 || (size_t)res != c->send_len) {
    /* With TIDE_ALL a short count means the connection failed part way. */
    if (res < 0 && !quiet_errno((int)-res)) warn("send: %s", tide_strerror((int)res));
    rconn_close(c);
  } else if (srv.pool) {
    r = tide_bufpool_put(srv.pool, c->q[c->qhead].id);
    if (r < 0) warn("tide_bufpool_put: %s", tide_strerror(r));
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    pump_send(c);
    if (!c->closing) {
      if (c->eof && !c->sending && c->qlen == 0)
        rconn_close(c); /* the client is done and has all its bytes back */
      else
        maybe_resume_recv(c);
    }
  } else if ((r = rconn_recv(c)) < 0) {
    warn("tide_recv: %s; closing connection", tide_strerror(r));
    rconn_close(c);
  }
  rconn_settle(c);
}

/* A new connection from the accept request. */
static void rconn_open(int fd) {
  struct rconn *c;
  int r, one = 1;
  if (srv.stopping) { /* accepted while the accept was being cancelled */
    close(fd);
    return;
  }
  if (srv.nconns >= srv.max_conns) {
    /* The multishot accept took more than we serve before its cancellation
     * landed (a burst). The limit is there to keep fds in reserve: refuse. */
    close(fd);
    srv.rejected++;
    return;
  }
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    warn("setsockopt(TCP_NODELAY): %s", strerror(errno));
  c = calloc(1, sizeof *c + (srv.pool ? 0 : RECV_BUF));
  if (c == NULL) {
    close(fd);
    warn("out of memory; connection refused");
    srv.rejected++;
    return;
  }
  c->fd = fd;
  c->recv_req.data = c->send_req.data = c->close_req.data = c;
  if ((r = rconn_recv(c)) < 0) {
    if (r == -ERANGE)
      warn("fd %d is beyond what the %s backend can watch; connection refused", fd,
           tide_loop_backend(srv.loop));
    else
      warn("%s: %s; connection refused", srv.pool ? "tide_recv_pool" : "tide_recv", tide_strerror(r));
    close(fd); /* nothing is in flight on it */
    free(c);
    srv.rejected++;
    return;
  }
  c->next = srv.rconns;
  if (srv.rconns) srv.rconns->prev = c;
  srv.rconns = c;
  srv.nconns++;
  srv.accepted++;
  if (srv.nconns > srv.peak) srv.peak = srv.nconns;
}

static void accept_req_cb(tide_loop *loop, tide_req *req, ssize_t res);

static void req_resume_accept(void) {
  int r;
  if (srv.stopping || srv.accepting || srv.nconns >= srv.max_conns) return;
  if (tide_is_active(&srv.pause_timer) == 1) return;
  r = tide_accept(srv.loop, &srv.accept_req, srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC,
                  TIDE_MULTISHOT, accept_req_cb);
  if (r == 0) {
    srv.accepting = 1;
    srv.accept_cancelled = 0;
    return;
  }
  warn("tide_accept: %s; pausing accept for 100 ms", tide_strerror(r));
  pause_accepting();
}

static void req_stop_accept(void) {
  if (srv.accepting && !srv.accept_cancelled) {
    cancel_req(&srv.accept_req);
    srv.accept_cancelled = 1;
  }
}

static void accept_req_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  int more = tide_req_more(req) == 1;
  (void)loop;
  if (!more) srv.accepting = 0;
  if (res >= 0) {
    rconn_open((int)res);
  } else if (res != -ECANCELED && !client_errno((int)-res)) {
    /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or something unexpected: back off. */
    warn("accept: %s; pausing accept for 100 ms", tide_strerror((int)res));
    if (!more) {
      pause_accepting();
      return;
    }
    req_stop_accept(); /* resumed after the pause by pause_cb() */
    pause_accepting();
    return;
  }
  if (srv.nconns >= srv.max_conns)
    req_stop_accept(); /* resumed by rconn_retire() */
  else if (!more)
    req_resume_accept(); /* cancelled, or a multishot that the kernel ended */
}

/* Stop accepting and close every connection; tide_run() returns 0 once the
 * last request has called back. */
static void req_shutdown(void) {
  struct rconn *c, *next;
  req_stop_accept();
  for (c = srv.rconns; c; c = next) {
    next = c->next;
    rconn_close(c);
    rconn_settle(c);
  }
}

/* ---------------------------------------------------------------- shutdown */

static void on_signal(int sig) {
  got_signal = sig;
  (void)tide_async_send(srv.loop, &srv.stop_async); /* async-signal-safe */
}

/* Stop accepting, close every connection and stop the watchers. In watchers
 * mode nothing is active afterwards; in requests mode tide_run() returns 0 once
 * the requests still in flight have called back. */
static void begin_shutdown(void) {
  int r;
  srv.stopping = 1;
  if (srv.mode == MODE_WATCHERS && (r = tide_io_stop(srv.loop, &srv.listen_io)) < 0)
    warn("tide_io_stop: %s", tide_strerror(r));
  if ((r = tide_timer_stop(srv.loop, &srv.pause_timer)) < 0) warn("tide_timer_stop: %s", tide_strerror(r));
  if (srv.mode == MODE_WATCHERS)
    while (srv.conns) conn_close(srv.conns);
  else
    req_shutdown();
  if ((r = tide_async_stop(srv.loop, &srv.stop_async)) < 0) warn("tide_async_stop: %s", tide_strerror(r));
}

static void stop_cb(tide_loop *loop, tide_async *w, unsigned revents) {
  int sig = got_signal;
  (void)loop;
  (void)w;
  (void)revents;
  if (sig == 0) return; /* not from our handler */
  fprintf(stderr, PROG ": %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  begin_shutdown();
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
  unsigned long port = 7777, max_conns = 10000;
  const char *backend = NULL;
  int backends = 0;
  struct tide_loop_options opt;
  struct sockaddr_in addr;
  socklen_t alen = sizeof addr;
  struct sigaction sa;
  const char *why;
  int i, r, one = 1, status = 0, run_failures = 0;

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
      backends = tide_backend_from_name(val);
      if (backends < 0) die(EXIT_USAGE, "unknown backend '%s' (uring, epoll, poll, select)", val);
      backend = val;
    } else if (strcmp(name, "--mode") == 0) {
      if (strcmp(val, "watchers") == 0)
        srv.mode = MODE_WATCHERS;
      else if (strcmp(val, "requests") == 0)
        srv.mode = MODE_REQUESTS;
      else
        die(EXIT_USAGE, "unknown mode '%s' (watchers, requests)", val);
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
    opt.backends = (unsigned)backends;
    opt.flags = TIDE_LOOP_NOENV;
    supported_list(list, sizeof list);
    if (!(tide_backends_built() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is not built into this libtide (configured without it; available: %s)",
          backend, list);
    if (!(tide_backends_supported() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is refused by the running kernel (available: %s)", backend, list);
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

  /* Accepting: a watcher on the listening socket, or one multishot accept. */
  if (srv.mode == MODE_WATCHERS) {
    if ((r = tide_io_init(&srv.listen_io, accept_cb, srv.lfd, TIDE_READ)) < 0 ||
        (r = tide_io_start(srv.loop, &srv.listen_io)) < 0)
      die(1, "listening watcher: %s", tide_strerror(r));
    fprintf(stderr, PROG ": mode watchers (a level-triggered tide_io per connection)\n");
  } else {
    static const struct { int op; const char *name; } need[] = {
        {TIDE_OP_ACCEPT, "accept"}, {TIDE_OP_RECV, "recv"}, {TIDE_OP_SEND, "send"},
        {TIDE_OP_CLOSE, "close"}, {TIDE_OP_NOP, "nop"}};
    size_t k;
    for (k = 0; k < sizeof need / sizeof need[0]; k++)
      if (tide_op_support(srv.loop, need[k].op) != TIDE_OP_NATIVE &&
          tide_op_support(srv.loop, need[k].op) != TIDE_OP_EMULATED)
        die(1, "the %s backend cannot run %s requests", tide_loop_backend(srv.loop), need[k].name);
    if (tide_op_support(srv.loop, TIDE_OP_RECV_POOL) == TIDE_OP_NATIVE) {
      r = tide_bufpool_new(srv.loop, &srv.pool, POOL_BUFS, POOL_BUF_SIZE);
      if (r < 0) {
        fprintf(stderr, PROG ": tide_bufpool_new: %s; receiving without a pool\n", tide_strerror(r));
        srv.pool = NULL;
      }
    }
    r = tide_accept(srv.loop, &srv.accept_req, srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC,
                    TIDE_MULTISHOT, accept_req_cb);
    if (r < 0) die(1, "tide_accept: %s", tide_strerror(r));
    srv.accepting = 1;
    fprintf(stderr, PROG ": mode requests (multishot tide_accept %s; ", support_name(TIDE_OP_ACCEPT));
    if (srv.pool)
      fprintf(stderr, "multishot tide_recv_pool %s, %u shared buffers of %u KiB; ",
              support_name(TIDE_OP_RECV_POOL), POOL_BUFS, POOL_BUF_SIZE / 1024u);
    else
      fprintf(stderr, "tide_recv %s into %u KiB per connection; ", support_name(TIDE_OP_RECV),
              RECV_BUF / 1024u);
    fprintf(stderr, "tide_send %s)\n", support_name(TIDE_OP_SEND));
  }
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
    if (!srv.stopping) begin_shutdown();
    if (srv.mode == MODE_WATCHERS) break; /* nothing is active any more */
    /* Requests still in flight need the loop to call them back. */
    if (++run_failures >= 3) die(1, "giving up with requests still in flight");
  }

  /* From here on a late signal must not touch the loop any more. */
  sa.sa_handler = SIG_IGN;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  got_signal = 0;

  fprintf(stderr, PROG ": served %llu connections (peak %zu at once, %llu refused), echoed %llu bytes\n",
          srv.accepted, srv.peak, srv.rejected, srv.bytes_echoed);
  free_retired(); /* only if a tide_nop could not be submitted */
  if (srv.pool && (r = tide_bufpool_free(srv.pool)) < 0) {
    fprintf(stderr, PROG ": tide_bufpool_free: %s\n", tide_strerror(r));
    status = 1;
  }
  close(srv.lfd);
  r = tide_loop_free(srv.loop);
  if (r < 0) {
    fprintf(stderr, PROG ": tide_loop_free: %s\n", tide_strerror(r));
    status = 1;
  }
  free(srv.scratch);
  return status;
}
