// SPDX-License-Identifier: MIT
// engine.cc - the request engine: route choice at submit, the one completion queue
// every route ends in, cancellation, timeouts, and the results of native requests
// (TIDE_ALL remainders, sendfile's splice phases, multishot, paused buffer pools).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "core/clock.hh"
#include "core/loop.hh"
#include "req/bufpool.hh"
#include "sys/memcheck.hh"
#include "sys/threadpool.hh"

namespace tide {

namespace {

bool op_has_fd(int op) {
  switch (op) {
    case TIDE_OP_NOP: case TIDE_OP_OPENAT: case TIDE_OP_STATX: case TIDE_OP_UNLINKAT:
    case TIDE_OP_RENAMEAT: case TIDE_OP_MKDIRAT: case TIDE_OP_SLEEP: case TIDE_OP_WORK:
      return false;
    default:
      return true;
  }
}

bool fd_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

}  // namespace

void Loop::req_link_fd(Req *r) noexcept {
  FdState &st = fds_[r->fd];
  r->fd_prev = nullptr;
  r->fd_next = st.reqs;
  if (st.reqs) st.reqs->fd_prev = r;
  st.reqs = r;
}

void Loop::req_unlink_fd(Req *r) noexcept {
  // Not linked: no fd, or one that was never in the table (req_submit's -EBADF).
  if (r->fd < 0 || !op_has_fd(r->op) || static_cast<size_t>(r->fd) >= fds_.size()) return;
  FdState &st = fds_[r->fd];
  if (r->fd_prev) r->fd_prev->fd_next = r->fd_next; else if (st.reqs == r) st.reqs = r->fd_next;
  if (r->fd_next) r->fd_next->fd_prev = r->fd_prev;
  r->fd_next = r->fd_prev = nullptr;
}

// Native when the backend runs the op; otherwise by what the fd is (DESIGN.md 4:
// pollable fds on readiness, regular files and path operations on the pool).
Route Loop::choose_route(Req *r) noexcept {
  int op = r->op;
  if (op_support_[op] == TIDE_OP_NATIVE) return Route::native;
  switch (op) {
    case TIDE_OP_NOP: case TIDE_OP_SHUTDOWN: case TIDE_OP_CLOSE:
      return Route::immediate;
    case TIDE_OP_SLEEP:
      return Route::timer;
    case TIDE_OP_RECV: case TIDE_OP_SEND: case TIDE_OP_RECVMSG: case TIDE_OP_SENDMSG:
    case TIDE_OP_RECV_POOL:
      return Route::ready;  // MSG_DONTWAIT: never blocks, whatever the fd's mode
    case TIDE_OP_ACCEPT:
      r->want_blocking_retry = !fd_nonblocking(r->fd);
      return Route::ready;
    case TIDE_OP_CONNECT: case TIDE_OP_SENDFILE:
      return fd_nonblocking(r->fd) ? Route::ready : Route::pool;
    case TIDE_OP_READ: case TIDE_OP_WRITE: case TIDE_OP_READV: case TIDE_OP_WRITEV: {
      struct stat st;
      if (fstat(r->fd, &st) < 0) return Route::immediate;  // the syscall reports EBADF
      if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return Route::pool;
      bool sock = S_ISSOCK(st.st_mode);
      if (op == TIDE_OP_READV || op == TIDE_OP_WRITEV) r->a.vec.socket = sock; else r->a.rw.socket = sock;
      r->want_blocking_retry = !sock && !fd_nonblocking(r->fd);
      return Route::ready;
    }
    default:  // path operations, fsync, fallocate, splice, work
      return Route::pool;
  }
}

int Loop::req_submit(Req *r) noexcept {
  if (r->fd >= 0 && op_has_fd(r->op)) {
    int e = ensure_fd(r->fd);
    if (e == -EBADF) {
      // A number past the fd table that names no open file: the operation fails
      // as the kernel would fail it, in the callback, and the table stays as it is.
      r->route = Route::immediate;
      activate(r);
      req_done(r, -EBADF);
      return 0;
    }
    if (e < 0) return e;
  }
  if (r->op == TIDE_OP_CLOSE) {
    close_cancels(r);
    ready_forget(r->fd);  // the number may name another file once closed
  }
  r->route = choose_route(r);
  r->done = 0;
  r->deadline = r->timeout_ns ? add_sat(mono_now(), r->timeout_ns) : 0;
  bool native_timeout = r->route == Route::native && native_link_timeout(r);
  activate(r);  // before any route: a pool thread may finish before we return
  int e = 0;
  switch (r->route) {
    case Route::native:
      r->kref = 0;
      r->ordered = op_ordered(r);
      if (r->ordered) {
        if (!req_fd(r->fd)) e = -ENOMEM;
      } else {
        e = backend_->submit(r);
      }
      break;
    case Route::pool:
      r->run = &Loop::pool_run;
      e = ThreadPool::instance().submit(r);
      break;
    case Route::timer:
      r->at = add_sat(mono_now(), r->a.sleep.ns);
      if (r->deadline && r->deadline < r->at) r->at = r->deadline;
      if (!timers_.push(r)) e = -ENOMEM;
      break;
    default:
      break;
  }
  if (e < 0) {
    deactivate(r);
    return e;
  }
  if (r->fd >= 0 && op_has_fd(r->op)) req_link_fd(r);
  // Timeouts of routes without a kernel-linked one run on the loop's timer heap.
  if (r->deadline && !native_timeout && r->route != Route::timer) {
    r->at = r->deadline;
    if (!timers_.push(r)) r->deadline = 0;  // out of memory: no timeout rather than a failure
  }
  if (r->route == Route::immediate) {
    // A pool thread may still be inside an operation on this fd (it cannot be
    // cancelled there): the close waits for it, so the number is not reused early.
    if (r->op == TIDE_OP_CLOSE && fd_busy_on_pool(r))
      r->route = Route::pool_wait;
    else
      req_done(r, run_syscall(r, true));
  }
  if (r->route == Route::ready) ready_submit(r);
  if (r->route == Route::native && r->ordered) native_enqueue(r);
  return 0;
}

void Loop::req_done(Req *r, int64_t res) noexcept {
  if (r->final_queued) return;
  if (r->timed_out && res == -ECANCELED) res = -ETIMEDOUT;
  // TIDE_ALL and sendfile report the bytes already moved rather than a late error.
  if (res < 0 && r->done > 0 &&
      (r->op == TIDE_OP_SENDFILE || ((r->flags & TIDE_ALL) && op_all_capable(r->op))))
    res = static_cast<int64_t>(r->done);
  r->final_queued = true;
  if (r->in_heap()) timers_.erase(r);
  if (r->ordered) native_dequeue(r);
  try {
    completions_.push_back(Completion{r, res, -1, false});
  } catch (const std::bad_alloc &) {
    // Out of memory for the queue: the request cannot report; it stays in flight.
    r->final_queued = false;
  }
}

void Loop::req_more(Req *r, int64_t res, int32_t buf) noexcept {
  try {
    completions_.push_back(Completion{r, res, buf, true});
  } catch (const std::bad_alloc &) {
    if (buf >= 0 && r->a.pool.pool) r->a.pool.pool->put(buf);  // drop the chunk, keep the buffer
  }
}

// What a finished request held besides itself.
void Loop::req_release(Req *r) noexcept {
  if (r->op == TIDE_OP_SENDFILE && r->a.sf.pipe_r >= 0) {
    close(r->a.sf.pipe_r);
    close(r->a.sf.pipe_w);
    r->a.sf.pipe_r = r->a.sf.pipe_w = -1;
  }
  if (r->op == TIDE_OP_RECV_POOL) --r->a.pool.pool->users;
}

// The one dispatch point of request results (DESIGN.md 1). Runs the completions
// queued so far; ones queued by these callbacks wait for the next iteration, so a
// callback that resubmits cannot starve the loop.
void Loop::dispatch_completions() noexcept {
  if (completions_.empty()) return;
  dispatching_.swap(completions_);
  tide_loop *l = reinterpret_cast<tide_loop *>(this);
  for (const Completion &c : dispatching_) {
    Req *r = c.r;
    r->cur_more = c.more;
    r->cur_buf = c.buf;
    if (!c.more) {  // finished: the program owns r again from here on
      req_release(r);
      req_unlink_fd(r);
      if (r->in_heap()) timers_.erase(r);
      r->final_queued = r->cancel_requested = r->timed_out = r->paused = false;
      r->timeout_ns = r->deadline = 0;
      r->timeout_token = 0;
      r->route = Route::none;
      deactivate(r);
    }
    reinterpret_cast<tide_req_cb>(r->cb)(l, static_cast<tide_req *>(r->public_struct()),
                                         static_cast<ssize_t>(c.res));
  }
  dispatching_.clear();
}

// Cancellation and timeouts share one path: stop the operation where it is.
void Loop::req_abort(Req *r, int64_t res) noexcept {
  if (r->final_queued) return;
  if (r->paused) r->a.pool.pool->remove_paused(r);
  switch (r->route) {
    case Route::native:
      if (r->paused || (r->ordered && r->kref == 0)) {  // nothing in the kernel (yet)
        req_done(r, res);
      } else {
        backend_->cancel(r);  // the result comes back through req_cqe
      }
      break;
    case Route::ready:
      if (ready_remove(r)) req_done(r, res);
      break;
    case Route::pool:
      if (ThreadPool::instance().cancel(r)) req_done(r, res);  // else: running, wait for it
      break;
    case Route::timer:
      req_done(r, res);
      break;
    default:
      break;
  }
}

int Loop::req_cancel(Req *r) noexcept {
  if (!r->in_flight() || r->loop != this) return -ENOENT;
  if (r->cancel_requested) return -EALREADY;
  __atomic_store_n(&r->cancel_requested, true, __ATOMIC_RELEASE);  // pool threads read it
  req_abort(r, -ECANCELED);
  return 0;
}

void Loop::req_timer_expired(Req *r) noexcept {
  if (r->route == Route::timer && (!r->deadline || r->at < r->deadline)) {
    req_done(r, 0);  // the sleep itself ended
    return;
  }
  __atomic_store_n(&r->timed_out, true, __ATOMIC_RELEASE);  // pool threads read it
  req_abort(r, -ETIMEDOUT);
}

bool Loop::fd_busy_on_pool(const Req *closer) const noexcept {
  for (const Req *r = fds_[closer->fd].reqs; r; r = r->fd_next)
    if (r != closer && r->route == Route::pool && !r->final_queued) return true;
  return false;
}

// A pool operation on fd finished: run a close that waited for it.
void Loop::run_waiting_close(int fd) noexcept {
  for (Req *r = fds_[fd].reqs; r; r = r->fd_next)
    if (r->op == TIDE_OP_CLOSE && r->route == Route::pool_wait && !fd_busy_on_pool(r)) {
      req_done(r, run_syscall(r, true));
      return;
    }
}

void Loop::close_cancels(Req *closer) noexcept {
  for (Req *r = fds_[closer->fd].reqs; r;) {
    Req *next = r->fd_next;
    if (r != closer && !r->cancel_requested) {
      r->cancel_requested = true;
      req_abort(r, -ECANCELED);
    }
    r = next;
  }
}

// On a pool worker: run the operation to its end, then hand the result to the
// loop. The hand-off allocates nothing (the request links itself into the loop's
// list of finished jobs), so no result is ever lost to a lack of memory.
void Loop::pool_run(PoolJob *job) noexcept {
  Req *r = Req::of(job);
  r->loop->pool_done(r, run_syscall(r, false));
}

void Loop::pool_done(Req *r, int64_t res) noexcept {
  r->kres = res;
  r->next = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_done_tail_) pool_done_tail_->next = r; else pool_done_head_ = r;
    pool_done_tail_ = r;
  }
  wakeup();
}

