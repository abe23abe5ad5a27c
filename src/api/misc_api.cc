// misc_api.cc - version, error strings, backend support.
#include <string.h>

#include "api/boundary.hh"
#include "backend/backend.hh"

using namespace tide;

extern "C" {

TIDE_API unsigned tide_version(void) noexcept { return TIDE_VERSION_NUMBER; }

TIDE_API const char *tide_strerror(int err) noexcept {
  if (err < 0) err = -err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *s = strerrordesc_np(err);  // a constant string: thread-safe
  return s ? s : "Unknown error";
#else
  return err == 0 ? "Success" : "Unknown error";
#endif
}

TIDE_API unsigned tide_backends_supported(void) noexcept {
  ErrnoGuard keep;
  unsigned mask = TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT;
  if (uring_supported(nullptr)) mask |= TIDE_BACKEND_URING;
  return mask;
}

}  // extern "C"
