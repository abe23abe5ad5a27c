// SPDX-License-Identifier: MIT
// watcher_api.cc - the extern "C" watcher functions: validate, keep errno, call
// the core. Every public watcher struct holds its core object in tide_private_.
#include <new>

#include "api/boundary.hh"

using namespace tide;

static_assert(sizeof(Io) <= sizeof(tide_io::tide_private_), "tide_io too small");
static_assert(sizeof(Timer) <= sizeof(tide_timer::tide_private_), "tide_timer too small");
static_assert(sizeof(Phase) <= sizeof(tide_idle::tide_private_), "tide_idle too small");
static_assert(sizeof(Phase) <= sizeof(tide_prepare::tide_private_), "tide_prepare too small");
static_assert(sizeof(Phase) <= sizeof(tide_check::tide_private_), "tide_check too small");
static_assert(sizeof(Async) <= sizeof(tide_async::tide_private_), "tide_async too small");
static_assert(alignof(Timer) <= alignof(uint64_t) && alignof(Io) <= alignof(uint64_t),
              "private storage alignment");

namespace {

constexpr unsigned kIoEventBits = TIDE_READ | TIDE_WRITE | TIDE_EDGE | TIDE_ONESHOT;

bool io_events_valid(unsigned events) {
  return (events & (TIDE_READ | TIDE_WRITE)) && !(events & ~kIoEventBits);
}

// idle, prepare, check and async share their start/stop.
template <class T>
int list_start(tide_loop *loop, void *pub, Kind k) {
  ErrnoGuard keep;
  T *w;
  int r = bind_watcher(loop, pub, k, &w);
  return r < 0 ? r : core(loop)->list_start(w);
}

template <class T>
int list_stop(tide_loop *loop, void *pub, Kind k) {
  T *w;
  int r = bind_watcher(loop, pub, k, &w);
  if (r < 0) return r;
  core(loop)->list_stop(w);
  return 0;
}

template <class T, class Cb>
int phase_init(T *pub, Cb cb, Kind k) {
  if (!pub || !cb || held_by_loop(pub)) return -EINVAL;
  new (pub->tide_private_) Phase(k, reinterpret_cast<AnyCb>(cb));
  return 0;
}

}  // namespace

