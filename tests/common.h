/* SPDX-License-Identifier: MIT */
/*
 * tests/common.h - helpers shared by the Criterion behaviour tests.
 *
 * Include this header first in every test file: it sets the feature-test macro
 * before any system header is seen.
 *
 * Every test program is run once per backend by the runner, with the environment
 * variable TIDE_TEST_BACKEND set to one of "uring", "epoll", "poll", "select"
 * (unset or empty: no restriction, the library picks). tt_loop() creates loops
 * that run exactly that backend, and fails the test if the loop runs another one.
 */
#ifndef TIDE_TESTS_COMMON_H
#define TIDE_TESTS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tide.h"

#define TT_US(x) ((uint64_t)(x) * 1000ull)
#define TT_MS(x) ((uint64_t)(x) * 1000000ull)
#define TT_SEC(x) ((uint64_t)(x) * 1000000000ull)

/* Monotonic clock in ns, the clock libtide uses. */
static inline uint64_t tt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Burn CPU until at least ns have passed on the monotonic clock. Used only to
 * make time pass (e.g. to make the loop's cached time stale), never to wait for
 * another thread or for the library. */
static inline void tt_spin_ns(uint64_t ns) {
  uint64_t t0 = tt_now_ns();
  while (tt_now_ns() - t0 < ns) {
  }
}

/* The backend bit and the name tide_loop_backend() must report for the value of
 * TIDE_TEST_BACKEND (one backend, spelt as tide_backend_from_name() reads it).
 * Returns 0 (and *name NULL) when unset or empty, and fails the test for an
 * unknown value or a list of several backends. */
static inline unsigned tt_backend_bit(const char **name) {
  const char *env = getenv("TIDE_TEST_BACKEND");
  *name = NULL;
  if (env == NULL || *env == '\0') return 0;
  int bit = tide_backend_from_name(env);
  *name = bit > 0 ? tide_backend_name((unsigned)bit) : NULL;
  if (*name == NULL)
    cr_assert_fail("unknown TIDE_TEST_BACKEND '%s' (want one of uring, epoll, poll or select)", env);
  return (unsigned)bit;
}

/* Options for a loop on the backend under test (NOENV: the library's own
 * TIDE_BACKEND variable must not interfere). */
static inline struct tide_loop_options tt_options(void) {
  const char *name;
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.backends = tt_backend_bit(&name);
  o.flags = TIDE_LOOP_NOENV;
  return o;
}

/* A new loop on the backend under test; fails the test on any error. */
static inline tide_loop *tt_loop(void) {
  const char *expect;
  struct tide_loop_options o = tt_options();
  tide_loop *loop = NULL;
  (void)tt_backend_bit(&expect);
  int rc = tide_loop_new(&loop, &o);
  cr_assert_eq(rc, 0, "tide_loop_new(backends=%#x): %d (%s)", o.backends, rc,
               tide_strerror(rc));
  cr_assert_not_null(loop, "tide_loop_new returned 0 but no loop");
  const char *got = tide_loop_backend(loop);
  cr_assert_not_null(got, "tide_loop_backend returned NULL");
  if (expect != NULL)
    cr_assert_str_eq(got, expect, "loop runs backend '%s', TIDE_TEST_BACKEND wants '%s'", got,
                     expect);
  return loop;
}

/* Frees a loop, which must have no active watchers left. */
static inline void tt_free(tide_loop *loop) {
  int rc = tide_loop_free(loop);
  cr_assert_eq(rc, 0, "tide_loop_free: %d (%s)", rc, tide_strerror(rc));
}

/* 1 if the loop runs the named backend ("io_uring", "epoll", "poll", "select"). */
static inline int tt_is(const tide_loop *loop, const char *backend) {
  const char *n = tide_loop_backend(loop);
  return n != NULL && strcmp(n, backend) == 0;
}

/* 1 if TIDE_EDGE is native on this loop's backend (epoll, io_uring); on poll and
 * select it is delivered level-triggered (tide.h, tide_io_init). */
static inline int tt_edge_native(const tide_loop *loop) {
  return tt_is(loop, "epoll") || tt_is(loop, "io_uring");
}

/* A non-blocking, close-on-exec pipe: p[0] read end, p[1] write end. */
static inline void tt_pipe(int p[2]) {
  int rc = pipe2(p, O_NONBLOCK | O_CLOEXEC);
  cr_assert_eq(rc, 0, "pipe2: %s", strerror(errno));
}

/* A non-blocking, close-on-exec AF_UNIX stream socket pair. */
static inline void tt_socketpair(int sv[2]) {
  int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
  cr_assert_eq(rc, 0, "socketpair: %s", strerror(errno));
}

static inline void tt_close2(int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
  p[0] = p[1] = -1;
}

/* Writes one byte; returns 1 on success (callable from callbacks and threads). */
static inline int tt_write1(int fd) {
  char c = 'x';
  ssize_t n;
  do n = write(fd, &c, 1);
  while (n < 0 && errno == EINTR);
  return n == 1;
}

/* Reads until EAGAIN/EOF; returns the number of bytes read. */
static inline long tt_drain(int fd) {
  char buf[4096];
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      total += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return total;
  }
}

