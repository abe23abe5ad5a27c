// SPDX-License-Identifier: MIT
// req_api.cc - the extern "C" request functions: validate, fill in the core
// request (req/request.hh) living in the tide_req's private storage, submit.
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include <new>

#include "api/boundary.hh"
#include "req/bufpool.hh"

using namespace tide;

static_assert(sizeof(Req) <= sizeof(tide_req::tide_private_), "tide_req too small");

namespace {

// The request in pub's storage, if pub was ever submitted or given a timeout; a
// fresh struct is read as well (see intended_read).
Req *existing(const tide_req *pub) {
  if (pub) intended_read(pub->tide_private_, sizeof pub->tide_private_);
  Watcher *w = any_watcher(pub);
  return w && w->kind == Kind::req ? static_cast<Req *>(w) : nullptr;
}

// Starts a new submission in pub: -EINVAL/-EBUSY, or 0 with *out a fresh request
// that keeps the timeout set by tide_req_set_timeout().
int begin(tide_loop *loop, tide_req *pub, tide_req_cb cb, int op, Req **out) {
  if (!loop || !pub || !cb) return -EINVAL;
  uint64_t timeout = 0;
  if (Req *old = existing(pub)) {
    if (old->held()) return -EBUSY;
    if (old->timeout_token == Watcher::token_of(old, nullptr)) timeout = old->timeout_ns;
  }
  if (core(loop)->op_support(op) == TIDE_OP_UNSUPPORTED) return -EOPNOTSUPP;
  Req *r = new (pub->tide_private_) Req(reinterpret_cast<AnyCb>(cb));
  r->op = static_cast<uint8_t>(op);
  r->timeout_ns = timeout;
  *out = r;
  return 0;
}

int submit(tide_loop *loop, Req *r) {
  ErrnoGuard keep;
  return core(loop)->req_submit(r);
}

// read, write, recv, send share their shape.
int submit_rw(tide_loop *loop, tide_req *pub, int op, int fd, const void *buf, size_t len,
              int64_t offset, int msg_flags, unsigned flags, tide_req_cb cb) {
  Req *r;
  if (fd < 0 && loop && pub && cb) return -EBADF;
  if ((!buf && len) || (flags & ~TIDE_ALL) || offset < -1) return -EINVAL;
  int e = begin(loop, pub, cb, op, &r);
  if (e < 0) return e;
  r->fd = fd;
  r->flags = static_cast<uint8_t>(flags);
  r->a.rw.buf = const_cast<void *>(buf);
  r->a.rw.len = len;
  r->a.rw.off = offset;
  r->a.rw.msg_flags = msg_flags;
  return submit(loop, r);
}

int submit_vec(tide_loop *loop, tide_req *pub, int op, int fd, const struct iovec *iov, int iovcnt,
               int64_t offset, unsigned flags, tide_req_cb cb) {
  if (fd < 0 && loop && pub && cb) return -EBADF;
  if (!iov || iovcnt < 1 || iovcnt > IOV_MAX || flags || offset < -1) return -EINVAL;
  Req *r;
  int e = begin(loop, pub, cb, op, &r);
  if (e < 0) return e;
  r->fd = fd;
  r->a.vec.iov = iov;
  r->a.vec.iovcnt = iovcnt;
  r->a.vec.off = offset;
  return submit(loop, r);
}

// Operations on one fd and nothing else (shutdown, close, fsync).
int submit_fd(tide_loop *loop, tide_req *pub, int op, int fd, tide_req_cb cb, Req **out) {
  if (fd < 0 && loop && pub && cb) return -EBADF;
  int e = begin(loop, pub, cb, op, out);
  if (e == 0) (*out)->fd = fd;
  return e;
}

int submit_path(tide_loop *loop, tide_req *pub, int op, int dirfd, const char *path, tide_req_cb cb,
                Req **out) {
  if (!path) return -EINVAL;
  int e = begin(loop, pub, cb, op, out);
  if (e < 0) return e;
  (*out)->a.path.dirfd = dirfd;
  (*out)->a.path.path = path;
  return 0;
}

}  // namespace

