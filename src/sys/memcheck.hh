// SPDX-License-Identifier: MIT
// memcheck.hh - telling valgrind's memcheck about memory it cannot follow: bytes
// the kernel wrote through io_uring (memcheck sees no syscall doing it) and bytes
// the library reads on purpose before the program initialised them. A no-op
// outside valgrind (a few instructions), and when valgrind's header is not
// installed at build time.
#pragma once
#include <stddef.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TIDE_HAVE_MEMCHECK 1
#endif
#endif

namespace tide {

inline void mark_defined(const void *p, size_t n) noexcept {
#if TIDE_HAVE_MEMCHECK
  if (p && n) VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace tide
