// uring.cc - the io_uring backend, through liburing.
//
// Readiness: one IORING_OP_POLL_ADD per watched fd. Level-triggered interest uses a
// one-shot poll that is re-armed (a new SQE, no syscall) after each completion:
// the kernel checks readiness when it arms the poll, so data left unread completes
// the poll again at once - epoll's level-triggered behaviour. Edge-triggered
// interest uses a multishot poll (IORING_POLL_ADD_MULTI, Linux 5.13), one CQE per
// wakeup; a kernel that refuses it (-EINVAL) gets one-shot polls from then on,
// which deliver edge-triggered watchers level-triggered, as poll(2) does.
// Every SQE of an iteration goes to the kernel in the one
// io_uring_submit_and_wait_timeout() call of wait(); the timeout needs
// IORING_FEAT_EXT_ARG (Linux 5.11), which the probe requires.
//
// user_data of the SQEs: low 3 bits are a tag. kTagPoll: fd in the high 32 bits and
// a per-fd generation in bits 3..31, so completions of a poll that was removed or
// replaced are recognised as stale and dropped. kTagIgnore: poll removals.
// Tag 0 is kept for completion requests (a request pointer, 8-byte aligned).
#include "config.h"

#if HAVE_LIBURING
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <mutex>
#include <new>
#include <vector>

#include "backend/backend.hh"

namespace tide {

namespace {

constexpr uint64_t kTagPoll = 1, kTagIgnore = 2, kTagMask = 7;
constexpr uint32_t kGenMask = 0x1fffffff;

uint64_t poll_token(int fd, uint32_t gen) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(fd)) << 32) |
         (static_cast<uint64_t>(gen & kGenMask) << 3) | kTagPoll;
}

class UringBackend final : public Backend {
 public:
  ~UringBackend() override {
    if (open_) io_uring_queue_exit(&ring_);
  }

  int open(const BackendOptions &opt, std::string *why) noexcept {
    opt_ = opt;
    struct io_uring_params p = {};
    if (opt.sqpoll) {
      p.flags |= IORING_SETUP_SQPOLL;
      p.sq_thread_idle = opt.sqpoll_idle_ms;
    }
    int r = io_uring_queue_init_params(opt.uring_entries, &ring_, &p);
    if (r < 0 && opt.sqpoll) {  // SQPOLL needs privileges on older kernels: drop it
      p = {};
      r = io_uring_queue_init_params(opt.uring_entries, &ring_, &p);
    }
    if (r < 0) {
      *why = std::string("io_uring: io_uring_queue_init: ") + strerror(-r);
      return r;
    }
    open_ = true;
    if (!(p.features & IORING_FEAT_EXT_ARG)) {
      *why = "io_uring: kernel lacks IORING_FEAT_EXT_ARG (Linux >= 5.11 needed)";
      return -ENOSYS;
    }
    return 0;
  }

  const char *name() const noexcept override { return "io_uring"; }

