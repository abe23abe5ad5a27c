// SPDX-License-Identifier: MIT
// eventfd.cc - see eventfd.hh.
#include "sys/eventfd.hh"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace tide {

int EventFd::open() noexcept {
  close();
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -errno;
  fd_ = fd;
  return 0;
}

void EventFd::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void EventFd::signal() const noexcept {
  int saved = errno;  // may run in a signal handler or another thread
  uint64_t one = 1;
  while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  errno = saved;
}

void EventFd::drain() const noexcept {
  uint64_t count;
  while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

}  // namespace tide
