// SPDX-License-Identifier: MIT
// syscalls.cc - each operation as one syscall, for the two non-native routes:
// readiness emulation (nonblock: MSG_DONTWAIT, -EAGAIN = wait) and the thread pool
// (blocking; TIDE_ALL and sendfile loop here until done). Results are what the
// io_uring operation would give: a count or new fd, or -errno.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "req/request.hh"

namespace tide {

namespace {

int64_t sys(int64_t r) { return r < 0 ? -errno : r; }

int64_t rw_once(Req *r, bool nonblock) {
  auto &a = r->a.rw;
  char *buf = static_cast<char *>(a.buf) + r->done;
  size_t len = a.len - r->done;
  int64_t off = a.off < 0 ? -1 : a.off + static_cast<int64_t>(r->done);
  int dontwait = nonblock ? MSG_DONTWAIT : 0;
  switch (r->op) {
    case TIDE_OP_RECV: return sys(recv(r->fd, buf, len, a.msg_flags | dontwait));
    case TIDE_OP_SEND: return sys(send(r->fd, buf, len, a.msg_flags | dontwait | MSG_NOSIGNAL));
    case TIDE_OP_READ:
      if (a.socket) return sys(recv(r->fd, buf, len, dontwait));
      return sys(off < 0 ? read(r->fd, buf, len) : pread(r->fd, buf, len, off));
    case TIDE_OP_WRITE:
      if (a.socket) return sys(send(r->fd, buf, len, dontwait | MSG_NOSIGNAL));
      // A blocking pipe that polled writable takes at least PIPE_BUF bytes at once;
      // asking for more could block the loop thread.
      if (nonblock && r->want_blocking_retry && len > PIPE_BUF) len = PIPE_BUF;
      return sys(off < 0 ? write(r->fd, buf, len) : pwrite(r->fd, buf, len, off));
    default: return -EINVAL;
  }
}

int64_t vec_once(Req *r, bool nonblock) {
  auto &a = r->a.vec;
  if (a.socket) {
    struct msghdr m = {};
    m.msg_iov = const_cast<struct iovec *>(a.iov);
    m.msg_iovlen = static_cast<size_t>(a.iovcnt);
    int f = nonblock ? MSG_DONTWAIT : 0;
    return r->op == TIDE_OP_READV ? sys(recvmsg(r->fd, &m, f)) : sys(sendmsg(r->fd, &m, f | MSG_NOSIGNAL));
  }
  if (r->op == TIDE_OP_READV)
    return sys(a.off < 0 ? readv(r->fd, a.iov, a.iovcnt) : preadv(r->fd, a.iov, a.iovcnt, a.off));
  return sys(a.off < 0 ? writev(r->fd, a.iov, a.iovcnt) : pwritev(r->fd, a.iov, a.iovcnt, a.off));
}

int64_t connect_once(Req *r) {
  auto &a = r->a.con;
  if (!a.started) {
    a.started = true;
    if (connect(r->fd, reinterpret_cast<struct sockaddr *>(&a.addr), a.addrlen) == 0) return 0;
    if (errno != EINPROGRESS && errno != EAGAIN && errno != EALREADY) return -errno;
    return -EAGAIN;  // wait for writability, then read the outcome
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return err ? -err : 0;
}

int64_t sendfile_once(Req *r, bool nonblock) {
  auto &a = r->a.sf;
  for (;;) {
    off_t off = static_cast<off_t>(a.off + static_cast<int64_t>(r->done));
    ssize_t n = a.off < 0 ? sendfile(r->fd, a.in_fd, nullptr, a.count - r->done)
                          : sendfile(r->fd, a.in_fd, &off, a.count - r->done);
    if (n < 0) return -errno;
    if (n == 0) return 0;  // EOF
    r->done += static_cast<size_t>(n);
    if (r->done == a.count || nonblock) return n;
  }
}

int64_t once(Req *r, bool nonblock) {
  switch (r->op) {
    case TIDE_OP_NOP: return 0;
    case TIDE_OP_READ:
    case TIDE_OP_WRITE:
    case TIDE_OP_RECV:
    case TIDE_OP_SEND: return rw_once(r, nonblock);
    case TIDE_OP_READV:
    case TIDE_OP_WRITEV: return vec_once(r, nonblock);
    case TIDE_OP_RECVMSG:
      return sys(recvmsg(r->fd, r->a.msg.msg, r->a.msg.msg_flags | (nonblock ? MSG_DONTWAIT : 0)));
    case TIDE_OP_SENDMSG:
      return sys(sendmsg(r->fd, r->a.msg.msg,
                         r->a.msg.msg_flags | MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0)));
    case TIDE_OP_ACCEPT: {
      auto &a = r->a.acc;
      int fd = accept4(r->fd, a.addr, a.addrlen, a.sock_flags);
      return fd < 0 ? -errno : fd;
    }
    case TIDE_OP_CONNECT: return connect_once(r);
    case TIDE_OP_SHUTDOWN: return sys(shutdown(r->fd, r->a.shut.how));
    case TIDE_OP_CLOSE: return close(r->fd) < 0 && errno != EINTR ? -errno : 0;
    case TIDE_OP_OPENAT: {
      auto &p = r->a.path;
      return sys(openat(p.dirfd, p.path, p.flags, p.mode));
    }
    case TIDE_OP_STATX: {
      auto &p = r->a.path;
      return sys(statx(p.dirfd, p.path, p.flags, p.mask, p.stx));
    }
    case TIDE_OP_FSYNC: return sys((r->flags & TIDE_DATASYNC) ? fdatasync(r->fd) : fsync(r->fd));
    case TIDE_OP_FALLOCATE: {
      auto &f = r->a.falloc;
      return sys(fallocate(r->fd, f.mode, f.off, f.len));
    }
    case TIDE_OP_UNLINKAT: return sys(unlinkat(r->a.path.dirfd, r->a.path.path, r->a.path.flags));
    case TIDE_OP_RENAMEAT: {
      auto &p = r->a.path;
      return sys(renameat2(p.dirfd, p.path, p.newdirfd, p.newpath, static_cast<unsigned>(p.flags)));
    }
    case TIDE_OP_MKDIRAT: return sys(mkdirat(r->a.path.dirfd, r->a.path.path, r->a.path.mode));
    case TIDE_OP_SPLICE: {
      auto &s = r->a.splice;
      loff_t in = s.off_in, out = s.off_out;
      return sys(splice(r->fd, s.off_in < 0 ? nullptr : &in, s.fd_out, s.off_out < 0 ? nullptr : &out,
                        s.len, s.flags | (nonblock ? SPLICE_F_NONBLOCK : 0)));
    }
    case TIDE_OP_SENDFILE: return sendfile_once(r, nonblock);
    case TIDE_OP_WORK: r->a.work.fn(reinterpret_cast<tide_req *>(r->public_struct())); return 0;
    default: return -EOPNOTSUPP;
  }
}

}  // namespace

// On a pool thread, a splice between non-blocking pipes/sockets says EAGAIN: wait
// until the input is readable and the output writable, checking every 50 ms whether
// the loop gave up on the request (tide_cancel, timeout). Returns false to stop.
static bool wait_splice_ends(Req *r) {
  struct pollfd p[2] = {{r->fd, POLLIN, 0}, {r->a.splice.fd_out, POLLOUT, 0}};
  while (!__atomic_load_n(&r->cancel_requested, __ATOMIC_ACQUIRE) &&
         !__atomic_load_n(&r->timed_out, __ATOMIC_ACQUIRE)) {
    int n = poll(p, 2, 50);
    if (n < 0 && errno != EINTR) return false;
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) &&
        (p[1].revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)))
      return true;
  }
  return false;
}

int64_t run_syscall(Req *r, bool nonblock) noexcept {
  for (;;) {
    int saved = errno;
    int64_t res = once(r, nonblock);
    errno = saved;
    if (res == -EINTR) continue;
    if (res == -EAGAIN && !nonblock && r->op == TIDE_OP_SPLICE) {
      if (wait_splice_ends(r)) continue;
      return -ECANCELED;
    }
    // On a thread, finish what TIDE_ALL asks for here (sendfile loops in its helper).
    if (!nonblock && (r->flags & TIDE_ALL) && op_all_capable(r->op) && all_continue(r, res))
      continue;
    return res;
  }
}

}  // namespace tide
