// SPDX-License-Identifier: MIT
// loop.cc - tide_run's iteration, the pending queues and the loop's reference count.
#include "core/loop.hh"

#include <errno.h>

#include "core/clock.hh"

namespace tide {

void Loop::update_time() noexcept { now_ = mono_now(); }

int Loop::ref() noexcept {
  ++refs_;
  return 0;
}

int Loop::unref() noexcept {
  if (refs_ <= 0) return -ERANGE;
  --refs_;
  return 0;
}

void Loop::activate(Watcher *w) noexcept {
  w->active = true;
  w->hold(this);
  if (!w->internal) {
    ++user_active_;
    ++refs_;
  }
}

void Loop::deactivate(Watcher *w) noexcept {
  w->active = false;
  if (!w->internal) {
    --user_active_;
    --refs_;
  }
  w->release_if_idle();
}

void Loop::feed(Watcher *w, uint32_t revents) noexcept {
  if (w->pending()) {
    w->revents |= revents;
    return;
  }
  w->revents = revents;
  w->hold(this);
  int p = w->priority - TIDE_MINPRI;
  Queue &q = pending_[p];
  w->pend_next = nullptr;
  w->pend_prev = q.tail;
  if (q.tail)
    q.tail->pend_next = w;
  else
    q.head = w;
  q.tail = w;
  pending_mask_ |= 1u << p;
  ++pending_count_;
}

// Caller's bytes are checked against the loop's own structures only: an active
// watcher must sit where its index says (list, heap) or in its fd's chain; a
// pending watcher that is not active must be in its priority's queue (a walk, but
// only tide_feed_event makes such watchers). Requests are checked by their route.
bool Loop::records(const Watcher *w) const noexcept {
  if (!w->active) {
    int p = w->priority - TIDE_MINPRI;
    if (p < 0 || p >= kPriorities) return false;
    for (const Watcher *x = pending_[p].head; x; x = x->pend_next)
      if (x == w) return true;
    return false;
  }
  switch (w->kind) {
    case Kind::io: {
      const Io *io = static_cast<const Io *>(w);
      if (io->fd < 0 || static_cast<size_t>(io->fd) >= fds_.size()) return false;
      for (const Io *x = fds_[io->fd].head; x; x = x->fd_next)
        if (x == io) return true;
      return false;
    }
    case Kind::timer:
      return timers_.holds(static_cast<const Timer *>(w));
    case Kind::idle: case Kind::prepare: case Kind::check: case Kind::async: {
      const std::vector<Watcher *> &list =
          *const_cast<Loop *>(this)->list_for(w->kind);
      return w->index < list.size() && list[w->index] == w;
    }
    default:
      return true;  // requests: in flight by their route
  }
}

void Loop::clear_pending(Watcher *w) noexcept {
  if (!w->pending()) return;
  int p = w->priority - TIDE_MINPRI;
  Queue &q = pending_[p];
  if (w->pend_prev)
    w->pend_prev->pend_next = w->pend_next;
  else
    q.head = w->pend_next;
  if (w->pend_next)
    w->pend_next->pend_prev = w->pend_prev;
  else
    q.tail = w->pend_prev;
  if (!q.head) pending_mask_ &= ~(1u << p);
  w->pend_next = w->pend_prev = nullptr;
  w->revents = 0;
  --pending_count_;
  w->release_if_idle();
}

void Loop::invoke(Watcher *w, uint32_t revents) noexcept {
  tide_loop *l = reinterpret_cast<tide_loop *>(this);
  void *pub = w->public_struct();
  switch (w->kind) {
    case Kind::io:
      reinterpret_cast<tide_io_cb>(w->cb)(l, static_cast<tide_io *>(pub), revents);
      break;
    case Kind::timer:
      reinterpret_cast<tide_timer_cb>(w->cb)(l, static_cast<tide_timer *>(pub), revents);
      break;
    case Kind::idle:
      reinterpret_cast<tide_idle_cb>(w->cb)(l, static_cast<tide_idle *>(pub), revents);
      break;
    case Kind::prepare:
      reinterpret_cast<tide_prepare_cb>(w->cb)(l, static_cast<tide_prepare *>(pub), revents);
      break;
    case Kind::check:
      reinterpret_cast<tide_check_cb>(w->cb)(l, static_cast<tide_check *>(pub), revents);
      break;
    case Kind::async:
      reinterpret_cast<tide_async_cb>(w->cb)(l, static_cast<tide_async *>(pub), revents);
      break;
    case Kind::req:  // requests complete through dispatch_completions(), never here
      break;
  }
}

// Highest priority first, FIFO within a priority. Callbacks may queue more events
// (tide_feed_event, starting an async...), which run in this same phase in
// priority order; a callback may free its own watcher, so w is not touched after.
void Loop::invoke_pending() noexcept {
  while (pending_mask_) {
    int p = 31 - __builtin_clz(pending_mask_);
    Watcher *w = pending_[p].head;
    uint32_t revents = w->revents;
    clear_pending(w);
    invoke(w, revents);
  }
}

int64_t Loop::wait_timeout(int mode) noexcept {
  if (mode == TIDE_RUN_NOWAIT || pending_count_ || !completions_.empty() || !idles_.empty() ||
      stop_requested_ || !alive())
    return 0;
  if (timers_.empty()) return -1;
  uint64_t t = mono_now(), at = timers_.top_at();
  if (at <= t) return 0;
  uint64_t d = at - t;
  return d > INT64_MAX ? INT64_MAX : static_cast<int64_t>(d);
}

// One iteration in libev's order (ev.pod, "ev_run"); see tide_run(3).
int Loop::run(int mode) noexcept {
  if (mode != TIDE_RUN_DEFAULT && mode != TIDE_RUN_ONCE && mode != TIDE_RUN_NOWAIT)
    return -EINVAL;
  if (running_) return -EDEADLK;
  if (stop_requested_) {
    stop_requested_ = false;
    return alive() ? 1 : 0;
  }
  running_ = true;
  int err = 0;
  // The cached time is read once on entry and then once per iteration, right after
  // the wait (libev does the same): callbacks of an iteration all see the time the
  // wait ended. wait_timeout() reads the clock itself when it may block on a timer.
  update_time();
  do {
    if (!prepares_.empty()) {
      queue_list(prepares_, TIDE_PREPARE);
      invoke_pending();
      if (stop_requested_) break;
    }
    flush_changes();
    err = backend_->wait(*this, wait_timeout(mode));
    if (err < 0) break;
    update_time();
    expire_timers();
    if (!idles_.empty() && pending_count_ == 0) queue_list(idles_, TIDE_IDLE);
    if (!checks_.empty()) queue_list(checks_, TIDE_CHECK);
    dispatch_completions();
    invoke_pending();
  } while (mode == TIDE_RUN_DEFAULT && alive() && !stop_requested_);
  running_ = false;
  stop_requested_ = false;
  if (err < 0) return err;
  return alive() ? 1 : 0;
}

}  // namespace tide
