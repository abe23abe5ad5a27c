// SPDX-License-Identifier: MIT
// unit_req_faults.cc - fault injection into the emulated request path (epoll
// backend): the syscalls libtide makes are wrapped at link time
// (-Wl,--wrap=read,...) and made to fail or come up short on chosen fds.
//   EINTR   - retried transparently, never seen by the program;
//   EAGAIN  - the request waits for readiness and completes, never -EAGAIN;
//   ENOMEM  - surfaces in the callback as -ENOMEM; the loop stays usable;
//   EMFILE  - from accept4: surfaces in the callback; the connection stays queued;
//   short reads/writes - TIDE_ALL (and sendfile) move the remainder; without
//             TIDE_ALL the short count is the result.
// The program links build/libtide.a statically, so the wraps apply to the
// library's own calls (one line):
//   c++ -std=c++17 -O2 -g -Iinclude tests/unit_req_faults.cc build/libtide.a
//     -o build/tests/unit_req_faults -Wl,--wrap=read,--wrap=write,--wrap=readv,
//     --wrap=writev,--wrap=pread,--wrap=pwrite,--wrap=preadv,--wrap=pwritev,
//     --wrap=recv,--wrap=send,--wrap=recvmsg,--wrap=sendmsg,--wrap=accept4,
//     --wrap=sendfile -luring -lcmocka -lstdc++ -lpthread
//
// Faults are planned per (fd, direction), not per function, so a plan applies
// whichever of read/recv/readv/pread/... the library picks for an operation; every
// test also checks that its faults were actually hit.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
}

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

#include "tide.h"

// ---------------------------------------------------------------- fault plans

namespace {

enum Dir { kIn, kOut, kAccept, kDirs };

struct Fault {
  int err;       // fail with this errno (if non-zero)
  size_t limit;  // else: cap the length at this many bytes (0: pass through)
};

struct Plan {
  std::mutex mu;
  int fd = -1;
  std::deque<Fault> q;
  int hits = 0;   // faults applied
  int calls = 0;  // calls on fd in this direction
};

Plan g_plan[kDirs];

void plan_reset() {
  for (auto &p : g_plan) {
    std::lock_guard<std::mutex> g(p.mu);
    p.fd = -1;
    p.q.clear();
    p.hits = p.calls = 0;
  }
}

void plan_set(Dir d, int fd, std::initializer_list<Fault> faults) {
  Plan &p = g_plan[d];
  std::lock_guard<std::mutex> g(p.mu);
  p.fd = fd;
  p.q.assign(faults.begin(), faults.end());
  p.hits = p.calls = 0;
}

int plan_hits(Dir d) {
  std::lock_guard<std::mutex> g(g_plan[d].mu);
  return g_plan[d].hits;
}

int plan_calls(Dir d) {
  std::lock_guard<std::mutex> g(g_plan[d].mu);
  return g_plan[d].calls;
}

// The fault for this call on fd, if one is planned. Thread-safe (pool threads).
bool take(Dir d, int fd, Fault *f) {
  Plan &p = g_plan[d];
  std::lock_guard<std::mutex> g(p.mu);
  if (fd < 0 || fd != p.fd) return false;
  p.calls++;
  if (p.q.empty()) return false;
  *f = p.q.front();
  p.q.pop_front();
  p.hits++;
  return true;
}

// Copies iov[0..cnt) into out, cut to at most limit bytes; returns the new count.
int cut_iov(const struct iovec *iov, int cnt, size_t limit, std::vector<struct iovec> &out) {
  out.clear();
  for (int i = 0; i < cnt && limit > 0; i++) {
    struct iovec v = iov[i];
    if (v.iov_len > limit) v.iov_len = limit;
    limit -= v.iov_len;
    out.push_back(v);
  }
  if (out.empty()) out.push_back(iovec{iov[0].iov_base, 0});
  return static_cast<int>(out.size());
}

}  // namespace

// ---------------------------------------------------------------- the wraps

