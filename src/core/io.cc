// SPDX-License-Identifier: MIT
// io.cc - io watchers and the per-fd table. The core keeps, per fd, the list of
// watchers and the interest last handed to the backend; watcher starts and stops
// only mark the fd dirty, and flush_changes() hands the net change to the backend
// once per iteration (libev's fd_reify), so stop+start costs no syscall.
// A freshly initialised watcher may be on an fd number that was closed and reused
// (the kernel then forgot the old registration): its start forces one update.
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <new>

#include "core/loop.hh"

namespace tide {

unsigned Loop::fd_want(const FdState &st) const noexcept {
  unsigned rw = 0;
  bool all_edge = true;
  for (const Io *w = st.head; w; w = w->fd_next) {
    rw |= w->events & (kIoRead | kIoWrite);
    all_edge = all_edge && (w->events & kIoEdge);
  }
  // Edge-triggered in the kernel only if every watcher on the fd asked for it:
  // a level-triggered watcher must keep hearing about unread data.
  return rw ? rw | (all_edge ? kIoEdge : 0) : 0;
}

void Loop::fd_mark(int fd) noexcept {
  FdState &st = fds_[fd];
  if (st.dirty) return;
  st.dirty = true;
  changes_.push_back(fd);  // capacity reserved in io_start: never reallocates here
}

// Grows the fd table to hold fd. changes_ gets the same capacity, so fd_mark()
// (each fd listed at most once) never allocates.
int Loop::ensure_fd(int fd) noexcept {
  if (static_cast<size_t>(fd) < fds_.size()) return 0;
  // Validate before growing: a number that names no open file costs no memory,
  // however large it is (the table would otherwise grow to it first).
  if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) return -EBADF;
  // An open fd lies below RLIMIT_NOFILE (unless the limit was lowered after it was
  // opened): the doubling never grows the table past the limit, only to fd itself.
  struct rlimit lim;
  size_t cap = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                   ? static_cast<size_t>(lim.rlim_cur)
                   : SIZE_MAX;
  try {
    size_t n = std::max(static_cast<size_t>(fd) + 1, std::min(fds_.size() * 2, cap));
    fds_.resize(n);
    changes_.reserve(n);
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  }
  return 0;
}

int Loop::io_start(Io *w) noexcept {
  int fd = w->fd;
  if (fd >= backend_->fd_limit()) return -ERANGE;
  int e = ensure_fd(fd);
  if (e < 0) return e;
  FdState &st = fds_[fd];
  if (!st.head && !st.kernel && fcntl(fd, F_GETFD) < 0 && errno == EBADF) return -EBADF;
  // Append: watchers on one fd are told of an event in the order they started.
  w->fd_next = nullptr;
  w->fd_prev = nullptr;
  if (!st.head) {
    st.head = w;
  } else {
    Io *t = st.head;
    while (t->fd_next) t = t->fd_next;
    t->fd_next = w;
    w->fd_prev = t;
  }
  if (w->fd_reset) {
    st.reset = true;
    w->fd_reset = false;
  }
  activate(w);
  fd_mark(fd);
  return 0;
}

void Loop::io_stop(Io *w) noexcept {
  clear_pending(w);
  if (!w->active) return;
  FdState &st = fds_[w->fd];
  if (w->fd_prev)
    w->fd_prev->fd_next = w->fd_next;
  else
    st.head = w->fd_next;
  if (w->fd_next) w->fd_next->fd_prev = w->fd_prev;
  w->fd_next = w->fd_prev = nullptr;
  deactivate(w);
  fd_mark(w->fd);
}

void Loop::io_changed(Io *w) noexcept { fd_mark(w->fd); }

void Loop::flush_changes() noexcept {
  // fd_error() below stops watchers, which calls fd_mark(); the fd is still marked
  // dirty then, so nothing is appended while this loop runs.
  for (size_t i = 0; i < changes_.size(); ++i) {
    int fd = changes_[i];
    FdState &st = fds_[fd];
    unsigned want = fd_want(st);
    if (want != st.kernel || (st.reset && want)) {
      int r = backend_->update(fd, st.kernel, want);
      st.kernel = r < 0 ? 0 : want;
      if (r < 0 && want) fd_error(fd);
    }
    st.dirty = false;
    st.reset = false;
  }
  changes_.clear();
}

void Loop::forget_kernel_state() noexcept {
  for (size_t fd = 0; fd < fds_.size(); ++fd) {
    fds_[fd].kernel = 0;
    if (fds_[fd].head) fd_mark(static_cast<int>(fd));
  }
}

void Loop::fd_event(int fd, unsigned revents) noexcept {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
  for (Io *w = fds_[fd].head; w;) {
    Io *next = w->fd_next;
    unsigned ev = revents & w->events & (kIoRead | kIoWrite);
    if (ev && w->internal) {
      run_internal(w, ev);
    } else if (ev) {
      if (w->events & TIDE_ONESHOT) io_stop(w);
      feed(w, ev);
    }
    w = next;
  }
}

void Loop::fd_error(int fd) noexcept {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
  for (Io *w = fds_[fd].head; w;) {
    Io *next = w->fd_next;
    io_stop(w);
    unsigned ev = TIDE_ERROR | (w->events & (kIoRead | kIoWrite));
    if (w->internal) run_internal(w, ev); else feed(w, ev);
    w = next;
  }
}

// The loop's own io watchers (wakeup eventfd, request queues) are handled right
// where the backend reports them, not through the pending queue: they run no user
// code, only syscalls that queue events and completions for this iteration.
void Loop::run_internal(Io *w, unsigned revents) noexcept {
  reinterpret_cast<tide_io_cb>(w->cb)(reinterpret_cast<tide_loop *>(this),
                                      static_cast<tide_io *>(w->public_struct()), revents);
}

void Loop::fd_rearm(int fd) noexcept {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
  fds_[fd].kernel = 0;
  fd_mark(fd);
}

}  // namespace tide
