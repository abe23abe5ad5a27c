// SPDX-License-Identifier: MIT
// loop.hh - the event loop core: phases, pending queues, fd table, timers.
// One concept per file: loop.cc (run, pending, ref counting), io.cc (fd table and
// io watchers), timers.cc (timer watchers), phases.cc (idle/prepare/check),
// async.cc (async watchers and the wakeup eventfd), create.cc (backend choice).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <mutex>

#include "backend/backend.hh"
#include "req/request.hh"
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
  // Live tide_bufpools: tide_loop_free refuses while there are any.
  void pool_created() noexcept { ++pools_; }
  void pool_freed() noexcept { --pools_; }
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
  // Whether the loop's own records hold w as w's bytes claim (active: in its list,
  // heap or fd chain; pending and inactive: in its pending queue).
  bool records(const Watcher *w) const noexcept;

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

  // --- completion requests (req/engine.cc, req/emulate.cc) ---
  int req_submit(Req *r) noexcept;          // r filled in by the API layer
  int req_cancel(Req *r) noexcept;
  int op_support(int op) const noexcept { return op_support_[op]; }
  void req_cqe(Req *r, int64_t res, bool more, int32_t buf) noexcept override;
  static void pool_run(PoolJob *job) noexcept;   // a pool worker: run a pool-route request
  void pool_done(Req *r, int64_t res) noexcept;  // any thread (thread pool workers)
  void pool_collect() noexcept;                  // loop thread: finish the pool's results
  void bufpool_resume(BufPool *p) noexcept;      // buffers came back: resume paused requests
  Backend &backend() noexcept { return *backend_; }

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
    Req *reqs = nullptr;  // requests in flight on this fd
  };
  unsigned fd_want(const FdState &st) const noexcept;
  void fd_mark(int fd) noexcept;
  void flush_changes() noexcept;
  void forget_kernel_state() noexcept;
  void run_internal(Io *w, unsigned revents) noexcept;

  // timers.cc
  void expire_timers() noexcept;

  // phases.cc
  std::vector<Watcher *> *list_for(Kind k) noexcept;
  void queue_list(std::vector<Watcher *> &list, uint32_t revents) noexcept;

  // async.cc
  int wake_start() noexcept;
  static void wake_cb(tide_loop *, tide_io *, unsigned) noexcept;
  void wake_drain() noexcept;

  // req/engine.cc
  struct Completion {
    Req *r;
    int64_t res;
    int32_t buf;
    bool more;
  };
  Route choose_route(Req *r) noexcept;
  int ensure_fd(int fd) noexcept;
  void req_link_fd(Req *r) noexcept;
  void req_unlink_fd(Req *r) noexcept;
  void req_done(Req *r, int64_t res) noexcept;                 // queue the final completion
  void req_release(Req *r) noexcept;
  void req_more(Req *r, int64_t res, int32_t buf) noexcept;    // queue a non-final one
  void req_timer_expired(Req *r) noexcept;
  void req_abort(Req *r, int64_t res) noexcept;  // cancel/timeout by route
  void dispatch_completions() noexcept;
  void native_result(Req *r, int64_t res, bool more, int32_t buf) noexcept;
  void native_wrote(const Req *r, int64_t res, int32_t buf) noexcept;  // tell memcheck
  void close_cancels(Req *closer) noexcept;
  bool fd_busy_on_pool(const Req *closer) const noexcept;
  void run_waiting_close(int fd) noexcept;

  // req/emulate.cc: readiness emulation, one ReqFd per fd with queued requests
  struct ReqFd {
    tide_io io{};  // first: ready_cb gets back to the ReqFd from the watcher
    Req *rq = nullptr, *rq_tail = nullptr;  // read direction, FIFO
    Req *wq = nullptr, *wq_tail = nullptr;  // write direction, FIFO
    bool needs_reset = true;                // next start: the fd may name a new file
    Req *nq[2] = {}, *nq_tail[2] = {};      // native ordered requests, [0] read [1] write
  };
  void native_enqueue(Req *r) noexcept;      // submits r if it is first in its queue
  void native_dequeue(Req *r) noexcept;      // r finished: submit the next one
  ReqFd *req_fd(int fd) noexcept;
  void ready_submit(Req *r) noexcept;
  bool ready_remove(Req *r) noexcept;
  bool ready_unlink(ReqFd &q, Req *r) noexcept;
  void ready_forget(int fd) noexcept;
  void ready_run(ReqFd &q, bool write_dir) noexcept;
  bool ready_result(Req *r, int64_t res) noexcept;
  void ready_interest(ReqFd &q) noexcept;
  static void ready_cb(tide_loop *, tide_io *, unsigned) noexcept;

  std::unique_ptr<Backend> backend_;
  BackendOptions backend_opts_;
  std::string fallback_reason_;
  uint64_t now_ = 0;
  long refs_ = 0;          // active referenced user watchers + tide_ref - tide_unref
  long user_active_ = 0;   // active user watchers (tide_loop_free refuses while > 0)
  long pools_ = 0;         // live tide_bufpools
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

  std::vector<Completion> completions_, dispatching_;
  uint8_t op_support_[TIDE_OP_COUNT_] = {};
  std::vector<std::unique_ptr<ReqFd>> req_fds_;
  std::mutex pool_mu_;  // guards the list of finished pool jobs (linked by workers)
  Req *pool_done_head_ = nullptr, *pool_done_tail_ = nullptr;

  EventFd wake_fd_;
  tide_io wake_io_;  // internal io watcher on wake_fd_
  std::atomic<uint32_t> wake_pending_{0};
};

inline bool Watcher::held() const {
  return loop && token == token_of(this, loop) && (active || pending()) && loop->records(this);
}

}  // namespace tide