  int update(int fd, unsigned, unsigned new_ev) noexcept override {
    try {
      if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1);
    } catch (const std::bad_alloc &) {
      return -ENOMEM;
    }
    Slot &s = slots_[fd];
    if (s.armed) {
      struct io_uring_sqe *sqe = get_sqe();
      io_uring_prep_poll_remove(sqe, poll_token(fd, s.gen));
      io_uring_sqe_set_data64(sqe, kTagIgnore);
      s.armed = false;
    }
    ++s.gen;  // completions of any earlier poll on fd are stale from now on
    if (new_ev & (kIoRead | kIoWrite)) {
      unsigned mask = ((new_ev & kIoRead) ? POLLIN : 0) | ((new_ev & kIoWrite) ? POLLOUT : 0);
      struct io_uring_sqe *sqe = get_sqe();
      s.multishot = (new_ev & kIoEdge) && !no_multishot_;
      if (s.multishot)
        io_uring_prep_poll_multishot(sqe, fd, mask);
      else
        io_uring_prep_poll_add(sqe, fd, mask);
      io_uring_sqe_set_data64(sqe, poll_token(fd, s.gen));
      s.armed = true;
    }
    return 0;
  }

  int wait(Sink &sink, int64_t timeout_ns) noexcept override {
    int r;
    if (timeout_ns == 0) {
      r = io_uring_sq_ready(&ring_) ? io_uring_submit(&ring_) : 0;
    } else {
      struct __kernel_timespec ts;
      if (timeout_ns > 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
      }
      struct io_uring_cqe *cqe;
      r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ns > 0 ? &ts : nullptr, nullptr);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) return r;
    reap(sink);
    return 0;
  }

  int reinit() noexcept override {
    if (open_) io_uring_queue_exit(&ring_);
    open_ = false;
    slots_.clear();
    std::string why;
    return open(opt_, &why);
  }

 private:
  struct Slot {
    uint32_t gen = 0;
    bool armed = false;
    bool multishot = false;
  };

  // The submission queue is sized for a normal iteration; if a burst of changes
  // fills it, hand what is queued to the kernel early (the only extra syscall).
  struct io_uring_sqe *get_sqe() noexcept {
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&ring_))) io_uring_submit(&ring_);
    return sqe;
  }

  void reap(Sink &sink) noexcept {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      if ((ud & kTagMask) != kTagPoll) continue;
      int fd = static_cast<int>(ud >> 32);
      uint32_t gen = static_cast<uint32_t>(ud >> 3) & kGenMask;
      if (static_cast<size_t>(fd) >= slots_.size()) continue;
      Slot &s = slots_[fd];
      if (!s.armed || (s.gen & kGenMask) != gen) continue;  // removed or replaced
      bool more = cqe->flags & IORING_CQE_F_MORE;
      if (cqe->res < 0) {
        s.armed = false;
        if (cqe->res == -EINVAL && s.multishot) {  // kernel without multishot poll
          no_multishot_ = true;
          sink.fd_rearm(fd);
          continue;
        }
        if (cqe->res == -ECANCELED) sink.fd_rearm(fd);
        else sink.fd_error(fd);
        continue;
      }
      unsigned rev = 0;
      if (cqe->res & (POLLIN | POLLERR | POLLHUP)) rev |= kIoRead;
      if (cqe->res & (POLLOUT | POLLERR | POLLHUP)) rev |= kIoWrite;
      if (cqe->res & POLLNVAL) {
        s.armed = false;
        sink.fd_error(fd);
        continue;
      }
      sink.fd_event(fd, rev);
      if (!more) {
        s.armed = false;
        sink.fd_rearm(fd);
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }

  struct io_uring ring_;
  bool open_ = false;
  bool no_multishot_ = false;
  BackendOptions opt_;
  std::vector<Slot> slots_;
};

}  // namespace

int make_uring_backend(std::unique_ptr<Backend> *out, const BackendOptions &opt, std::string *why) {
  std::unique_ptr<UringBackend> b(new UringBackend());
  int r = b->open(opt, why);
  if (r < 0) return r;
  *out = std::move(b);
  return 0;
}

bool uring_supported(std::string *why) noexcept {
  static std::once_flag once;
  static bool ok;
  static std::string reason;
  std::call_once(once, [] {
    BackendOptions opt;
    opt.uring_entries = 4;
    UringBackend probe;
    ok = probe.open(opt, &reason) == 0;
  });
  if (why) *why = reason;
  return ok;
}

}  // namespace tide

#else  // !HAVE_LIBURING

#include "backend/backend.hh"
#include <errno.h>

namespace tide {
int make_uring_backend(std::unique_ptr<Backend> *, const BackendOptions &, std::string *why) {
  *why = "io_uring: not built in (configure --disable-uring or no liburing)";
  return -ENOSYS;
}
bool uring_supported(std::string *why) noexcept {
  if (why) *why = "io_uring: not built in";
  return false;
}
}  // namespace tide

#endif
