/* SPDX-License-Identifier: MIT */
/*
 * test_req_basic.c - completion requests, one operation at a time: nop,
 * read/write (pipes, regular files, offsets, short reads, EOF), readv/writev,
 * recv/send (socketpair, TCP loopback), recvmsg/sendmsg with SCM_RIGHTS,
 * accept/connect (non-blocking and blocking sockets), shutdown, close, the path
 * and file operations in a temporary directory, splice, sleep, work; and the
 * shared rules: callbacks never inside the submit, -EBUSY while in flight,
 * resubmission from the callback, requests keep tide_run alive (tide_unref
 * applies), tide_loop_free refuses while requests are in flight, bad input.
 *
 * Every test runs on the backend named by TIDE_TEST_BACKEND (tests/common.h).
 */
#include "common.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

TestSuite(req, .timeout = 30);

/* A loop for a request test: callbacks check that they get this loop. */
static tide_loop *req_loop(void) {
  tide_loop *loop = tt_loop();
  tt_req_loop = loop;
  tt_req_order_next = 0;
  return loop;
}

/* Checks a completed submit: it returned 0, did not call back inside the call,
 * then exactly one callback came (within 10 s). Returns its res. */
static ssize_t run1_(tide_loop *loop, tt_req *r, int rc, const char *what) {
  cr_assert_eq(rc, 0, "%s: submit returned %d (%s)", what, rc, tide_strerror(rc));
  cr_assert_eq(r->calls, 0, "%s: the callback ran inside the submit call", what);
  cr_assert(tt_run_until(loop, &r->calls, 1, TT_SEC(10)), "%s: no callback within 10 s", what);
  cr_assert_eq(r->calls, 1, "%s: %d callbacks", what, r->calls);
  cr_assert_eq(r->during_submit, 0, "%s: callback inside a submit", what);
  cr_assert_eq(r->wrong_loop, 0, "%s: callback got another loop pointer", what);
  cr_assert_eq(r->more, 0, "%s: tide_req_more() is %d in a single-shot callback", what, r->more);
  return r->res;
}
/* RUN1(loop, &rec, tide_x(loop, &rec.req, ...)): (re)initialise rec, submit, wait
 * for the one callback, return res. */
#define RUN1(loop, r, call) (tt_req_init(r), run1_((loop), (r), TT_SUBMIT(call), #call))

/* Temporary directory of the current test, removed by rm_tmp (.fini) even when
 * an assertion failed. */
static char g_tmp[256];
static void rm_tmp(void) {
  tt_rmtree(g_tmp);
  g_tmp[0] = '\0';
}

static int open_tmp_file(const char *name, char *path_out) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_tmp, name);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
  if (path_out != NULL) strcpy(path_out, path);
  return fd;
}

static off_t cur_pos(int fd) { return lseek(fd, 0, SEEK_CUR); }

/* ------------------------------------------------------------ nop */

Test(req, nop_completes_once_outside_the_submit) {
  tide_loop *loop = req_loop();
  tt_req r;
  /* "needs no initialisation (it may be zeroed or not)": garbage private storage */
  memset(&r, 0, sizeof r);
  memset(r.req.tide_private_, 0xA5, sizeof r.req.tide_private_);
  r.req.data = &r;
  cr_assert_eq(TT_SUBMIT(tide_nop(loop, &r.req, tt_req_cb)), 0);
  cr_assert_eq(r.calls, 0, "nop called back inside tide_nop");
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 0);
  cr_assert_eq(r.more, 0);
  cr_assert_eq(r.wrong_loop, 0);
  cr_assert_eq(r.req.data, &r, "req->data was touched by the library");
  tt_run_for0(loop, TT_MS(20));
  cr_assert_eq(r.calls, 1, "nop completed %d times", r.calls);
  /* the request is the caller's again: reuse it */
  cr_assert_eq(RUN1(loop, &r, tide_nop(loop, &r.req, tt_req_cb)), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0, "no request should be left in flight");
  tt_free(loop);
}

/* ------------------------------------------------------------ callbacks never inside submit */

static void noop_work(tide_req *req) { (void)req; }

