// SPDX-License-Identifier: MIT
// boundary.hh - helpers shared by the extern "C" functions of src/api/: turning
// public pointers into core objects with validation, and keeping errno intact.
#pragma once
#include <errno.h>
#include <stddef.h>

#include "core/loop.hh"
#include "core/watcher.hh"
#include "sys/memcheck.hh"
#include "tide.h"

namespace tide {

// The public contract says libtide never changes the caller's errno.
class ErrnoGuard {
 public:
  ErrnoGuard() : saved_(errno) {}
  ~ErrnoGuard() { errno = saved_; }

 private:
  int saved_;
};

inline Loop *core(tide_loop *l) { return reinterpret_cast<Loop *>(l); }
inline const Loop *core(const tide_loop *l) { return reinterpret_cast<const Loop *>(l); }

// tide_X_init and a request's submit read storage the program may never have
// written (a fresh stack struct) to tell a struct a loop still holds from a new
// one: that read is intended, and memcheck is told so (a no-op outside valgrind,
// and without valgrind's header at build time). Every other reader gets a struct
// that went through init.
inline void intended_read(const void *pub, size_t n) { mark_defined(pub, n); }

// Any public watcher struct -> its core object, or nullptr when pub is NULL or
// never went through a tide_X_init (no signature).
inline Watcher *any_watcher(const void *pub) {
  if (!pub) return nullptr;
  auto *storage = const_cast<uint64_t *>(static_cast<const tide_io *>(pub)->tide_private_);
  Watcher *w = reinterpret_cast<Watcher *>(storage);
  return w->magic == kMagic ? w : nullptr;
}

template <class T>
T *typed_watcher(const void *pub, Kind k) {
  Watcher *w = any_watcher(pub);
  return w && w->kind == k ? static_cast<T *>(w) : nullptr;
}

// Checks shared by every start/stop and tide_feed_event: loop and watcher valid
// (-EINVAL), watcher not bound to another loop (-EBUSY); a watcher no loop holds
// has its leftover state cleared. Returns 0 or -errno.
inline int bind_any(tide_loop *l, Watcher *w) {
  if (!l || !w) return -EINVAL;
  const bool held = w->held();  // asks the loop's records: once
  if (held && w->loop != core(l)) return -EBUSY;
  if (!held) {  // leftovers of an old use: not on any loop
    w->active = false;
    w->revents = 0;
    w->loop = nullptr;
  }
  return 0;
}

// bind_any for a watcher of kind k; sets *out on success.
template <class T>
int bind_watcher(tide_loop *l, const void *pub, Kind k, T **out) {
  T *w = typed_watcher<T>(pub, k);
  int r = bind_any(l, w);
  if (r == 0) *out = w;
  return r;
}

// tide_X_init may not re-initialise a watcher that a loop still holds.
inline bool held_by_loop(const void *pub) {
  if (pub)  // the private storage only: the program's own fields stay checked
    intended_read(static_cast<const char *>(pub) + offsetof(tide_io, tide_private_),
                  sizeof(tide_io::tide_private_));
  Watcher *w = any_watcher(pub);
  return w && w->held();
}

}  // namespace tide
