// loop.hh - the event loop core: phases, pending queues, fd table, timers.
// One concept per file: loop.cc (run, pending, ref counting), io.cc (fd table and
// io watchers), timers.cc (timer watchers), phases.cc (idle/prepare/check),
// async.cc (async watchers and the wakeup eventfd), create.cc (backend choice).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hh"
#include "core/timer_heap.hh"
#include "core/watcher.hh"
#include "sys/eventfd.hh"
#include "tide.h"

namespace tide {

class Loop final : public Sink {
 public:
  // --- creation (create.cc) ---
  static int create(Loop **out, const tide_loop_options &opt) noexcept;
  ~Loop();
  int free_checked() noexcept;  // -EBUSY/-EDEADLK or deletes this
  const char *backend_name() const noexcept { return backend_->name(); }
  const char *fallback_reason() const noexcept {
    return fallback_reason_.empty() ? nullptr : fallback_reason_.c_str();
  }
  int fork_reinit() noexcept;

  // --- running (loop.cc) ---
  int run(int mode) noexcept;
  void stop() noexcept { stop_requested_ = true; }
  int ref() noexcept;
  int unref() noexcept;
  uint64_t now() const noexcept { return now_; }
  void update_time() noexcept;
  void *data = nullptr;

  // --- generic watcher operations (loop.cc) ---
  void feed(Watcher *w, uint32_t revents) noexcept;  // queue (or OR into) pending
  void clear_pending(Watcher *w) noexcept;

  // --- io watchers (io.cc) ---
  int io_start(Io *w) noexcept;
  void io_stop(Io *w) noexcept;
  void io_changed(Io *w) noexcept;  // an active watcher's events changed

  // --- timers (timers.cc) ---
  int timer_start(Timer *w) noexcept;
  void timer_stop(Timer *w) noexcept;
  int timer_again(Timer *w) noexcept;
  int64_t timer_remaining(const Timer *w) const noexcept;

  // --- idle / prepare / check / async lists (phases.cc, async.cc) ---
  int list_start(Watcher *w) noexcept;
  void list_stop(Watcher *w) noexcept;
  int async_send(Async *w) noexcept;  // any thread
  int wakeup() noexcept;              // any thread

  // --- Sink: what backends report (io.cc) ---
  void fd_event(int fd, unsigned revents) noexcept override;
  void fd_error(int fd) noexcept override;
  void fd_rearm(int fd) noexcept override;

 private:
  Loop() = default;

  // loop.cc
  void activate(Watcher *w) noexcept;    // bookkeeping shared by every start
  void deactivate(Watcher *w) noexcept;  // ... and every stop
  bool alive() const noexcept { return refs_ > 0; }
  void invoke_pending() noexcept;
  void invoke(Watcher *w, uint32_t revents) noexcept;
  int64_t wait_timeout(int mode) noexcept;

  // io.cc
  struct FdState {
    Io *head = nullptr;   // watchers on this fd
    unsigned kernel = 0;  // interest last handed to the backend (kIo* bits)
    bool dirty = false;   // listed in changes_
    bool reset = false;   // re-register even if the interest looks unchanged
  };
  unsigned fd_want(const FdState &st) const noexcept;
  void fd_mark(int fd) noexcept;
  void flush_changes() noexcept;
  void forget_kernel_state() noexcept;

  // timers.cc
  void expire_timers() noexcept;

  // phases.cc
  std::vector<Watcher *> *list_for(Kind k) noexcept;
  void queue_list(std::vector<Watcher *> &list, uint32_t revents) noexcept;

  // async.cc
  int wake_start() noexcept;
  static void wake_cb(tide_loop *, tide_io *, unsigned) noexcept;
  void wake_drain() noexcept;

  std::unique_ptr<Backend> backend_;
  BackendOptions backend_opts_;
  std::string fallback_reason_;
  uint64_t now_ = 0;
  long refs_ = 0;          // active referenced user watchers + tide_ref - tide_unref
  long user_active_ = 0;   // active user watchers (tide_loop_free refuses while > 0)
  bool running_ = false;
  bool stop_requested_ = false;

  static constexpr int kPriorities = TIDE_MAXPRI - TIDE_MINPRI + 1;
  struct Queue {
    Watcher *head = nullptr;
    Watcher *tail = nullptr;
  };
  Queue pending_[kPriorities];
  unsigned pending_mask_ = 0;  // bit p set: pending_[p] not empty
  size_t pending_count_ = 0;

  std::vector<FdState> fds_;
  std::vector<int> changes_;
  std::vector<int> flushing_;  // scratch for flush_changes, kept to avoid allocation

  TimerHeap timers_;

  std::vector<Watcher *> idles_, prepares_, checks_, asyncs_;

  EventFd wake_fd_;
  tide_io wake_io_;  // internal io watcher on wake_fd_
  std::atomic<uint32_t> wake_pending_{0};
};

}  // namespace tide