Test(req, callbacks_never_run_inside_the_submit, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  int p[2], q[2], sv[2], sv2[2];
  tt_pipe(p);
  tt_pipe(q);
  tt_socketpair(sv);
  tt_socketpair(sv2);
  /* everything below can complete at once: data waiting, room to write */
  cr_assert_eq(write(p[1], "abcdef", 6), 6);
  cr_assert_eq(write(sv[1], "ghijkl", 6), 6);
  int f = open_tmp_file("f", NULL);
  cr_assert_eq(write(f, "0123456789", 10), 10);
  struct sockaddr_in la;
  int l = tt_tcp_listener(1, &la);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_eq(connect(c, (struct sockaddr *)&la, sizeof la), 0);
  int dupfd = dup(sv2[0]);
  cr_assert_geq(dupfd, 0);
  int closed_fd = dup(sv2[0]);
  cr_assert_geq(closed_fd, 0);
  close(closed_fd); /* a number that is not open: the op fails, in the callback */

  enum { N = 15 };
  tt_req r[N];
  for (int k = 0; k < N; k++) tt_req_init(&r[k]);
  char b0[4], b1[4], b2[4], b3[4], b4[4];
  struct iovec iov[2] = {{b3, 1}, {b4, 1}};
  int rc[N];
  int k = 0;
  rc[k] = TT_SUBMIT(tide_nop(loop, &r[k].req, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_read(loop, &r[k].req, p[0], b0, 2, -1, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_readv(loop, &r[k].req, p[0], iov, 2, -1, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_write(loop, &r[k].req, q[1], "xy", 2, -1, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_recv(loop, &r[k].req, sv[0], b1, 3, 0, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_send(loop, &r[k].req, sv[0], "zz", 2, 0, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_read(loop, &r[k].req, f, b2, 4, 0, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_sleep(loop, &r[k].req, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_work(loop, &r[k].req, noop_work, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_shutdown(loop, &r[k].req, sv2[1], SHUT_WR, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_close(loop, &r[k].req, dupfd, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_accept(loop, &r[k].req, l, NULL, NULL, SOCK_CLOEXEC, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_read(loop, &r[k].req, closed_fd, b0, 1, -1, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_fsync(loop, &r[k].req, f, 0, tt_req_cb)), k++;
  rc[k] = TT_SUBMIT(tide_nop(loop, &r[k].req, tt_req_cb)), k++;
  cr_assert_eq(k, N);
  for (int j = 0; j < N; j++) {
    cr_assert_eq(rc[j], 0, "submit #%d: %d (%s)", j, rc[j], tide_strerror(rc[j]));
    cr_assert_eq(r[j].calls, 0, "submit #%d called back inside the submit call", j);
  }
  /* wait for all of them */
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  for (;;) {
    int done = 0;
    for (int j = 0; j < N; j++) done += r[j].calls > 0;
    if (done == N || wd.fired) break;
    cr_assert_geq(tide_run(loop, TIDE_RUN_ONCE), 0);
  }
  tt_watchdog_stop(loop, &wd);
  for (int j = 0; j < N; j++) {
    cr_assert_eq(r[j].calls, 1, "request #%d: %d callbacks", j, r[j].calls);
    cr_assert_eq(r[j].during_submit, 0, "request #%d called back inside a later submit", j);
    cr_assert_eq(r[j].wrong_loop, 0);
  }
  cr_assert_eq(r[0].res, 0);
  cr_assert_eq(r[1].res, 2);
  cr_assert_eq(r[2].res, 2);
  cr_assert_eq(r[3].res, 2);
  cr_assert_eq(r[4].res, 3);
  cr_assert_eq(r[5].res, 2);
  cr_assert_eq(r[6].res, 4);
  cr_assert_eq(memcmp(b2, "0123", 4), 0);
  cr_assert_eq(r[7].res, 0);
  cr_assert_eq(r[8].res, 0);
  cr_assert_eq(r[9].res, 0);
  cr_assert_eq(r[10].res, 0);
  cr_assert_geq(r[11].res, 0, "accept: %zd (%s)", r[11].res, tide_strerror((int)r[11].res));
  cr_assert_eq(r[12].res, -EBADF, "read on a closed fd number: %zd", r[12].res);
  cr_assert_eq(r[13].res, 0);
  cr_assert_eq(r[14].res, 0);
  /* FIFO per fd: the read got "ab", the readv "cd" */
  cr_assert_eq(memcmp(b0, "ab", 2), 0);
  cr_assert_eq(b3[0], 'c');
  cr_assert_eq(b4[0], 'd');
  close((int)r[11].res);
  close(c);
  close(l);
  close(f);
  tt_close2(p);
  tt_close2(q);
  tt_close2(sv);
  tt_close2(sv2);
  tt_free(loop);
}

/* ------------------------------------------------------------ read / write: pipes */

Test(req, read_write_pipe_short_read_and_eof) {
  tide_loop *loop = req_loop();
  int p[2];
  tt_pipe(p);
  tt_req r;
  char buf[100];
  cr_assert_eq(RUN1(loop, &r, tide_write(loop, &r.req, p[1], "hello", 5, -1, 0, tt_req_cb)), 5);
  memset(buf, 0, sizeof buf);
  /* short read: 100 asked, 5 there */
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, p[0], buf, sizeof buf, -1, 0, tt_req_cb)),
               5);
  cr_assert_eq(memcmp(buf, "hello", 5), 0);
  /* a bigger transfer, then EOF */
  static char big[60000], back[60000];
  tt_fill_pattern(big, sizeof big, 7);
  ssize_t n = RUN1(loop, &r, tide_write(loop, &r.req, p[1], big, sizeof big, -1, 0, tt_req_cb));
  cr_assert(n > 0 && n <= (ssize_t)sizeof big, "write of 60000 into an empty pipe: %zd", n);
  size_t got = 0;
  while (got < (size_t)n) {
    ssize_t k = RUN1(loop, &r,
                     tide_read(loop, &r.req, p[0], back + got, sizeof back - got, -1, 0, tt_req_cb));
    cr_assert_gt(k, 0, "read: %zd", k);
    got += (size_t)k;
  }
  cr_assert_eq(got, (size_t)n);
  cr_assert_eq(tt_check_pattern(back, got, 7), got, "data differs");
  close(p[1]);
  p[1] = -1;
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, p[0], buf, sizeof buf, -1, 0, tt_req_cb)), 0,
               "EOF gives 0");
  /* EOF again, and with TIDE_ALL */
  cr_assert_eq(
      RUN1(loop, &r, tide_read(loop, &r.req, p[0], buf, sizeof buf, -1, TIDE_ALL, tt_req_cb)), 0);
  tt_close2(p);
  tt_free(loop);
}

Test(req, read_zero_length_with_null_buffer) {
  tide_loop *loop = req_loop();
  int p[2];
  tt_pipe(p);
  cr_assert(tt_write1(p[1]));
  tt_req r;
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, p[0], NULL, 0, -1, 0, tt_req_cb)), 0);
  cr_assert_eq(tt_drain(p[0]), 1, "a zero-length read consumed data");
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ read / write: regular files */

Test(req, read_write_regular_file_offsets, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  int fd = open_tmp_file("data", NULL);
  tt_req r;
  char buf[128];

  /* offset -1: current position, advanced */
  cr_assert_eq(RUN1(loop, &r, tide_write(loop, &r.req, fd, "0123456789", 10, -1, 0, tt_req_cb)),
               10);
  cr_assert_eq(cur_pos(fd), 10, "write at -1 did not advance the position");
  /* explicit offset: position unchanged */
  cr_assert_eq(RUN1(loop, &r, tide_write(loop, &r.req, fd, "abc", 3, 2, 0, tt_req_cb)), 3);
  cr_assert_eq(cur_pos(fd), 10, "write at an explicit offset moved the position");
  /* content is now 01abc56789; at the position (10) is EOF */
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, -1, 0, tt_req_cb)), 0);
  cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
  memset(buf, 0, sizeof buf);
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, 4, -1, 0, tt_req_cb)), 4);
  cr_assert_eq(memcmp(buf, "01ab", 4), 0, "got '%.4s'", buf);
  cr_assert_eq(cur_pos(fd), 4);
  /* explicit offset, short read at the end of the file */
  memset(buf, 0, sizeof buf);
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, 5, 0, tt_req_cb)), 5);
  cr_assert_eq(memcmp(buf, "56789", 5), 0, "got '%.5s'", buf);
  cr_assert_eq(cur_pos(fd), 4, "read at an explicit offset moved the position");
  /* EOF at and beyond the end */
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, 10, 0, tt_req_cb)), 0);
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, 1000000, 0, tt_req_cb)),
               0);
  /* the rest from the current position */
  memset(buf, 0, sizeof buf);
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, -1, 0, tt_req_cb)), 6);
  cr_assert_eq(memcmp(buf, "c56789", 6), 0, "got '%.6s'", buf);
  cr_assert_eq(cur_pos(fd), 10);
  /* TIDE_ALL on a file stops at EOF with the count */
  cr_assert_eq(
      RUN1(loop, &r, tide_read(loop, &r.req, fd, buf, sizeof buf, 0, TIDE_ALL, tt_req_cb)), 10);
  /* a larger write at a far offset, read back with TIDE_ALL */
  size_t big = 1u << 20;
  char *w = malloc(big), *b = malloc(big);
  cr_assert(w != NULL && b != NULL);
  tt_fill_pattern(w, big, 99);
  cr_assert_eq(
      RUN1(loop, &r, tide_write(loop, &r.req, fd, w, big, 1 << 16, TIDE_ALL, tt_req_cb)),
      (ssize_t)big);
  memset(b, 0, big);
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, fd, b, big, 1 << 16, TIDE_ALL, tt_req_cb)),
               (ssize_t)big);
  cr_assert_eq(tt_check_pattern(b, big, 99), big);
  struct stat st;
  cr_assert_eq(fstat(fd, &st), 0);
  cr_assert_eq(st.st_size, (off_t)((1 << 16) + big));
  free(w);
  free(b);
  close(fd);
  tt_free(loop);
}

/* ------------------------------------------------------------ readv / writev */

Test(req, readv_writev_file_and_pipe, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  int fd = open_tmp_file("v", NULL);
  tt_req r;
  char a[] = "abc", b[] = "defg", c[] = "hi";
  struct iovec wv[3] = {{a, 3}, {b, 4}, {c, 2}};
  cr_assert_eq(RUN1(loop, &r, tide_writev(loop, &r.req, fd, wv, 3, 0, 0, tt_req_cb)), 9);
  cr_assert_eq(cur_pos(fd), 0, "writev at offset 0 moved the position");
  char x[4], y[10];
  memset(x, 0, sizeof x);
  memset(y, 0, sizeof y);
  struct iovec rv[2] = {{x, sizeof x}, {y, sizeof y}};
  cr_assert_eq(RUN1(loop, &r, tide_readv(loop, &r.req, fd, rv, 2, 1, 0, tt_req_cb)), 8);
  cr_assert_eq(memcmp(x, "bcde", 4), 0);
  cr_assert_eq(memcmp(y, "fghi", 4), 0);
  /* -1: at and advancing the position */
  cr_assert_eq(RUN1(loop, &r, tide_writev(loop, &r.req, fd, wv, 2, -1, 0, tt_req_cb)), 7);
  cr_assert_eq(cur_pos(fd), 7);
  cr_assert_eq(lseek(fd, 3, SEEK_SET), 3);
  memset(x, 0, sizeof x);
  struct iovec rv1[1] = {{x, sizeof x}};
  cr_assert_eq(RUN1(loop, &r, tide_readv(loop, &r.req, fd, rv1, 1, -1, 0, tt_req_cb)), 4);
  cr_assert_eq(memcmp(x, "defg", 4), 0);
  cr_assert_eq(cur_pos(fd), 7);
  close(fd);

  /* pipe */
  int p[2];
  tt_pipe(p);
  cr_assert_eq(RUN1(loop, &r, tide_writev(loop, &r.req, p[1], wv, 3, -1, 0, tt_req_cb)), 9);
  char z1[2], z2[16];
  memset(z2, 0, sizeof z2);
  struct iovec pv[2] = {{z1, sizeof z1}, {z2, sizeof z2}};
  cr_assert_eq(RUN1(loop, &r, tide_readv(loop, &r.req, p[0], pv, 2, -1, 0, tt_req_cb)), 9);
  cr_assert_eq(memcmp(z1, "ab", 2), 0);
  cr_assert_eq(memcmp(z2, "cdefghi", 7), 0);
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ recv / send */

Test(req, recv_send_socketpair_peek_eof_epipe) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  tt_req r;
  char buf[64];
  cr_assert_eq(RUN1(loop, &r, tide_send(loop, &r.req, sv[1], "ping", 4, 0, 0, tt_req_cb)), 4);
  /* msg_flags reach recv(2): MSG_PEEK leaves the data */
  memset(buf, 0, sizeof buf);
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[0], buf, 2, MSG_PEEK, 0, tt_req_cb)), 2);
  cr_assert_eq(memcmp(buf, "pi", 2), 0);
  memset(buf, 0, sizeof buf);
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb)), 4);
  cr_assert_eq(memcmp(buf, "ping", 4), 0);
  /* peer closed: recv gives 0, send gives -EPIPE and no SIGPIPE (the process
   * would die of it: SIGPIPE is at its default here) */
  close(sv[1]);
  sv[1] = -1;
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb)), 0);
  cr_assert_eq(RUN1(loop, &r, tide_send(loop, &r.req, sv[0], "x", 1, 0, 0, tt_req_cb)), -EPIPE);
  tt_close2(sv);
  tt_free(loop);
}

