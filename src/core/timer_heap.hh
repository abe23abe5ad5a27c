// SPDX-License-Identifier: MIT
// timer_heap.hh - 4-ary min-heap of timer deadlines (libev's choice: shallower than
// a binary heap, and the four children of a node share a cache line or two).
// Ordered by (deadline, sequence): equal deadlines come out in insertion order.
// Each entry knows its slot, so erase and update are O(log n) without search.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tide {

struct HeapEntry {
  static constexpr uint32_t kNotInHeap = UINT32_MAX;
  uint64_t at = 0;   // deadline, ns of CLOCK_MONOTONIC
  uint64_t seq = 0;  // tie-breaker, assigned by push()
  uint32_t heap_index = kNotInHeap;
  bool is_request = false;  // owner: a tide_timer, or a request's sleep/timeout
  bool in_heap() const { return heap_index != kNotInHeap; }
};

class TimerHeap {
 public:
  // Inserts e (not already in a heap) keyed by e->at; assigns e->seq.
  // Returns false only if memory for the slot cannot be had (e untouched).
  bool push(HeapEntry *e) noexcept;
  // Removes e, which must be in this heap.
  void erase(HeapEntry *e) noexcept;
  // Re-positions e after its e->at changed; assigns a fresh e->seq.
  void update(HeapEntry *e) noexcept;
  HeapEntry *top() const noexcept { return slots_.empty() ? nullptr : slots_[0].e; }
  uint64_t top_at() const noexcept { return slots_[0].at; }
  void pop() noexcept { erase(slots_[0].e); }
  size_t size() const noexcept { return slots_.size(); }
  // Whether e is in this heap, by the heap's own slots (not e's bytes alone).
  bool holds(const HeapEntry *e) const noexcept {
    return e->heap_index < slots_.size() && slots_[e->heap_index].e == e;
  }
  bool empty() const noexcept { return slots_.empty(); }
  // Debug/test aid: true if every parent <= its children and indexes match.
  bool valid() const noexcept;

 private:
  struct Slot {
    uint64_t at;
    uint64_t seq;
    HeapEntry *e;
  };
  static bool less(const Slot &a, const Slot &b) {
    return a.at < b.at || (a.at == b.at && a.seq < b.seq);
  }
  void place(size_t i, const Slot &s) {
    slots_[i] = s;
    s.e->heap_index = static_cast<uint32_t>(i);
  }
  void sift_up(size_t i) noexcept;
  void sift_down(size_t i) noexcept;

  std::vector<Slot> slots_;
  uint64_t next_seq_ = 0;
};

}  // namespace tide
