// SPDX-License-Identifier: MIT
// threadpool.cc - see threadpool.hh.
#include "sys/threadpool.hh"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <new>
#include <system_error>

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

int ThreadPool::submit(PoolJob *job) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) {
    int e = start_threads();
    if (e < 0) return e;
  }
  job->next = nullptr;
  job->prev = tail_;
  if (tail_)
    tail_->next = job;
  else
    head_ = job;
  tail_ = job;
  cv_.notify_one();
  return 0;
}

bool ThreadPool::cancel(PoolJob *job) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  bool queued = job->prev || head_ == job;
  if (!queued) return false;
  if (job->prev) job->prev->next = job->next; else head_ = job->next;
  if (job->next) job->next->prev = job->prev; else tail_ = job->prev;
  job->next = job->prev = nullptr;
  return true;
}

void ThreadPool::worker() noexcept {
  for (;;) {
    PoolJob *job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return head_ != nullptr; });
      job = head_;
      head_ = job->next;
      if (head_) head_->prev = nullptr; else tail_ = nullptr;
      job->next = job->prev = nullptr;
    }
    job->run(job);  // from here on the job is its owner's again
  }
}

}  // namespace tide
