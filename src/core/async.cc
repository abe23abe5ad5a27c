// SPDX-License-Identifier: MIT
// async.cc - cross-thread wakeups: one eventfd per loop, watched by an internal io
// watcher. A send sets the watcher's flag and writes the eventfd only if no wakeup
// is already on its way, so a burst of sends costs one write and one callback.
//
// Ordering (all seq_cst): the sender stores sent=1, then reads wake_pending_ and
// only if it is 0 exchanges it; the loop clears wake_pending_ before scanning the
// flags. A sender that reads 1 (or whose exchange returns 1) comes before that
// clear, so the scan that follows sees its sent=1; a sender whose exchange
// returns 0 writes the eventfd and causes another scan. A send completed before a
// scan is never lost, and a burst of sends costs one locked operation each plus
// one write(2).
#include <new>

#include "core/loop.hh"

namespace tide {

int Loop::wake_start() noexcept {
  int r = wake_fd_.open();
  if (r < 0) return r;
  Io *w = new (wake_io_.tide_private_)
      Io(reinterpret_cast<AnyCb>(&Loop::wake_cb), wake_fd_.fd(), TIDE_READ);
  w->internal = true;
  w->priority = TIDE_MAXPRI;
  return io_start(w);
}

void Loop::wake_cb(tide_loop *l, tide_io *, unsigned) noexcept {
  reinterpret_cast<Loop *>(l)->wake_drain();
}

void Loop::wake_drain() noexcept {
  wake_fd_.drain();
  wake_pending_.store(0);
  pool_collect();  // results of thread pool jobs also arrive through this wakeup
  for (Watcher *w : asyncs_)
    if (static_cast<Async *>(w)->sent.exchange(0)) feed(w, TIDE_ASYNC);
}

int Loop::wakeup() noexcept {
  if (wake_pending_.load() == 0 && wake_pending_.exchange(1) == 0) wake_fd_.signal();
  return 0;
}

int Loop::async_send(Async *w) noexcept {
  w->sent.store(1);
  return wakeup();
}

}  // namespace tide