extern "C" {

// ---------------------------------------------------------------- generic

TIDE_API int tide_is_active(const void *w) noexcept {
  Watcher *c = any_watcher(w);
  return c ? c->held() && c->active : -EINVAL;
}

TIDE_API int tide_is_pending(const void *w) noexcept {
  Watcher *c = any_watcher(w);
  return c ? c->held() && c->pending() : -EINVAL;
}

TIDE_API int tide_set_priority(void *w, int priority) noexcept {
  Watcher *c = any_watcher(w);
  if (!c || priority < TIDE_MINPRI || priority > TIDE_MAXPRI) return -EINVAL;
  if (c->held()) return -EBUSY;
  c->priority = static_cast<int8_t>(priority);
  return 0;
}

TIDE_API int tide_get_priority(const void *w, int *out) noexcept {
  Watcher *c = any_watcher(w);
  if (!c || !out) return -EINVAL;
  *out = c->priority;
  return 0;
}

TIDE_API int tide_feed_event(tide_loop *loop, void *w, unsigned revents) noexcept {
  Watcher *c = any_watcher(w);
  if (!revents) return -EINVAL;
  int r = bind_any(loop, c);
  if (r < 0) return r;
  core(loop)->feed(c, revents);
  return 0;
}

// ---------------------------------------------------------------- io

TIDE_API int tide_io_init(tide_io *w, tide_io_cb cb, int fd, unsigned events) noexcept {
  if (!w || !cb || !io_events_valid(events) || held_by_loop(w)) return -EINVAL;
  if (fd < 0) return -EBADF;
  new (w->tide_private_) Io(reinterpret_cast<AnyCb>(cb), fd, events);
  return 0;
}

TIDE_API int tide_io_start(tide_loop *loop, tide_io *w) noexcept {
  ErrnoGuard keep;
  Io *c;
  int r = bind_watcher(loop, w, Kind::io, &c);
  if (r < 0) return r;
  return c->active ? 0 : core(loop)->io_start(c);
}

TIDE_API int tide_io_stop(tide_loop *loop, tide_io *w) noexcept {
  Io *c;
  int r = bind_watcher(loop, w, Kind::io, &c);
  if (r < 0) return r;
  core(loop)->io_stop(c);
  return 0;
}

TIDE_API int tide_io_modify(tide_io *w, unsigned events) noexcept {
  Io *c = typed_watcher<Io>(w, Kind::io);
  if (!c || !io_events_valid(events)) return -EINVAL;
  c->events = events;
  if (c->held() && c->active) c->loop->io_changed(c);
  return 0;
}

TIDE_API int tide_io_fd(const tide_io *w) noexcept {
  Io *c = typed_watcher<Io>(w, Kind::io);
  return c ? c->fd : -EINVAL;
}

// ---------------------------------------------------------------- timer

TIDE_API int tide_timer_init(tide_timer *w, tide_timer_cb cb, uint64_t after_ns,
                             uint64_t repeat_ns) noexcept {
  if (!w || !cb || held_by_loop(w)) return -EINVAL;
  new (w->tide_private_) Timer(reinterpret_cast<AnyCb>(cb), after_ns, repeat_ns);
  return 0;
}

TIDE_API int tide_timer_set(tide_timer *w, uint64_t after_ns, uint64_t repeat_ns) noexcept {
  Timer *c = typed_watcher<Timer>(w, Kind::timer);
  if (!c) return -EINVAL;
  c->after = after_ns;
  c->repeat = repeat_ns;
  return 0;
}

TIDE_API int tide_timer_start(tide_loop *loop, tide_timer *w) noexcept {
  Timer *c;
  int r = bind_watcher(loop, w, Kind::timer, &c);
  return r < 0 ? r : core(loop)->timer_start(c);
}

TIDE_API int tide_timer_stop(tide_loop *loop, tide_timer *w) noexcept {
  Timer *c;
  int r = bind_watcher(loop, w, Kind::timer, &c);
  if (r < 0) return r;
  core(loop)->timer_stop(c);
  return 0;
}

TIDE_API int tide_timer_again(tide_loop *loop, tide_timer *w) noexcept {
  Timer *c;
  int r = bind_watcher(loop, w, Kind::timer, &c);
  return r < 0 ? r : core(loop)->timer_again(c);
}

TIDE_API int64_t tide_timer_remaining(tide_loop *loop, const tide_timer *w) noexcept {
  Timer *c;
  int r = bind_watcher(loop, w, Kind::timer, &c);
  return r < 0 ? r : core(loop)->timer_remaining(c);
}

// ---------------------------------------------------------------- idle, prepare, check

TIDE_API int tide_idle_init(tide_idle *w, tide_idle_cb cb) noexcept {
  return phase_init(w, cb, Kind::idle);
}
TIDE_API int tide_idle_start(tide_loop *loop, tide_idle *w) noexcept {
  return list_start<Phase>(loop, w, Kind::idle);
}
TIDE_API int tide_idle_stop(tide_loop *loop, tide_idle *w) noexcept {
  return list_stop<Phase>(loop, w, Kind::idle);
}

TIDE_API int tide_prepare_init(tide_prepare *w, tide_prepare_cb cb) noexcept {
  return phase_init(w, cb, Kind::prepare);
}
TIDE_API int tide_prepare_start(tide_loop *loop, tide_prepare *w) noexcept {
  return list_start<Phase>(loop, w, Kind::prepare);
}
TIDE_API int tide_prepare_stop(tide_loop *loop, tide_prepare *w) noexcept {
  return list_stop<Phase>(loop, w, Kind::prepare);
}

TIDE_API int tide_check_init(tide_check *w, tide_check_cb cb) noexcept {
  return phase_init(w, cb, Kind::check);
}
TIDE_API int tide_check_start(tide_loop *loop, tide_check *w) noexcept {
  return list_start<Phase>(loop, w, Kind::check);
}
TIDE_API int tide_check_stop(tide_loop *loop, tide_check *w) noexcept {
  return list_stop<Phase>(loop, w, Kind::check);
}

// ---------------------------------------------------------------- async

TIDE_API int tide_async_init(tide_async *w, tide_async_cb cb) noexcept {
  if (!w || !cb || held_by_loop(w)) return -EINVAL;
  new (w->tide_private_) Async(reinterpret_cast<AnyCb>(cb));
  return 0;
}
TIDE_API int tide_async_start(tide_loop *loop, tide_async *w) noexcept {
  return list_start<Async>(loop, w, Kind::async);
}
TIDE_API int tide_async_stop(tide_loop *loop, tide_async *w) noexcept {
  return list_stop<Async>(loop, w, Kind::async);
}

TIDE_API int tide_async_send(tide_loop *loop, tide_async *w) noexcept {
  ErrnoGuard keep;
  Async *c = typed_watcher<Async>(w, Kind::async);
  if (!loop || !c) return -EINVAL;
  return core(loop)->async_send(c);
}

}  // extern "C"
