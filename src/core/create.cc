// SPDX-License-Identifier: MIT
// create.cc - loop creation (backend choice and fallback), destruction and fork.
#include <errno.h>
#include <stdlib.h>

#include <new>

#include "core/clock.hh"
#include "core/loop.hh"

namespace tide {

namespace {

struct BackendChoice {
  unsigned bit;
  int (*make)(std::unique_ptr<Backend> *, const BackendOptions &, std::string *);
};

// Best first (DESIGN.md section 2).
const BackendChoice kChoices[] = {
    {TIDE_BACKEND_URING, make_uring_backend},
    {TIDE_BACKEND_EPOLL, make_epoll_backend},
    {TIDE_BACKEND_POLL, make_poll_backend},
    {TIDE_BACKEND_SELECT, make_select_backend},
};

void append_reason(std::string *reason, const std::string &part) {
  if (!reason->empty()) *reason += "; ";
  *reason += part;
}

}  // namespace

int Loop::create(Loop **out, const tide_loop_options &opt) noexcept {
  try {
    std::unique_ptr<Loop> loop(new Loop());
    loop->backend_opts_.uring_entries = opt.uring_entries ? opt.uring_entries : 1024;
    loop->backend_opts_.sqpoll = opt.flags & TIDE_LOOP_SQPOLL;
    loop->backend_opts_.sqpoll_idle_ms = opt.sqpoll_idle_ms;

    unsigned allowed = opt.backends ? opt.backends : TIDE_BACKEND_ALL;
    std::string reason;
    const char *env = (opt.flags & TIDE_LOOP_NOENV) ? nullptr : secure_getenv("TIDE_BACKEND");
    if (env && *env) {
      bool unknown;  // unknown names are ignored, as libev ignores unknown LIBEV_FLAGS bits
      unsigned m = backend_bits_from_names(env, &unknown) & allowed;
      if (m)
        allowed = m;
      else
        append_reason(&reason, std::string("TIDE_BACKEND=") + env + " names no allowed backend; ignored");
    }

    int last_err = -ENOSYS;
    bool first = true;
    for (const BackendChoice &c : kChoices) {
      if (!(allowed & c.bit)) continue;
      std::string why;
      int r = c.make(&loop->backend_, loop->backend_opts_, &why);
      if (r == 0) {
        if (!first) loop->fallback_reason_ = reason;
        break;
      }
      append_reason(&reason, why);
      last_err = r;
      first = false;
    }
    if (!loop->backend_) {
      // Out of memory or descriptors is worth reporting as such; anything else
      // means "nothing you allowed runs here".
      return (last_err == -ENOMEM || last_err == -EMFILE || last_err == -ENFILE) ? last_err
                                                                                 : -ENOSYS;
    }
    if (!reason.empty() && loop->fallback_reason_.empty() && env) loop->fallback_reason_ = reason;

    for (int op = 0; op < TIDE_OP_COUNT_; ++op)
      loop->op_support_[op] = static_cast<uint8_t>(loop->backend_->op_support(op));
    int r = loop->wake_start();
    if (r < 0) return r;
    loop->update_time();
    *out = loop.release();
    return 0;
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  }
}

Loop::~Loop() {
  // Pending watchers that were never started (tide_feed_event) must not keep
  // pointing at a freed loop.
  while (pending_mask_) clear_pending(pending_[31 - __builtin_clz(pending_mask_)].head);
}

int Loop::free_checked() noexcept {
  if (running_) return -EDEADLK;
  if (user_active_ > 0 || pools_ > 0) return -EBUSY;
  delete this;
  return 0;
}

int Loop::fork_reinit() noexcept {
  int r = backend_->reinit();
  if (r < 0) return r;
  forget_kernel_state();
  io_stop(reinterpret_cast<Io *>(wake_io_.tide_private_));
  wake_pending_.store(0);
  r = wake_start();
  if (r < 0) return r;
  for (Watcher *w : asyncs_)
    if (static_cast<Async *>(w)->sent.load()) {
      wakeup();
      break;
    }
  return 0;
}

}  // namespace tide
