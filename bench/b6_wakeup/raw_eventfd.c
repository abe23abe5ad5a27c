/* SPDX-License-Identifier: MIT */
/* b6_wakeup/raw_eventfd.c - B6 cross-thread wakeups with no event loop: the floor.
 *
 * --mode=pingpong: two threads, two eventfds (A->B, B->A), blocking read(2) and
 *   write(2): A writes 1 to B's eventfd and blocks reading its own; B blocks
 *   reading its eventfd, writes 1 to A's. 1000 warm-up round trips (10 with
 *   --smoke), then --rounds measured ones, each timed from A's write to A's read
 *   returning (p50/p99/p999_ns). Checks: every read returns 1, B answered every
 *   ping.
 * --mode=hammer: --threads threads write(2) 1 to one eventfd --sends times each
 *   (default 1,000,000 in total); the main thread reads it in a blocking loop
 *   (each read returns the sum of the writes since the last one: the eventfd
 *   counter is the coalescing). A controller thread joins the writers and writes
 *   once more; the measured section runs from releasing the writers (a barrier)
 *   to the read that brings the sum to S_total + 1 (the controller's write).
 *   callbacks=K is the number of reads. Then one more write from another thread
 *   must be read as exactly 1 (final_callbacks=1).
 * A lost wakeup would hang: --watchdog seconds (default 120) end the run, exit 1.
 *
 * CLI: raw_eventfd [--mode=pingpong|hammer] [--rounds=200000] [--threads=1]
 *                  [--sends=1000000/threads] [--max-seconds=8] [--watchdog=120] [--smoke]
 * --max-seconds (default 8, 0 = none): a pingpong run whose measured rounds take
 * longer stops at the next multiple of 1024 rounds and reports those (capped=1),
 * so every default run stays bounded (libuv 1.44's async spin-wait can make a
 * round trip cost ~70 us on a loaded 2-CPU machine).
 * Defaults: --mode=pingpong, --threads=1. --smoke: 1000 rounds / 1000 sends in total.
 * Exit: 0 ok, 1 check failed, 2 bad arguments.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#define PEER "raw_eventfd"
#define PEER_ARGS
#define PEER_USAGE ""

/* ------------------------------------------------ shared by the B6 programs */

#include "b6_common.h"

/* ------------------------------------------------ raw eventfd */

static struct {
  bench_clock clk;
  bench_hist hist;
  int efd_ab, efd_ba, efd; /* pingpong A->B, B->A; hammer */
  _Atomic int done;
  uint64_t b_count, b_bad; /* B's thread only (read after the join) */
  pthread_barrier_t go;
  _Atomic uint64_t io_err;
} g;

static int new_eventfd(void) {
  int fd = eventfd(0, EFD_CLOEXEC);
  if (fd < 0) bench_die("eventfd: %s", strerror(errno));
  return fd;
}

static void efd_write(int fd) {
  uint64_t one = 1;
  ssize_t r;
  while ((r = write(fd, &one, sizeof one)) < 0 && errno == EINTR) {
  }
  if (r != (ssize_t)sizeof one) atomic_fetch_add(&g.io_err, 1);
}

static uint64_t efd_read(int fd) {
  uint64_t v = 0;
  ssize_t r;
  while ((r = read(fd, &v, sizeof v)) < 0 && errno == EINTR) {
  }
  if (r != (ssize_t)sizeof v) {
    atomic_fetch_add(&g.io_err, 1);
    return 0;
  }
  return v;
}

static void *b_thread(void *arg) {
  (void)arg;
  for (;;) {
    uint64_t v = efd_read(g.efd_ab);
    if (atomic_load(&g.done)) break;
    if (v != 1) g.b_bad++;
    g.b_count++;
    efd_write(g.efd_ba);
  }
  return NULL;
}

