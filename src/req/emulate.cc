// SPDX-License-Identifier: MIT
// emulate.cc - completion requests on readiness backends (epoll, poll, select, and
// io_uring for ops its kernel lacks). Per fd, two FIFO queues (read and write
// direction) and one internal io watcher. A request is tried at once as a
// non-blocking syscall if its queue was empty; otherwise, or on EAGAIN, it waits,
// and each readiness report runs the queue head until a syscall says EAGAIN.
// The internal watcher is "direct": the core runs ready_cb inside fd_event, so the
// syscalls happen right after the wait and the completions they queue are
// dispatched in the same iteration. No user code runs here.
//
// fds in blocking mode (a pipe or listening socket without O_NONBLOCK) are never
// tried before they poll ready, and get one attempt per readiness report.
#include <errno.h>
#include <sys/socket.h>

#include <new>

#include "core/loop.hh"
#include "req/bufpool.hh"

namespace tide {

Loop::ReqFd *Loop::req_fd(int fd) noexcept {
  try {
    if (static_cast<size_t>(fd) >= req_fds_.size()) req_fds_.resize(static_cast<size_t>(fd) + 1);
    if (!req_fds_[fd]) req_fds_[fd].reset(new ReqFd());
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
  return req_fds_[fd].get();
}

void Loop::ready_submit(Req *r) noexcept {
  ReqFd *q = req_fd(r->fd);
  if (!q) {
    req_done(r, -ENOMEM);
    return;
  }
  bool wdir = op_writes(r->op);
  Req *&head = wdir ? q->wq : q->rq;
  Req *&tail = wdir ? q->wq_tail : q->rq_tail;
  bool was_empty = !head;
  r->next = nullptr;
  r->prev = tail;
  if (tail) tail->next = r; else head = r;
  tail = r;
  if (was_empty && !r->want_blocking_retry) ready_run(*q, wdir);
  ready_interest(*q);
}

void Loop::ready_forget(int fd) noexcept {
  if (static_cast<size_t>(fd) < req_fds_.size() && req_fds_[fd]) req_fds_[fd]->needs_reset = true;
}

bool Loop::ready_remove(Req *r) noexcept {
  ReqFd *q = static_cast<size_t>(r->fd) < req_fds_.size() ? req_fds_[r->fd].get() : nullptr;
  if (!q || !ready_unlink(*q, r)) return false;
  ready_interest(*q);
  return true;
}

bool Loop::ready_unlink(ReqFd &qr, Req *r) noexcept {
  ReqFd *q = &qr;
  bool wdir = op_writes(r->op);
  Req *&head = wdir ? q->wq : q->rq;
  Req *&tail = wdir ? q->wq_tail : q->rq_tail;
  if (!r->prev_req() && head != r) return false;
  if (r->prev_req()) r->prev_req()->next = r->next_req(); else head = r->next_req();
  if (r->next_req()) r->next_req()->prev = r->prev_req(); else tail = r->prev_req();
  r->next = r->prev = nullptr;
  return true;
}

void Loop::ready_interest(ReqFd &q) noexcept {
  unsigned ev = ((q.rq && !q.rq->paused) ? TIDE_READ : 0u) | (q.wq ? TIDE_WRITE : 0u);
  Io *w = reinterpret_cast<Io *>(q.io.tide_private_);
  if (!ev) {
    if (w->magic == kMagic && w->active) io_stop(w);
    return;
  }
  int fd = (q.rq ? q.rq : q.wq)->fd;
  if (q.needs_reset) {
    w = new (q.io.tide_private_) Io(reinterpret_cast<AnyCb>(&Loop::ready_cb), fd, ev);
    w->internal = true;
    q.needs_reset = false;
  } else if (w->events != ev) {
    w->events = ev;
    if (w->active) io_changed(w);
  }
  if (w->active) return;
  // A new wait for readiness is a new start (libev re-registers on every
  // ev_io_set, for the same reason): since the last request on this fd finished,
  // the program may have closed the number and opened another file under it, and
  // epoll dropped the old file's registration while the loop still counts it as
  // its interest. Re-registering costs one epoll_ctl on a start after a stop.
  w->fd_reset = true;
  int e = io_start(w);
  if (e == 0) return;
  // The fd cannot be watched (closed, out of range): every queued request fails.
  for (Req *r; (r = q.rq ? q.rq : q.wq);) {
    ready_unlink(q, r);
    req_done(r, e);
  }
}

void Loop::ready_cb(tide_loop *l, tide_io *io, unsigned revents) noexcept {
  Loop *self = reinterpret_cast<Loop *>(l);
  ReqFd &q = *reinterpret_cast<ReqFd *>(io);
  if (revents & (TIDE_READ | TIDE_ERROR)) self->ready_run(q, false);
  if (revents & (TIDE_WRITE | TIDE_ERROR)) self->ready_run(q, true);
  if (revents & TIDE_ERROR) q.needs_reset = true;  // the watcher was stopped by fd_error
  self->ready_interest(q);
}

void Loop::ready_run(ReqFd &q, bool wdir) noexcept {
  bool tried_blocking = false;
  for (;;) {
    Req *r = wdir ? q.wq : q.rq;
    if (!r || r->paused) return;
    if (r->want_blocking_retry && tried_blocking) return;
    tried_blocking = r->want_blocking_retry;
    if (r->op == TIDE_OP_RECV_POOL) {
      BufPool *p = r->a.pool.pool;
      int id = p->get();
      if (id < 0) {  // pool dry: pause until tide_bufpool_put
        r->paused = true;
        p->add_paused(r);
        return;
      }
      ssize_t n;
      do n = recv(r->fd, p->addr(id), p->size(), MSG_DONTWAIT); while (n < 0 && errno == EINTR);
      if (n > 0) {
        req_more(r, n, id);
        continue;
      }
      int err = n < 0 ? errno : 0;
      p->unget(id);
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      ready_result(r, n < 0 ? -err : 0);
      continue;
    }
    int64_t res = run_syscall(r, true);
    if (res == -EAGAIN || res == -EWOULDBLOCK) return;
    ready_result(r, res);
  }
}

// Returns true when r finished (and left its queue); false when it stays at the
// head: TIDE_ALL with bytes still to move, multishot accept, sendfile in progress.
bool Loop::ready_result(Req *r, int64_t res) noexcept {
  if (r->op == TIDE_OP_ACCEPT && (r->flags & TIDE_MULTISHOT) && res >= 0) {
    req_more(r, res, -1);
    return false;
  }
  if ((r->flags & TIDE_ALL) && op_all_capable(r->op) && all_continue(r, res)) return false;
  if (r->op == TIDE_OP_SENDFILE) {
    if (res > 0 && r->done < r->a.sf.count) return false;
    res = r->done > 0 ? static_cast<int64_t>(r->done) : res;
  }
  ready_remove(r);
  req_done(r, res);
  return true;
}

}  // namespace tide
