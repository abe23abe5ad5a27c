// SPDX-License-Identifier: MIT
// clock.hh - the loop's clock: CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall).
#pragma once
#include <cstdint>
#include <ctime>

namespace tide {

inline uint64_t mono_now() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// a + b, saturating at UINT64_MAX (a timeout of "forever" must not wrap into the past).
inline uint64_t add_sat(uint64_t a, uint64_t b) noexcept {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

}  // namespace tide