extern "C" {
ssize_t __real_read(int, void *, size_t);
ssize_t __real_write(int, const void *, size_t);
ssize_t __real_readv(int, const struct iovec *, int);
ssize_t __real_writev(int, const struct iovec *, int);
ssize_t __real_pread(int, void *, size_t, off_t);
ssize_t __real_pwrite(int, const void *, size_t, off_t);
ssize_t __real_preadv(int, const struct iovec *, int, off_t);
ssize_t __real_pwritev(int, const struct iovec *, int, off_t);
ssize_t __real_recv(int, void *, size_t, int);
ssize_t __real_send(int, const void *, size_t, int);
ssize_t __real_recvmsg(int, struct msghdr *, int);
ssize_t __real_sendmsg(int, const struct msghdr *, int);
int __real_accept4(int, struct sockaddr *, socklen_t *, int);
ssize_t __real_sendfile(int, int, off_t *, size_t);

#define FAULT_OR(dir, fd, len_var)            \
  Fault f_;                                   \
  if (take(dir, fd, &f_)) {                   \
    if (f_.err) {                             \
      errno = f_.err;                         \
      return -1;                              \
    }                                         \
    if (f_.limit && (len_var) > f_.limit) (len_var) = f_.limit; \
  }

ssize_t __wrap_read(int fd, void *buf, size_t n) {
  FAULT_OR(kIn, fd, n);
  return __real_read(fd, buf, n);
}
ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  FAULT_OR(kOut, fd, n);
  return __real_write(fd, buf, n);
}
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off) {
  FAULT_OR(kIn, fd, n);
  return __real_pread(fd, buf, n, off);
}
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off) {
  FAULT_OR(kOut, fd, n);
  return __real_pwrite(fd, buf, n, off);
}
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags) {
  FAULT_OR(kIn, fd, n);
  return __real_recv(fd, buf, n, flags);
}
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags) {
  FAULT_OR(kOut, fd, n);
  return __real_send(fd, buf, n, flags);
}
ssize_t __wrap_sendfile(int out, int in, off_t *off, size_t n) {
  FAULT_OR(kOut, out, n);
  return __real_sendfile(out, in, off, n);
}
int __wrap_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
  Fault f;
  if (take(kAccept, fd, &f) && f.err) {
    errno = f.err;
    return -1;
  }
  return __real_accept4(fd, a, l, flags);
}

#define VEC_FAULT(dir, fd, iov, cnt)                                   \
  std::vector<struct iovec> cut_;                                      \
  Fault f_;                                                            \
  if (take(dir, fd, &f_)) {                                            \
    if (f_.err) {                                                      \
      errno = f_.err;                                                  \
      return -1;                                                       \
    }                                                                  \
    if (f_.limit) {                                                    \
      cnt = cut_iov(iov, cnt, f_.limit, cut_);                         \
      iov = cut_.data();                                               \
    }                                                                  \
  }

ssize_t __wrap_readv(int fd, const struct iovec *iov, int cnt) {
  VEC_FAULT(kIn, fd, iov, cnt);
  return __real_readv(fd, iov, cnt);
}
ssize_t __wrap_writev(int fd, const struct iovec *iov, int cnt) {
  VEC_FAULT(kOut, fd, iov, cnt);
  return __real_writev(fd, iov, cnt);
}
ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off) {
  VEC_FAULT(kIn, fd, iov, cnt);
  return __real_preadv(fd, iov, cnt, off);
}
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  VEC_FAULT(kOut, fd, iov, cnt);
  return __real_pwritev(fd, iov, cnt, off);
}
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags) {
  const struct iovec *iov = m->msg_iov;
  int cnt = static_cast<int>(m->msg_iovlen);
  VEC_FAULT(kIn, fd, iov, cnt);
  if (iov == m->msg_iov) return __real_recvmsg(fd, m, flags);
  struct msghdr c = *m;
  c.msg_iov = const_cast<struct iovec *>(iov);
  c.msg_iovlen = static_cast<size_t>(cnt);
  ssize_t n = __real_recvmsg(fd, &c, flags);
  m->msg_namelen = c.msg_namelen;
  m->msg_controllen = c.msg_controllen;
  m->msg_flags = c.msg_flags;
  return n;
}
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags) {
  const struct iovec *iov = m->msg_iov;
  int cnt = static_cast<int>(m->msg_iovlen);
  VEC_FAULT(kOut, fd, iov, cnt);
  if (iov == m->msg_iov) return __real_sendmsg(fd, m, flags);
  struct msghdr c = *m;
  c.msg_iov = const_cast<struct iovec *>(iov);
  c.msg_iovlen = static_cast<size_t>(cnt);
  return __real_sendmsg(fd, &c, flags);
}
}  // extern "C"

