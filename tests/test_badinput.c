/* SPDX-License-Identifier: MIT */
/*
 * test_badinput.c - every documented error path: NULL loop/watcher, uninitialised
 * or garbage watchers, bad fds, fd >= FD_SETSIZE on select, a watcher active on
 * another loop, tide_loop_free with active watchers, double start / stop of an
 * inactive watcher, an fd closed under an active watcher, bad loop options.
 */
#include "common.h"

#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/select.h>

TestSuite(bad, .timeout = 30);

/* ------------------------------------------------------------ generic watchers */

static void io_cb(tide_loop *l, tide_io *w, unsigned r) { (void)l, (void)w, (void)r; }
static void timer_cb(tide_loop *l, tide_timer *w, unsigned r) { (void)l, (void)w, (void)r; }
static void idle_cb(tide_loop *l, tide_idle *w, unsigned r) { (void)l, (void)w, (void)r; }
static void prepare_cb(tide_loop *l, tide_prepare *w, unsigned r) { (void)l, (void)w, (void)r; }
static void check_cb(tide_loop *l, tide_check *w, unsigned r) { (void)l, (void)w, (void)r; }
static void async_cb(tide_loop *l, tide_async *w, unsigned r) { (void)l, (void)w, (void)r; }

static int g_fd = -1; /* fd for io watchers: the write end of a pipe (idle: never readable) */

static int init_io(void *w) { return tide_io_init(w, io_cb, g_fd, TIDE_READ); }
static int init_timer(void *w) { return tide_timer_init(w, timer_cb, TT_SEC(100), 0); }
static int init_idle(void *w) { return tide_idle_init(w, idle_cb); }
static int init_prepare(void *w) { return tide_prepare_init(w, prepare_cb); }
static int init_check(void *w) { return tide_check_init(w, check_cb); }
static int init_async(void *w) { return tide_async_init(w, async_cb); }
static int start_io(tide_loop *l, void *w) { return tide_io_start(l, w); }
static int start_timer(tide_loop *l, void *w) { return tide_timer_start(l, w); }
static int start_idle(tide_loop *l, void *w) { return tide_idle_start(l, w); }
static int start_prepare(tide_loop *l, void *w) { return tide_prepare_start(l, w); }
static int start_check(tide_loop *l, void *w) { return tide_check_start(l, w); }
static int start_async(tide_loop *l, void *w) { return tide_async_start(l, w); }
static int stop_io(tide_loop *l, void *w) { return tide_io_stop(l, w); }
static int stop_timer(tide_loop *l, void *w) { return tide_timer_stop(l, w); }
static int stop_idle(tide_loop *l, void *w) { return tide_idle_stop(l, w); }
static int stop_prepare(tide_loop *l, void *w) { return tide_prepare_stop(l, w); }
static int stop_check(tide_loop *l, void *w) { return tide_check_stop(l, w); }
static int stop_async(tide_loop *l, void *w) { return tide_async_stop(l, w); }

struct wtype {
  const char *name;
  int (*init)(void *);
  int (*start)(tide_loop *, void *);
  int (*stop)(tide_loop *, void *);
};

static const struct wtype types[] = {
    {"io", init_io, start_io, stop_io},
    {"timer", init_timer, start_timer, stop_timer},
    {"idle", init_idle, start_idle, stop_idle},
    {"prepare", init_prepare, start_prepare, stop_prepare},
    {"check", init_check, start_check, stop_check},
    {"async", init_async, start_async, stop_async},
};
enum { NTYPES = sizeof types / sizeof types[0] };

union anyw {
  tide_io io;
  tide_timer timer;
  tide_idle idle;
  tide_prepare prepare;
  tide_check check;
  tide_async async;
};

static int g_pipe[2] = {-1, -1};

static void setup_fd(void) {
  tt_pipe(g_pipe);
  g_fd = g_pipe[1];
}

static void teardown_fd(void) {
  tt_close2(g_pipe);
  g_fd = -1;
}

/* ------------------------------------------------------------ NULL */

