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

enum { MODE_PINGPONG, MODE_HAMMER };
static const char *const known_args[] = {"mode",     "rounds",      "threads",     "sends",
                                         "watchdog", "max-seconds", PEER_ARGS NULL};

static void usage_exit(const char *why) {
  fprintf(stderr,
          PEER ": %s\nusage: " PEER
               " [--mode=pingpong|hammer] [--rounds=R] [--threads=T] [--sends=S]" PEER_USAGE
               " [--max-seconds=S] [--watchdog=S] [--smoke]\n",
          why);
  exit(2);
}

#define BENCH_PROG PEER
#include "options.h"

static void watchdog_fire(int sig) {
  (void)sig;
  static const char m[] = "bench: watchdog: the run took too long (a lost wakeup?)\n";
  ssize_t r = write(2, m, sizeof m - 1);
  (void)r;
  _exit(1);
}

/* The options every B6 program takes. */
static struct {
  int mode;
  uint64_t rounds, warm;   /* pingpong: measured and warm-up round trips */
  uint64_t cap_ns;         /* pingpong: end the measured rounds early after this long */
  uint64_t threads, sends; /* hammer: sender threads, sends per thread */
} opt;

/* pingpong: does measured round trip m (1-based), ending at now, end the run?
 * At opt.rounds, or, checked every 1024 rounds, once the measured section has
 * run longer than --max-seconds. */
static inline int pingpong_last(uint64_t m, uint64_t now, uint64_t wall0) {
  return m == opt.rounds || (opt.cap_ns && !(m & 1023) && now - wall0 > opt.cap_ns);
}

static void b6_options(int argc, char **argv) {
  check_args(argc, argv);
  const int smoke = bench_smoke(argc, argv);
  const char *m = bench_arg_str(argc, argv, "mode", "pingpong");
  if (!strcmp(m, "pingpong"))
    opt.mode = MODE_PINGPONG;
  else if (!strcmp(m, "hammer"))
    opt.mode = MODE_HAMMER;
  else
    usage_exit("--mode must be pingpong or hammer");
  opt.rounds = arg_u64(argc, argv, "rounds", smoke ? 1000 : 200000);
  opt.warm = smoke ? 10 : 1000;
  opt.threads = arg_u64(argc, argv, "threads", 1);
  if (opt.rounds < 1) usage_exit("--rounds must be >= 1");
  if (opt.threads < 1 || opt.threads > 64) usage_exit("--threads must be 1..64");
  uint64_t total = smoke ? 1000 : 1000000;
  opt.sends = arg_u64(argc, argv, "sends", total / opt.threads ? total / opt.threads : 1);
  if (opt.sends < 1) usage_exit("--sends must be >= 1");
  uint64_t cap = arg_u64(argc, argv, "max-seconds", 8);
  if (cap > 86400) usage_exit("--max-seconds must be 0..86400");
  opt.cap_ns = cap * 1000000000u;
  uint64_t wd = arg_u64(argc, argv, "watchdog", 120);
  if (wd) {
    signal(SIGALRM, watchdog_fire);
    alarm(wd > 86400 ? 86400 : (unsigned)wd);
  }
}

static int b6_failed;
__attribute__((format(printf, 1, 2))) static void b6_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PEER ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  b6_failed = 1;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  int r = pthread_create(t, NULL, fn, arg);
  if (r) bench_die("pthread_create: %s", strerror(r));
}

static void join_thread(pthread_t t) {
  int r = pthread_join(t, NULL);
  if (r) bench_die("pthread_join: %s", strerror(r));
}

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
