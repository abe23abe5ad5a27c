// SPDX-License-Identifier: MIT
// request.hh - the core object of a completion request (DESIGN.md section 4). It
// lives, by placement new, in the private storage of the public tide_req.
//
// How a request runs is decided at submit (Route) and never changes:
//   native    - the backend runs it (io_uring SQEs); results come back through
//               Sink::req_cqe()
//   ready     - readiness emulation (req/emulate.cc): a non-blocking syscall when
//               its fd is ready, FIFO per fd and direction
//   pool      - the thread pool (sys/threadpool.cc): a blocking syscall on a thread,
//               its result handed back without allocating (Loop::pool_done)
//   timer     - the loop's timer heap (tide_sleep on readiness backends)
//   immediate - done at submit (nop, close, shutdown on readiness backends)
//   pool_wait - a close waiting for pool operations on its fd to finish
// Every route ends in Loop::req_done() / req_more(), which queue a completion;
// completions are dispatched in the pending phase of tide_run().
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "core/timer_heap.hh"
#include "core/watcher.hh"
#include "sys/threadpool.hh"
#include "tide.h"

namespace tide {

class BufPool;

enum class Route : uint8_t { none, native, ready, pool, timer, immediate, pool_wait };

// A request is also a PoolJob: its next/prev links are the thread pool's while it
// is queued there (pool route), and its fd's queue per direction on the ready and
// the ordered native routes (a request is on one route at a time); next_req() and
// prev_req() read them as requests.
struct Req : Watcher, HeapEntry, PoolJob {
  uint8_t op = TIDE_OP_NOP;  // enum tide_op
  uint8_t flags = 0;         // TIDE_ALL | TIDE_MULTISHOT | TIDE_DATASYNC
  Route route = Route::none;
  bool cancel_requested = false;
  bool timed_out = false;      // its timeout fired: a -ECANCELED result becomes -ETIMEDOUT
  bool final_queued = false;   // its last completion is queued for dispatch
  bool paused = false;         // recv_pool: waiting for buffers
  bool want_blocking_retry = false;  // ready route on a blocking fd: wait readiness first
  bool ordered = false;        // native: one at a time per fd and direction, FIFO
  bool poll_first = false;     // native splice after -EAGAIN: poll both fds, then retry
  bool cur_more = false;       // for the callback being run: more will follow
  int32_t cur_buf = -1;        // for the callback being run: buffer id, or -1
  int fd = -1;                 // the fd the request works on (-1: none)
  uint32_t kref = 0;           // io_uring: CQEs still to come that point at this request
  int64_t kres = 0;            // a result held for later: io_uring until the link timeout's
                               // CQE; the pool route from its worker until the loop takes it
  int32_t kbuf = -1;           // io_uring: its buffer id, likewise
  uint64_t timeout_ns = 0;     // tide_req_set_timeout, for the next submit
  uint32_t timeout_token = 0;  // token_of(this, nullptr) when timeout_ns was set for it
  uint64_t deadline = 0;       // absolute CLOCK_MONOTONIC ns while a timeout is armed
  size_t done = 0;             // bytes moved so far (TIDE_ALL, sendfile)
  Req *fd_next = nullptr;      // requests in flight on fd (tide_close cancels them)
  Req *fd_prev = nullptr;
  struct KernelTimespec {      // layout of struct __kernel_timespec
    int64_t tv_sec;
    long long tv_nsec;
  } kts{};                     // io_uring: the timeout/link-timeout time, read at submit