Test(bad, null_loop_everywhere) {
  errno = 777;
  tide_io io;
  tide_timer t;
  tide_idle i;
  tide_prepare p;
  tide_check c;
  tide_async a;
  int pipefd[2];
  tt_pipe(pipefd);
  cr_assert_eq(tide_io_init(&io, io_cb, pipefd[0], TIDE_READ), 0);
  cr_assert_eq(tide_timer_init(&t, timer_cb, 1, 0), 0);
  cr_assert_eq(tide_idle_init(&i, idle_cb), 0);
  cr_assert_eq(tide_prepare_init(&p, prepare_cb), 0);
  cr_assert_eq(tide_check_init(&c, check_cb), 0);
  cr_assert_eq(tide_async_init(&a, async_cb), 0);
  errno = 777;

  cr_assert_eq(tide_loop_new(NULL, NULL), -EINVAL);
  cr_assert_eq(tide_loop_free(NULL), -EINVAL);
  cr_assert_null(tide_loop_backend(NULL));
  cr_assert_null(tide_loop_fallback_reason(NULL));
  cr_assert_eq(tide_loop_set_data(NULL, &a), -EINVAL);
  cr_assert_null(tide_loop_get_data(NULL));
  cr_assert_eq(tide_loop_fork(NULL), -EINVAL);
  cr_assert_eq(tide_loop_wakeup(NULL), -EINVAL);
  cr_assert_eq(tide_run(NULL, TIDE_RUN_DEFAULT), -EINVAL);
  cr_assert_eq(tide_run(NULL, TIDE_RUN_NOWAIT), -EINVAL);
  cr_assert_eq(tide_stop(NULL), -EINVAL);
  cr_assert_eq(tide_ref(NULL), -EINVAL);
  cr_assert_eq(tide_unref(NULL), -EINVAL);
  cr_assert_eq(tide_now(NULL), 0u);
  cr_assert_eq(tide_update_time(NULL), -EINVAL);
  cr_assert_eq(tide_feed_event(NULL, &t, TIDE_CUSTOM), -EINVAL);
  cr_assert_eq(tide_io_start(NULL, &io), -EINVAL);
  cr_assert_eq(tide_io_stop(NULL, &io), -EINVAL);
  cr_assert_eq(tide_timer_start(NULL, &t), -EINVAL);
  cr_assert_eq(tide_timer_stop(NULL, &t), -EINVAL);
  cr_assert_eq(tide_timer_again(NULL, &t), -EINVAL);
  cr_assert_eq(tide_timer_remaining(NULL, &t), -EINVAL);
  cr_assert_eq(tide_idle_start(NULL, &i), -EINVAL);
  cr_assert_eq(tide_idle_stop(NULL, &i), -EINVAL);
  cr_assert_eq(tide_prepare_start(NULL, &p), -EINVAL);
  cr_assert_eq(tide_prepare_stop(NULL, &p), -EINVAL);
  cr_assert_eq(tide_check_start(NULL, &c), -EINVAL);
  cr_assert_eq(tide_check_stop(NULL, &c), -EINVAL);
  cr_assert_eq(tide_async_start(NULL, &a), -EINVAL);
  cr_assert_eq(tide_async_stop(NULL, &a), -EINVAL);
  cr_assert_eq(tide_async_send(NULL, &a), -EINVAL);
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  /* the watchers were not touched */
  cr_assert_eq(tide_is_active(&io), 0);
  cr_assert_eq(tide_is_pending(&t), 0);
  tt_close2(pipefd);
}

Test(bad, null_watcher_everywhere) {
  tide_loop *loop = tt_loop();
  int x = 0;
  errno = 777;
  cr_assert_eq(tide_is_active(NULL), -EINVAL);
  cr_assert_eq(tide_is_pending(NULL), -EINVAL);
  cr_assert_eq(tide_set_priority(NULL, 0), -EINVAL);
  cr_assert_eq(tide_get_priority(NULL, &x), -EINVAL);
  cr_assert_eq(tide_feed_event(loop, NULL, TIDE_CUSTOM), -EINVAL);
  cr_assert_eq(tide_io_init(NULL, io_cb, 0, TIDE_READ), -EINVAL);
  cr_assert_eq(tide_io_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_io_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_io_modify(NULL, TIDE_READ), -EINVAL);
  cr_assert_eq(tide_io_fd(NULL), -EINVAL);
  cr_assert_eq(tide_timer_init(NULL, timer_cb, 1, 1), -EINVAL);
  cr_assert_eq(tide_timer_set(NULL, 1, 1), -EINVAL);
  cr_assert_eq(tide_timer_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_timer_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_timer_again(loop, NULL), -EINVAL);
  cr_assert_eq(tide_timer_remaining(loop, NULL), -EINVAL);
  cr_assert_eq(tide_idle_init(NULL, idle_cb), -EINVAL);
  cr_assert_eq(tide_idle_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_idle_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_prepare_init(NULL, prepare_cb), -EINVAL);
  cr_assert_eq(tide_prepare_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_prepare_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_check_init(NULL, check_cb), -EINVAL);
  cr_assert_eq(tide_check_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_check_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_async_init(NULL, async_cb), -EINVAL);
  cr_assert_eq(tide_async_start(loop, NULL), -EINVAL);
  cr_assert_eq(tide_async_stop(loop, NULL), -EINVAL);
  cr_assert_eq(tide_async_send(loop, NULL), -EINVAL);

  /* NULL callbacks and NULL out pointers */
  tide_io io;
  tide_timer t;
  tide_idle i;
  tide_prepare p;
  tide_check c;
  tide_async a;
  cr_assert_eq(tide_io_init(&io, NULL, 0, TIDE_READ), -EINVAL);
  cr_assert_eq(tide_timer_init(&t, NULL, 1, 0), -EINVAL);
  cr_assert_eq(tide_idle_init(&i, NULL), -EINVAL);
  cr_assert_eq(tide_prepare_init(&p, NULL), -EINVAL);
  cr_assert_eq(tide_check_init(&c, NULL), -EINVAL);
  cr_assert_eq(tide_async_init(&a, NULL), -EINVAL);
  cr_assert_eq(tide_timer_init(&t, timer_cb, 1, 0), 0);
  cr_assert_eq(tide_get_priority(&t, NULL), -EINVAL);
  cr_assert_eq(errno, 777, "errno changed to %d", errno);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0, "nothing got started");
  tt_free(loop);
}