Test(req, recv_send_tcp_loopback) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_tcp_pair(sv);
  tt_req s, r;
  enum { LEN = 200000 };
  char *out = malloc(LEN), *in = malloc(LEN);
  cr_assert(out != NULL && in != NULL);
  tt_fill_pattern(out, LEN, 1234);
  /* without TIDE_ALL a send may be short: loop on the result, with recvs queued */
  size_t sent = 0, got = 0;
  tt_req_init(&s);
  tt_req_init(&r);
  cr_assert_eq(tide_send(loop, &s.req, sv[0], out, LEN, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_recv(loop, &r.req, sv[1], in, LEN, 0, 0, tt_req_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  while ((sent < LEN || got < LEN) && !wd.fired) {
    cr_assert_geq(tide_run(loop, TIDE_RUN_ONCE), 0);
    if (s.calls == 1) {
      cr_assert_gt(s.res, 0, "send: %zd (%s)", s.res, tide_strerror((int)s.res));
      sent += (size_t)s.res;
      tt_req_init(&s);
      if (sent < LEN)
        cr_assert_eq(tide_send(loop, &s.req, sv[0], out + sent, LEN - sent, 0, 0, tt_req_cb), 0);
    }
    if (r.calls == 1) {
      cr_assert_gt(r.res, 0, "recv: %zd (%s)", r.res, tide_strerror((int)r.res));
      got += (size_t)r.res;
      tt_req_init(&r);
      if (got < LEN)
        cr_assert_eq(tide_recv(loop, &r.req, sv[1], in + got, LEN - got, 0, 0, tt_req_cb), 0);
    }
  }
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(wd.fired, 0, "transfer stalled: sent %zu, received %zu", sent, got);
  cr_assert_eq(sent, (size_t)LEN);
  cr_assert_eq(got, (size_t)LEN);
  cr_assert_eq(tt_check_pattern(in, LEN, 1234), (size_t)LEN, "data differs");
  /* EOF after the peer's shutdown */
  cr_assert_eq(shutdown(sv[0], SHUT_WR), 0);
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[1], in, 16, 0, 0, tt_req_cb)), 0);
  free(out);
  free(in);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ recvmsg / sendmsg */