/* ---- watchdog: a timer that stops the loop and records that it fired. A test
 * asserts !fired afterwards; it bounds a run that would otherwise hang. */
typedef struct {
  tide_timer t;
  int fired;
} tt_watchdog;

static inline void tt_watchdog_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)revents;
  ((tt_watchdog *)t->data)->fired = 1;
  tide_stop(loop);
}

static inline void tt_watchdog_start(tide_loop *loop, tt_watchdog *wd, uint64_t ns) {
  wd->fired = 0;
  cr_assert_eq(tide_timer_init(&wd->t, tt_watchdog_cb, ns, 0), 0);
  wd->t.data = wd;
  cr_assert_eq(tide_timer_start(loop, &wd->t), 0);
}

static inline void tt_watchdog_stop(tide_loop *loop, tt_watchdog *wd) {
  cr_assert_eq(tide_timer_stop(loop, &wd->t), 0);
}

/* ---- run the loop for about ns (a one-shot timer calls tide_stop), or until it
 * runs out of active watchers. Returns tide_run's result. */
static inline void tt__stop_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)t;
  (void)revents;
  tide_stop(loop);
}

static inline int tt_run_for(tide_loop *loop, uint64_t ns) {
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, tt__stop_cb, ns, 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  return rc;
}

/* ---- iteration counter: a check watcher runs once per loop iteration. */
typedef struct {
  tide_check c;
  long n;
} tt_iter_counter;

static inline void tt__iter_cb(tide_loop *loop, tide_check *c, unsigned revents) {
  (void)loop;
  (void)revents;
  ((tt_iter_counter *)c->data)->n++;
}

static inline void tt_iter_start(tide_loop *loop, tt_iter_counter *ic) {
  ic->n = 0;
  cr_assert_eq(tide_check_init(&ic->c, tt__iter_cb), 0);
  ic->c.data = ic;
  cr_assert_eq(tide_check_start(loop, &ic->c), 0);
}

static inline void tt_iter_stop(tide_loop *loop, tt_iter_counter *ic) {
  cr_assert_eq(tide_check_stop(loop, &ic->c), 0);
}

#endif /* TIDE_TESTS_COMMON_H */

/* ====================================================================
 * Helpers for the completion-request tests (test_req_*.c). Appended in their
 * own guard; nothing above depends on them.
 * ==================================================================== */
#ifndef TIDE_TESTS_COMMON_REQ_H
#define TIDE_TESTS_COMMON_REQ_H

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>

/* ---- a request that records its completions. tt_req_init() points req.data
 * at the record; tt_req_cb is the callback. */
typedef struct {
  tide_req req;
  int calls;         /* callbacks so far */
  ssize_t res;       /* res of the last callback */
  ssize_t first_res; /* res of the first callback */
  int more;          /* tide_req_more() inside the last callback */
  int during_submit; /* callbacks that ran while a TT_SUBMIT() was in progress */
  int wrong_loop;    /* callbacks whose loop argument was not tt_req_loop */
  uint64_t at_ns;    /* CLOCK_MONOTONIC at the last callback */
  long order;        /* tt_req_order_next at the last callback (completion order) */
} tt_req;

static int tt_req_submitting;     /* 1 while TT_SUBMIT() runs a submit call */
static long tt_req_order_next;    /* completion counter shared by all tt_req */
static tide_loop *tt_req_loop;    /* if set, callbacks check their loop argument */

