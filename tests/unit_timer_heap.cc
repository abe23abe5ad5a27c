// SPDX-License-Identifier: MIT
// unit_timer_heap.cc - cmocka unit test of tide::TimerHeap (src/core/timer_heap.hh),
// the 4-ary min-heap of timer deadlines ordered by (deadline, insertion sequence).
//
// Build: g++ -std=c++17 -Isrc tests/unit_timer_heap.cc src/core/timer_heap.cc -lcmocka
extern "C" {
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
}

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "core/timer_heap.hh"

using tide::HeapEntry;
using tide::TimerHeap;

namespace {

// The reference model: an ordered set of (deadline, our own insertion counter,
// entry). Our counter is independent of the heap's seq, so FIFO among equal
// deadlines is checked as behaviour, not as an internal value.
struct Model {
  using Key = std::tuple<uint64_t, uint64_t, HeapEntry *>;
  std::set<Key> set;
  std::vector<uint64_t> order;  // per entry: our counter at its last push/update
  uint64_t counter = 0;

  explicit Model(size_t n) : order(n, 0) {}
  Key key(HeapEntry *e, size_t i) const { return Key{e->at, order[i], e}; }
};

void check_top(const TimerHeap &h, const Model &m) {
  assert_int_equal(h.size(), m.set.size());
  assert_int_equal(h.empty(), m.set.empty());
  if (m.set.empty()) {
    assert_null(h.top());
    return;
  }
  HeapEntry *want = std::get<2>(*m.set.begin());
  assert_ptr_equal(h.top(), want);
  assert_int_equal(h.top_at(), want->at);
}

// ---------------------------------------------------------------- random ops

void random_operations(void **) {
  constexpr size_t kEntries = 2000;
  constexpr int kOps = 100000;
  constexpr int kBatch = 97;

  std::vector<HeapEntry> e(kEntries);
  std::vector<size_t> in_heap;  // indexes of entries in the heap (unordered)
  std::vector<size_t> pos(kEntries, SIZE_MAX);  // position in in_heap
  TimerHeap h;
  Model m(kEntries);
  std::mt19937_64 rng(0x7469646521ull);

  auto idx = [&](HeapEntry *p) { return static_cast<size_t>(p - e.data()); };
  auto add_in = [&](size_t i) {
    pos[i] = in_heap.size();
    in_heap.push_back(i);
  };
  auto remove_in = [&](size_t i) {
    size_t p = pos[i], last = in_heap.back();
    in_heap[p] = last;
    pos[last] = p;
    in_heap.pop_back();
    pos[i] = SIZE_MAX;
  };
  // Deadlines from a small range so that equal deadlines are common; sometimes
  // from a large range; sometimes the extremes.
  auto deadline = [&]() -> uint64_t {
    switch (rng() % 8) {
      case 0: return rng();
      case 1: return 0;
      case 2: return UINT64_MAX;
      default: return 1000 + rng() % 64;
    }
  };

  int pushes = 0, erases = 0, updates = 0, pops = 0;
  for (int op = 0; op < kOps; ++op) {
    unsigned r = static_cast<unsigned>(rng() % 100);
    // bias towards growth while small, towards shrinking when nearly full
    bool can_push = in_heap.size() < kEntries;
    bool has = !in_heap.empty();
    if (can_push && (!has || r < 40 || (in_heap.size() < 50 && r < 70))) {
      // push a random entry that is not in the heap
      size_t i;
      do i = rng() % kEntries;
      while (pos[i] != SIZE_MAX);
      assert_false(e[i].in_heap());
      e[i].at = deadline();
      assert_true(h.push(&e[i]));
      assert_true(e[i].in_heap());
      m.order[i] = m.counter++;
      m.set.insert(m.key(&e[i], i));
      add_in(i);
      ++pushes;
    } else if (r < 60) {
      // erase a random entry (sometimes the root, sometimes the last slot)
      size_t i;
      unsigned how = static_cast<unsigned>(rng() % 4);
      if (how == 0) {
        i = idx(h.top());
      } else if (how == 1) {
        i = SIZE_MAX;
        for (size_t k : in_heap)
          if (e[k].heap_index == h.size() - 1) i = k;
        assert_true(i != SIZE_MAX);
      } else {
        i = in_heap[rng() % in_heap.size()];
      }
      assert_int_equal(m.set.erase(m.key(&e[i], i)), 1);
      h.erase(&e[i]);
      assert_false(e[i].in_heap());
      remove_in(i);
      ++erases;
    } else if (r < 85) {
      // update a random entry's deadline (earlier, later, or the same)
      size_t i = in_heap[rng() % in_heap.size()];
      assert_int_equal(m.set.erase(m.key(&e[i], i)), 1);
      switch (rng() % 3) {
        case 0: e[i].at = deadline(); break;
        case 1: e[i].at = e[i].at > 10 ? e[i].at - rng() % 10 : 0; break;
        default: break;  // same deadline: goes behind equal ones (fresh seq)
      }
      h.update(&e[i]);
      assert_true(e[i].in_heap());
      m.order[i] = m.counter++;
      m.set.insert(m.key(&e[i], i));
      ++updates;
    } else {
      // pop: must be the model's minimum
      HeapEntry *want = std::get<2>(*m.set.begin());
      assert_ptr_equal(h.top(), want);
      h.pop();
      assert_false(want->in_heap());
      m.set.erase(m.set.begin());
      remove_in(idx(want));
      ++pops;
    }
    check_top(h, m);
    if (op % kBatch == 0) assert_true(h.valid());
  }
  assert_true(h.valid());
  // drain: everything comes out in (deadline, FIFO) order
  while (!m.set.empty()) {
    HeapEntry *want = std::get<2>(*m.set.begin());
    assert_ptr_equal(h.top(), want);
    h.pop();
    m.set.erase(m.set.begin());
    if (m.set.size() % 64 == 0) assert_true(h.valid());
  }
  assert_true(h.empty());
  assert_null(h.top());
  assert_true(h.valid());
  std::printf("# %d pushes, %d erases, %d updates, %d pops\n", pushes, erases, updates, pops);
  assert_true(pushes > 10000 && erases > 10000 && updates > 10000 && pops > 10000);
}

// ---------------------------------------------------------------- FIFO

void equal_deadlines_pop_in_push_order(void **) {
  constexpr int n = 500;
  std::vector<HeapEntry> e(n);
  TimerHeap h;
  for (int i = 0; i < n; ++i) {
    e[i].at = 42;
    assert_true(h.push(&e[i]));
  }
  assert_true(h.valid());
  for (int i = 0; i < n; ++i) {
    assert_ptr_equal(h.top(), &e[i]);
    h.pop();
  }
  assert_true(h.empty());
}

void mixed_deadlines_stable_order(void **) {
  // deadlines 0..9 repeated, pushed in a shuffled order: pop order must be by
  // deadline, then by push order
  constexpr int n = 1000;
  std::vector<HeapEntry> e(n);
  std::vector<int> push_order(n);
  for (int i = 0; i < n; ++i) push_order[i] = i;
  std::mt19937 rng(7);
  std::shuffle(push_order.begin(), push_order.end(), rng);
  TimerHeap h;
  std::vector<int> rank(n);
  for (int k = 0; k < n; ++k) {
    int i = push_order[k];
    e[i].at = static_cast<uint64_t>(i % 10);
    rank[i] = k;
    assert_true(h.push(&e[i]));
  }
  assert_true(h.valid());
  uint64_t last_at = 0;
  int last_rank = -1;
  for (int k = 0; k < n; ++k) {
    HeapEntry *t = h.top();
    int i = static_cast<int>(t - e.data());
    if (t->at == last_at)
      assert_true(rank[i] > last_rank);
    else
      assert_true(t->at > last_at);
    last_at = t->at;
    last_rank = rank[i];
    h.pop();
    if (k % 50 == 0) assert_true(h.valid());
  }
  assert_true(h.empty());
}

void update_goes_behind_equal_deadlines(void **) {
  HeapEntry a, b, c;
  a.at = b.at = c.at = 5;
  TimerHeap h;
  assert_true(h.push(&a));
  assert_true(h.push(&b));
  assert_true(h.push(&c));
  h.update(&a);  // same deadline, fresh sequence: now last among equals
  assert_true(h.valid());
  assert_ptr_equal(h.top(), &b);
  h.pop();
  assert_ptr_equal(h.top(), &c);
  h.pop();
  assert_ptr_equal(h.top(), &a);
  h.pop();
  assert_true(h.empty());
  // update to an earlier deadline moves to the front
  a.at = 10;
  b.at = 10;
  c.at = 10;
  assert_true(h.push(&a));
  assert_true(h.push(&b));
  assert_true(h.push(&c));
  c.at = 9;
  h.update(&c);
  assert_ptr_equal(h.top(), &c);
  // and to a later one moves it back
  c.at = 11;
  h.update(&c);
  assert_ptr_equal(h.top(), &a);
  assert_true(h.valid());
  h.erase(&a);
  h.erase(&b);
  h.erase(&c);
  assert_true(h.empty());
}

// ---------------------------------------------------------------- erase

void erase_last_slot(void **) {
  for (int n = 1; n <= 40; ++n) {
    std::vector<HeapEntry> e(n);
    TimerHeap h;
    for (int i = 0; i < n; ++i) {
      e[i].at = static_cast<uint64_t>((i * 7919) % 23);
      assert_true(h.push(&e[i]));
    }
    HeapEntry *last = nullptr;
    for (auto &x : e)
      if (x.heap_index == static_cast<uint32_t>(n - 1)) last = &x;
    assert_non_null(last);
    h.erase(last);
    assert_false(last->in_heap());
    assert_int_equal(last->heap_index, HeapEntry::kNotInHeap);
    assert_int_equal(h.size(), static_cast<size_t>(n - 1));
    assert_true(h.valid());
    // the rest still pops in order
    uint64_t prev = 0;
    while (!h.empty()) {
      assert_true(h.top() != last);
      assert_true(h.top_at() >= prev);
      prev = h.top_at();
      h.pop();
      assert_true(h.valid());
    }
  }
}

void erase_root(void **) {
  constexpr int n = 300;
  std::vector<HeapEntry> e(n);
  TimerHeap h;
  std::mt19937_64 rng(99);
  std::multiset<uint64_t> ref;
  for (int i = 0; i < n; ++i) {
    e[i].at = rng() % 1000;
    ref.insert(e[i].at);
    assert_true(h.push(&e[i]));
  }
  while (!h.empty()) {
    HeapEntry *root = h.top();
    assert_int_equal(root->heap_index, 0);
    assert_int_equal(root->at, *ref.begin());
    h.erase(root);  // erase (not pop) of the root
    assert_false(root->in_heap());
    ref.erase(ref.begin());
    assert_true(h.valid());
  }
  assert_true(ref.empty());
}

void erase_only_element_and_reuse(void **) {
  HeapEntry a;
  a.at = 1;
  TimerHeap h;
  assert_null(h.top());
  assert_true(h.empty());
  assert_true(h.valid());
  assert_true(h.push(&a));
  assert_ptr_equal(h.top(), &a);
  assert_int_equal(a.heap_index, 0);
  h.erase(&a);
  assert_true(h.empty());
  assert_false(a.in_heap());
  // an entry can go back in after removal
  a.at = 3;
  assert_true(h.push(&a));
  assert_ptr_equal(h.top(), &a);
  assert_int_equal(h.top_at(), 3u);
  h.pop();
  assert_true(h.empty());
}

void erase_middle_moves_last_up(void **) {
  // A case where the last slot, moved into the hole, must sift *up*: the hole
  // is in a subtree whose parent is larger than the moved element.
  //   root 0; children 100,1,1,1; children of 100: 101..104; last = some small value
  TimerHeap h;
  std::vector<HeapEntry> e(12);
  uint64_t ats[12] = {0, 100, 1, 1, 1, 101, 102, 103, 104, 2, 2, 2};
  for (int i = 0; i < 12; ++i) {
    e[i].at = ats[i];
    assert_true(h.push(&e[i]));
  }
  assert_true(h.valid());
  // erase the entry with deadline 103 (in 100's subtree)
  h.erase(&e[7]);
  assert_true(h.valid());
  uint64_t prev = 0;
  size_t count = 0;
  while (!h.empty()) {
    assert_true(h.top_at() >= prev);
    prev = h.top_at();
    h.pop();
    ++count;
    assert_true(h.valid());
  }
  assert_int_equal(count, 11);
}

void heap_index_tracks_slot(void **) {
  constexpr int n = 257;
  std::vector<HeapEntry> e(n);
  TimerHeap h;
  for (int i = 0; i < n; ++i) {
    e[i].at = static_cast<uint64_t>(n - i);  // descending: every push sifts to the root
    assert_true(h.push(&e[i]));
    assert_ptr_equal(h.top(), &e[i]);
    assert_int_equal(e[i].heap_index, 0);
  }
  std::vector<bool> seen(n, false);
  for (auto &x : e) {
    assert_true(x.in_heap());
    assert_true(x.heap_index < static_cast<uint32_t>(n));
    assert_false(seen[x.heap_index]);
    seen[x.heap_index] = true;
  }
  assert_true(h.valid());
  for (auto &x : e) h.erase(&x);
  assert_true(h.empty());
}

}  // namespace

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(random_operations),
      cmocka_unit_test(equal_deadlines_pop_in_push_order),
      cmocka_unit_test(mixed_deadlines_stable_order),
      cmocka_unit_test(update_goes_behind_equal_deadlines),
      cmocka_unit_test(erase_last_slot),
      cmocka_unit_test(erase_root),
      cmocka_unit_test(erase_only_element_and_reuse),
      cmocka_unit_test(erase_middle_moves_last_up),
      cmocka_unit_test(heap_index_tracks_slot),
  };
  return cmocka_run_group_tests_name("timer_heap", tests, NULL, NULL);
}