Test(req, recvmsg_sendmsg_pass_an_fd) {
  tide_loop *loop = req_loop();
  int sv[2], p[2];
  tt_socketpair(sv);
  tt_pipe(p);

  /* the receive is queued first: it waits for the message */
  char rdata[16];
  memset(rdata, 0, sizeof rdata);
  struct iovec riov = {rdata, sizeof rdata};
  union {
    char buf[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } rctl;
  memset(&rctl, 0, sizeof rctl);
  struct msghdr rmsg;
  memset(&rmsg, 0, sizeof rmsg);
  rmsg.msg_iov = &riov;
  rmsg.msg_iovlen = 1;
  rmsg.msg_control = rctl.buf;
  rmsg.msg_controllen = sizeof rctl.buf;
  tt_req rr, sr;
  tt_req_init(&rr);
  tt_req_init(&sr);
  cr_assert_eq(TT_SUBMIT(tide_recvmsg(loop, &rr.req, sv[1], &rmsg, MSG_CMSG_CLOEXEC, tt_req_cb)),
               0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(rr.calls, 0, "recvmsg completed without a message");

  char sdata[] = "fd!";
  struct iovec siov = {sdata, 3};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } sctl;
  memset(&sctl, 0, sizeof sctl);
  struct msghdr smsg;
  memset(&smsg, 0, sizeof smsg);
  smsg.msg_iov = &siov;
  smsg.msg_iovlen = 1;
  smsg.msg_control = sctl.buf;
  smsg.msg_controllen = sizeof sctl.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&smsg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
  cr_assert_eq(TT_SUBMIT(tide_sendmsg(loop, &sr.req, sv[0], &smsg, 0, tt_req_cb)), 0);

  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  while ((rr.calls == 0 || sr.calls == 0) && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(sr.calls, 1);
  cr_assert_eq(rr.calls, 1);
  cr_assert_eq(sr.res, 3, "sendmsg: %zd", sr.res);
  cr_assert_eq(rr.res, 3, "recvmsg: %zd (%s)", rr.res, tide_strerror((int)rr.res));
  cr_assert_eq(memcmp(rdata, "fd!", 3), 0);
  cr_assert_eq(rmsg.msg_flags & MSG_CTRUNC, 0, "control data truncated");
  struct cmsghdr *rc = CMSG_FIRSTHDR(&rmsg);
  cr_assert_not_null(rc, "no control message received (msg_controllen %zu)",
                     (size_t)rmsg.msg_controllen);
  cr_assert_eq(rc->cmsg_level, SOL_SOCKET);
  cr_assert_eq(rc->cmsg_type, SCM_RIGHTS);
  cr_assert_eq(rc->cmsg_len, CMSG_LEN(sizeof(int)));
  int got;
  memcpy(&got, CMSG_DATA(rc), sizeof got);
  cr_assert_geq(got, 0);
  cr_assert_neq(got, p[1]);
  cr_assert(fcntl(got, F_GETFD) & FD_CLOEXEC, "MSG_CMSG_CLOEXEC did not reach recvmsg(2)");
  /* the passed fd is the pipe's write end */
  cr_assert(tt_write1(got));
  char ch = 0;
  cr_assert_eq(read(p[0], &ch, 1), 1);
  cr_assert_eq(ch, 'x');
  close(got);
  tt_close2(p);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ accept / connect */

static unsigned short port_of(const struct sockaddr_in *a) { return ntohs(a->sin_port); }

static void accept_connect(int blocking) {
  tide_loop *loop = req_loop();
  struct sockaddr_in la;
  int l = tt_tcp_listener(!blocking, &la);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  cr_assert_geq(c, 0);
  struct sockaddr_in peer;
  memset(&peer, 0xff, sizeof peer);
  socklen_t plen = sizeof peer;
  tt_req a, cn;
  tt_req_init(&a);
  tt_req_init(&cn);
  int sflags = blocking ? 0 : (SOCK_NONBLOCK | SOCK_CLOEXEC);
  /* accept before any connection: must not block the loop */
  cr_assert_eq(TT_SUBMIT(tide_accept(loop, &a.req, l, (struct sockaddr *)&peer, &plen, sflags, 0,
                                     tt_req_cb)),
               0);
  for (int k = 0; k < 3; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(a.calls, 0, "accept completed without a connection: %zd", a.res);
  /* the address is copied: scribble over it after the submit */
  struct sockaddr_in to = la;
  cr_assert_eq(
      TT_SUBMIT(tide_connect(loop, &cn.req, c, (struct sockaddr *)&to, sizeof to, tt_req_cb)), 0);
  memset(&to, 0, sizeof to);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  while ((a.calls == 0 || cn.calls == 0) && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(cn.calls, 1);
  cr_assert_eq(a.calls, 1);
  cr_assert_eq(cn.res, 0, "connect: %zd (%s)", cn.res, tide_strerror((int)cn.res));
  cr_assert_geq(a.res, 0, "accept: %zd (%s)", a.res, tide_strerror((int)a.res));
  cr_assert_eq(a.during_submit + cn.during_submit, 0);
  int s = (int)a.res;
  /* the peer address is the client's */
  struct sockaddr_in me;
  socklen_t mlen = sizeof me;
  cr_assert_eq(getsockname(c, (struct sockaddr *)&me, &mlen), 0);
  cr_assert_eq(plen, (socklen_t)sizeof(struct sockaddr_in), "addrlen %u", (unsigned)plen);
  cr_assert_eq(peer.sin_family, AF_INET);
  cr_assert_eq(port_of(&peer), port_of(&me), "accept's address has port %u, client's is %u",
               port_of(&peer), port_of(&me));
  struct sockaddr_in them;
  socklen_t tlen = sizeof them;
  cr_assert_eq(getpeername(c, (struct sockaddr *)&them, &tlen), 0, "client not connected");
  cr_assert_eq(port_of(&them), port_of(&la));
  /* sock_flags reach accept4(2) */
  int fl = fcntl(s, F_GETFL), fdfl = fcntl(s, F_GETFD);
  if (blocking) {
    cr_assert_eq(fl & O_NONBLOCK, 0, "accepted fd is non-blocking without SOCK_NONBLOCK");
    cr_assert_eq(fdfl & FD_CLOEXEC, 0, "accepted fd is close-on-exec without SOCK_CLOEXEC");
  } else {
    cr_assert(fl & O_NONBLOCK, "SOCK_NONBLOCK not applied");
    cr_assert(fdfl & FD_CLOEXEC, "SOCK_CLOEXEC not applied");
  }
  /* the two ends talk */
  tt_set_nonblock(s, 1);
  tt_set_nonblock(c, 1);
  cr_assert_eq(tt_write_all(c, "hey", 3, 5000), 3u);
  char buf[3];
  cr_assert_eq(tt_read_exact(s, buf, 3, 5000), 3u);
  cr_assert_eq(memcmp(buf, "hey", 3), 0);
  close(s);
  close(c);
  close(l);
  tt_free(loop);
}

Test(req, accept_connect_nonblocking_sockets) { accept_connect(0); }
Test(req, accept_connect_blocking_sockets) { accept_connect(1); }

Test(req, connect_refused_arrives_in_callback) {
  tide_loop *loop = req_loop();
  /* a port nobody listens on: bind, read the port, close */
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_eq(bind(t, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  cr_assert_eq(getsockname(t, (struct sockaddr *)&a, &len), 0);
  close(t);
  for (int blocking = 0; blocking < 2; blocking++) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    tt_req r;
    cr_assert_eq(
        RUN1(loop, &r, tide_connect(loop, &r.req, c, (struct sockaddr *)&a, sizeof a, tt_req_cb)),
        -ECONNREFUSED, "blocking=%d", blocking);
    close(c);
  }
  tt_free(loop);
}

Test(req, accept_reports_the_peer_address_length) {
  /* addr/addrlen semantics as accept4(2): the length is updated */
  tide_loop *loop = req_loop();
  struct sockaddr_in la;
  int l = tt_tcp_listener(1, &la);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_eq(connect(c, (struct sockaddr *)&la, sizeof la), 0);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  tt_req r;
  ssize_t s = RUN1(loop, &r,
                   tide_accept(loop, &r.req, l, (struct sockaddr *)&ss, &sl, 0, 0, tt_req_cb));
  cr_assert_geq(s, 0, "accept: %zd", s);
  cr_assert_eq(sl, (socklen_t)sizeof(struct sockaddr_in));
  cr_assert_eq(ss.ss_family, AF_INET);
  close((int)s);
  close(c);
  close(l);
  tt_free(loop);
}

/* ------------------------------------------------------------ shutdown / close */

Test(req, shutdown_write_side) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  tt_req r;
  cr_assert_eq(RUN1(loop, &r, tide_shutdown(loop, &r.req, sv[0], SHUT_WR, tt_req_cb)), 0);
  char ch;
  cr_assert_eq(read(sv[1], &ch, 1), 0, "peer does not see EOF after SHUT_WR");
  /* the read side still works */
  cr_assert(tt_write1(sv[1]));
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[0], &ch, 1, 0, 0, tt_req_cb)), 1);
  cr_assert_eq(RUN1(loop, &r, tide_shutdown(loop, &r.req, sv[0], SHUT_RD, tt_req_cb)), 0);
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, sv[0], &ch, 1, 0, 0, tt_req_cb)), 0,
               "recv after SHUT_RD");
  /* an op error: shutdown of a pipe */
  int p[2];
  tt_pipe(p);
  cr_assert_eq(RUN1(loop, &r, tide_shutdown(loop, &r.req, p[0], SHUT_RDWR, tt_req_cb)), -ENOTSOCK);
  tt_close2(p);
  tt_close2(sv);
  tt_free(loop);
}

