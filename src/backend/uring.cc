// SPDX-License-Identifier: MIT
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
// Tag 0: completion requests (the request's address, 8-byte aligned); kTagLink:
// the linked timeout of a request (the same address | 3). A request counts the
// CQEs still to come (kref) and reports to the core only when the last arrives,
// so the core never completes a request the kernel still points at.
#include "config.h"

#if HAVE_LIBURING
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mutex>
#include <new>
#include <vector>

#include "backend/backend.hh"
#include "req/bufpool.hh"
#include "req/request.hh"

namespace tide {

namespace {

constexpr uint64_t kTagPoll = 1, kTagIgnore = 2, kTagLink = 3, kTagMask = 7;
constexpr unsigned kMaxIo = 0x7ffff000;  // Linux moves at most this per read/write call

bool kernel_at_least(int major, int minor) {
  struct utsname u;
  int ma = 0, mi = 0;
  if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

// The io_uring opcode that runs each tide operation natively, or -1.
int uring_opcode(int op) {
  switch (op) {
    case TIDE_OP_NOP: return IORING_OP_NOP;
    case TIDE_OP_READ: return IORING_OP_READ;
    case TIDE_OP_WRITE: return IORING_OP_WRITE;
    case TIDE_OP_READV: return IORING_OP_READV;
    case TIDE_OP_WRITEV: return IORING_OP_WRITEV;
    case TIDE_OP_RECV: return IORING_OP_RECV;
    case TIDE_OP_SEND: return IORING_OP_SEND;
    case TIDE_OP_RECVMSG: return IORING_OP_RECVMSG;
    case TIDE_OP_SENDMSG: return IORING_OP_SENDMSG;
    case TIDE_OP_ACCEPT: return IORING_OP_ACCEPT;
    case TIDE_OP_CONNECT: return IORING_OP_CONNECT;
    case TIDE_OP_SHUTDOWN: return IORING_OP_SHUTDOWN;
    case TIDE_OP_CLOSE: return IORING_OP_CLOSE;
    case TIDE_OP_OPENAT: return IORING_OP_OPENAT;
    case TIDE_OP_STATX: return IORING_OP_STATX;
    case TIDE_OP_FSYNC: return IORING_OP_FSYNC;
    case TIDE_OP_FALLOCATE: return IORING_OP_FALLOCATE;
    case TIDE_OP_UNLINKAT: return IORING_OP_UNLINKAT;
    case TIDE_OP_RENAMEAT: return IORING_OP_RENAMEAT;
    case TIDE_OP_MKDIRAT: return IORING_OP_MKDIRAT;
    case TIDE_OP_SPLICE: return IORING_OP_SPLICE;
    case TIDE_OP_SENDFILE: return IORING_OP_SPLICE;
    case TIDE_OP_SLEEP: return IORING_OP_TIMEOUT;
    case TIDE_OP_RECV_POOL: return IORING_OP_RECV;
    default: return -1;  // TIDE_OP_WORK: always the thread pool
  }
}

int64_t add_off(int64_t off, size_t done) { return off < 0 ? -1 : off + static_cast<int64_t>(done); }
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
    probe_ops();
    return 0;
  }

