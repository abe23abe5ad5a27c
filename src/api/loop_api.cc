// SPDX-License-Identifier: MIT
// loop_api.cc - the extern "C" loop functions: validate, keep errno, call the core.
#include <string.h>

#include "api/boundary.hh"

using namespace tide;

extern "C" {

TIDE_API int tide_loop_new(tide_loop **out, const struct tide_loop_options *opt) noexcept {
  ErrnoGuard keep;
  if (!out) return -EINVAL;
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  if (opt) {
    // Extensible struct (see tide.h): take what both sides know, insist that what
    // only the caller knows is zero.
    if (opt->size < sizeof(size_t)) return -EINVAL;
    memcpy(&o, opt, opt->size < sizeof o ? opt->size : sizeof o);
    const unsigned char *tail = reinterpret_cast<const unsigned char *>(opt);
    for (size_t i = sizeof o; i < opt->size; ++i)
      if (tail[i]) return -E2BIG;
  }
  if (o.flags & ~(TIDE_LOOP_NOENV | TIDE_LOOP_SQPOLL)) return -EINVAL;
  if (o.backends & ~TIDE_BACKEND_ALL) return -EINVAL;
  Loop *loop;
  int r = Loop::create(&loop, o);
  if (r == 0) *out = reinterpret_cast<tide_loop *>(loop);
  return r;
}

TIDE_API int tide_loop_free(tide_loop *loop) noexcept {
  ErrnoGuard keep;
  return loop ? core(loop)->free_checked() : -EINVAL;
}

TIDE_API const char *tide_loop_backend(const tide_loop *loop) noexcept {
  return loop ? core(loop)->backend_name() : nullptr;
}

TIDE_API const char *tide_loop_fallback_reason(const tide_loop *loop) noexcept {
  return loop ? core(loop)->fallback_reason() : nullptr;
}

TIDE_API int tide_loop_set_data(tide_loop *loop, void *data) noexcept {
  if (!loop) return -EINVAL;
  core(loop)->data = data;
  return 0;
}

TIDE_API void *tide_loop_get_data(const tide_loop *loop) noexcept {
  return loop ? core(loop)->data : nullptr;
}

TIDE_API int tide_loop_fork(tide_loop *loop) noexcept {
  ErrnoGuard keep;
  return loop ? core(loop)->fork_reinit() : -EINVAL;
}

TIDE_API int tide_loop_wakeup(tide_loop *loop) noexcept {
  ErrnoGuard keep;
  return loop ? core(loop)->wakeup() : -EINVAL;
}

TIDE_API int tide_run(tide_loop *loop, int mode) noexcept {
  ErrnoGuard keep;
  return loop ? core(loop)->run(mode) : -EINVAL;
}

TIDE_API int tide_stop(tide_loop *loop) noexcept {
  if (!loop) return -EINVAL;
  core(loop)->stop();
  return 0;
}

TIDE_API int tide_ref(tide_loop *loop) noexcept { return loop ? core(loop)->ref() : -EINVAL; }

TIDE_API int tide_unref(tide_loop *loop) noexcept { return loop ? core(loop)->unref() : -EINVAL; }

TIDE_API uint64_t tide_now(const tide_loop *loop) noexcept { return loop ? core(loop)->now() : 0; }

TIDE_API int tide_update_time(tide_loop *loop) noexcept {
  if (!loop) return -EINVAL;
  core(loop)->update_time();
  return 0;
}

}  // extern "C"