Test(bad, run_unknown_mode) {
  tide_loop *loop = tt_loop();
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, timer_cb, TT_SEC(10), 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, 3), -EINVAL);
  cr_assert_eq(tide_run(loop, -1), -EINVAL);
  cr_assert_eq(tide_run(loop, 1000), -EINVAL);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(1));
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  tt_free(loop);
}

Test(bad, feed_event_zero_revents) {
  tide_loop *loop = tt_loop();
  tide_idle i;
  cr_assert_eq(tide_idle_init(&i, idle_cb), 0);
  cr_assert_eq(tide_feed_event(loop, &i, 0), -EINVAL);
  cr_assert_eq(tide_is_pending(&i), 0);
  tt_free(loop);
}

/* ------------------------------------------------------------ io arguments */

Test(bad, io_init_arguments) {
  tide_io w;
  int p[2];
  tt_pipe(p);
  cr_assert_eq(tide_io_init(&w, io_cb, -1, TIDE_READ), -EBADF);
  cr_assert_eq(tide_io_init(&w, io_cb, -12345, TIDE_WRITE), -EBADF);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], 0), -EINVAL, "no READ/WRITE bit");
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_EDGE), -EINVAL);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_ONESHOT | TIDE_EDGE), -EINVAL);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ | 0x4u), -EINVAL, "unknown bit");
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ | TIDE_ERROR), -EINVAL);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ | TIDE_TIMER), -EINVAL);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ | 0x80000000u), -EINVAL);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ | TIDE_WRITE | TIDE_EDGE | TIDE_ONESHOT),
               0);
  cr_assert_eq(tide_io_fd(&w), p[0]);
  tt_close2(p);
}

Test(bad, closed_fd_at_start_is_ebadf) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  int fd = p[0];
  tide_io w;
  cr_assert_eq(tide_io_init(&w, io_cb, fd, TIDE_READ), 0);
  tt_close2(p);
  cr_assert_eq(tide_io_start(loop, &w), -EBADF);
  cr_assert_eq(tide_is_active(&w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0, "the failed start holds no reference");
  /* an fd number never opened (below FD_SETSIZE, so select must say EBADF too) */
  int unused = 1000;
  while (fcntl(unused, F_GETFD) != -1) unused--;
  tide_io w2;
  cr_assert_eq(tide_io_init(&w2, io_cb, unused, TIDE_WRITE), 0);
  cr_assert_eq(tide_io_start(loop, &w2), -EBADF, "fd %d", unused);
  tt_free(loop);
}

static void raise_nofile(int need) {
  struct rlimit rl;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur > (rlim_t)need) return;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= (rlim_t)need)
    cr_skip_test("RLIMIT_NOFILE hard limit %llu too low for fd %d",
                 (unsigned long long)rl.rlim_max, need);
  rl.rlim_cur = (rlim_t)need + 64;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
}

struct big_io {
  tide_io w;
  int calls;
  unsigned revents;
};

static void big_io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct big_io *b = w->data;
  b->calls++;
  b->revents = revents;
  tide_io_stop(loop, w);
}

static void check_high_fd(int target) {
  raise_nofile(target + 1);
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  int big = dup3(p[0], target, O_CLOEXEC);
  cr_assert_eq(big, target, "dup3 to %d: %s", target, strerror(errno));
  struct big_io b = {.calls = 0};
  cr_assert_eq(tide_io_init(&b.w, big_io_cb, big, TIDE_READ), 0);
  b.w.data = &b;
  int rc = tide_io_start(loop, &b.w);
  if (tt_is(loop, "select") && target >= FD_SETSIZE) {
    cr_assert_eq(rc, -ERANGE, "select, fd %d: %d", target, rc);
    cr_assert_eq(tide_is_active(&b.w), 0);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  } else {
    cr_assert_eq(rc, 0, "%s, fd %d: %d (%s)", tide_loop_backend(loop), target, rc,
                 tide_strerror(rc));
    tt_write1(p[1]);
    tt_watchdog wd;
    tt_watchdog_start(loop, &wd, TT_SEC(10));
    cr_assert_eq(tide_unref(loop), 0);
    cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
    cr_assert_eq(tide_ref(loop), 0);
    cr_assert_eq(wd.fired, 0, "%s: watcher on fd %d never fired", tide_loop_backend(loop), target);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.revents, TIDE_READ);
    tt_watchdog_stop(loop, &wd);
  }
  tt_free(loop);
  close(big);
  tt_close2(p);
}