Test(req, close_closes_the_fd, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  int sv[2];
  tt_socketpair(sv);
  tt_req r;
  cr_assert_eq(RUN1(loop, &r, tide_close(loop, &r.req, sv[0], tt_req_cb)), 0);
  cr_assert_eq(tt_fd_open(sv[0]), 0, "fd %d still open after tide_close", sv[0]);
  char ch;
  cr_assert_eq(read(sv[1], &ch, 1), 0, "peer does not see EOF");
  sv[0] = -1;
  /* a regular file */
  int f = open_tmp_file("c", NULL);
  cr_assert_eq(RUN1(loop, &r, tide_close(loop, &r.req, f, tt_req_cb)), 0);
  cr_assert_eq(tt_fd_open(f), 0);
  /* not open: the error comes in the callback */
  cr_assert_eq(RUN1(loop, &r, tide_close(loop, &r.req, f, tt_req_cb)), -EBADF);
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ file and path operations */

Test(req, path_and_file_operations_in_a_temp_dir, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  umask(022);
  int dfd = open(g_tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cr_assert_geq(dfd, 0);
  tt_req r;

  /* openat relative to dirfd; the path buffer stays valid until the callback */
  char name[] = "file";
  ssize_t fd = RUN1(loop, &r, tide_openat(loop, &r.req, dfd, name, O_RDWR | O_CREAT | O_CLOEXEC,
                                          0640, tt_req_cb));
  cr_assert_geq(fd, 0, "openat: %zd (%s)", fd, tide_strerror((int)fd));
  cr_assert(fcntl((int)fd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC not applied");
  struct stat st;
  cr_assert_eq(fstatat(dfd, "file", &st, 0), 0, "file not created");
  cr_assert_eq(st.st_mode & 0777, 0640u & ~022u);
  /* openat with AT_FDCWD and an absolute path */
  char abs[512];
  snprintf(abs, sizeof abs, "%s/file", g_tmp);
  ssize_t fd2 =
      RUN1(loop, &r, tide_openat(loop, &r.req, AT_FDCWD, abs, O_RDONLY | O_CLOEXEC, 0, tt_req_cb));
  cr_assert_geq(fd2, 0);
  close((int)fd2);
  /* an error of the operation */
  cr_assert_eq(
      RUN1(loop, &r, tide_openat(loop, &r.req, dfd, "missing", O_RDONLY, 0, tt_req_cb)), -ENOENT);

  /* write, fsync, fdatasync */
  char data[5000];
  tt_fill_pattern(data, sizeof data, 5);
  cr_assert_eq(
      RUN1(loop, &r, tide_write(loop, &r.req, (int)fd, data, sizeof data, 0, TIDE_ALL, tt_req_cb)),
      (ssize_t)sizeof data);
  cr_assert_eq(RUN1(loop, &r, tide_fsync(loop, &r.req, (int)fd, 0, tt_req_cb)), 0);
  cr_assert_eq(RUN1(loop, &r, tide_fsync(loop, &r.req, (int)fd, TIDE_DATASYNC, tt_req_cb)), 0);

  /* statx by path and by fd (AT_EMPTY_PATH) */
  struct statx stx;
  memset(&stx, 0, sizeof stx);
  cr_assert_eq(RUN1(loop, &r, tide_statx(loop, &r.req, dfd, "file", 0, STATX_SIZE | STATX_MODE,
                                         &stx, tt_req_cb)),
               0);
  cr_assert(stx.stx_mask & STATX_SIZE);
  cr_assert_eq(stx.stx_size, sizeof data);
  cr_assert(S_ISREG(stx.stx_mode));
  memset(&stx, 0, sizeof stx);
  cr_assert_eq(RUN1(loop, &r, tide_statx(loop, &r.req, (int)fd, "", AT_EMPTY_PATH, STATX_SIZE,
                                         &stx, tt_req_cb)),
               0);
  cr_assert_eq(stx.stx_size, sizeof data);
  cr_assert_eq(RUN1(loop, &r, tide_statx(loop, &r.req, dfd, "nope", 0, STATX_SIZE, &stx,
                                         tt_req_cb)),
               -ENOENT);

  /* fallocate: extends the file; with KEEP_SIZE allocates without extending */
  cr_assert_eq(RUN1(loop, &r, tide_fallocate(loop, &r.req, (int)fd, 0, 0, 1 << 20, tt_req_cb)), 0);
  cr_assert_eq(fstat((int)fd, &st), 0);
  cr_assert_eq(st.st_size, 1 << 20);
  cr_assert_eq(RUN1(loop, &r, tide_fallocate(loop, &r.req, (int)fd, FALLOC_FL_KEEP_SIZE, 1 << 20,
                                             1 << 20, tt_req_cb)),
               0);
  cr_assert_eq(fstat((int)fd, &st), 0);
  cr_assert_eq(st.st_size, 1 << 20, "KEEP_SIZE changed the size");
  cr_assert_geq((long long)st.st_blocks * 512, 2ll << 20, "blocks not allocated: %lld",
                (long long)st.st_blocks);
  /* the data written before is intact */
  char back[sizeof data];
  cr_assert_eq(pread((int)fd, back, sizeof back, 0), (ssize_t)sizeof back);
  cr_assert_eq(memcmp(back, data, sizeof data), 0);

  /* mkdirat */
  cr_assert_eq(RUN1(loop, &r, tide_mkdirat(loop, &r.req, dfd, "dir", 0750, tt_req_cb)), 0);
  cr_assert_eq(fstatat(dfd, "dir", &st, 0), 0);
  cr_assert(S_ISDIR(st.st_mode));
  cr_assert_eq(st.st_mode & 0777, 0750u);
  cr_assert_eq(RUN1(loop, &r, tide_mkdirat(loop, &r.req, dfd, "dir", 0750, tt_req_cb)), -EEXIST);

  /* renameat (renameat2 flags) */
  cr_assert_eq(RUN1(loop, &r, tide_renameat(loop, &r.req, dfd, "file", dfd, "dir/moved", 0,
                                            tt_req_cb)),
               0);
  cr_assert_neq(fstatat(dfd, "file", &st, 0), 0, "old name still exists");
  cr_assert_eq(fstatat(dfd, "dir/moved", &st, 0), 0, "new name missing");
  cr_assert_eq(st.st_size, 1 << 20);
  int other = openat(dfd, "other", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  cr_assert_geq(other, 0);
  close(other);
  cr_assert_eq(RUN1(loop, &r, tide_renameat(loop, &r.req, dfd, "other", dfd, "dir/moved",
                                            RENAME_NOREPLACE, tt_req_cb)),
               -EEXIST, "RENAME_NOREPLACE did not reach renameat2");
  cr_assert_eq(fstatat(dfd, "other", &st, 0), 0);

  /* unlinkat: a file, a non-empty dir, an empty dir, a missing name */
  cr_assert_eq(RUN1(loop, &r, tide_unlinkat(loop, &r.req, dfd, "other", 0, tt_req_cb)), 0);
  cr_assert_neq(fstatat(dfd, "other", &st, 0), 0);
  cr_assert_eq(RUN1(loop, &r, tide_unlinkat(loop, &r.req, dfd, "dir", AT_REMOVEDIR, tt_req_cb)),
               -ENOTEMPTY);
  cr_assert_eq(RUN1(loop, &r, tide_unlinkat(loop, &r.req, dfd, "dir/moved", 0, tt_req_cb)), 0);
  cr_assert_eq(RUN1(loop, &r, tide_unlinkat(loop, &r.req, dfd, "dir", AT_REMOVEDIR, tt_req_cb)), 0);
  cr_assert_neq(fstatat(dfd, "dir", &st, 0), 0);
  cr_assert_eq(RUN1(loop, &r, tide_unlinkat(loop, &r.req, dfd, "dir", 0, tt_req_cb)), -ENOENT);

  /* fsync of an fd number that is not open: in the callback */
  close((int)fd);
  cr_assert_eq(RUN1(loop, &r, tide_fsync(loop, &r.req, (int)fd, 0, tt_req_cb)), -EBADF);
  close(dfd);
  tt_free(loop);
}

/* ------------------------------------------------------------ splice */

Test(req, splice_between_pipe_and_file, .fini = rm_tmp) {
  tide_loop *loop = req_loop();
  tt_tmpdir(g_tmp);
  int f = open_tmp_file("s", NULL);
  char data[8192];
  tt_fill_pattern(data, sizeof data, 77);
  cr_assert_eq(write(f, data, sizeof data), (ssize_t)sizeof data);
  cr_assert_eq(lseek(f, 0, SEEK_SET), 0);
  int p[2];
  tt_pipe(p);
  tt_req r;
  /* file (explicit offset) -> pipe */
  cr_assert_eq(RUN1(loop, &r, tide_splice(loop, &r.req, f, 100, p[1], -1, 1000, 0, tt_req_cb)),
               1000);
  char back[8192];
  cr_assert_eq(read(p[0], back, sizeof back), 1000);
  cr_assert_eq(memcmp(back, data + 100, 1000), 0, "spliced data differs");
  cr_assert_eq(cur_pos(f), 0, "splice at an explicit offset moved the position");
  /* file (current position) -> pipe */
  cr_assert_eq(lseek(f, 50, SEEK_SET), 50);
  cr_assert_eq(RUN1(loop, &r, tide_splice(loop, &r.req, f, -1, p[1], -1, 10, 0, tt_req_cb)), 10);
  cr_assert_eq(read(p[0], back, sizeof back), 10);
  cr_assert_eq(memcmp(back, data + 50, 10), 0);
  cr_assert_eq(cur_pos(f), 60, "splice at -1 did not advance the position");
  /* pipe -> file at an offset beyond the end */
  char in[3000];
  tt_fill_pattern(in, sizeof in, 5000);
  cr_assert_eq(write(p[1], in, sizeof in), (ssize_t)sizeof in);
  cr_assert_eq(
      RUN1(loop, &r, tide_splice(loop, &r.req, p[0], -1, f, 20000, sizeof in, 0, tt_req_cb)),
      (ssize_t)sizeof in);
  cr_assert_eq(pread(f, back, sizeof in, 20000), (ssize_t)sizeof in);
  cr_assert_eq(memcmp(back, in, sizeof in), 0);
  /* from an empty pipe: waits for data, does not fail with EAGAIN */
  tt_later dw;
  tt_req_init(&r);
  cr_assert_eq(TT_SUBMIT(tide_splice(loop, &r.req, p[0], -1, f, 0, 5, 0, tt_req_cb)), 0);
  tt_later_start(loop, &dw, TT_MS(30), p[1], TT_LATER_WRITE, "HELLO", 5);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)));
  cr_assert_eq(r.res, 5, "splice from an empty pipe: %zd (%s)", r.res, tide_strerror((int)r.res));
  cr_assert_eq(dw.rc, 5);
  cr_assert_geq(r.at_ns, dw.at_ns, "splice completed before the data was written");
  cr_assert_eq(pread(f, back, 5, 0), 5);
  cr_assert_eq(memcmp(back, "HELLO", 5), 0);
  tt_close2(p);
  close(f);
  tt_free(loop);
}

/* ------------------------------------------------------------ sleep */

Test(req, sleep_is_never_early_and_ordered) {
  tide_loop *loop = req_loop();
  tt_req r[4];
  const uint64_t ns[4] = {TT_MS(40), TT_MS(15), TT_MS(1), 0};
  uint64_t t0[4];
  for (int k = 0; k < 4; k++) {
    tt_req_init(&r[k]);
    t0[k] = tt_now_ns();
    cr_assert_eq(TT_SUBMIT(tide_sleep(loop, &r[k].req, ns[k], tt_req_cb)), 0);
    cr_assert_eq(r[k].calls, 0);
  }
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0, "the sleeps keep the loop alive until done");
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  for (int k = 0; k < 4; k++) {
    cr_assert_eq(r[k].calls, 1, "sleep %d: %d callbacks", k, r[k].calls);
    cr_assert_eq(r[k].res, 0);
    cr_assert_geq(r[k].at_ns - t0[k], ns[k], "sleep of %llu ns completed after %llu ns",
                  (unsigned long long)ns[k], (unsigned long long)(r[k].at_ns - t0[k]));
  }
  cr_assert_lt(r[3].order, r[2].order);
  cr_assert_lt(r[2].order, r[1].order);
  cr_assert_lt(r[1].order, r[0].order);
  tt_free(loop);
}

Test(req, sleep_counts_from_the_submit_not_the_stale_loop_time) {
  tide_loop *loop = req_loop();
  tt_run_for0(loop, TT_MS(1)); /* the loop time is now cached ... */
  tt_spin_ns(TT_MS(30));      /* ... and 30 ms stale */
  tt_req r;
  tt_req_init(&r);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_sleep(loop, &r.req, TT_MS(20), tt_req_cb), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 0);
  cr_assert_geq(r.at_ns - t0, TT_MS(20), "sleep(20 ms) completed after %llu us",
                (unsigned long long)((r.at_ns - t0) / 1000));
  tt_free(loop);
}

