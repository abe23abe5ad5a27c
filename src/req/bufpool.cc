// SPDX-License-Identifier: MIT
// bufpool.cc - see bufpool.hh.
#include "req/bufpool.hh"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>

#include "core/loop.hh"

namespace tide {

int BufPool::create(Loop *loop, unsigned count, size_t size, BufPool **out) noexcept {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  BufPool *p = new (std::nothrow) BufPool();
  if (!p) return -ENOMEM;
  p->loop_ = loop;
  p->count_ = count;
  p->size_ = size;
  p->mem_bytes_ = size * count;
  void *mem = mmap(nullptr, p->mem_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    delete p;
    return -ENOMEM;
  }
  p->mem_ = static_cast<char *>(mem);
  try {
    p->held_.assign(count, 0);
    p->free_.reserve(count);
    for (unsigned i = count; i-- > 0;) p->free_.push_back(static_cast<int32_t>(i));
    p->paused_.reserve(4);
  } catch (const std::bad_alloc &) {
    delete p;
    return -ENOMEM;
  }
  if (loop->op_support(TIDE_OP_RECV_POOL) == TIDE_OP_NATIVE) {
    int r = loop->backend().buf_ring_setup(*p);
    if (r < 0) {
      delete p;
      return r;
    }
    p->native = true;
    p->free_.clear();  // the kernel ring holds them
  }
  loop->pool_created();
  *out = p;
  return 0;
}

BufPool::~BufPool() {
  if (native) loop_->backend().buf_ring_free(*this);
  if (mem_) munmap(mem_, mem_bytes_);
}

int BufPool::get() noexcept {
  if (free_.empty()) return -1;
  int id = free_.back();
  free_.pop_back();
  hold(id);
  return id;
}

void BufPool::taken(int id) noexcept {
  if (id >= 0 && static_cast<unsigned>(id) < count_ && !held_[id]) hold(id);
}

void BufPool::hold(int id) noexcept {
  held_[id] = 1;
  ++held_count_;
}

void BufPool::release(int id) noexcept {
  held_[id] = 0;
  --held_count_;
}

int BufPool::put(int id) noexcept {
  if (id < 0 || static_cast<unsigned>(id) >= count_) return -EINVAL;
  if (!held_[id]) return -EALREADY;
  release(id);
  if (native)
    loop_->backend().buf_ring_put(*this, id);
  else
    free_.push_back(id);  // capacity reserved for all count buffers
  if (!paused_.empty()) loop_->bufpool_resume(this);
  return 0;
}

void BufPool::unget(int id) noexcept {
  release(id);
  free_.push_back(id);
}

void BufPool::remove_paused(Req *r) noexcept {
  for (size_t i = 0; i < paused_.size(); ++i)
    if (paused_[i] == r) {
      paused_.erase(paused_.begin() + static_cast<long>(i));
      return;
    }
}

void BufPool::add_paused(Req *r) noexcept {
  try {
    paused_.push_back(r);
  } catch (const std::bad_alloc &) {
  }
}

Req *BufPool::take_paused() noexcept {
  if (paused_.empty()) return nullptr;
  Req *r = paused_.front();
  paused_.erase(paused_.begin());
  return r;
}

}  // namespace tide