Test(bad, fd_1500) { check_high_fd(1500); }
Test(bad, fd_at_fd_setsize) { check_high_fd(FD_SETSIZE); }
Test(bad, fd_below_fd_setsize) { check_high_fd(FD_SETSIZE - 1); }

/* ------------------------------------------------------------ per watcher type */

Test(bad, active_on_another_loop_is_ebusy, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *a = tt_loop(), *b = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    cr_assert_eq(ty->init(&w), 0, "%s init", ty->name);
    cr_assert_eq(ty->start(a, &w), 0, "%s start on A", ty->name);
    cr_assert_eq(ty->start(b, &w), -EBUSY, "%s: start on B while active on A", ty->name);
    cr_assert_eq(ty->stop(b, &w), -EBUSY, "%s: stop on B while active on A", ty->name);
    cr_assert_eq(tide_feed_event(b, &w, TIDE_CUSTOM), -EBUSY, "%s: feed on B", ty->name);
    cr_assert_eq(tide_is_active(&w), 1, "%s: still active on A", ty->name);
    cr_assert_eq(tide_is_pending(&w), 0, "%s", ty->name);
    cr_assert_eq(tide_run(b, TIDE_RUN_NOWAIT), 0, "%s: B has nothing active", ty->name);
    cr_assert_eq(ty->stop(a, &w), 0, "%s stop on A", ty->name);
    /* now free to move to B */
    cr_assert_eq(ty->start(b, &w), 0, "%s start on B after stop on A", ty->name);
    cr_assert_eq(ty->stop(b, &w), 0, "%s", ty->name);
  }
  /* timer-specific functions */
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, timer_cb, TT_SEC(100), TT_SEC(100)), 0);
  cr_assert_eq(tide_timer_start(a, &t), 0);
  cr_assert_eq(tide_timer_again(b, &t), -EBUSY);
  cr_assert_eq(tide_timer_remaining(b, &t), -EBUSY);
  cr_assert_gt(tide_timer_remaining(a, &t), 0);
  cr_assert_eq(tide_timer_stop(a, &t), 0);
  /* pending (fed) on A, fed on B */
  tide_idle i;
  cr_assert_eq(tide_idle_init(&i, idle_cb), 0);
  cr_assert_eq(tide_feed_event(a, &i, TIDE_CUSTOM), 0);
  cr_assert_eq(tide_feed_event(b, &i, TIDE_CUSTOM), -EBUSY, "pending on another loop");
  cr_assert_eq(tide_run(a, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(tide_is_pending(&i), 0);
  tt_free(a);
  tt_free(b);
}

Test(bad, loop_free_with_active_watcher_is_ebusy, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    cr_assert_eq(ty->init(&w), 0);
    cr_assert_eq(ty->start(loop, &w), 0);
    cr_assert_eq(tide_loop_free(loop), -EBUSY, "%s active", ty->name);
    cr_assert_eq(tide_is_active(&w), 1, "%s: a refused free changes nothing", ty->name);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1, "%s: loop still works", ty->name);
    cr_assert_eq(ty->stop(loop, &w), 0);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  }
  /* an unref'd active watcher still blocks the free */
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, timer_cb, TT_SEC(100), 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY, "unref'd but active");
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  tt_free(loop);
}

static void check_uninitialised(tide_loop *loop, int fill) {
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    memset(&w, fill, sizeof w);
    int prio = 5;
    cr_assert_eq(ty->start(loop, &w), -EINVAL, "%s (fill %#x): start", ty->name, fill);
    cr_assert_eq(ty->stop(loop, &w), -EINVAL, "%s (fill %#x): stop", ty->name, fill);
    cr_assert_eq(tide_is_active(&w), -EINVAL, "%s (fill %#x): is_active", ty->name, fill);
    cr_assert_eq(tide_is_pending(&w), -EINVAL, "%s (fill %#x): is_pending", ty->name, fill);
    cr_assert_eq(tide_set_priority(&w, 1), -EINVAL, "%s (fill %#x)", ty->name, fill);
    cr_assert_eq(tide_get_priority(&w, &prio), -EINVAL, "%s (fill %#x)", ty->name, fill);
    cr_assert_eq(prio, 5);
    cr_assert_eq(tide_feed_event(loop, &w, TIDE_CUSTOM), -EINVAL, "%s (fill %#x): feed",
                 ty->name, fill);
  }
  union anyw w;
  memset(&w, fill, sizeof w);
  cr_assert_eq(tide_io_modify(&w.io, TIDE_READ), -EINVAL);
  cr_assert_eq(tide_io_fd(&w.io), -EINVAL);
  cr_assert_eq(tide_timer_set(&w.timer, 1, 1), -EINVAL);
  cr_assert_eq(tide_timer_again(loop, &w.timer), -EINVAL);
  cr_assert_eq(tide_timer_remaining(loop, &w.timer), -EINVAL);
  cr_assert_eq(tide_async_send(loop, &w.async), -EINVAL);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0, "nothing was started");
}