/* ------------------------------------------------------------ work */

struct work_rec {
  tt_req r;
  pthread_t fn_thread;
  atomic_int fn_ran;
  pthread_t cb_thread;
  int fn_ran_at_cb;
  int calls;
  ssize_t res;
};

static void work_fn(tide_req *req) {
  struct work_rec *w = req->data;
  w->fn_thread = pthread_self();
  atomic_store(&w->fn_ran, 1);
}

static void work_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  struct work_rec *w = req->data;
  w->cb_thread = pthread_self();
  w->fn_ran_at_cb = atomic_load(&w->fn_ran);
  w->calls++;
  w->res = res;
}

Test(req, work_runs_on_a_pool_thread_and_completes_on_the_loop) {
  tide_loop *loop = req_loop();
  enum { N = 16 };
  struct work_rec w[N];
  pthread_t me = pthread_self();
  for (int k = 0; k < N; k++) {
    memset(&w[k], 0, sizeof w[k]);
    atomic_init(&w[k].fn_ran, 0);
    w[k].r.req.data = &w[k];
    cr_assert_eq(TT_SUBMIT(tide_work(loop, &w[k].r.req, work_fn, work_cb)), 0);
    cr_assert_eq(w[k].calls, 0);
  }
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  for (int k = 0; k < N; k++) {
    cr_assert_eq(w[k].calls, 1, "work %d: %d callbacks", k, w[k].calls);
    cr_assert_eq(w[k].res, 0);
    cr_assert_eq(w[k].fn_ran_at_cb, 1, "callback before the function ran");
    cr_assert(!pthread_equal(w[k].fn_thread, me), "work function ran on the loop thread");
    cr_assert(pthread_equal(w[k].cb_thread, me), "callback did not run on the loop thread");
  }
  tt_free(loop);
}

/* ------------------------------------------------------------ in flight: -EBUSY */

static int g_wrong_cb_calls;
static void wrong_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  (void)req;
  (void)res;
  g_wrong_cb_calls++;
}

Test(req, submit_while_in_flight_is_ebusy) {
  tide_loop *loop = req_loop();
  int sv[2], p[2];
  tt_socketpair(sv);
  tt_pipe(p);
  tt_req r;
  tt_req_init(&r);
  char buf[8], other[8];
  memset(buf, 0, sizeof buf);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  g_wrong_cb_calls = 0;
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], other, sizeof other, 0, 0, wrong_cb), -EBUSY);
  cr_assert_eq(tide_nop(loop, &r.req, wrong_cb), -EBUSY);
  cr_assert_eq(tide_sleep(loop, &r.req, 1, wrong_cb), -EBUSY);
  cr_assert_eq(tide_read(loop, &r.req, p[0], other, 1, -1, 0, wrong_cb), -EBUSY);
  cr_assert_eq(tide_work(loop, &r.req, noop_work, wrong_cb), -EBUSY);
  cr_assert_eq(tide_req_set_timeout(&r.req, TT_MS(1)), -EBUSY);
  /* on another loop too */
  tide_loop *loop2 = tt_loop();
  cr_assert_eq(tide_nop(loop2, &r.req, wrong_cb), -EBUSY);
  cr_assert_eq(tide_run(loop2, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(tide_loop_free(loop2), 0);
  /* the original request is intact */
  cr_assert_eq(write(sv[1], "data", 4), 4);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)));
  tt_run_for0(loop, TT_MS(20));
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.res, 4);
  cr_assert_eq(memcmp(buf, "data", 4), 0);
  cr_assert_eq(g_wrong_cb_calls, 0, "a refused submit called back");
  /* once completed, it can be submitted again */
  cr_assert_eq(RUN1(loop, &r, tide_nop(loop, &r.req, tt_req_cb)), 0);
  tt_close2(sv);
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ resubmit from the callback */

struct chain {
  tide_req req;
  int fd;
  char buf[16];
  int n, max;
  int depth, max_depth;
  ssize_t bad;
};

static void chain_read_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct chain *c = req->data;
  c->depth++;
  if (c->depth > c->max_depth) c->max_depth = c->depth;
  if (res != 1) c->bad = res == 0 ? -9999 : res;
  c->n++;
  if (c->n < c->max) {
    int rc = tide_read(loop, req, c->fd, c->buf + c->n, 1, -1, 0, chain_read_cb);
    if (rc != 0) c->bad = rc;
  }
  c->depth--;
}

static void chain_nop_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct chain *c = req->data;
  c->depth++;
  if (c->depth > c->max_depth) c->max_depth = c->depth;
  if (res != 0) c->bad = res;
  c->n++;
  if (c->n < c->max) {
    int rc = tide_nop(loop, req, chain_nop_cb);
    if (rc != 0) c->bad = rc;
  }
  c->depth--;
}

Test(req, resubmit_from_its_own_callback) {
  tide_loop *loop = req_loop();
  int p[2];
  tt_pipe(p);
  cr_assert_eq(write(p[1], "abcde", 5), 5);
  struct chain c;
  memset(&c, 0, sizeof c);
  c.req.data = &c;
  c.fd = p[0];
  c.max = 5;
  cr_assert_eq(tide_read(loop, &c.req, p[0], c.buf, 1, -1, 0, chain_read_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(c.bad, 0, "error %zd", c.bad);
  cr_assert_eq(c.n, 5);
  cr_assert_eq(memcmp(c.buf, "abcde", 5), 0, "got '%.5s'", c.buf);
  cr_assert_eq(c.max_depth, 1, "the callback ran inside the resubmit (nested)");

  memset(&c, 0, sizeof c);
  c.req.data = &c;
  c.max = 1000;
  cr_assert_eq(tide_nop(loop, &c.req, chain_nop_cb), 0);
  tt_watchdog_begin(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(c.bad, 0, "error %zd", c.bad);
  cr_assert_eq(c.n, 1000);
  cr_assert_eq(c.max_depth, 1, "nested callback");
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ loop liveness */

Test(req, requests_keep_run_default_alive) {
  tide_loop *loop = req_loop();
  tt_req r;
  tt_req_init(&r);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_sleep(loop, &r.req, TT_MS(30), tt_req_cb), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r.calls, 1, "tide_run(DEFAULT) returned before the request completed");
  cr_assert_geq(tt_now_ns() - t0, TT_MS(30));
  /* a pending recv alone also keeps it alive: stopped by the watchdog only */
  int sv[2];
  tt_socketpair(sv);
  char buf[4];
  tt_req_init(&r);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_MS(50));
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 1, "the in-flight recv did not keep the loop alive");
  cr_assert_eq(wd.fired, 1);
  cr_assert_eq(r.calls, 0);
  cr_assert_eq(tide_cancel(loop, &r.req), 0);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, -ECANCELED);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_close2(sv);
  tt_free(loop);
}

