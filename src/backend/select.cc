// SPDX-License-Identifier: MIT
// select.cc - the select(2) backend (pselect for nanosecond timeouts). Always
// level-triggered; only fds below FD_SETSIZE (the core refuses others with -ERANGE,
// so no fd_set is ever written out of bounds). select's EBADF does not say which
// fd, so the watched fds are checked one by one with fcntl(F_GETFD) then.
#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>
#include <time.h>

#include "backend/backend.hh"

namespace tide {

namespace {

class SelectBackend final : public Backend {
 public:
  SelectBackend() { reinit(); }
  const char *name() const noexcept override { return backend_name(TIDE_BACKEND_SELECT); }
  int fd_limit() const noexcept override { return FD_SETSIZE; }

  int update(int fd, unsigned, unsigned new_ev) noexcept override {
    if (new_ev & kIoRead) FD_SET(fd, &rd_); else FD_CLR(fd, &rd_);
    if (new_ev & kIoWrite) FD_SET(fd, &wr_); else FD_CLR(fd, &wr_);
    if (new_ev && fd > maxfd_) maxfd_ = fd;
    while (maxfd_ >= 0 && !watched(maxfd_)) --maxfd_;
    return 0;
  }

  int wait(Sink &sink, int64_t timeout_ns) noexcept override {
    fd_set rd = rd_, wr = wr_;
    struct timespec ts;
    if (timeout_ns >= 0) ns_to_timespec(timeout_ns, &ts);
    int n = pselect(maxfd_ + 1, &rd, &wr, nullptr, timeout_ns >= 0 ? &ts : nullptr, nullptr);
    if (n < 0) {
      if (errno == EINTR) return 0;
      if (errno != EBADF) return -errno;
      for (int fd = 0; fd <= maxfd_; ++fd)
        if (watched(fd) && fcntl(fd, F_GETFD) < 0 && errno == EBADF) sink.fd_error(fd);
      return 0;
    }
    for (int fd = 0; fd <= maxfd_ && n > 0; ++fd) {
      unsigned rev = (FD_ISSET(fd, &rd) ? kIoRead : 0) | (FD_ISSET(fd, &wr) ? kIoWrite : 0);
      if (!rev) continue;
      n -= (rev & kIoRead ? 1 : 0) + (rev & kIoWrite ? 1 : 0);
      sink.fd_event(fd, rev);
    }
    return 0;
  }

  int reinit() noexcept override {
    FD_ZERO(&rd_);
    FD_ZERO(&wr_);
    maxfd_ = -1;
    return 0;
  }

 private:
  bool watched(int fd) const { return FD_ISSET(fd, &rd_) || FD_ISSET(fd, &wr_); }
  fd_set rd_, wr_;
  int maxfd_ = -1;
};

}  // namespace

int make_select_backend(std::unique_ptr<Backend> *out, const BackendOptions &, std::string *) {
  out->reset(new SelectBackend());
  return 0;
}

}  // namespace tide