// ---------------------------------------------------------------- helpers

namespace {

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

tide_loop *epoll_loop() {
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.backends = TIDE_BACKEND_EPOLL;
  o.flags = TIDE_LOOP_NOENV;
  tide_loop *loop = nullptr;
  assert_int_equal(tide_loop_new(&loop, &o), 0);
  assert_non_null(loop);
  assert_string_equal(tide_loop_backend(loop), "epoll");
  return loop;
}

void free_loop(tide_loop *loop) {
  assert_int_equal(tide_run(loop, TIDE_RUN_NOWAIT), 0);  // nothing left in flight
  assert_int_equal(tide_loop_free(loop), 0);
}

struct Rec {
  tide_req req;
  int calls;
  ssize_t res;
  int more;
};

void rec_cb(tide_loop *, tide_req *req, ssize_t res) {
  Rec *r = static_cast<Rec *>(req->data);
  r->calls++;
  r->res = res;
  r->more = tide_req_more(req);
}

void rec_init(Rec *r) {
  memset(r, 0, sizeof *r);
  r->req.data = r;
}

void stop_cb(tide_loop *loop, tide_timer *, unsigned) { tide_stop(loop); }

// Runs the loop until *count >= want or bound_ns passed; returns *count >= want.
bool run_until(tide_loop *loop, const int *count, int want, uint64_t bound_ns) {
  tide_timer wd;
  memset(&wd, 0, sizeof wd);
  assert_int_equal(tide_timer_init(&wd, stop_cb, bound_ns, 0), 0);
  assert_int_equal(tide_timer_start(loop, &wd), 0);
  uint64_t end = now_ns() + bound_ns;
  while (*count < want && now_ns() < end) assert_true(tide_run(loop, TIDE_RUN_ONCE) >= 0);
  assert_int_equal(tide_timer_stop(loop, &wd), 0);
  return *count >= want;
}

// Waits (at most 5 s) for the single callback of an already submitted request; returns res.
ssize_t wait1(tide_loop *loop, Rec *r) {
  assert_true(run_until(loop, &r->calls, 1, 5000000000ull));
  assert_int_equal(r->calls, 1);
  return r->res;
}

void sockpair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

void nbpipe(int p[2]) { assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0); }

void close2(int p[2]) {
  close(p[0]);
  close(p[1]);
}

int tmpfile_fd() {
  char path[] = "/tmp/tide-faults-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  assert_true(fd >= 0);
  unlink(path);
  return fd;
}

void fill(char *buf, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) buf[i] = static_cast<char>((i * 131u + seed) ^ (i >> 7));
}

int listener(struct sockaddr_in *a) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_true(l >= 0);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(l, reinterpret_cast<struct sockaddr *>(a), sizeof *a), 0);
  assert_int_equal(listen(l, 64), 0);
  socklen_t len = sizeof *a;
  assert_int_equal(getsockname(l, reinterpret_cast<struct sockaddr *>(a), &len), 0);
  return l;
}

// Reads exactly n bytes from a non-blocking fd, with the loop not involved.
size_t read_all(int fd, char *buf, size_t n) {
  size_t got = 0;
  uint64_t end = now_ns() + 5000000000ull;
  while (got < n && now_ns() < end) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k > 0) got += static_cast<size_t>(k);
    else if (k == 0) break;
  }
  return got;
}

