// SPDX-License-Identifier: MIT
// bufpool.hh - tide_bufpool: count buffers of size bytes for multishot receives.
// On io_uring the buffers sit in a provided-buffer ring registered with the kernel,
// which picks one per completion; elsewhere a free list the emulation picks from.
// Each buffer is either in the pool (free list or kernel ring) or held by the
// program between the callback that delivered it and tide_bufpool_put().
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tide {

class Loop;
struct Req;

class BufPool {
 public:
  static int create(Loop *loop, unsigned count, size_t size, BufPool **out) noexcept;
  ~BufPool();

  char *addr(int id) const noexcept { return mem_ + static_cast<size_t>(id) * size_; }
  size_t size() const noexcept { return size_; }
  unsigned count() const noexcept { return count_; }
  Loop *loop() const noexcept { return loop_; }

  int get() noexcept;          // emulation: take a free buffer, or -1
  void taken(int id) noexcept;  // native: the kernel handed buffer id to the program
  int put(int id) noexcept;    // back to the pool: 0, -EINVAL, -EALREADY
  void unget(int id) noexcept;  // emulation: a buffer taken by get() went unused
  void remove_paused(Req *r) noexcept;
  void add_paused(Req *r) noexcept;
  Req *take_paused() noexcept;
  size_t paused_count() const noexcept { return paused_.size(); }
  // Whether a buffer is in the pool (free list or kernel ring) right now.
  bool has_free() const noexcept { return held_count_ < count_; }

  int users = 0;        // recv_pool requests in flight on this pool
  bool native = false;  // registered as an io_uring buffer ring
  uint16_t group = 0;   // io_uring buffer group id
  void *ring = nullptr;  // io_uring: struct io_uring_buf_ring *
  size_t ring_bytes = 0;

 private:
  BufPool() = default;
  void hold(int id) noexcept;     // the program has buffer id now
  void release(int id) noexcept;  // ... and no longer
  Loop *loop_ = nullptr;
  unsigned count_ = 0;
  size_t size_ = 0;
  char *mem_ = nullptr;
  size_t mem_bytes_ = 0;
  std::vector<uint8_t> held_;     // 1 while the program holds the buffer
  unsigned held_count_ = 0;       // how many are held
  std::vector<int32_t> free_;     // emulation's free list
  std::vector<Req *> paused_;     // requests waiting for a buffer
};

}  // namespace tide