extern "C" {

TIDE_API int tide_op_support(const tide_loop *loop, int op) noexcept {
  if (!loop || op < 0 || op >= TIDE_OP_COUNT_) return -EINVAL;
  return core(loop)->op_support(op);
}

TIDE_API int tide_req_more(const tide_req *req) noexcept {
  Req *r = existing(req);
  return r ? r->cur_more : -EINVAL;
}

TIDE_API int tide_req_set_timeout(tide_req *req, uint64_t ns) noexcept {
  if (!req) return -EINVAL;
  Req *r = existing(req);
  if (r && r->held()) return -EBUSY;
  if (!r) r = new (req->tide_private_) Req(nullptr);
  r->timeout_ns = ns;
  r->timeout_token = Watcher::token_of(r, nullptr);  // not leftovers of an old use
  return 0;
}

TIDE_API int tide_cancel(tide_loop *loop, tide_req *req) noexcept {
  ErrnoGuard keep;
  if (!loop || !req) return -EINVAL;
  Req *r = existing(req);
  return r && r->held() ? core(loop)->req_cancel(r) : -ENOENT;
}

TIDE_API int tide_nop(tide_loop *loop, tide_req *req, tide_req_cb cb) noexcept {
  Req *r;
  int e = begin(loop, req, cb, TIDE_OP_NOP, &r);
  return e < 0 ? e : submit(loop, r);
}

TIDE_API int tide_read(tide_loop *loop, tide_req *req, int fd, void *buf, size_t len, int64_t offset,
                       unsigned flags, tide_req_cb cb) noexcept {
  return submit_rw(loop, req, TIDE_OP_READ, fd, buf, len, offset, 0, flags, cb);
}

TIDE_API int tide_write(tide_loop *loop, tide_req *req, int fd, const void *buf, size_t len,
                        int64_t offset, unsigned flags, tide_req_cb cb) noexcept {
  return submit_rw(loop, req, TIDE_OP_WRITE, fd, buf, len, offset, 0, flags, cb);
}

TIDE_API int tide_readv(tide_loop *loop, tide_req *req, int fd, const struct iovec *iov, int iovcnt,
                        int64_t offset, unsigned flags, tide_req_cb cb) noexcept {
  return submit_vec(loop, req, TIDE_OP_READV, fd, iov, iovcnt, offset, flags, cb);
}

TIDE_API int tide_writev(tide_loop *loop, tide_req *req, int fd, const struct iovec *iov, int iovcnt,
                         int64_t offset, unsigned flags, tide_req_cb cb) noexcept {
  return submit_vec(loop, req, TIDE_OP_WRITEV, fd, iov, iovcnt, offset, flags, cb);
}

TIDE_API int tide_recv(tide_loop *loop, tide_req *req, int fd, void *buf, size_t len, int msg_flags,
                       unsigned flags, tide_req_cb cb) noexcept {
  return submit_rw(loop, req, TIDE_OP_RECV, fd, buf, len, -1, msg_flags, flags, cb);
}

TIDE_API int tide_send(tide_loop *loop, tide_req *req, int fd, const void *buf, size_t len,
                       int msg_flags, unsigned flags, tide_req_cb cb) noexcept {
  return submit_rw(loop, req, TIDE_OP_SEND, fd, buf, len, -1, msg_flags, flags, cb);
}

TIDE_API int tide_recvmsg(tide_loop *loop, tide_req *req, int fd, struct msghdr *msg, int msg_flags,
                          tide_req_cb cb) noexcept {
  if (!msg) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_RECVMSG, fd, cb, &r);
  if (e < 0) return e;
  r->a.msg.msg = msg;
  r->a.msg.msg_flags = msg_flags;
  return submit(loop, r);
}

TIDE_API int tide_sendmsg(tide_loop *loop, tide_req *req, int fd, const struct msghdr *msg,
                          int msg_flags, tide_req_cb cb) noexcept {
  if (!msg) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_SENDMSG, fd, cb, &r);
  if (e < 0) return e;
  r->a.msg.msg = const_cast<struct msghdr *>(msg);
  r->a.msg.msg_flags = msg_flags;
  return submit(loop, r);
}

TIDE_API int tide_accept(tide_loop *loop, tide_req *req, int fd, struct sockaddr *addr,
                         socklen_t *addrlen, int sock_flags, unsigned flags, tide_req_cb cb) noexcept {
  if ((flags & ~TIDE_MULTISHOT) || (sock_flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) ||
      ((flags & TIDE_MULTISHOT) && (addr || addrlen)) || (addr && !addrlen))
    return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_ACCEPT, fd, cb, &r);
  if (e < 0) return e;
  r->flags = static_cast<uint8_t>(flags);
  r->a.acc.addr = addr;
  r->a.acc.addrlen = addrlen;
  r->a.acc.sock_flags = sock_flags;
  return submit(loop, r);
}