static inline void tt_req_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  tt_req *r = (tt_req *)req->data;
  if (r->calls == 0) r->first_res = res;
  r->calls++;
  r->res = res;
  r->more = tide_req_more(req);
  r->at_ns = tt_now_ns();
  r->order = tt_req_order_next++;
  if (tt_req_submitting) r->during_submit++;
  if (tt_req_loop != NULL && loop != tt_req_loop) r->wrong_loop++;
}

static inline void tt_req_init(tt_req *r) {
  memset(r, 0, sizeof *r);
  r->req.data = r;
}

/* TT_SUBMIT(tide_x(...)): evaluates the submit call with tt_req_submitting set,
 * so a callback that runs inside the submit is counted in during_submit. */
static inline void tt__submit_enter(void) { tt_req_submitting = 1; }
static inline int tt__submit_leave(int rc) {
  tt_req_submitting = 0;
  return rc;
}
#define TT_SUBMIT(call) (tt__submit_enter(), tt__submit_leave(call))

/* tt_watchdog_start / tt_run_for on zeroed storage. tide_X_init() refuses
 * (-EINVAL) memory that carries the library's watcher signature and a non-zero
 * "pending" field, which stale stack bytes of an earlier frame's watcher can do;
 * zeroing first keeps these helpers deterministic. */
static inline void tt_watchdog_begin(tide_loop *loop, tt_watchdog *wd, uint64_t ns) {
  memset(wd, 0, sizeof *wd);
  tt_watchdog_start(loop, wd, ns);
}

static inline int tt_run_for0(tide_loop *loop, uint64_t ns) {
  tide_timer t;
  memset(&t, 0, sizeof t);
  cr_assert_eq(tide_timer_init(&t, tt__stop_cb, ns, 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  return rc;
}

/* Runs the loop one iteration at a time until *count >= want, for at most
 * bound_ns (a watchdog timer). Returns 1 if reached, 0 if the bound expired. */
static inline int tt_run_until(tide_loop *loop, const volatile int *count, int want,
                               uint64_t bound_ns) {
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, bound_ns);
  while (*count < want && !wd.fired) {
    int rc = tide_run(loop, TIDE_RUN_ONCE);
    cr_assert_geq(rc, 0, "tide_run: %d (%s)", rc, tide_strerror(rc));
  }
  tt_watchdog_stop(loop, &wd);
  return *count >= want;
}

/* ---- a one-shot timer that acts on an fd later: writes data, closes the fd, or
 * shuts its write side down. at_ns: CLOCK_MONOTONIC when it acted (0 if not yet);
 * rc: the syscall's result. */
#define TT_LATER_WRITE 0
#define TT_LATER_CLOSE 1
#define TT_LATER_SHUTWR 2
typedef struct {
  tide_timer t;
  int fd;
  int action;
  const void *data;
  size_t len;
  uint64_t at_ns;
  long rc;
} tt_later;

static inline void tt__later_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)loop;
  (void)revents;
  tt_later *l = (tt_later *)t->data;
  if (l->action == TT_LATER_WRITE)
    l->rc = (long)write(l->fd, l->data, l->len);
  else if (l->action == TT_LATER_CLOSE)
    l->rc = close(l->fd);
  else
    l->rc = shutdown(l->fd, SHUT_WR);
  l->at_ns = tt_now_ns();
}

static inline void tt_later_start(tide_loop *loop, tt_later *l, uint64_t after_ns, int fd,
                                  int action, const void *data, size_t len) {
  memset(l, 0, sizeof *l);
  l->fd = fd;
  l->action = action;
  l->data = data;
  l->len = len;
  cr_assert_eq(tide_timer_init(&l->t, tt__later_cb, after_ns, 0), 0);
  l->t.data = l;
  cr_assert_eq(tide_timer_start(loop, &l->t), 0);
}

/* ---- fds */
static inline void tt_set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  cr_assert_geq(fl, 0, "F_GETFL: %s", strerror(errno));
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  cr_assert_eq(fcntl(fd, F_SETFL, fl), 0, "F_SETFL: %s", strerror(errno));
}

/* 1 if fd is an open file descriptor. */
static inline int tt_fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