Test(bad, zeroed_watcher_never_initialised) {
  tide_loop *loop = tt_loop();
  check_uninitialised(loop, 0x00);
  tt_free(loop);
}

Test(bad, garbage_watcher) {
  tide_loop *loop = tt_loop();
  check_uninitialised(loop, 0xA5);
  check_uninitialised(loop, 0xFF);
  check_uninitialised(loop, 0x5A);
  tt_free(loop);
}

Test(bad, init_accepts_garbage_memory, .init = setup_fd, .fini = teardown_fd) {
  /* init is what turns arbitrary bytes into a watcher: it must not mistake
   * garbage for an active watcher */
  tide_loop *loop = tt_loop();
  static const int fills[] = {0x00, 0xA5, 0xFF, 0x5A, 0x01};
  for (unsigned f = 0; f < sizeof fills / sizeof fills[0]; f++)
    for (int k = 0; k < NTYPES; k++) {
      union anyw w;
      memset(&w, fills[f], sizeof w);
      cr_assert_eq(types[k].init(&w), 0, "%s init on fill %#x", types[k].name, fills[f]);
      cr_assert_eq(tide_is_active(&w), 0);
      cr_assert_eq(tide_is_pending(&w), 0);
      int prio = 5;
      cr_assert_eq(tide_get_priority(&w, &prio), 0);
      cr_assert_eq(prio, 0);
      cr_assert_eq(types[k].start(loop, &w), 0);
      cr_assert_eq(types[k].stop(loop, &w), 0);
    }
  tt_free(loop);
}

Test(bad, watcher_of_another_type, .init = setup_fd, .fini = teardown_fd) {
  /* all watcher structs share a layout; the library must still know which init
   * a struct went through */
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++)
    for (int j = 0; j < NTYPES; j++) {
      if (j == k) continue;
      union anyw w;
      cr_assert_eq(types[k].init(&w), 0);
      cr_assert_eq(types[j].start(loop, &w), -EINVAL, "a %s watcher started as %s",
                   types[k].name, types[j].name);
      cr_assert_eq(tide_is_active(&w), 0);
      cr_assert_eq(types[j].stop(loop, &w), -EINVAL, "a %s watcher stopped as %s", types[k].name,
                   types[j].name);
    }
  union anyw w;
  cr_assert_eq(init_idle(&w), 0);
  cr_assert_eq(tide_io_modify(&w.io, TIDE_READ), -EINVAL);
  cr_assert_eq(tide_io_fd(&w.io), -EINVAL);
  cr_assert_eq(tide_timer_set(&w.timer, 1, 1), -EINVAL);
  cr_assert_eq(tide_timer_again(loop, &w.timer), -EINVAL);
  cr_assert_eq(tide_timer_remaining(loop, &w.timer), -EINVAL);
  cr_assert_eq(tide_async_send(loop, &w.async), -EINVAL);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_free(loop);
}

Test(bad, double_start_is_noop, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    cr_assert_eq(ty->init(&w), 0);
    cr_assert_eq(ty->start(loop, &w), 0);
    cr_assert_eq(ty->start(loop, &w), 0, "%s: second start", ty->name);
    cr_assert_eq(ty->start(loop, &w), 0, "%s: third start", ty->name);
    cr_assert_eq(tide_is_active(&w), 1);
    cr_assert_eq(ty->stop(loop, &w), 0);
    cr_assert_eq(tide_is_active(&w), 0, "%s: one stop undoes several starts", ty->name);
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0,
                 "%s: a double start leaked a loop reference", ty->name);
    cr_assert_eq(tide_unref(loop), -ERANGE, "%s: reference count is off", ty->name);
  }
  tt_free(loop);
}

Test(bad, stop_inactive_is_noop, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    cr_assert_eq(ty->init(&w), 0);
    cr_assert_eq(ty->stop(loop, &w), 0, "%s: stop of a never-started watcher", ty->name);
    cr_assert_eq(ty->stop(loop, &w), 0);
    cr_assert_eq(ty->start(loop, &w), 0);
    cr_assert_eq(ty->stop(loop, &w), 0);
    cr_assert_eq(ty->stop(loop, &w), 0, "%s: second stop", ty->name);
    cr_assert_eq(tide_is_active(&w), 0);
    cr_assert_eq(tide_unref(loop), -ERANGE, "%s: an extra stop changed the reference count",
                 ty->name);
  }
  tt_free(loop);
}

Test(bad, init_on_active_watcher_is_einval, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    const struct wtype *ty = &types[k];
    union anyw w;
    cr_assert_eq(ty->init(&w), 0);
    cr_assert_eq(ty->start(loop, &w), 0);
    cr_assert_eq(ty->init(&w), -EINVAL, "%s: init of an active watcher", ty->name);
    cr_assert_eq(tide_is_active(&w), 1, "%s: a refused init changes nothing", ty->name);
    cr_assert_eq(ty->stop(loop, &w), 0);
  }
  tt_free(loop);
}

