// SPDX-License-Identifier: MIT
// misc_api.cc - version, error strings, backend names and support.
#include <limits.h>
#include <string.h>

#include "api/boundary.hh"
#include "config.h"
#include "backend/backend.hh"

using namespace tide;

namespace {
// -E and E name the same error; INT_MIN has no positive twin and names nothing.
int positive_errno(int err) { return err == INT_MIN ? -1 : err < 0 ? -err : err; }

// An error's description or symbolic name from glibc's constant tables (>= 2.32:
// no shared buffer, so thread-safe), or the fallbacks for codes they do not know.
const char *errno_text(int err, bool name) {
  err = positive_errno(err);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *s = name ? strerrorname_np(err) : strerrordesc_np(err);
  if (s) return s;
#endif
  if (err == 0) return name ? "0" : "Success";
  return name ? "UNKNOWN" : "Unknown error";
}
}  // namespace

extern "C" {

TIDE_API unsigned tide_version(void) noexcept { return TIDE_VERSION_NUMBER; }

TIDE_API const char *tide_strerror(int err) noexcept { return errno_text(err, false); }

TIDE_API const char *tide_err_name(int err) noexcept { return errno_text(err, true); }

TIDE_API unsigned tide_backends_built(void) noexcept {
  return TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT |
         (HAVE_LIBURING ? TIDE_BACKEND_URING : 0u);
}

TIDE_API int tide_backend_from_name(const char *names) noexcept {
  if (!names) return -EINVAL;
  bool unknown;
  unsigned mask = backend_bits_from_names(names, &unknown);
  return unknown || mask == 0 ? -EINVAL : static_cast<int>(mask);
}

TIDE_API const char *tide_backend_name(unsigned backend) noexcept { return backend_name(backend); }

TIDE_API unsigned tide_backends_supported(void) noexcept {
  ErrnoGuard keep;
  unsigned mask = TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT;
  if (uring_supported(nullptr)) mask |= TIDE_BACKEND_URING;
  return mask;
}

}  // extern "C"