Test(req, unref_hides_an_in_flight_request) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  char buf[4];
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  /* two references: the request and the watchdog. Both unref calls succeed only
   * if the request holds one. */
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_unref(loop), 0, "the in-flight request holds no reference");
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(2), "tide_run waited for an unref'ed request");
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(r.calls, 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  /* still in flight and working */
  cr_assert_eq(write(sv[1], "ok", 2), 2);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  cr_assert_eq(r.res, 2);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_close2(sv);
  tt_free(loop);
}

Test(req, loop_free_refuses_while_a_request_is_in_flight) {
  tide_loop *loop = req_loop();
  int sv[2];
  tt_socketpair(sv);
  char buf[4];
  tt_req r, s;
  tt_req_init(&r);
  tt_req_init(&s);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, tt_req_cb), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  cr_assert_eq(tide_sleep(loop, &s.req, TT_MS(10), tt_req_cb), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  /* the loop still works after the refusals */
  cr_assert_eq(write(sv[1], "ab", 2), 2);
  tt_watchdog wd;
  tt_watchdog_begin(loop, &wd, TT_SEC(5));
  while ((r.calls == 0 || s.calls == 0) && !wd.fired) tide_run(loop, TIDE_RUN_ONCE);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.res, 2);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(s.res, 0);
  /* a nop submitted and not yet run is in flight too */
  tt_req_init(&r);
  cr_assert_eq(tide_nop(loop, &r.req, tt_req_cb), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(5)));
  tt_close2(sv);
  tt_free(loop);
}

/* ------------------------------------------------------------ errors of the operation */

Test(req, operation_errors_arrive_in_the_callback) {
  tide_loop *loop = req_loop();
  int p[2];
  tt_pipe(p);
  int closed = dup(p[0]);
  close(closed);
  tt_req r;
  char buf[4];
  cr_assert_eq(RUN1(loop, &r, tide_read(loop, &r.req, closed, buf, 4, -1, 0, tt_req_cb)), -EBADF);
  cr_assert_eq(RUN1(loop, &r, tide_write(loop, &r.req, closed, "x", 1, -1, 0, tt_req_cb)), -EBADF);
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, closed, buf, 4, 0, 0, tt_req_cb)), -EBADF);
  /* recv on a pipe: not a socket */
  cr_assert(tt_write1(p[1]));
  cr_assert_eq(RUN1(loop, &r, tide_recv(loop, &r.req, p[0], buf, 4, 0, 0, tt_req_cb)), -ENOTSOCK);
  /* write on a read end */
  cr_assert_eq(RUN1(loop, &r, tide_write(loop, &r.req, p[0], "x", 1, -1, 0, tt_req_cb)), -EBADF);
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ bad input */

static void expect_no_callbacks_and_free(tide_loop *loop, tt_req *r) {
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0, "a refused submit left something in flight");
  cr_assert_eq(r->calls, 0, "a refused submit called back");
  tt_free(loop);
}