int setup(void **) {
  plan_reset();
  return 0;
}
int teardown(void **) {
  plan_reset();
  return 0;
}

// ---------------------------------------------------------------- EINTR

void eintr_on_recv_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  assert_int_equal(write(sv[1], "hello", 5), 5);
  plan_set(kIn, sv[0], {{EINTR, 0}, {EINTR, 0}, {EINTR, 0}});
  Rec r;
  rec_init(&r);
  char buf[16] = {0};
  assert_int_equal(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5);
  assert_memory_equal(buf, "hello", 5);
  assert_int_equal(plan_hits(kIn), 3);
  plan_reset();
  close2(sv);
  free_loop(loop);
}

void eintr_on_recv_waiting_for_data_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  Rec r;
  rec_init(&r);
  char buf[16] = {0};
  assert_int_equal(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, rec_cb), 0);
  assert_int_equal(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  assert_int_equal(r.calls, 0);
  plan_set(kIn, sv[0], {{EINTR, 0}, {EINTR, 0}});
  assert_int_equal(write(sv[1], "later", 5), 5);
  assert_int_equal(wait1(loop, &r), 5);
  assert_memory_equal(buf, "later", 5);
  assert_int_equal(plan_hits(kIn), 2);
  plan_reset();
  close2(sv);
  free_loop(loop);
}