// In the loop thread (woken by pool_done): finish every request whose pool job
// is done, in the order the workers finished them.
void Loop::pool_collect() noexcept {
  Req *r;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    r = pool_done_head_;
    pool_done_head_ = pool_done_tail_ = nullptr;
  }
  while (r) {
    Req *next = r->next_req();
    r->next = nullptr;
    int64_t res = r->kres;
    if (r->op == TIDE_OP_SENDFILE) res = r->done > 0 ? static_cast<int64_t>(r->done) : res;
    req_done(r, res);
    if (r->fd >= 0 && static_cast<size_t>(r->fd) < fds_.size() && fds_[r->fd].reqs)
      run_waiting_close(r->fd);
    r = next;
  }
}

// Results of natively run requests, in the backend's reap: no user code runs here.
void Loop::req_cqe(Req *r, int64_t res, bool more, int32_t buf) noexcept {
  native_result(r, res, more, buf);
}

// What the kernel wrote for a native operation that returned res (> 0 for the
// data operations): memcheck cannot see io_uring's writes, so without this every
// program that reads its received bytes under valgrind would hear of
// uninitialised values.
void Loop::native_wrote(const Req *r, int64_t res, int32_t buf) noexcept {
  if (res < 0) return;
  switch (r->op) {
    case TIDE_OP_READ: case TIDE_OP_RECV:
      mark_defined(static_cast<char *>(r->a.rw.buf) + r->done, static_cast<size_t>(res));
      break;
    case TIDE_OP_READV: case TIDE_OP_RECVMSG: {
      const struct iovec *iov = r->op == TIDE_OP_READV ? r->a.vec.iov : r->a.msg.msg->msg_iov;
      size_t n = r->op == TIDE_OP_READV ? static_cast<size_t>(r->a.vec.iovcnt) : r->a.msg.msg->msg_iovlen;
      size_t left = static_cast<size_t>(res);
      for (size_t i = 0; i < n && left > 0; ++i) {
        size_t part = iov[i].iov_len < left ? iov[i].iov_len : left;
        mark_defined(iov[i].iov_base, part);
        left -= part;
      }
      if (r->op == TIDE_OP_RECVMSG) {  // the kernel also wrote back the header's lengths
        struct msghdr *m = r->a.msg.msg;
        mark_defined(m, sizeof *m);
        mark_defined(m->msg_name, m->msg_namelen);
        mark_defined(m->msg_control, m->msg_controllen);
      }
      break;
    }
    case TIDE_OP_RECV_POOL:
      if (buf >= 0) mark_defined(r->a.pool.pool->addr(buf), static_cast<size_t>(res));
      break;
    case TIDE_OP_ACCEPT:
      if (r->a.acc.addrlen) {
        mark_defined(r->a.acc.addrlen, sizeof *r->a.acc.addrlen);
        socklen_t n = *r->a.acc.addrlen;  // the peer's length, maybe more than was room
        mark_defined(r->a.acc.addr, n < sizeof(sockaddr_storage) ? n : sizeof(sockaddr_storage));
      }
      break;
    case TIDE_OP_STATX:
      mark_defined(r->a.path.stx, sizeof *r->a.path.stx);
      break;
    default:
      break;
  }
}