TIDE_API int tide_connect(tide_loop *loop, tide_req *req, int fd, const struct sockaddr *addr,
                          socklen_t addrlen, tide_req_cb cb) noexcept {
  if (!addr || addrlen == 0 || addrlen > sizeof(struct sockaddr_storage)) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_CONNECT, fd, cb, &r);
  if (e < 0) return e;
  memcpy(&r->a.con.addr, addr, addrlen);
  r->a.con.addrlen = addrlen;
  r->a.con.started = false;
  return submit(loop, r);
}

TIDE_API int tide_shutdown(tide_loop *loop, tide_req *req, int fd, int how, tide_req_cb cb) noexcept {
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_SHUTDOWN, fd, cb, &r);
  if (e < 0) return e;
  r->a.shut.how = how;
  return submit(loop, r);
}

TIDE_API int tide_close(tide_loop *loop, tide_req *req, int fd, tide_req_cb cb) noexcept {
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_CLOSE, fd, cb, &r);
  return e < 0 ? e : submit(loop, r);
}

TIDE_API int tide_openat(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                         mode_t mode, tide_req_cb cb) noexcept {
  Req *r;
  int e = submit_path(loop, req, TIDE_OP_OPENAT, dirfd, path, cb, &r);
  if (e < 0) return e;
  r->a.path.flags = flags;
  r->a.path.mode = mode;
  return submit(loop, r);
}

TIDE_API int tide_statx(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                        unsigned mask, struct statx *buf, tide_req_cb cb) noexcept {
  if (!buf) return -EINVAL;
  Req *r;
  int e = submit_path(loop, req, TIDE_OP_STATX, dirfd, path, cb, &r);
  if (e < 0) return e;
  r->a.path.flags = flags;
  r->a.path.mask = mask;
  r->a.path.stx = buf;
  return submit(loop, r);
}

TIDE_API int tide_fsync(tide_loop *loop, tide_req *req, int fd, unsigned flags, tide_req_cb cb) noexcept {
  if (flags & ~TIDE_DATASYNC) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_FSYNC, fd, cb, &r);
  if (e < 0) return e;
  r->flags = static_cast<uint8_t>(flags);
  return submit(loop, r);
}

TIDE_API int tide_fallocate(tide_loop *loop, tide_req *req, int fd, int mode, int64_t offset,
                            int64_t len, tide_req_cb cb) noexcept {
  if (offset < 0 || len <= 0) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_FALLOCATE, fd, cb, &r);
  if (e < 0) return e;
  r->a.falloc.mode = mode;
  r->a.falloc.off = offset;
  r->a.falloc.len = len;
  return submit(loop, r);
}

TIDE_API int tide_unlinkat(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                           tide_req_cb cb) noexcept {
  Req *r;
  int e = submit_path(loop, req, TIDE_OP_UNLINKAT, dirfd, path, cb, &r);
  if (e < 0) return e;
  r->a.path.flags = flags;
  return submit(loop, r);
}

TIDE_API int tide_renameat(tide_loop *loop, tide_req *req, int olddirfd, const char *oldpath,
                           int newdirfd, const char *newpath, unsigned flags, tide_req_cb cb) noexcept {
  if (!newpath) return -EINVAL;
  Req *r;
  int e = submit_path(loop, req, TIDE_OP_RENAMEAT, olddirfd, oldpath, cb, &r);
  if (e < 0) return e;
  r->a.path.newdirfd = newdirfd;
  r->a.path.newpath = newpath;
  r->a.path.flags = static_cast<int>(flags);
  return submit(loop, r);
}

TIDE_API int tide_mkdirat(tide_loop *loop, tide_req *req, int dirfd, const char *path, mode_t mode,
                          tide_req_cb cb) noexcept {
  Req *r;
  int e = submit_path(loop, req, TIDE_OP_MKDIRAT, dirfd, path, cb, &r);
  if (e < 0) return e;
  r->a.path.mode = mode;
  return submit(loop, r);
}

