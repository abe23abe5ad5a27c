// SPDX-License-Identifier: MIT
// threadpool.hh - the process-wide thread pool that runs blocking operations for
// the readiness backends (regular files, path operations, tide_work), like libuv's.
// TIDE_THREADPOOL_SIZE threads (default 4, 1..128), started on first use. A job is
// a request; when it is done the worker hands the result to the request's loop
// (Loop::pool_done, thread-safe), which wakes the loop through its eventfd.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tide {

struct Req;

class ThreadPool {
 public:
  static ThreadPool &instance() noexcept;
  // Queue r (FIFO). Returns 0 or -ENOMEM/-EAGAIN when no thread can be started.
  int submit(Req *r) noexcept;
  // Remove r if no thread has picked it up yet: true if removed.
  bool cancel(Req *r) noexcept;

 private:
  ThreadPool() = default;
  int start_threads() noexcept;
  void worker() noexcept;
  static void after_fork_child() noexcept;

  std::mutex mu_;
  std::condition_variable cv_;
  Req *head_ = nullptr, *tail_ = nullptr;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace tide