/* ------------------------------------------------------------ fd closed under a watcher */

struct closer {
  tide_io w;
  int fd;
  int calls;
  unsigned revents[8];
  int active_after[8];
  int close_in_cb;
};

static void closer_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  struct closer *c = w->data;
  if (c->calls < 8) c->revents[c->calls] = revents;
  if (c->close_in_cb && c->calls == 0) close(c->fd);
  if (c->calls < 8) c->active_after[c->calls] = tide_is_active(w);
  c->calls++;
}

/* readable: the first callback closes the fd; the data stays "ready" for poll
 * backends which must now see the fd as invalid */
static void closed_under_watcher(int readable) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  struct closer c;
  memset(&c, 0, sizeof c);
  c.fd = p[0];
  cr_assert_eq(tide_io_init(&c.w, closer_cb, p[0], TIDE_READ), 0);
  c.w.data = &c;
  cr_assert_eq(tide_io_start(loop, &c.w), 0);
  int base = 0;
  if (readable) {
    tt_write1(p[1]);
    c.close_in_cb = 1;
    tt_watchdog wd;
    tt_watchdog_start(loop, &wd, TT_SEC(10));
    cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
    tt_watchdog_stop(loop, &wd);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.revents[0], TIDE_READ);
    base = 1;
  } else {
    cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1); /* registered */
    cr_assert_eq(c.calls, 0);
    close(p[0]);
  }
  p[0] = -1;

  tt_iter_counter ic;
  tt_iter_start(loop, &ic);
  uint64_t t0 = tt_now_ns();
  tt_run_for(loop, TT_MS(200));
  uint64_t dt = tt_now_ns() - t0;
  tt_iter_stop(loop, &ic);
  const char *be = tide_loop_backend(loop);
  cr_assert_lt(ic.n, 100, "%s: %ld iterations in %llu ns: the loop busy-loops on the closed fd",
               be, ic.n, (unsigned long long)dt);
  /* epoll never sees the close; io_uring's armed poll holds the file, so an idle
   * fd stays silent there too (tide_io_start(3)); a ready one fails on re-arm. */
  if (tt_is(loop, "epoll") || (tt_is(loop, "io_uring") && !readable)) {
    cr_assert_eq(c.calls, base, "%s: the closed fd must stay silent, got %d callbacks", be,
                 c.calls - base);
    cr_assert_eq(tide_is_active(&c.w), 1, "%s: the watcher stays active until stopped", be);
    cr_assert_eq(tide_io_stop(loop, &c.w), 0, "%s: stop of a watcher whose fd was closed", be);
  } else {
    cr_assert_eq(c.calls, base + 1, "%s: want exactly one TIDE_ERROR callback, got %d callbacks",
                 be, c.calls - base);
    cr_assert(c.revents[base] & TIDE_ERROR, "%s: revents %#x lack TIDE_ERROR", be,
              c.revents[base]);
    cr_assert_eq(c.active_after[base], 0, "%s: the failed watcher is stopped", be);
    cr_assert_eq(tide_is_active(&c.w), 0);
    cr_assert_eq(tide_io_stop(loop, &c.w), 0);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0, "%s: no reference left", be);
  tt_free(loop);
  tt_close2(p);
}

Test(bad, fd_closed_under_ready_watcher) { closed_under_watcher(1); }
Test(bad, fd_closed_under_idle_watcher) { closed_under_watcher(0); }

/* ------------------------------------------------------------ loop options */