  union Args {
    struct { void *buf; size_t len; int64_t off; int msg_flags; bool socket; } rw;
    struct { const struct iovec *iov; int iovcnt; int64_t off; bool socket; } vec;
    struct { struct msghdr *msg; int msg_flags; } msg;
    struct { struct sockaddr *addr; socklen_t *addrlen; int sock_flags; } acc;
    struct { struct sockaddr_storage addr; socklen_t addrlen; bool started; } con;
    struct {
      int dirfd; const char *path; int flags; mode_t mode; unsigned mask;
      struct statx *stx; int newdirfd; const char *newpath;
    } path;
    struct { int how; } shut;
    struct { int mode; int64_t off; int64_t len; } falloc;
    struct { int fd_out; int64_t off_in; int64_t off_out; size_t len; unsigned flags; } splice;
    struct { int in_fd; int64_t off; size_t count; int pipe_r; int pipe_w; size_t in_pipe; bool to_pipe; } sf;
    struct { uint64_t ns; } sleep;
    struct { tide_work_fn fn; } work;
    struct { BufPool *pool; } pool;
    Args() : rw{} {}
  } a;

  explicit Req(AnyCb c) : Watcher(Kind::req, c) { is_request = true; }
  static Req *of(PoolJob *j) { return static_cast<Req *>(j); }
  Req *next_req() const { return static_cast<Req *>(next); }
  Req *prev_req() const { return static_cast<Req *>(prev); }
  bool in_flight() const { return active; }
};

// Whether a native request's timeout is a kernel-linked timeout
// (IORING_OP_LINK_TIMEOUT on each SQE); multishot and multi-SQE operations use
// the loop's timer heap instead, and so does a sleep: it is itself an
// IORING_OP_TIMEOUT whose timespec (Req::kts, read by the kernel only when the
// SQEs are submitted) a link timeout would overwrite with its deadline.
inline bool native_link_timeout(const Req *r) {
  return r->deadline && r->op != TIDE_OP_SENDFILE && r->op != TIDE_OP_RECV_POOL &&
         r->op != TIDE_OP_SLEEP && !(r->flags & TIDE_MULTISHOT);
}

// Stream operations keep their submit order per fd and direction on every
// backend; reads and writes at explicit offsets run in parallel.
inline bool op_ordered(const Req *r) {
  switch (r->op) {
    case TIDE_OP_RECV: case TIDE_OP_SEND: case TIDE_OP_RECVMSG: case TIDE_OP_SENDMSG: return true;
    case TIDE_OP_READ: case TIDE_OP_WRITE: return r->a.rw.off < 0;
    case TIDE_OP_READV: case TIDE_OP_WRITEV: return r->a.vec.off < 0;
    default: return false;
  }
}

// The operations TIDE_ALL applies to.
inline bool op_all_capable(int op) {
  return op == TIDE_OP_READ || op == TIDE_OP_WRITE || op == TIDE_OP_RECV || op == TIDE_OP_SEND;
}

// TIDE_ALL: counts a partial result into the bytes moved. Returns true while bytes
// remain (the caller moves on with the rest); otherwise res becomes the final
// result: all bytes, or the count moved before EOF or an error.
inline bool all_continue(Req *r, int64_t &res) {
  if (res > 0) {
    r->done += static_cast<size_t>(res);
    if (r->done < r->a.rw.len) return true;
  }
  if (r->done > 0) res = static_cast<int64_t>(r->done);
  return false;
}

// Operations grouped by how readiness emulation treats them.
inline bool op_reads(int op) {
  return op == TIDE_OP_READ || op == TIDE_OP_READV || op == TIDE_OP_RECV ||
         op == TIDE_OP_RECVMSG || op == TIDE_OP_ACCEPT || op == TIDE_OP_RECV_POOL;
}
inline bool op_writes(int op) {
  return op == TIDE_OP_WRITE || op == TIDE_OP_WRITEV || op == TIDE_OP_SEND ||
         op == TIDE_OP_SENDMSG || op == TIDE_OP_CONNECT || op == TIDE_OP_SENDFILE;
}

// One attempt of the operation as a syscall. nonblock: the emulation path (socket
// ops add MSG_DONTWAIT, -EAGAIN means "wait for readiness"); otherwise a thread
// pool worker running it to the end (TIDE_ALL loops inside). Never returns -EINTR.
int64_t run_syscall(Req *r, bool nonblock) noexcept;

}  // namespace tide