/* A listening TCP socket on 127.0.0.1, ephemeral port, backlog 4096; *addr gets
 * its address. */
static inline int tt_tcp_listener(int nonblock, struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0, "bind: %s", strerror(errno));
  cr_assert_eq(listen(fd, 4096), 0, "listen: %s", strerror(errno));
  socklen_t len = sizeof *addr;
  cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
  return fd;
}

/* A connected TCP pair over 127.0.0.1: sv[0] the connecting side, sv[1] the
 * accepted side; both non-blocking, close-on-exec, TCP_NODELAY. */
static inline void tt_tcp_pair(int sv[2]) {
  struct sockaddr_in a;
  int l = tt_tcp_listener(0, &a);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq(c, 0);
  cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
  int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  cr_assert_geq(s, 0, "accept4: %s", strerror(errno));
  close(l);
  tt_set_nonblock(c, 1);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sv[0] = c;
  sv[1] = s;
}

/* Writes all n bytes to fd (blocking or not: waits with poll on EAGAIN, at most
 * timeout_ms per wait). Returns n, or the count written before an error/timeout. */
static inline size_t tt_write_all(int fd, const void *buf, size_t n, int timeout_ms) {
  size_t done = 0;
  while (done < n) {
    ssize_t k = write(fd, (const char *)buf + done, n - done);
    if (k > 0) {
      done += (size_t)k;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else if (k < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, timeout_ms) <= 0) break;
    } else {
      break;
    }
  }
  return done;
}

/* Reads exactly n bytes from fd (waits with poll on EAGAIN, at most timeout_ms
 * per wait). Returns the count read (< n on EOF, error or timeout). */
static inline size_t tt_read_exact(int fd, void *buf, size_t n, int timeout_ms) {
  size_t done = 0;
  while (done < n) {
    ssize_t k = read(fd, (char *)buf + done, n - done);
    if (k > 0) {
      done += (size_t)k;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else if (k < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      if (poll(&pfd, 1, timeout_ms) <= 0) break;
    } else {
      break;
    }
  }
  return done;
}

/* Fills a non-blocking socket's send buffer until EAGAIN; returns the bytes written. */
static inline size_t tt_fill_socket(int fd) {
  static char junk[65536];
  size_t total = 0;
  for (;;) {
    ssize_t k = send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) {
      total += (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN && sizeof junk > 1) {
      /* top up with small writes: the last bytes of room */
      char one = 0;
      while (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) total++;
    }
    return total;
  }
}

/* ---- data patterns and checksums */
static inline unsigned char tt_pattern_byte(uint64_t i) {
  return (unsigned char)((i * 2654435761u) >> 13 ^ (i >> 9));
}

static inline void tt_fill_pattern(void *buf, size_t n, uint64_t start) {
  unsigned char *p = (unsigned char *)buf;
  for (size_t i = 0; i < n; i++) p[i] = tt_pattern_byte(start + i);
}

/* Index of the first byte that differs from the pattern, or n. */
static inline size_t tt_check_pattern(const void *buf, size_t n, uint64_t start) {
  const unsigned char *p = (const unsigned char *)buf;
  for (size_t i = 0; i < n; i++)
    if (p[i] != tt_pattern_byte(start + i)) return i;
  return n;
}

#define TT_FNV1A_INIT 0xcbf29ce484222325ull
static inline uint64_t tt_fnv1a(uint64_t h, const void *buf, size_t n) {
  const unsigned char *p = (const unsigned char *)buf;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* ---- temporary directories: tt_tmpdir() creates one (path: >= 256 bytes),
 * tt_rmtree() removes it and everything below it. */
static inline void tt_tmpdir(char *path) {
  const char *base = getenv("TMPDIR");
  if (base == NULL || *base == '\0') base = "/tmp";
  snprintf(path, 256, "%s/tide-req-XXXXXX", base);
  cr_assert_not_null(mkdtemp(path), "mkdtemp(%s): %s", path, strerror(errno));
}

static inline int tt__rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb;
  (void)flag;
  (void)f;
  return remove(p);
}

static inline void tt_rmtree(const char *path) {
  if (path != NULL && path[0] != '\0') nftw(path, tt__rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* TIDE_TESTS_COMMON_REQ_H */