void eintr_on_pipe_write_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  int p[2];
  nbpipe(p);
  char out[1000], in[1000];
  fill(out, sizeof out, 1);
  plan_set(kOut, p[1], {{EINTR, 0}, {EINTR, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_write(loop, &r.req, p[1], out, sizeof out, -1, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 1000);
  assert_int_equal(plan_hits(kOut), 2);
  plan_reset();
  assert_int_equal(read_all(p[0], in, sizeof in), sizeof in);
  assert_memory_equal(in, out, sizeof out);
  close2(p);
  free_loop(loop);
}

void eintr_on_file_io_in_the_pool_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  int fd = tmpfile_fd();
  char out[5000], in[5000];
  fill(out, sizeof out, 2);
  plan_set(kOut, fd, {{EINTR, 0}, {EINTR, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_write(loop, &r.req, fd, out, sizeof out, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5000);
  assert_int_equal(plan_hits(kOut), 2);
  plan_set(kIn, fd, {{EINTR, 0}, {EINTR, 0}, {EINTR, 0}});
  rec_init(&r);
  memset(in, 0, sizeof in);
  assert_int_equal(tide_read(loop, &r.req, fd, in, sizeof in, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5000);
  assert_int_equal(plan_hits(kIn), 3);
  plan_reset();
  assert_memory_equal(in, out, sizeof out);
  close(fd);
  free_loop(loop);
}

void eintr_on_accept4_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  struct sockaddr_in a;
  int l = listener(&a);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(c, reinterpret_cast<struct sockaddr *>(&a), sizeof a), 0);
  plan_set(kAccept, l, {{EINTR, 0}, {EINTR, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_accept(loop, &r.req, l, nullptr, nullptr, SOCK_CLOEXEC, 0, rec_cb), 0);
  ssize_t s = wait1(loop, &r);
  assert_true(s >= 0);
  assert_int_equal(plan_hits(kAccept), 2);
  plan_reset();
  close(static_cast<int>(s));
  close(c);
  close(l);
  free_loop(loop);
}

void eintr_on_recvmsg_is_retried(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  assert_int_equal(write(sv[1], "msg", 3), 3);
  char buf[8] = {0};
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  plan_set(kIn, sv[0], {{EINTR, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_recvmsg(loop, &r.req, sv[0], &m, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 3);
  assert_int_equal(plan_hits(kIn), 1);
  plan_reset();
  assert_memory_equal(buf, "msg", 3);
  close2(sv);
  free_loop(loop);
}

// ---------------------------------------------------------------- EAGAIN

void spurious_eagain_on_recv_waits_and_completes(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  assert_int_equal(write(sv[1], "hello", 5), 5);
  plan_set(kIn, sv[0], {{EAGAIN, 0}, {EAGAIN, 0}});
  Rec r;
  rec_init(&r);
  char buf[16] = {0};
  assert_int_equal(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5);
  assert_memory_equal(buf, "hello", 5);
  assert_int_equal(plan_hits(kIn), 2);
  assert_true(plan_calls(kIn) <= 6);  // retried on readiness, not in a tight loop
  plan_reset();
  close2(sv);
  free_loop(loop);
}

void spurious_eagain_on_send_waits_and_completes(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  plan_set(kOut, sv[0], {{EAGAIN, 0}, {EWOULDBLOCK, 0}, {EAGAIN, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_send(loop, &r.req, sv[0], "abcdef", 6, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 6);
  assert_int_equal(plan_hits(kOut), 3);
  plan_reset();
  char buf[6];
  assert_int_equal(read_all(sv[1], buf, 6), 6);
  assert_memory_equal(buf, "abcdef", 6);
  close2(sv);
  free_loop(loop);
}

void eagain_in_the_middle_of_tide_all(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  char out[3000], in[3000];
  fill(out, sizeof out, 3);
  assert_int_equal(write(sv[1], out, sizeof out), 3000);
  plan_set(kIn, sv[0], {{0, 10}, {EAGAIN, 0}, {0, 100}, {EAGAIN, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_recv(loop, &r.req, sv[0], in, sizeof in, 0, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 3000);
  assert_int_equal(plan_hits(kIn), 4);
  plan_reset();
  assert_memory_equal(in, out, sizeof out);
  close2(sv);
  free_loop(loop);
}

// ---------------------------------------------------------------- ENOMEM

void enomem_on_recv_surfaces_in_the_callback(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  assert_int_equal(write(sv[1], "hello", 5), 5);
  plan_set(kIn, sv[0], {{ENOMEM, 0}});
  Rec r;
  rec_init(&r);
  char buf[16] = {0};
  assert_int_equal(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), -ENOMEM);
  assert_int_equal(plan_hits(kIn), 1);
  // the loop and the fd still work; the data was not lost
  rec_init(&r);
  assert_int_equal(tide_recv(loop, &r.req, sv[0], buf, sizeof buf, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5);
  assert_memory_equal(buf, "hello", 5);
  plan_reset();
  close2(sv);
  free_loop(loop);
}

void enomem_on_send_surfaces_in_the_callback(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  plan_set(kOut, sv[0], {{ENOMEM, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_send(loop, &r.req, sv[0], "x", 1, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), -ENOMEM);
  assert_int_equal(plan_hits(kOut), 1);
  plan_reset();
  close2(sv);
  free_loop(loop);
}

void enomem_after_partial_tide_all_gives_the_count(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  char out[100], in[100];
  fill(out, sizeof out, 4);
  assert_int_equal(write(sv[1], out, sizeof out), 100);
  plan_set(kIn, sv[0], {{0, 10}, {ENOMEM, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_recv(loop, &r.req, sv[0], in, sizeof in, 0, TIDE_ALL, rec_cb), 0);
  // "if some bytes moved before an error, res is that count and the error is dropped"
  assert_int_equal(wait1(loop, &r), 10);
  assert_int_equal(plan_hits(kIn), 2);
  plan_reset();
  assert_memory_equal(in, out, 10);
  close2(sv);
  free_loop(loop);
}

// ---------------------------------------------------------------- EMFILE

void emfile_from_accept4_surfaces_in_the_callback(void **) {
  tide_loop *loop = epoll_loop();
  struct sockaddr_in a;
  int l = listener(&a);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(c, reinterpret_cast<struct sockaddr *>(&a), sizeof a), 0);
  plan_set(kAccept, l, {{EMFILE, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_accept(loop, &r.req, l, nullptr, nullptr, SOCK_CLOEXEC, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), -EMFILE);
  assert_int_equal(plan_hits(kAccept), 1);
  // the connection is still queued: the next accept gets it
  rec_init(&r);
  assert_int_equal(tide_accept(loop, &r.req, l, nullptr, nullptr, SOCK_CLOEXEC, 0, rec_cb), 0);
  ssize_t s = wait1(loop, &r);
  assert_true(s >= 0);
  plan_reset();
  close(static_cast<int>(s));
  close(c);
  close(l);
  free_loop(loop);
}

void enfile_and_enomem_from_accept4_surface_too(void **) {
  tide_loop *loop = epoll_loop();
  struct sockaddr_in a;
  int l = listener(&a);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(c, reinterpret_cast<struct sockaddr *>(&a), sizeof a), 0);
  const int errs[] = {ENFILE, ENOMEM, ENOBUFS};
  for (int e : errs) {
    plan_set(kAccept, l, {{e, 0}});
    Rec r;
    rec_init(&r);
    assert_int_equal(tide_accept(loop, &r.req, l, nullptr, nullptr, 0, 0, rec_cb), 0);
    assert_int_equal(wait1(loop, &r), -e);
    assert_int_equal(plan_hits(kAccept), 1);
  }
  plan_reset();
  close(c);
  close(l);
  free_loop(loop);
}

// ---------------------------------------------------------------- short transfers

void short_sends_are_completed_by_tide_all(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  static char out[50000], in[50000];
  fill(out, sizeof out, 5);
  plan_set(kOut, sv[0], {{0, 1}, {0, 7}, {0, 100}, {0, 1000}, {EINTR, 0}, {0, 3}, {EAGAIN, 0}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_send(loop, &r.req, sv[0], out, sizeof out, 0, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 50000);
  assert_int_equal(plan_hits(kOut), 7);
  plan_reset();
  assert_int_equal(read_all(sv[1], in, sizeof in), sizeof in);
  assert_memory_equal(in, out, sizeof out);
  close2(sv);
  free_loop(loop);
}

void short_pipe_writes_are_completed_by_tide_all(void **) {
  tide_loop *loop = epoll_loop();
  int p[2];
  nbpipe(p);
  static char out[20000], in[20000];
  fill(out, sizeof out, 6);
  plan_set(kOut, p[1], {{0, 1}, {0, 4095}, {0, 1}, {EINTR, 0}, {0, 17}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_write(loop, &r.req, p[1], out, sizeof out, -1, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 20000);
  assert_int_equal(plan_hits(kOut), 5);
  plan_reset();
  assert_int_equal(read_all(p[0], in, sizeof in), sizeof in);
  assert_memory_equal(in, out, sizeof out);
  close2(p);
  free_loop(loop);
}

void short_file_writes_in_the_pool_are_completed_by_tide_all(void **) {
  tide_loop *loop = epoll_loop();
  int fd = tmpfile_fd();
  static char out[30000], in[30000];
  fill(out, sizeof out, 7);
  plan_set(kOut, fd, {{0, 1}, {0, 999}, {EINTR, 0}, {0, 5000}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_write(loop, &r.req, fd, out, sizeof out, 100, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 30000);
  assert_int_equal(plan_hits(kOut), 4);
  plan_set(kIn, fd, {{0, 3}, {EINTR, 0}, {0, 1000}});
  rec_init(&r);
  assert_int_equal(tide_read(loop, &r.req, fd, in, sizeof in, 100, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 30000);
  assert_int_equal(plan_hits(kIn), 3);
  plan_reset();
  assert_memory_equal(in, out, sizeof out);
  close(fd);
  free_loop(loop);
}

void short_recvs_are_completed_by_tide_all(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2];
  sockpair(sv);
  char out[3000], in[3000];
  fill(out, sizeof out, 8);
  assert_int_equal(write(sv[1], out, sizeof out), 3000);
  plan_set(kIn, sv[0], {{0, 1}, {0, 7}, {0, 100}, {0, 1000}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_recv(loop, &r.req, sv[0], in, sizeof in, 0, TIDE_ALL, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 3000);
  assert_int_equal(plan_hits(kIn), 4);
  plan_reset();
  assert_memory_equal(in, out, sizeof out);
  close2(sv);
  free_loop(loop);
}

void short_transfers_without_tide_all_give_the_short_count(void **) {
  tide_loop *loop = epoll_loop();
  int sv[2], p[2];
  sockpair(sv);
  nbpipe(p);
  static char out[5000];
  fill(out, sizeof out, 9);
  plan_set(kOut, sv[0], {{0, 100}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_send(loop, &r.req, sv[0], out, sizeof out, 0, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 100);
  // writev: flags must be 0, so the short count is the result
  char a[] = "abc", b[] = "defg", c[] = "hi";
  struct iovec v[3] = {{a, 3}, {b, 4}, {c, 2}};
  plan_set(kOut, p[1], {{0, 5}});
  rec_init(&r);
  assert_int_equal(tide_writev(loop, &r.req, p[1], v, 3, -1, 0, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 5);
  assert_int_equal(plan_hits(kOut), 1);
  plan_reset();
  char in[16] = {0};
  assert_int_equal(read_all(p[0], in, 5), 5);
  assert_memory_equal(in, "abcde", 5);
  close2(sv);
  close2(p);
  free_loop(loop);
}

void short_sendfile_chunks_are_continued(void **) {
  tide_loop *loop = epoll_loop();
  int fd = tmpfile_fd();
  static char data[40000], in[40000];
  fill(data, sizeof data, 10);
  assert_int_equal(write(fd, data, sizeof data), static_cast<ssize_t>(sizeof data));
  int sv[2];
  sockpair(sv);
  plan_set(kOut, sv[0], {{0, 1000}, {0, 1}, {EINTR, 0}, {EAGAIN, 0}, {0, 4096}});
  Rec r;
  rec_init(&r);
  assert_int_equal(tide_sendfile(loop, &r.req, sv[0], fd, 0, sizeof data, rec_cb), 0);
  assert_int_equal(wait1(loop, &r), 40000);
  assert_int_equal(plan_hits(kOut), 5);
  plan_reset();
  assert_int_equal(read_all(sv[1], in, sizeof in), sizeof in);
  assert_memory_equal(in, data, sizeof data);
  close2(sv);
  close(fd);
  free_loop(loop);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(eintr_on_recv_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(eintr_on_recv_waiting_for_data_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(eintr_on_pipe_write_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(eintr_on_file_io_in_the_pool_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(eintr_on_accept4_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(eintr_on_recvmsg_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(spurious_eagain_on_recv_waits_and_completes, setup, teardown),
      cmocka_unit_test_setup_teardown(spurious_eagain_on_send_waits_and_completes, setup, teardown),
      cmocka_unit_test_setup_teardown(eagain_in_the_middle_of_tide_all, setup, teardown),
      cmocka_unit_test_setup_teardown(enomem_on_recv_surfaces_in_the_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(enomem_on_send_surfaces_in_the_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(enomem_after_partial_tide_all_gives_the_count, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(emfile_from_accept4_surfaces_in_the_callback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(enfile_and_enomem_from_accept4_surface_too, setup, teardown),
      cmocka_unit_test_setup_teardown(short_sends_are_completed_by_tide_all, setup, teardown),
      cmocka_unit_test_setup_teardown(short_pipe_writes_are_completed_by_tide_all, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(short_file_writes_in_the_pool_are_completed_by_tide_all,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(short_recvs_are_completed_by_tide_all, setup, teardown),
      cmocka_unit_test_setup_teardown(short_transfers_without_tide_all_give_the_short_count, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(short_sendfile_chunks_are_continued, setup, teardown),
  };
  return cmocka_run_group_tests_name("req_faults", tests, nullptr, nullptr);
}
