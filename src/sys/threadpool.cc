// SPDX-License-Identifier: MIT
// threadpool.cc - see threadpool.hh.
#include "sys/threadpool.hh"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <new>
#include <system_error>

#include "core/loop.hh"
#include "req/request.hh"

namespace tide {

namespace {
unsigned pool_size() {
  const char *s = secure_getenv("TIDE_THREADPOOL_SIZE");
  char *end = nullptr;
  long n = s && *s ? strtol(s, &end, 10) : 4;
  if (end && *end) n = 4;  // not a number: the default
  return n < 1 ? 1 : n > 128 ? 128 : static_cast<unsigned>(n);
}
}  // namespace

ThreadPool &ThreadPool::instance() noexcept {
  static ThreadPool *pool = [] {
    pthread_atfork(nullptr, nullptr, &ThreadPool::after_fork_child);
    return new ThreadPool();  // never destroyed: threads may outlive static destructors
  }();
  return *pool;
}

// The child of a fork has none of the threads: start over (queued jobs belonged
// to the parent's loops).
void ThreadPool::after_fork_child() noexcept {
  ThreadPool &p = instance();
  new (&p.mu_) std::mutex();
  new (&p.cv_) std::condition_variable();
  p.head_ = p.tail_ = nullptr;
  for (std::thread &t : p.threads_) t.detach();
  p.threads_.clear();
  p.started_ = false;
}

int ThreadPool::start_threads() noexcept {
  // Workers block every signal: signals are the program's business, on its threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = 0;
  try {
    unsigned n = pool_size();
    threads_.reserve(n);
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { worker(); });
  } catch (const std::system_error &) {
    err = -EAGAIN;
  } catch (const std::bad_alloc &) {
    err = -ENOMEM;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (threads_.empty()) return err ? err : -EAGAIN;
  started_ = true;
  return 0;
}

int ThreadPool::submit(Req *r) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) {
    int e = start_threads();
    if (e < 0) return e;
  }
  r->q_next = nullptr;
  r->q_prev = tail_;
  if (tail_)
    tail_->q_next = r;
  else
    head_ = r;
  tail_ = r;
  cv_.notify_one();
  return 0;
}

bool ThreadPool::cancel(Req *r) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  bool queued = r->q_prev || head_ == r;
  if (!queued) return false;
  if (r->q_prev) r->q_prev->q_next = r->q_next; else head_ = r->q_next;
  if (r->q_next) r->q_next->q_prev = r->q_prev; else tail_ = r->q_prev;
  r->q_next = r->q_prev = nullptr;
  return true;
}

void ThreadPool::worker() noexcept {
  for (;;) {
    Req *r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return head_ != nullptr; });
      r = head_;
      head_ = r->q_next;
      if (head_) head_->q_prev = nullptr; else tail_ = nullptr;
      r->q_next = r->q_prev = nullptr;
    }
    int64_t res = run_syscall(r, false);
    r->loop->pool_done(r, res);
  }
}

}  // namespace tide