static int pingpong(void) {
  g.efd_ab = new_eventfd();
  g.efd_ba = new_eventfd();
  pthread_t tb;
  start_thread(&tb, b_thread, NULL);
  uint64_t bad = 0, total = 0;
  for (uint64_t i = 1;; i++) {
    if (i == opt.warm + 1) bench_begin(&g.clk);
    uint64_t t0 = bench_now_ns();
    efd_write(g.efd_ab);
    uint64_t v = efd_read(g.efd_ba);
    uint64_t t1 = bench_now_ns();
    if (v != 1) bad++;
    if (i > opt.warm) {
      bench_hist_add(&g.hist, t1 - t0);
      if (pingpong_last(i - opt.warm, t1, g.clk.wall0)) {
        total = i;
        break;
      }
    }
  }
  bench_end(&g.clk);
  const uint64_t measured = total - opt.warm;
  atomic_store(&g.done, 1);
  efd_write(g.efd_ab);
  join_thread(tb);
  close(g.efd_ab);
  close(g.efd_ba);
  if (bad) b6_fail("A read %llu pongs that were not 1", (unsigned long long)bad);
  if (g.b_bad) b6_fail("B read %llu pings that were not 1", (unsigned long long)g.b_bad);
  if (g.b_count != total)
    b6_fail("B answered %llu pings, expected %llu", (unsigned long long)g.b_count, (unsigned long long)total);
  if (atomic_load(&g.io_err))
    b6_fail("%llu eventfd reads/writes failed", (unsigned long long)atomic_load(&g.io_err));
  if (b6_failed) return 1;
  bench_result(&g.clk, measured, &g.hist, " rounds=%llu warmup=%llu capped=%d backend=eventfd spurious=0",
               (unsigned long long)opt.rounds, (unsigned long long)opt.warm, measured < opt.rounds);
  return 0;
}

static void *sender_thread(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g.go);
  for (uint64_t i = 0; i < opt.sends; i++) efd_write(g.efd);
  return NULL;
}

static void *controller_thread(void *arg) {
  pthread_t *senders = arg;
  for (uint64_t i = 0; i < opt.threads; i++) join_thread(senders[i]);
  efd_write(g.efd); /* the write after the join */
  return NULL;
}

static void *one_send_thread(void *arg) {
  (void)arg;
  efd_write(g.efd);
  return NULL;
}

static int hammer(void) {
  g.efd = new_eventfd();
  const uint64_t total = opt.threads * opt.sends;
  pthread_t *senders = calloc(opt.threads, sizeof *senders), ctl;
  if (!senders) bench_die("out of memory");
  int r = pthread_barrier_init(&g.go, NULL, (unsigned)opt.threads + 1);
  if (r) bench_die("pthread_barrier_init: %s", strerror(r));
  for (uint64_t i = 0; i < opt.threads; i++) start_thread(&senders[i], sender_thread, NULL);
  start_thread(&ctl, controller_thread, senders);
  uint64_t sum = 0, k = 0;
  bench_begin(&g.clk);
  pthread_barrier_wait(&g.go);
  while (sum < total + 1) {
    uint64_t v = efd_read(g.efd);
    if (!v) break; /* a failed read (counted) */
    sum += v;
    k++;
  }
  bench_end(&g.clk);
  join_thread(ctl);
  pthread_t one;
  start_thread(&one, one_send_thread, NULL);
  join_thread(one);
  uint64_t last = efd_read(g.efd);
  close(g.efd);
  pthread_barrier_destroy(&g.go);
  free(senders);
  if (sum != total + 1)
    b6_fail("read a sum of %llu, expected %llu writes", (unsigned long long)sum,
            (unsigned long long)total + 1);
  if (last != 1) b6_fail("the write after the join read as %llu, expected 1", (unsigned long long)last);
  if (atomic_load(&g.io_err))
    b6_fail("%llu eventfd reads/writes failed", (unsigned long long)atomic_load(&g.io_err));
  if (b6_failed) return 1;
  bench_result(&g.clk, total, NULL,
               " callbacks=%llu threads=%llu sends=%llu backend=eventfd final_callbacks=1",
               (unsigned long long)k, (unsigned long long)opt.threads, (unsigned long long)opt.sends);
  return 0;
}

int main(int argc, char **argv) {
  b6_options(argc, argv);
  return opt.mode == MODE_PINGPONG ? pingpong() : hammer();
}
