// SPDX-License-Identifier: MIT
// timeout.cc - wait timeouts in the units each kernel interface takes.
#include <time.h>

#include <climits>

#include "backend/backend.hh"

namespace tide {

void ns_to_timespec(int64_t ns, struct timespec *ts) noexcept {
  ts->tv_sec = static_cast<time_t>(ns / 1000000000);
  ts->tv_nsec = static_cast<long>(ns % 1000000000);
}

int ns_to_ms_ceil(int64_t ns) noexcept {
  if (ns < 0) return -1;
  int64_t ms = ns / 1000000 + (ns % 1000000 != 0);
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace tide