TIDE_API int tide_splice(tide_loop *loop, tide_req *req, int fd_in, int64_t off_in, int fd_out,
                         int64_t off_out, size_t len, unsigned flags, tide_req_cb cb) noexcept {
  if (fd_out < 0 && loop && req && cb) return -EBADF;
  if (off_in < -1 || off_out < -1 || (flags & ~(SPLICE_F_MOVE | SPLICE_F_MORE | SPLICE_F_NONBLOCK)))
    return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_SPLICE, fd_in, cb, &r);
  if (e < 0) return e;
  r->a.splice.fd_out = fd_out;
  r->a.splice.off_in = off_in;
  r->a.splice.off_out = off_out;
  r->a.splice.len = len;
  r->a.splice.flags = flags & ~static_cast<unsigned>(SPLICE_F_NONBLOCK);
  return submit(loop, r);
}

TIDE_API int tide_sendfile(tide_loop *loop, tide_req *req, int out_fd, int in_fd, int64_t offset,
                           size_t count, tide_req_cb cb) noexcept {
  if (in_fd < 0 && loop && req && cb) return -EBADF;
  if (offset < -1) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_SENDFILE, out_fd, cb, &r);
  if (e < 0) return e;
  r->a.sf.in_fd = in_fd;
  r->a.sf.off = offset;
  r->a.sf.count = count;
  r->a.sf.pipe_r = r->a.sf.pipe_w = -1;
  r->a.sf.in_pipe = 0;
  r->a.sf.to_pipe = true;
  if (count == 0) r->op = TIDE_OP_NOP;  // nothing to move: completes with 0
  return submit(loop, r);
}

TIDE_API int tide_sleep(tide_loop *loop, tide_req *req, uint64_t ns, tide_req_cb cb) noexcept {
  Req *r;
  int e = begin(loop, req, cb, TIDE_OP_SLEEP, &r);
  if (e < 0) return e;
  r->a.sleep.ns = ns;
  return submit(loop, r);
}

TIDE_API int tide_work(tide_loop *loop, tide_req *req, tide_work_fn fn, tide_req_cb cb) noexcept {
  if (!fn) return -EINVAL;
  Req *r;
  int e = begin(loop, req, cb, TIDE_OP_WORK, &r);
  if (e < 0) return e;
  r->a.work.fn = fn;
  return submit(loop, r);
}

// ---------------------------------------------------------------- provided buffers

TIDE_API int tide_bufpool_new(tide_loop *loop, tide_bufpool **out, unsigned count, size_t size) noexcept {
  ErrnoGuard keep;
  if (!loop || !out || count == 0 || count > 32768 || (count & (count - 1)) || size == 0 ||
      size > (size_t{1} << 31))
    return -EINVAL;
  BufPool *p;
  int e = BufPool::create(core(loop), count, size, &p);
  if (e == 0) *out = reinterpret_cast<tide_bufpool *>(p);
  return e;
}

TIDE_API int tide_bufpool_free(tide_bufpool *pool) noexcept {
  ErrnoGuard keep;
  BufPool *p = reinterpret_cast<BufPool *>(pool);
  if (!p) return -EINVAL;
  if (p->users > 0) return -EBUSY;
  p->loop()->pool_freed();
  delete p;
  return 0;
}

TIDE_API int tide_bufpool_put(tide_bufpool *pool, int id) noexcept {
  ErrnoGuard keep;
  return pool ? reinterpret_cast<BufPool *>(pool)->put(id) : -EINVAL;
}

TIDE_API int tide_recv_pool(tide_loop *loop, tide_req *req, int fd, tide_bufpool *pool,
                            tide_req_cb cb) noexcept {
  BufPool *p = reinterpret_cast<BufPool *>(pool);
  if (!p || (loop && p->loop() != core(loop))) return -EINVAL;
  Req *r;
  int e = submit_fd(loop, req, TIDE_OP_RECV_POOL, fd, cb, &r);
  if (e < 0) return e;
  r->a.pool.pool = p;
  e = submit(loop, r);
  if (e == 0) ++p->users;
  return e;
}

TIDE_API int tide_req_buffer(const tide_req *req, void **ptr) noexcept {
  Req *r = existing(req);
  if (!r || !ptr) return -EINVAL;
  if (r->op != TIDE_OP_RECV_POOL || r->cur_buf < 0) return -ENOENT;
  *ptr = r->a.pool.pool->addr(r->cur_buf);
  return r->cur_buf;
}

}  // extern "C"
