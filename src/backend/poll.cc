// SPDX-License-Identifier: MIT
// poll.cc - the poll(2) backend (ppoll for nanosecond timeouts). Always
// level-triggered. POLLNVAL (fd closed under its watcher) becomes TIDE_ERROR.
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <new>
#include <vector>

#include "backend/backend.hh"

namespace tide {

namespace {

class PollBackend final : public Backend {
 public:
  const char *name() const noexcept override { return backend_name(TIDE_BACKEND_POLL); }

  int update(int fd, unsigned, unsigned new_ev) noexcept override {
    short events = static_cast<short>(((new_ev & kIoRead) ? POLLIN : 0) | ((new_ev & kIoWrite) ? POLLOUT : 0));
    try {
      if (static_cast<size_t>(fd) >= slot_.size()) slot_.resize(static_cast<size_t>(fd) + 1, -1);
      int i = slot_[fd];
      if (events && i >= 0) {
        pfds_[i].events = events;
      } else if (events) {
        pfds_.push_back(pollfd{fd, events, 0});
        slot_[fd] = static_cast<int>(pfds_.size() - 1);
      } else if (i >= 0) {  // remove: move the last entry into the hole
        pfds_[i] = pfds_.back();
        slot_[pfds_[i].fd] = i;
        pfds_.pop_back();
        slot_[fd] = -1;
      }
    } catch (const std::bad_alloc &) {
      return -ENOMEM;
    }
    return 0;
  }

  int wait(Sink &sink, int64_t timeout_ns) noexcept override {
    struct timespec ts;
    if (timeout_ns >= 0) ns_to_timespec(timeout_ns, &ts);
    int n = ppoll(pfds_.data(), pfds_.size(), timeout_ns >= 0 ? &ts : nullptr, nullptr);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (size_t i = 0; i < pfds_.size() && n > 0; ++i) {
      short r = pfds_[i].revents;
      if (!r) continue;
      --n;
      if (r & POLLNVAL) {
        sink.fd_error(pfds_[i].fd);
        continue;
      }
      unsigned rev = 0;
      if (r & (POLLIN | POLLERR | POLLHUP)) rev |= kIoRead;
      if (r & (POLLOUT | POLLERR | POLLHUP)) rev |= kIoWrite;
      sink.fd_event(pfds_[i].fd, rev);
    }
    return 0;
  }

  int reinit() noexcept override {
    pfds_.clear();
    slot_.clear();
    return 0;
  }

 private:
  std::vector<struct pollfd> pfds_;
  std::vector<int> slot_;  // fd -> index in pfds_, or -1
};

}  // namespace

int make_poll_backend(std::unique_ptr<Backend> *out, const BackendOptions &, std::string *) {
  out->reset(new PollBackend());
  return 0;
}

}  // namespace tide
