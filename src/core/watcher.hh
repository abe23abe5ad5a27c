// SPDX-License-Identifier: MIT
// watcher.hh - the C++ objects that live, by placement new, in the private storage
// of the public watcher structs (tide_io, tide_timer, ...). One base, one derived
// struct per kind; static_asserts in src/api/ prove each fits its public struct.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/timer_heap.hh"
#include "tide.h"

namespace tide {

class Loop;

enum class Kind : uint8_t { io = 1, timer, idle, prepare, check, async, req };

// Written by tide_X_init; a struct that never went through init does not carry it.
constexpr uint32_t kMagic = 0x74696465;  // "tide"

using AnyCb = void (*)(void);

struct Watcher {
  uint32_t magic = kMagic;
  Kind kind;
  int8_t priority = 0;
  bool active = false;
  bool internal = false;  // owned by the loop itself: not counted as a user watcher
  uint32_t revents = 0;   // pending events; non-zero means "pending"
  uint32_t index = 0;     // slot in the loop's list for its kind (idle/prepare/check/async)
  uint32_t token = 0;     // token_of(this, loop) while a loop holds it, else 0
  Loop *loop = nullptr;   // set while active or pending
  AnyCb cb;
  Watcher *pend_next = nullptr;  // pending queue of its priority
  Watcher *pend_prev = nullptr;

  Watcher(Kind k, AnyCb c) : kind(k), cb(c) {}
  bool pending() const { return revents != 0; }

  // Whether a loop really holds this watcher (active or pending). Raw bytes cannot
  // say so: a struct reused on the stack may still carry the signature and stale
  // flags. The token mixes the watcher's own address with its loop's, so neither
  // leftover bytes nor a copy of a registered watcher pass for one.
  static uint32_t token_of(const Watcher *w, const Loop *l) {
    uint64_t x = reinterpret_cast<uintptr_t>(w) * 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(l);
    return static_cast<uint32_t>(x ^ (x >> 32)) | 1u;
  }
  // The token alone is not enough either: a struct copied while held and copied
  // back later has the right token, so the loop's own records must agree too
  // (Loop::records; defined in loop.hh).
  bool held() const;
  void hold(Loop *l) {
    loop = l;
    token = token_of(this, l);
  }
  void release_if_idle() {
    if (!active && !pending()) {
      loop = nullptr;
      token = 0;
    }
  }
  // The public struct this object lives in (all public watcher structs share the
  // layout { void *data; uint64_t tide_private_[]; }).
  void *public_struct() {
    return reinterpret_cast<char *>(this) - offsetof(tide_io, tide_private_);
  }
};

struct Io : Watcher {
  int fd;
  uint32_t events;  // TIDE_READ | TIDE_WRITE | TIDE_EDGE | TIDE_ONESHOT
  // Set by tide_io_init: the fd number may name a new file (closed and reopened),
  // so the next start re-registers it even if the loop's view did not change.
  bool fd_reset = true;
  Io *fd_next = nullptr;  // other watchers on the same fd
  Io *fd_prev = nullptr;
  Io(AnyCb c, int f, uint32_t ev) : Watcher(Kind::io, c), fd(f), events(ev) {}
};

struct Timer : Watcher, HeapEntry {
  uint64_t after;
  uint64_t repeat;
  Timer(AnyCb c, uint64_t a, uint64_t r) : Watcher(Kind::timer, c), after(a), repeat(r) {}
};

// idle, prepare and check watchers carry nothing but the base.
struct Phase : Watcher {
  using Watcher::Watcher;
};

struct Async : Watcher {
  std::atomic<uint32_t> sent{0};
  explicit Async(AnyCb c) : Watcher(Kind::async, c) {}
};

}  // namespace tide