Test(bad, loop_options) {
  unsetenv("TIDE_BACKEND");
  tide_loop *const sentinel = (tide_loop *)(uintptr_t)0x1234;
  tide_loop *loop = sentinel;
  struct tide_loop_options o;

  /* size too small to hold size */
  for (size_t sz = 0; sz < sizeof(size_t); sz++) {
    memset(&o, 0, sizeof o);
    o.size = sz;
    cr_assert_eq(tide_loop_new(&loop, &o), -EINVAL, "size %zu", sz);
    cr_assert_eq(loop, sentinel, "out touched on failure");
  }
  /* unknown flags */
  static const unsigned bad_flags[] = {0x04u, 0x80u, 0x100u, 0x80000000u};
  for (unsigned k = 0; k < sizeof bad_flags / sizeof bad_flags[0]; k++) {
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.flags = bad_flags[k] | TIDE_LOOP_NOENV;
    cr_assert_eq(tide_loop_new(&loop, &o), -EINVAL, "flags %#x", o.flags);
    cr_assert_eq(loop, sentinel);
  }
  /* unknown backend bits */
  static const unsigned bad_backends[] = {0x10u, 0x20u | TIDE_BACKEND_EPOLL, 0x80000000u};
  for (unsigned k = 0; k < sizeof bad_backends / sizeof bad_backends[0]; k++) {
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.backends = bad_backends[k];
    o.flags = TIDE_LOOP_NOENV;
    cr_assert_eq(tide_loop_new(&loop, &o), -EINVAL, "backends %#x", o.backends);
    cr_assert_eq(loop, sentinel);
  }
  /* larger than known: zero tail accepted, non-zero tail -E2BIG */
  struct {
    struct tide_loop_options o;
    unsigned char tail[64];
  } big;
  memset(&big, 0, sizeof big);
  big.o = tt_options();
  big.o.size = sizeof big;
  cr_assert_eq(tide_loop_new(&loop, &big.o), 0, "larger size with an all-zero tail");
  cr_assert_neq(loop, sentinel);
  tt_free(loop);
  loop = sentinel;
  big.tail[40] = 1;
  cr_assert_eq(tide_loop_new(&loop, &big.o), -E2BIG);
  cr_assert_eq(loop, sentinel);
  big.tail[40] = 0;
  big.tail[0] = 0x80;
  cr_assert_eq(tide_loop_new(&loop, &big.o), -E2BIG);
  cr_assert_eq(loop, sentinel);

  /* smaller than known (an older program): missing fields take defaults */
  memset(&o, 0, sizeof o);
  o = tt_options();
  o.size = offsetof(struct tide_loop_options, flags); /* size and backends only */
  cr_assert_eq(tide_loop_new(&loop, &o), 0, "a smaller (older) options struct");
  cr_assert_neq(loop, sentinel);
  if (o.backends) {
    const char *want;
    (void)tt_backend_bit(&want);
    cr_assert_str_eq(tide_loop_backend(loop), want, "the backends field was within size");
  }
  tt_free(loop);
  loop = sentinel;
  memset(&o, 0, sizeof o);
  o.size = sizeof(size_t);
  cr_assert_eq(tide_loop_new(&loop, &o), 0, "options holding only size");
  tt_free(loop);

  /* none of the allowed backends available */
  if (!(tide_backends_supported() & TIDE_BACKEND_URING)) {
    loop = sentinel;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.backends = TIDE_BACKEND_URING;
    o.flags = TIDE_LOOP_NOENV;
    cr_assert_eq(tide_loop_new(&loop, &o), -ENOSYS);
    cr_assert_eq(loop, sentinel);
  }
}

Test(bad, options_uring_entries_and_sqpoll) {
  /* valid options on every backend: ignored where they do not apply */
  struct tide_loop_options o = tt_options();
  o.uring_entries = 8;
  o.flags |= TIDE_LOOP_SQPOLL;
  o.sqpoll_idle_ms = 10;
  tide_loop *loop = NULL;
  cr_assert_eq(tide_loop_new(&loop, &o), 0);
  if (o.backends) {
    const char *want;
    (void)tt_backend_bit(&want);
    cr_assert_str_eq(tide_loop_backend(loop), want);
  }
  /* the loop works */
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, timer_cb, TT_MS(1), 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
}

/* A struct that once held a watcher (stopped long ago) and whose bytes were then
 * partly overwritten, as stack memory is, must still init and start: stale flags
 * are not a registration. */
static void noop_timer_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  (void)loop; (void)t; (void)revents;
}

Test(bad, stale_bytes_of_a_stopped_watcher_do_not_block_init) {
  tide_loop *loop = tt_loop();
  tide_timer t;
  memset(&t, 0, sizeof t);
  cr_assert_eq(tide_timer_init(&t, noop_timer_cb, TT_SEC(10), 0), 0);
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  /* scribble over everything but the signature (the first 4 private bytes) */
  unsigned char *priv = (unsigned char *)t.tide_private_;
  for (size_t i = 4; i < sizeof t.tide_private_; i++) priv[i] = (unsigned char)(0x5A ^ i);
  cr_assert_eq(tide_is_active(&t), 0, "stale bytes read as active");
  cr_assert_eq(tide_is_pending(&t), 0, "stale bytes read as pending");
  cr_assert_eq(tide_timer_init(&t, noop_timer_cb, TT_SEC(10), 0), 0, "init refused stale bytes");
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_is_active(&t), 1);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  tt_free(loop);
}

static void noop_req_cb(tide_loop *loop, tide_req *r, ssize_t res) {
  (void)loop; (void)r; (void)res;
}

