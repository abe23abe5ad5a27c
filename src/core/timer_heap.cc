// SPDX-License-Identifier: MIT
// timer_heap.cc - see timer_heap.hh.
#include "core/timer_heap.hh"

#include <new>

namespace tide {

static constexpr size_t kArity = 4;

bool TimerHeap::push(HeapEntry *e) noexcept {
  try {
    slots_.push_back(Slot{e->at, next_seq_, e});
  } catch (const std::bad_alloc &) {
    return false;
  }
  e->seq = next_seq_++;
  e->heap_index = static_cast<uint32_t>(slots_.size() - 1);
  sift_up(slots_.size() - 1);
  return true;
}

void TimerHeap::erase(HeapEntry *e) noexcept {
  size_t i = e->heap_index;
  e->heap_index = HeapEntry::kNotInHeap;
  Slot last = slots_.back();
  slots_.pop_back();
  if (i == slots_.size()) return;  // e was the last slot
  place(i, last);
  if (i > 0 && less(slots_[i], slots_[(i - 1) / kArity]))
    sift_up(i);
  else
    sift_down(i);
}

void TimerHeap::update(HeapEntry *e) noexcept {
  size_t i = e->heap_index;
  e->seq = next_seq_++;
  slots_[i].at = e->at;
  slots_[i].seq = e->seq;
  if (i > 0 && less(slots_[i], slots_[(i - 1) / kArity]))
    sift_up(i);
  else
    sift_down(i);
}

void TimerHeap::sift_up(size_t i) noexcept {
  Slot s = slots_[i];
  while (i > 0) {
    size_t parent = (i - 1) / kArity;
    if (!less(s, slots_[parent])) break;
    place(i, slots_[parent]);
    i = parent;
  }
  place(i, s);
}

void TimerHeap::sift_down(size_t i) noexcept {
  const size_t n = slots_.size();
  Slot s = slots_[i];
  for (;;) {
    size_t first = i * kArity + 1;
    if (first >= n) break;
    size_t end = first + kArity < n ? first + kArity : n;
    size_t best = first;
    for (size_t c = first + 1; c < end; ++c)
      if (less(slots_[c], slots_[best])) best = c;
    if (!less(slots_[best], s)) break;
    place(i, slots_[best]);
    i = best;
  }
  place(i, s);
}

bool TimerHeap::valid() const noexcept {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].e->heap_index != i) return false;
    if (slots_[i].e->at != slots_[i].at || slots_[i].e->seq != slots_[i].seq) return false;
    if (i > 0 && less(slots_[i], slots_[(i - 1) / kArity])) return false;
  }
  return true;
}

}  // namespace tide