void Loop::native_result(Req *r, int64_t res, bool more, int32_t buf) noexcept {
  native_wrote(r, res, buf);
  switch (r->op) {
    case TIDE_OP_SLEEP:
      req_done(r, res == -ETIME ? 0 : res);
      return;
    case TIDE_OP_ACCEPT:
      if (more) {
        req_more(r, res, -1);
      } else if ((r->flags & TIDE_MULTISHOT) && res >= 0 && !r->cancel_requested) {
        req_more(r, res, -1);  // a kernel without multishot accept: one at a time
        if (backend_->submit(r) < 0) req_done(r, -ENOMEM);
      } else {
        req_done(r, res);
      }
      return;
    case TIDE_OP_RECV_POOL:
      if (res > 0) {
        req_more(r, res, buf);
        if (!more) {  // the kernel ended the multishot early (e.g. a full CQ)
          if (r->cancel_requested)
            req_done(r, -ECANCELED);
          else if (backend_->submit(r) < 0)
            req_done(r, -ENOMEM);
        }
      } else if (res == -ENOBUFS && !r->cancel_requested) {
        if (r->a.pool.pool->has_free()) {
          // The buffers came back between the kernel's -ENOBUFS and this reap: no
          // later put will come to wake a pause, so go on at once.
          if (backend_->submit(r) < 0) req_done(r, -ENOMEM);
        } else {
          r->paused = true;  // resumes in bufpool_resume() when buffers come back
          r->a.pool.pool->add_paused(r);
        }
      } else if (!more) {
        req_done(r, res);
      }
      return;
    case TIDE_OP_SPLICE:
      if (res == -EAGAIN && !r->cancel_requested) {  // non-blocking pipe: wait, then retry
        r->poll_first = true;
        if (backend_->submit(r) == 0) return;
      }
      req_done(r, res);
      return;
    case TIDE_OP_SENDFILE: {
      auto &s = r->a.sf;
      if (res == -EAGAIN && !r->cancel_requested) {  // socket buffer full: wait, retry
        r->poll_first = true;
        if (backend_->submit(r) == 0) return;
      }
      if (res < 0 || (res == 0 && s.to_pipe) || r->cancel_requested) {
        req_done(r, r->done > 0 ? static_cast<int64_t>(r->done) : res);
        return;
      }
      if (s.to_pipe) {
        s.in_pipe = static_cast<size_t>(res);
        s.to_pipe = false;
      } else {
        s.in_pipe -= static_cast<size_t>(res);
        r->done += static_cast<size_t>(res);
        if (!s.in_pipe) s.to_pipe = true;
      }
      if (s.to_pipe && r->done >= s.count) {
        req_done(r, static_cast<int64_t>(r->done));
        return;
      }
      if (backend_->submit(r) < 0) req_done(r, r->done ? static_cast<int64_t>(r->done) : -ENOMEM);
      return;
    }
    default:
      break;
  }
  if ((r->flags & TIDE_ALL) && op_all_capable(r->op) && all_continue(r, res)) {
    if (!r->cancel_requested && backend_->submit(r) == 0) return;  // the rest
    res = static_cast<int64_t>(r->done);
  }
  req_done(r, res);
}