  // IORING_REGISTER_PROBE says which opcodes this kernel has; cancel and linked
  // timeouts are needed by every native request.
  void probe_ops() noexcept {
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring_);
    bool base = probe && io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) &&
                io_uring_opcode_supported(probe, IORING_OP_LINK_TIMEOUT);
    for (int op = 0; op < TIDE_OP_COUNT_; ++op) {
      int code = uring_opcode(op);
      native_[op] = base && code >= 0 && io_uring_opcode_supported(probe, code);
    }
    // Buffer rings (5.19) and multishot receive (6.0) for provided-buffer pools.
    native_[TIDE_OP_RECV_POOL] = native_[TIDE_OP_RECV_POOL] && kernel_at_least(6, 0);
    multishot_accept_ = kernel_at_least(5, 19);
    if (probe) io_uring_free_probe(probe);
  }

  int op_support(int op) const noexcept override {
    return native_[op] ? TIDE_OP_NATIVE : TIDE_OP_EMULATED;
  }

  int submit(Req *r) noexcept override {
    bool link = native_link_timeout(r);
    if (io_uring_sq_space_left(&ring_) < 2u) io_uring_submit(&ring_);  // keep a link in one batch
    struct io_uring_sqe *sqe = get_sqe();
    int e = prep(sqe, r);
    if (e < 0) {
      io_uring_prep_nop(sqe);  // the slot is taken: make it harmless
      io_uring_sqe_set_data64(sqe, kTagIgnore);
      return e;
    }
    io_uring_sqe_set_data(sqe, r);
    ++r->kref;
    if (r->poll_first) sqe = poll_before(sqe, r);
    if (link) {
      sqe->flags |= IOSQE_IO_LINK;
      r->kts.tv_sec = static_cast<int64_t>(r->deadline / 1000000000u);
      r->kts.tv_nsec = static_cast<long long>(r->deadline % 1000000000u);
      struct io_uring_sqe *t = get_sqe();
      io_uring_prep_link_timeout(t, reinterpret_cast<struct __kernel_timespec *>(&r->kts),
                                 IORING_TIMEOUT_ABS);
      io_uring_sqe_set_data64(t, reinterpret_cast<uint64_t>(r) | kTagLink);
      ++r->kref;
    }
    return 0;
  }

  void cancel(Req *r) noexcept override {
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(r), 0);
    io_uring_sqe_set_data64(sqe, kTagIgnore);
  }

  int buf_ring_setup(BufPool &p) noexcept override {
    size_t bytes = p.count() * sizeof(struct io_uring_buf);
    void *mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -ENOMEM;
    struct io_uring_buf_reg reg = {};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = p.count();
    reg.bgid = next_group_;
    int r = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (r < 0) {
      munmap(mem, bytes);
      return r;
    }
    p.group = next_group_++;
    p.ring = mem;
    p.ring_bytes = bytes;
    auto *br = static_cast<struct io_uring_buf_ring *>(mem);
    io_uring_buf_ring_init(br);
    int mask = io_uring_buf_ring_mask(p.count());
    for (unsigned i = 0; i < p.count(); ++i)
      io_uring_buf_ring_add(br, p.addr(static_cast<int>(i)), static_cast<unsigned>(p.size()),
                            static_cast<unsigned short>(i), mask, static_cast<int>(i));
    io_uring_buf_ring_advance(br, static_cast<int>(p.count()));
    return 0;
  }

  void buf_ring_put(BufPool &p, int id) noexcept override {
    auto *br = static_cast<struct io_uring_buf_ring *>(p.ring);
    io_uring_buf_ring_add(br, p.addr(id), static_cast<unsigned>(p.size()),
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(p.count()), 0);
    io_uring_buf_ring_advance(br, 1);
  }

  void buf_ring_free(BufPool &p) noexcept override {
    if (!p.ring) return;
    io_uring_unregister_buf_ring(&ring_, p.group);
    munmap(p.ring, p.ring_bytes);
    p.ring = nullptr;
  }

  const char *name() const noexcept override { return backend_name(TIDE_BACKEND_URING); }

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

  // Splice on a non-blocking pipe gave -EAGAIN: resubmit it behind two linked
  // polls (input readable, output writable). sqe holds the prepared splice; its
  // content moves to the last of three SQEs. Returns that SQE.
  struct io_uring_sqe *poll_before(struct io_uring_sqe *sqe, Req *r) noexcept {
    r->poll_first = false;
    struct io_uring_sqe splice = *sqe;
    if (io_uring_sq_space_left(&ring_) < 3u) {  // the chain must go in one batch
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, kTagIgnore);
      io_uring_submit(&ring_);
      sqe = get_sqe();
    }
    int in = r->fd, out = r->a.splice.fd_out;
    if (r->op == TIDE_OP_SENDFILE) {
      in = r->a.sf.to_pipe ? r->a.sf.in_fd : r->a.sf.pipe_r;
      out = r->a.sf.to_pipe ? r->a.sf.pipe_w : r->fd;
    }
    io_uring_prep_poll_add(sqe, in, POLLIN);
    io_uring_sqe_set_data64(sqe, kTagIgnore);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = get_sqe();
    io_uring_prep_poll_add(sqe, out, POLLOUT);
    io_uring_sqe_set_data64(sqe, kTagIgnore);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = get_sqe();
    *sqe = splice;
    return sqe;
  }

  // One SQE for r in its current state (TIDE_ALL remainder, sendfile phase).
  int prep(struct io_uring_sqe *sqe, Req *r) noexcept {
    int fd = r->fd;
    switch (r->op) {
      case TIDE_OP_NOP: io_uring_prep_nop(sqe); break;
      case TIDE_OP_READ: case TIDE_OP_WRITE: case TIDE_OP_RECV: case TIDE_OP_SEND: {
        auto &a = r->a.rw;
        char *buf = static_cast<char *>(a.buf) + r->done;
        size_t left = a.len - r->done;
        unsigned len = left > kMaxIo ? kMaxIo : static_cast<unsigned>(left);
        if (r->op == TIDE_OP_READ) io_uring_prep_read(sqe, fd, buf, len, static_cast<uint64_t>(add_off(a.off, r->done)));
        else if (r->op == TIDE_OP_WRITE) io_uring_prep_write(sqe, fd, buf, len, static_cast<uint64_t>(add_off(a.off, r->done)));
        else if (r->op == TIDE_OP_RECV) io_uring_prep_recv(sqe, fd, buf, len, a.msg_flags);
        else io_uring_prep_send(sqe, fd, buf, len, a.msg_flags | MSG_NOSIGNAL);
        break;
      }
      case TIDE_OP_READV:
        io_uring_prep_readv(sqe, fd, r->a.vec.iov, static_cast<unsigned>(r->a.vec.iovcnt), static_cast<uint64_t>(r->a.vec.off));
        break;
      case TIDE_OP_WRITEV:
        io_uring_prep_writev(sqe, fd, r->a.vec.iov, static_cast<unsigned>(r->a.vec.iovcnt), static_cast<uint64_t>(r->a.vec.off));
        break;
      case TIDE_OP_RECVMSG: io_uring_prep_recvmsg(sqe, fd, r->a.msg.msg, static_cast<unsigned>(r->a.msg.msg_flags)); break;
      case TIDE_OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, fd, r->a.msg.msg, static_cast<unsigned>(r->a.msg.msg_flags | MSG_NOSIGNAL));
        break;
      case TIDE_OP_ACCEPT: {
        auto &a = r->a.acc;
        if ((r->flags & TIDE_MULTISHOT) && multishot_accept_)
          io_uring_prep_multishot_accept(sqe, fd, a.addr, a.addrlen, a.sock_flags);
        else
          io_uring_prep_accept(sqe, fd, a.addr, a.addrlen, a.sock_flags);
        break;
      }
      case TIDE_OP_CONNECT:
        io_uring_prep_connect(sqe, fd, reinterpret_cast<struct sockaddr *>(&r->a.con.addr), r->a.con.addrlen);
        break;
      case TIDE_OP_SHUTDOWN: io_uring_prep_shutdown(sqe, fd, r->a.shut.how); break;
      case TIDE_OP_CLOSE: io_uring_prep_close(sqe, fd); break;
      case TIDE_OP_OPENAT: {
        auto &p = r->a.path;
        io_uring_prep_openat(sqe, p.dirfd, p.path, p.flags, p.mode);
        break;
      }
      case TIDE_OP_STATX: {
        auto &p = r->a.path;
        io_uring_prep_statx(sqe, p.dirfd, p.path, p.flags, p.mask, p.stx);
        break;
      }
      case TIDE_OP_FSYNC: io_uring_prep_fsync(sqe, fd, (r->flags & TIDE_DATASYNC) ? IORING_FSYNC_DATASYNC : 0); break;
      case TIDE_OP_FALLOCATE: {
        auto &f = r->a.falloc;
        io_uring_prep_fallocate(sqe, fd, f.mode, static_cast<uint64_t>(f.off), static_cast<uint64_t>(f.len));
        break;
      }
      case TIDE_OP_UNLINKAT: io_uring_prep_unlinkat(sqe, r->a.path.dirfd, r->a.path.path, r->a.path.flags); break;
      case TIDE_OP_RENAMEAT: {
        auto &p = r->a.path;
        io_uring_prep_renameat(sqe, p.dirfd, p.path, p.newdirfd, p.newpath, static_cast<unsigned>(p.flags));
        break;
      }
      case TIDE_OP_MKDIRAT: io_uring_prep_mkdirat(sqe, r->a.path.dirfd, r->a.path.path, r->a.path.mode); break;
      case TIDE_OP_SPLICE: {
        auto &s = r->a.splice;
        io_uring_prep_splice(sqe, fd, s.off_in, s.fd_out, s.off_out, static_cast<unsigned>(s.len > kMaxIo ? kMaxIo : s.len), s.flags);
        break;
      }
      case TIDE_OP_SENDFILE: {  // file -> pipe, then pipe -> out_fd; see Loop::native_result
        auto &s = r->a.sf;
        if (s.pipe_r < 0) {
          int p[2];
          if (pipe2(p, O_CLOEXEC) < 0) return -errno;
          fcntl(p[1], F_SETPIPE_SZ, 1 << 20);  // best effort: bigger chunks
          s.pipe_r = p[0];
          s.pipe_w = p[1];
          s.to_pipe = true;
        }
        if (s.to_pipe) {
          size_t left = s.count - r->done;
          unsigned chunk = left > (1u << 20) ? (1u << 20) : static_cast<unsigned>(left);
          io_uring_prep_splice(sqe, s.in_fd, add_off(s.off, r->done), s.pipe_w, -1, chunk, 0);
        } else {
          io_uring_prep_splice(sqe, s.pipe_r, -1, fd, -1, static_cast<unsigned>(s.in_pipe), 0);
        }
        break;
      }
      case TIDE_OP_SLEEP:
        r->kts.tv_sec = static_cast<int64_t>(r->a.sleep.ns / 1000000000u);
        r->kts.tv_nsec = static_cast<long long>(r->a.sleep.ns % 1000000000u);
        io_uring_prep_timeout(sqe, reinterpret_cast<struct __kernel_timespec *>(&r->kts), 0, 0);
        break;
      case TIDE_OP_RECV_POOL:
        io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = r->a.pool.pool->group;
        break;
      default:
        return -EOPNOTSUPP;
    }
    return 0;
  }

  void reap_request(Sink &sink, struct io_uring_cqe *cqe, uint64_t ud) noexcept {
    if ((ud & kTagMask) == kTagLink) {
      Req *r = reinterpret_cast<Req *>(ud & ~kTagMask);
      if (cqe->res == -ETIME) r->timed_out = true;
      if (--r->kref == 0) sink.req_cqe(r, r->kres, false, r->kbuf);
      return;
    }
    Req *r = reinterpret_cast<Req *>(ud);
    int32_t buf = (cqe->flags & IORING_CQE_F_BUFFER) ? static_cast<int32_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (buf >= 0) r->a.pool.pool->taken(buf);
    if (cqe->flags & IORING_CQE_F_MORE) {
      sink.req_cqe(r, cqe->res, true, buf);
    } else if (--r->kref == 0) {
      sink.req_cqe(r, cqe->res, false, buf);
    } else {
      r->kres = cqe->res;  // wait for the linked timeout's CQE
      r->kbuf = buf;
    }
  }

  void reap(Sink &sink) noexcept {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      uint64_t tag = ud & kTagMask;
      if (tag == 0 || tag == kTagLink) {
        reap_request(sink, cqe, ud);
        continue;
      }
      if (tag != kTagPoll) continue;
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
  bool native_[TIDE_OP_COUNT_] = {};
  bool multishot_accept_ = false;
  uint16_t next_group_ = 0;
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
