// SPDX-License-Identifier: MIT
// threadpool.hh - the process-wide thread pool that runs blocking work for the
// readiness backends (regular files, path operations, tide_work), like libuv's.
// TIDE_THREADPOOL_SIZE threads (default 4, 1..128), started on first use.
//
// A leaf: it knows nothing of loops or requests. A job is a PoolJob embedded in
// its owner's object; a worker thread calls job->run(job), which does the work and
// hands the result back to the owner (thread-safely: the request engine puts it
// on its loop's list of finished jobs and wakes the loop). The pool touches a job
// only while it is queued, so run() may reuse the links.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tide {

struct PoolJob {
  PoolJob *next = nullptr, *prev = nullptr;  // the pool's queue while queued
  void (*run)(PoolJob *job) noexcept = nullptr;  // on a worker thread
};

class ThreadPool {
 public:
  static ThreadPool &instance() noexcept;
  // Queue job (FIFO); job->run must be set. Returns 0 or -ENOMEM/-EAGAIN when no
  // thread can be started.
  int submit(PoolJob *job) noexcept;
  // Remove job if no thread has picked it up yet: true if removed (run() will
  // not be called), false if it is running or has run.
  bool cancel(PoolJob *job) noexcept;

 private:
  ThreadPool() = default;
  int start_threads() noexcept;
  void worker() noexcept;
  static void after_fork_child() noexcept;

  std::mutex mu_;
  std::condition_variable cv_;
  PoolJob *head_ = nullptr, *tail_ = nullptr;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace tide