Test(req, bad_input_null_loop) {
  tt_req r;
  tt_req_init(&r);
  int p[2];
  tt_pipe(p);
  char buf[4];
  struct iovec iov = {buf, 4};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  struct statx stx;
  errno = 777;
  cr_assert_eq(tide_nop(NULL, &r.req, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_read(NULL, &r.req, p[0], buf, 4, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_write(NULL, &r.req, p[1], buf, 4, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_readv(NULL, &r.req, p[0], &iov, 1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_writev(NULL, &r.req, p[1], &iov, 1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recv(NULL, &r.req, p[0], buf, 4, 0, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_send(NULL, &r.req, p[1], buf, 4, 0, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recvmsg(NULL, &r.req, p[0], &msg, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_sendmsg(NULL, &r.req, p[1], &msg, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_accept(NULL, &r.req, p[0], NULL, NULL, 0, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_connect(NULL, &r.req, p[0], (struct sockaddr *)&a, sizeof a, tt_req_cb),
               -EINVAL);
  cr_assert_eq(tide_shutdown(NULL, &r.req, p[0], SHUT_RDWR, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_close(NULL, &r.req, p[0], tt_req_cb), -EINVAL);
  cr_assert_eq(tide_openat(NULL, &r.req, AT_FDCWD, "/", O_RDONLY, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_statx(NULL, &r.req, AT_FDCWD, "/", 0, STATX_SIZE, &stx, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_fsync(NULL, &r.req, p[0], 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_fallocate(NULL, &r.req, p[0], 0, 0, 1, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_unlinkat(NULL, &r.req, AT_FDCWD, "x", 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_renameat(NULL, &r.req, AT_FDCWD, "x", AT_FDCWD, "y", 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_mkdirat(NULL, &r.req, AT_FDCWD, "x", 0700, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_splice(NULL, &r.req, p[0], -1, p[1], -1, 1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_sendfile(NULL, &r.req, p[1], p[0], -1, 1, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_sleep(NULL, &r.req, 1, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_work(NULL, &r.req, noop_work, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_cancel(NULL, &r.req), -EINVAL);
  cr_assert_eq(tide_op_support(NULL, TIDE_OP_NOP), -EINVAL);
  tide_bufpool *pool = (tide_bufpool *)&r;
  cr_assert_eq(tide_bufpool_new(NULL, &pool, 4, 4096), -EINVAL);
  cr_assert_eq(pool, (tide_bufpool *)&r, "*out touched on failure");
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  cr_assert_eq(r.calls, 0);
  tt_close2(p);
}

Test(req, bad_input_null_req_and_null_callback) {
  tide_loop *loop = req_loop();
  tt_req r;
  tt_req_init(&r);
  int p[2];
  tt_pipe(p);
  char buf[4];
  struct iovec iov = {buf, 4};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  struct statx stx;
  tide_bufpool *pool = NULL;
  cr_assert_eq(tide_bufpool_new(loop, &pool, 4, 4096), 0);
  errno = 777;
  for (int which = 0; which < 2; which++) {
    tide_req *q = which == 0 ? NULL : &r.req;
    tide_req_cb cb = which == 0 ? tt_req_cb : NULL;
    const char *w = which == 0 ? "NULL req" : "NULL cb";
    cr_assert_eq(tide_nop(loop, q, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_read(loop, q, p[0], buf, 4, -1, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_write(loop, q, p[1], buf, 4, -1, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_readv(loop, q, p[0], &iov, 1, -1, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_writev(loop, q, p[1], &iov, 1, -1, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_recv(loop, q, p[0], buf, 4, 0, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_send(loop, q, p[1], buf, 4, 0, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_recvmsg(loop, q, p[0], &msg, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_sendmsg(loop, q, p[1], &msg, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_accept(loop, q, p[0], NULL, NULL, 0, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_connect(loop, q, p[0], (struct sockaddr *)&a, sizeof a, cb), -EINVAL, "%s",
                 w);
    cr_assert_eq(tide_shutdown(loop, q, p[0], SHUT_RDWR, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_close(loop, q, p[0], cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_openat(loop, q, AT_FDCWD, "/", O_RDONLY, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_statx(loop, q, AT_FDCWD, "/", 0, STATX_SIZE, &stx, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_fsync(loop, q, p[0], 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_fallocate(loop, q, p[0], 0, 0, 1, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_unlinkat(loop, q, AT_FDCWD, "x", 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_renameat(loop, q, AT_FDCWD, "x", AT_FDCWD, "y", 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_mkdirat(loop, q, AT_FDCWD, "x", 0700, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_splice(loop, q, p[0], -1, p[1], -1, 1, 0, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_sendfile(loop, q, p[1], p[0], -1, 1, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_sleep(loop, q, 1, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_work(loop, q, noop_work, cb), -EINVAL, "%s", w);
    cr_assert_eq(tide_recv_pool(loop, q, p[0], pool, cb), -EINVAL, "%s", w);
  }
  cr_assert_eq(tide_cancel(loop, NULL), -EINVAL);
  cr_assert_eq(tide_req_more(NULL), -EINVAL);
  cr_assert_eq(tide_req_set_timeout(NULL, 1), -EINVAL);
  void *ptr = NULL;
  cr_assert_eq(tide_req_buffer(NULL, &ptr), -EINVAL);
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  cr_assert_eq(tide_bufpool_free(pool), 0);
  tt_close2(p);
  expect_no_callbacks_and_free(loop, &r);
}

Test(req, bad_input_negative_fd_is_ebadf) {
  tide_loop *loop = req_loop();
  tt_req r;
  tt_req_init(&r);
  int p[2];
  tt_pipe(p);
  char buf[4];
  struct iovec iov = {buf, 4};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  tide_bufpool *pool = NULL;
  cr_assert_eq(tide_bufpool_new(loop, &pool, 4, 4096), 0);
  errno = 777;
  for (int fd = -1; fd >= -2; fd--) {
    cr_assert_eq(tide_read(loop, &r.req, fd, buf, 4, -1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_write(loop, &r.req, fd, buf, 4, -1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_readv(loop, &r.req, fd, &iov, 1, -1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_writev(loop, &r.req, fd, &iov, 1, -1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_recv(loop, &r.req, fd, buf, 4, 0, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_send(loop, &r.req, fd, buf, 4, 0, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_recvmsg(loop, &r.req, fd, &msg, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_sendmsg(loop, &r.req, fd, &msg, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_accept(loop, &r.req, fd, NULL, NULL, 0, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_accept(loop, &r.req, fd, NULL, NULL, 0, TIDE_MULTISHOT, tt_req_cb), -EBADF);
    cr_assert_eq(tide_connect(loop, &r.req, fd, (struct sockaddr *)&a, sizeof a, tt_req_cb),
                 -EBADF);
    cr_assert_eq(tide_shutdown(loop, &r.req, fd, SHUT_RDWR, tt_req_cb), -EBADF);
    cr_assert_eq(tide_close(loop, &r.req, fd, tt_req_cb), -EBADF);
    cr_assert_eq(tide_fsync(loop, &r.req, fd, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_fallocate(loop, &r.req, fd, 0, 0, 1, tt_req_cb), -EBADF);
    cr_assert_eq(tide_splice(loop, &r.req, fd, -1, p[1], -1, 1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_splice(loop, &r.req, p[0], -1, fd, -1, 1, 0, tt_req_cb), -EBADF);
    cr_assert_eq(tide_sendfile(loop, &r.req, fd, p[0], -1, 1, tt_req_cb), -EBADF);
    cr_assert_eq(tide_sendfile(loop, &r.req, p[1], fd, -1, 1, tt_req_cb), -EBADF);
    cr_assert_eq(tide_recv_pool(loop, &r.req, fd, pool, tt_req_cb), -EBADF);
  }
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  cr_assert_eq(tide_bufpool_free(pool), 0);
  tt_close2(p);
  expect_no_callbacks_and_free(loop, &r);
}

Test(req, bad_input_null_buffers_and_unknown_flags) {
  tide_loop *loop = req_loop();
  tt_req r;
  tt_req_init(&r);
  int p[2], sv[2];
  tt_pipe(p);
  tt_socketpair(sv);
  char buf[4];
  struct iovec iov = {buf, 4};
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  struct sockaddr_storage big;
  memset(&big, 0, sizeof big);
  big.ss_family = AF_INET;
  struct statx stx;
  socklen_t alen = sizeof a;
  errno = 777;
  /* NULL buffer with a non-zero length */
  cr_assert_eq(tide_read(loop, &r.req, p[0], NULL, 4, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_write(loop, &r.req, p[1], NULL, 4, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], NULL, 4, 0, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_send(loop, &r.req, sv[0], NULL, 4, 0, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_readv(loop, &r.req, p[0], NULL, 1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_writev(loop, &r.req, p[1], NULL, 1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recvmsg(loop, &r.req, sv[0], NULL, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_sendmsg(loop, &r.req, sv[0], NULL, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_connect(loop, &r.req, sv[0], NULL, sizeof a, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_openat(loop, &r.req, AT_FDCWD, NULL, O_RDONLY, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_statx(loop, &r.req, AT_FDCWD, NULL, 0, STATX_SIZE, &stx, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_statx(loop, &r.req, AT_FDCWD, "/", 0, STATX_SIZE, NULL, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_unlinkat(loop, &r.req, AT_FDCWD, NULL, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_renameat(loop, &r.req, AT_FDCWD, NULL, AT_FDCWD, "y", 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_renameat(loop, &r.req, AT_FDCWD, "x", AT_FDCWD, NULL, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_mkdirat(loop, &r.req, AT_FDCWD, NULL, 0700, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_work(loop, &r.req, NULL, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recv_pool(loop, &r.req, sv[0], NULL, tt_req_cb), -EINVAL);
  /* iovcnt out of 1..IOV_MAX */
  cr_assert_eq(tide_readv(loop, &r.req, p[0], &iov, 0, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_readv(loop, &r.req, p[0], &iov, -1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_readv(loop, &r.req, p[0], &iov, IOV_MAX + 1, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_writev(loop, &r.req, p[1], &iov, 0, -1, 0, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_writev(loop, &r.req, p[1], &iov, IOV_MAX + 1, -1, 0, tt_req_cb), -EINVAL);
  /* connect: addrlen above 128 */
  cr_assert_eq(tide_connect(loop, &r.req, sv[0], (struct sockaddr *)&big, 129, tt_req_cb), -EINVAL);
  /* multishot accept with an address */
  cr_assert_eq(tide_accept(loop, &r.req, sv[0], (struct sockaddr *)&a, &alen, 0, TIDE_MULTISHOT,
                           tt_req_cb),
               -EINVAL);
  /* unknown request flags */
  const unsigned bad = 0x80u;
  cr_assert_eq(tide_read(loop, &r.req, p[0], buf, 4, -1, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_write(loop, &r.req, p[1], buf, 4, -1, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_recv(loop, &r.req, sv[0], buf, 4, 0, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_send(loop, &r.req, sv[0], buf, 4, 0, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_readv(loop, &r.req, p[0], &iov, 1, -1, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_writev(loop, &r.req, p[1], &iov, 1, -1, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_accept(loop, &r.req, sv[0], NULL, NULL, 0, bad, tt_req_cb), -EINVAL);
  cr_assert_eq(tide_fsync(loop, &r.req, p[0], bad, tt_req_cb), -EINVAL);
  /* readv/writev take no flags */
  cr_assert_eq(tide_readv(loop, &r.req, p[0], &iov, 1, -1, TIDE_ALL, tt_req_cb), -EINVAL);
  /* op_support range */
  cr_assert_eq(tide_op_support(loop, -1), -EINVAL);
  cr_assert_eq(tide_op_support(loop, TIDE_OP_COUNT_), -EINVAL);
  /* bufpool parameters */
  tide_bufpool *pool = NULL;
  cr_assert_eq(tide_bufpool_new(loop, NULL, 4, 4096), -EINVAL);
  cr_assert_eq(tide_bufpool_new(loop, &pool, 0, 4096), -EINVAL);
  cr_assert_eq(tide_bufpool_new(loop, &pool, 3, 4096), -EINVAL);
  cr_assert_eq(tide_bufpool_new(loop, &pool, 65536, 4096), -EINVAL);
  cr_assert_eq(tide_bufpool_new(loop, &pool, 4, 0), -EINVAL);
  cr_assert_null(pool);
  cr_assert_eq(tide_bufpool_free(NULL), -EINVAL);
  cr_assert_eq(tide_bufpool_put(NULL, 0), -EINVAL);
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  tt_close2(p);
  tt_close2(sv);
  expect_no_callbacks_and_free(loop, &r);
}

Test(req, cancel_and_more_outside_flight) {
  tide_loop *loop = req_loop();
  tt_req r;
  tt_req_init(&r);
  cr_assert_eq(tide_cancel(loop, &r.req), -ENOENT, "zeroed, never submitted");
  cr_assert_eq(RUN1(loop, &r, tide_nop(loop, &r.req, tt_req_cb)), 0);
  cr_assert_eq(tide_cancel(loop, &r.req), -ENOENT, "completed");
  cr_assert_eq(tide_req_more(&r.req), 0);
  cr_assert_eq(tide_req_set_timeout(&r.req, 0), 0);
  tt_free(loop);
}
