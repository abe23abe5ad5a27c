// SPDX-License-Identifier: MIT
// names.cc - the one table of backend names: TIDE_BACKEND_* bits <-> the names a
// user writes (TIDE_BACKEND, --backend) and the name a loop reports.
#include <string.h>

#include "backend/backend.hh"

namespace tide {

namespace {
struct BackendName {
  unsigned bit;
  const char *name;   // what tide_loop_backend() and tide_backend_name() report
  const char *alias;  // the short spelling users may write too, or nullptr
};
constexpr BackendName kNames[] = {
    {TIDE_BACKEND_URING, "io_uring", "uring"},
    {TIDE_BACKEND_EPOLL, "epoll", nullptr},
    {TIDE_BACKEND_POLL, "poll", nullptr},
    {TIDE_BACKEND_SELECT, "select", nullptr},
};

bool same(const char *s, size_t n, const char *name) {
  return name && strlen(name) == n && strncmp(s, name, n) == 0;
}
}  // namespace

unsigned backend_bits_from_names(const char *list, bool *unknown) noexcept {
  unsigned mask = 0;
  *unknown = false;
  const char *s = list + strspn(list, ", ");
  while (*s) {
    size_t n = strcspn(s, ", ");
    unsigned bit = 0;
    for (const BackendName &b : kNames)
      if (same(s, n, b.name) || same(s, n, b.alias)) bit = b.bit;
    if (!bit) *unknown = true;
    mask |= bit;
    s += n;
    s += strspn(s, ", ");
  }
  return mask;
}

const char *backend_name(unsigned bit) noexcept {
  for (const BackendName &b : kNames)
    if (b.bit == bit) return b.name;
  return nullptr;
}

}  // namespace tide
