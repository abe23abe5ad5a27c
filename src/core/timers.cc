// SPDX-License-Identifier: MIT
// timers.cc - relative timers on a 4-ary heap (core/timer_heap.hh).
#include <errno.h>

#include "core/clock.hh"
#include "core/loop.hh"

namespace tide {

// Deadlines are taken from the clock at the call, not from the cached loop time:
// a timer started late in an iteration must still never fire early.
int Loop::timer_start(Timer *w) noexcept {
  if (w->active) return 0;
  w->at = add_sat(mono_now(), w->after);
  if (!timers_.push(w)) return -ENOMEM;
  activate(w);
  return 0;
}

void Loop::timer_stop(Timer *w) noexcept {
  clear_pending(w);
  if (!w->active) return;
  timers_.erase(w);
  deactivate(w);
}

// libev's ev_timer_again.
int Loop::timer_again(Timer *w) noexcept {
  clear_pending(w);
  if (!w->repeat) {
    timer_stop(w);
    return 0;
  }
  w->at = add_sat(mono_now(), w->repeat);
  if (w->active) {
    timers_.update(w);
    return 0;
  }
  if (!timers_.push(w)) return -ENOMEM;
  activate(w);
  return 0;
}

int64_t Loop::timer_remaining(const Timer *w) const noexcept {
  uint64_t r = !w->active ? w->after : (w->at > now_ ? w->at - now_ : 0);
  return r > INT64_MAX ? INT64_MAX : static_cast<int64_t>(r);
}

void Loop::expire_timers() noexcept {
  while (!timers_.empty() && timers_.top_at() <= now_) {
    if (timers_.top()->is_request) {  // a request's sleep or timeout
      Req *r = static_cast<Req *>(timers_.top());
      timers_.pop();
      req_timer_expired(r);
      continue;
    }
    Timer *t = static_cast<Timer *>(timers_.top());
    if (t->repeat) {
      // Next period after now, counted from the old deadline: no drift, and
      // periods missed while the loop was busy are skipped, not fired in a burst.
      uint64_t missed = (now_ - t->at) / t->repeat + 1;
      t->at = missed > (UINT64_MAX - t->at) / t->repeat ? UINT64_MAX : t->at + missed * t->repeat;
      timers_.update(t);
    } else {
      timers_.pop();
      deactivate(t);
    }
    feed(t, TIDE_TIMER);
  }
}

}  // namespace tide