// Ordered native requests (stream operations) run one at a time per fd and
// direction, in submit order: r is queued, and submitted if it is first.
void Loop::native_enqueue(Req *r) noexcept {
  ReqFd &q = *req_fds_[r->fd];
  int d = op_writes(r->op);
  r->next = nullptr;
  r->prev = q.nq_tail[d];
  if (q.nq_tail[d]) q.nq_tail[d]->next = r; else q.nq[d] = r;
  q.nq_tail[d] = r;
  if (q.nq[d] == r && backend_->submit(r) < 0) req_done(r, -ENOMEM);
}

void Loop::native_dequeue(Req *r) noexcept {
  ReqFd &q = *req_fds_[r->fd];
  int d = op_writes(r->op);
  bool was_head = q.nq[d] == r;
  if (r->prev_req()) r->prev_req()->next = r->next_req(); else if (was_head) q.nq[d] = r->next_req();
  if (r->next_req()) r->next_req()->prev = r->prev_req(); else if (q.nq_tail[d] == r) q.nq_tail[d] = r->prev_req();
  r->next = r->prev = nullptr;
  r->ordered = false;
  if (!was_head) return;
  Req *next = q.nq[d];
  if (!next) return;
  if (next->cancel_requested) {
    req_done(next, -ECANCELED);  // dequeues it in turn and moves on
  } else if (backend_->submit(next) < 0) {
    req_done(next, -ENOMEM);
  }
}

// Buffers came back: every request paused on the pool tries once more (one that
// finds the pool dry again re-pauses, and waits for the next put).
void Loop::bufpool_resume(BufPool *p) noexcept {
  for (size_t n = p->paused_count(); n > 0; --n) {
    Req *r = p->take_paused();
    r->paused = false;
    if (r->route == Route::native) {
      if (backend_->submit(r) < 0) req_done(r, -ENOMEM);
    } else {
      ReqFd *q = req_fd(r->fd);
      if (q) {
        ready_interest(*q);
        ready_run(*q, false);
      }
    }
  }
}

}  // namespace tide
