// SPDX-License-Identifier: MIT
// epoll.cc - the epoll(7) backend. Level-triggered by default, EPOLLET when every
// watcher of an fd is edge-triggered. Regular files, which epoll refuses (EPERM),
// are always ready, as poll(2) and select(2) report them.
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <vector>

#include "backend/backend.hh"
#include "config.h"

namespace tide {

namespace {

class EpollBackend final : public Backend {
 public:
  ~EpollBackend() override {
    if (epfd_ >= 0) close(epfd_);
  }
  int open() noexcept {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    return epfd_ < 0 ? -errno : 0;
  }
  const char *name() const noexcept override { return backend_name(TIDE_BACKEND_EPOLL); }

  int update(int fd, unsigned old_ev, unsigned new_ev) noexcept override {
    auto always = std::find_if(always_.begin(), always_.end(),
                               [fd](const Always &a) { return a.fd == fd; });
    if (always != always_.end()) {
      if (new_ev)
        always->ev = new_ev;
      else
        always_.erase(always);
      return 0;
    }
    if (!new_ev) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // fails harmlessly if fd is closed
      return 0;
    }
    struct epoll_event ev = {};
    ev.events = ((new_ev & kIoRead) ? EPOLLIN : 0u) | ((new_ev & kIoWrite) ? EPOLLOUT : 0u) |
                ((new_ev & kIoEdge) ? static_cast<unsigned>(EPOLLET) : 0u);
    ev.data.fd = fd;
    int op = old_ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int r = epoll_ctl(epfd_, op, fd, &ev);
    // The fd may have been closed and reopened (then epoll dropped it: MOD says
    // ENOENT) or dup'ed under us (ADD says EEXIST): retry with the other op.
    if (r < 0 && errno == ENOENT && op == EPOLL_CTL_MOD) r = epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == EEXIST && op == EPOLL_CTL_ADD) r = epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    if (r < 0 && errno == EPERM) {
      try {
        always_.push_back(Always{fd, new_ev});
      } catch (const std::bad_alloc &) {
        return -ENOMEM;
      }
      return 0;
    }
    return r < 0 ? -errno : 0;
  }

  int wait(Sink &sink, int64_t timeout_ns) noexcept override {
    if (!always_.empty()) timeout_ns = 0;
    int n = wait_syscall(timeout_ns);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; ++i) {
      unsigned e = events_[i].events, rev = 0;
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) rev |= kIoRead;
      if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) rev |= kIoWrite;
      sink.fd_event(events_[i].data.fd, rev);
    }
    for (const Always &a : always_) sink.fd_event(a.fd, a.ev & (kIoRead | kIoWrite));
    if (static_cast<size_t>(n) == events_.size() && events_.size() < kMaxEvents) {
      try {
        events_.resize(events_.size() * 2);
      } catch (const std::bad_alloc &) {
      }
    }
    return 0;
  }

  int reinit() noexcept override {
    if (epfd_ >= 0) close(epfd_);
    always_.clear();
    return open();
  }

 private:
  static constexpr size_t kMaxEvents = 4096;
  struct Always {
    int fd;
    unsigned ev;
  };

  // epoll_wait takes milliseconds; epoll_pwait2 (Linux 5.11) takes a timespec but
  // costs more in the kernel, so it is used only when the timeout has a fraction
  // of a millisecond that rounding up would make a timer late by.
  int wait_syscall(int64_t timeout_ns) noexcept {
#if HAVE_EPOLL_PWAIT2
    if (!no_pwait2_ && timeout_ns > 0 && timeout_ns % 1000000 != 0) {
      struct timespec ts;
      if (timeout_ns >= 0) ns_to_timespec(timeout_ns, &ts);
      int n = epoll_pwait2(epfd_, events_.data(), static_cast<int>(events_.size()),
                           timeout_ns >= 0 ? &ts : nullptr, nullptr);
      if (n >= 0 || errno != ENOSYS) return n;
      no_pwait2_ = true;  // kernel older than 5.11
    }
#endif
    return epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()),
                      ns_to_ms_ceil(timeout_ns));
  }

  int epfd_ = -1;
  bool no_pwait2_ = false;
  std::vector<struct epoll_event> events_ = std::vector<struct epoll_event>(64);
  std::vector<Always> always_;
};

}  // namespace

int make_epoll_backend(std::unique_ptr<Backend> *out, const BackendOptions &, std::string *why) {
  std::unique_ptr<EpollBackend> b(new EpollBackend());
  int r = b->open();
  if (r < 0) {
    *why = std::string("epoll: epoll_create1: ") + strerror(-r);
    return r;
  }
  *out = std::move(b);
  return 0;
}

}  // namespace tide
