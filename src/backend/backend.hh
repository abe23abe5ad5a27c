// SPDX-License-Identifier: MIT
// backend.hh - the one interface every kernel backend implements (one file each:
// uring.cc, epoll.cc, poll.cc, select.cc).
//
// The core owns the watchers and decides *what* each fd should be watched for; a
// backend only mirrors that interest into the kernel and reports readiness back:
//   update()  - the interest of one fd changed (called in one batch per iteration,
//               just before wait(), so a stop+start inside one iteration costs nothing)
//   wait()    - the one blocking syscall of an iteration; results go to the Sink
//   reinit()  - in a forked child: new kernel objects, all interest forgotten
// Completion requests (DESIGN.md section 4) add what a backend that runs operations
// natively needs (op_support, submit, cancel, and provided-buffer rings); the
// readiness backends keep the defaults (everything emulated by the core).
#pragma once
#include <errno.h>

#include <climits>
#include <ctime>
#include <cstdint>
#include <memory>
#include <string>

#include "tide.h"

namespace tide {

struct Req;
class BufPool;

// Interest bits a backend sees: the public TIDE_READ, TIDE_WRITE, TIDE_EDGE.
constexpr unsigned kIoRead = 0x1, kIoWrite = 0x2, kIoEdge = 0x10;

// Where a backend reports what the kernel said. Implemented by the loop core.
// None of these run user code: they only queue pending events.
class Sink {
 public:
  // fd is ready for revents (kIoRead/kIoWrite); errors and hang-ups count as both.
  virtual void fd_event(int fd, unsigned revents) noexcept = 0;
  // fd is not a valid descriptor any more (closed under its watchers).
  virtual void fd_error(int fd) noexcept = 0;
  // A natively run request produced a result (more: a multishot request goes on;
  // buf: a provided buffer id, or -1). Called once per kernel completion that the
  // backend does not consume itself.
  virtual void req_cqe(Req *r, int64_t res, bool more, int32_t buf) noexcept = 0;
  // The backend no longer holds kernel interest for fd (a one-shot poll was
  // consumed): the core will call update(fd, 0, want) before the next wait.
  virtual void fd_rearm(int fd) noexcept = 0;

 protected:
  ~Sink() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "io_uring", "epoll", "poll" or "select".
  virtual const char *name() const noexcept = 0;
  // Largest fd + 1 the backend can watch (select: FD_SETSIZE).
  virtual int fd_limit() const noexcept { return INT_MAX; }
  // Mirror a change of fd's interest from old_ev to new_ev (kIo* bits, 0 = none).
  // Returns 0, or -errno if the kernel refused fd (the core then reports the fd's
  // watchers with TIDE_ERROR); after an error nothing is registered for fd.
  virtual int update(int fd, unsigned old_ev, unsigned new_ev) noexcept = 0;
  // Wait up to timeout_ns (-1: no limit; 0: do not block) and report through sink.
  // Returns 0 (also on EINTR or timeout) or -errno.
  virtual int wait(Sink &sink, int64_t timeout_ns) noexcept = 0;
  // After fork(2), in the child. Returns 0 or -errno.
  virtual int reinit() noexcept = 0;

  // --- completion requests run natively (io_uring); defaults: none are ---
  // TIDE_OP_NATIVE if this backend runs op itself, else TIDE_OP_EMULATED.
  virtual int op_support(int /*op*/) const noexcept { return TIDE_OP_EMULATED; }
  // Queue r's operation (from its current state: TIDE_ALL remainder, sendfile
  // phase); a timeout deadline in r is linked to it. Results: Sink::req_cqe.
  virtual int submit(Req *) noexcept { return -EOPNOTSUPP; }
  // Ask the kernel to cancel r; its result still arrives through req_cqe.
  virtual void cancel(Req *) noexcept {}
  // Provided-buffer rings for tide_bufpool (io_uring): register, give a buffer
  // back, unregister.
  virtual int buf_ring_setup(BufPool &) noexcept { return -EOPNOTSUPP; }
  virtual void buf_ring_put(BufPool &, int /*id*/) noexcept {}
  virtual void buf_ring_free(BufPool &) noexcept {}
};

struct BackendOptions {
  unsigned uring_entries = 256;
  bool sqpoll = false;
  unsigned sqpoll_idle_ms = 0;
};

// Factories: 0 and *out set, or -errno with why filled in (for the fallback reason).
int make_uring_backend(std::unique_ptr<Backend> *out, const BackendOptions &opt, std::string *why);
int make_epoll_backend(std::unique_ptr<Backend> *out, const BackendOptions &opt, std::string *why);
int make_poll_backend(std::unique_ptr<Backend> *out, const BackendOptions &opt, std::string *why);
int make_select_backend(std::unique_ptr<Backend> *out, const BackendOptions &opt, std::string *why);

// Backend names (names.cc): "epoll,poll" -> mask of the names known, *unknown set
// when the list also holds a name that is not one; one bit -> "io_uring", "epoll",
// "poll", "select" (nullptr for anything else).
unsigned backend_bits_from_names(const char *list, bool *unknown) noexcept;
const char *backend_name(unsigned bit) noexcept;

// Whether this build and the running kernel can run io_uring (probed once).
bool uring_supported(std::string *why) noexcept;

// A wait timeout as a timespec / as epoll's and poll's milliseconds, rounded up so
// that a timer never fires early.

void ns_to_timespec(int64_t ns, ::timespec *ts) noexcept;
int ns_to_ms_ceil(int64_t ns) noexcept;

}  // namespace tide
