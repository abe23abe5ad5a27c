// SPDX-License-Identifier: MIT
// eventfd.hh - a non-blocking, close-on-exec eventfd(2) used to wake a loop from
// other threads: tide_async_send, tide_loop_wakeup, and thread pool workers that
// finished a job for the loop.
#pragma once

namespace tide {

class EventFd {
 public:
  EventFd() = default;
  EventFd(const EventFd &) = delete;
  EventFd &operator=(const EventFd &) = delete;
  ~EventFd() { close(); }

  int open() noexcept;    // 0 or -errno (EMFILE, ENFILE, ENOMEM)
  void close() noexcept;  // idempotent
  int fd() const noexcept { return fd_; }
  // Adds one to the counter: one write(2). Async-signal-safe. Never fails in a way
  // the caller can act on (EAGAIN means the counter is already non-zero).
  void signal() const noexcept;
  // Resets the counter to zero: one read(2).
  void drain() const noexcept;

 private:
  int fd_ = -1;
};

}  // namespace tide