Test(bad, stale_bytes_of_a_finished_request_do_not_block_submit) {
  tide_loop *loop = tt_loop();
  tide_req r;
  memset(&r, 0, sizeof r);
  cr_assert_eq(tide_nop(loop, &r, noop_req_cb), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  unsigned char *priv = (unsigned char *)r.tide_private_;
  for (size_t i = 4; i < sizeof r.tide_private_; i++) priv[i] = (unsigned char)(0xA5 ^ i);
  cr_assert_eq(tide_cancel(loop, &r), -ENOENT, "stale bytes read as in flight");
  cr_assert_eq(tide_nop(loop, &r, noop_req_cb), 0, "submit refused stale bytes");
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
}

/* ------------------------------------------------------------ huge fd numbers */

/* Resident set size in bytes (/proc/self/statm, second field). */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  cr_assert_not_null(f);
  cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
  fclose(f);
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A large fd number that names no open file gets -EBADF at once, in O(1) memory:
 * the fd table must not grow to the number first (it used to take 262 MB for fd
 * 10,000,000, and -ENOMEM instead of -EBADF near INT_MAX). */
Test(bad, huge_unopened_fd_costs_no_memory) {
  static const int fds[] = {10000000, 100000000, 0x7ffffff0};
  const size_t slack = 16u << 20; /* far below what a table up to fd 10^7 costs */
  tide_loop *loop = tt_loop();
  int is_select = tt_is(loop, "select");
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
    size_t before = rss_bytes();
    tide_io w;
    memset(&w, 0, sizeof w);
    cr_assert_eq(tide_io_init(&w, io_cb, fds[i], TIDE_READ), 0);
    int rc = tide_io_start(loop, &w);
    /* select cannot watch fds >= FD_SETSIZE at all: -ERANGE, before any lookup. */
    cr_assert_eq(rc, is_select ? -ERANGE : -EBADF, "fd %d: %s", fds[i], tide_strerror(rc));
    cr_assert_eq(tide_is_active(&w), 0);

    /* A request on it fails in its callback, as the kernel would fail it. */
    tt_req r;
    char buf[4];
    tt_req_init(&r);
    cr_assert_eq(tide_recv(loop, &r.req, fds[i], buf, sizeof buf, 0, 0, tt_req_cb), 0);
    cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0); /* returns once the request is done */
    cr_assert_eq(r.calls, 1, "fd %d: %d callbacks", fds[i], r.calls);
    cr_assert_eq(r.res, -EBADF, "fd %d: %zd", fds[i], r.res);

    size_t after = rss_bytes();
    cr_assert_lt(after, before + slack, "fd %d: RSS grew from %zu to %zu bytes", fds[i], before,
                 after);
  }
  /* The loop is still usable with ordinary fds. */
  int p[2];
  tt_pipe(p);
  tide_io w;
  memset(&w, 0, sizeof w);
  cr_assert_eq(tide_io_init(&w, io_cb, p[0], TIDE_READ), 0);
  cr_assert_eq(tide_io_start(loop, &w), 0);
  cr_assert_eq(tide_io_stop(loop, &w), 0);
  tt_close2(p);
  tt_free(loop);
}

/* ------------------------------------------------------------ stale bytes */

/* A watcher struct whose bytes are those of an earlier active state (copied by
 * value while active and copied back after the stop, or memory a pool allocator
 * hands out again) is not active: the loop checks its own records, not only the
 * struct. It used to pass as active, and its stop overflowed the loop's list
 * (idle, prepare, check, async) or unlinked a watcher that was not there. */
Test(bad, stale_active_bytes_are_not_active, .init = setup_fd, .fini = teardown_fd) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < NTYPES; k++) {
    union anyw w, other, saved;
    memset(&w, 0, sizeof w);
    memset(&other, 0, sizeof other);
    cr_assert_eq(types[k].init(&w), 0, "%s", types[k].name);
    cr_assert_eq(types[k].init(&other), 0, "%s", types[k].name);
    cr_assert_eq(types[k].start(loop, &w), 0, "%s", types[k].name);
    memcpy(&saved, &w, sizeof w); /* a copy of the active state */
    cr_assert_eq(types[k].stop(loop, &w), 0, "%s", types[k].name);
    memcpy(&w, &saved, sizeof w); /* ... copied back after the stop */
    cr_assert_eq(tide_is_active(&w), 0, "%s: stale bytes pass as active", types[k].name);
    cr_assert_eq(tide_is_pending(&w), 0, "%s", types[k].name);
    /* The stop is a harmless no-op, also after the loop's records moved on. */
    cr_assert_eq(types[k].start(loop, &other), 0, "%s", types[k].name);
    cr_assert_eq(types[k].stop(loop, &w), 0, "%s", types[k].name);
    cr_assert_eq(tide_is_active(&other), 1, "%s: the stale stop hit another watcher", types[k].name);
    /* The struct is usable again, and the loop intact. */
    cr_assert_eq(types[k].start(loop, &w), 0, "%s", types[k].name);
    cr_assert_eq(tide_is_active(&w), 1, "%s", types[k].name);
    cr_assert_eq(types[k].stop(loop, &w), 0, "%s", types[k].name);
    cr_assert_eq(types[k].stop(loop, &other), 0, "%s", types[k].name);
    cr_assert_eq(tide_is_active(&other), 0, "%s", types[k].name);
  }
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(tide_loop_free(loop), 0, "the loop still counts a watcher");
}
