/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c - loop creation, backend choice, tide_run modes, stop, ref/unref,
 * time, wakeup, free, fork.
 */
#include "common.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>

TestSuite(loop, .timeout = 30);
TestSuite(run, .timeout = 30);

/* ------------------------------------------------------------ small callbacks */

static void count_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ++*(int *)w->data;
}

static void count_prepare_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ++*(int *)w->data;
}

static void count_io_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ++*(int *)w->data;
}

static void count_idle_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  (void)loop;
  (void)revents;
  ++*(int *)w->data;
}

/* ------------------------------------------------------------ creation */

Test(loop, new_runs_requested_backend) {
  const char *want;
  unsigned bit = tt_backend_bit(&want);
  tide_loop *loop = tt_loop(); /* asserts the backend name */
  const char *name = tide_loop_backend(loop);
  unsigned sup = tide_backends_supported();
  int bits = tide_backend_from_name(name);
  unsigned have = bits > 0 ? (unsigned)bits : 0u;
  cr_assert_not_null(tide_backend_name(have), "unknown backend name '%s'", name);
  cr_assert(sup & have, "loop runs '%s' but tide_backends_supported()=%#x lacks it", name, sup);
  if (bit != 0)
    cr_assert_null(tide_loop_fallback_reason(loop),
                   "only '%s' was allowed and it runs, yet fallback reason is '%s'", name,
                   tide_loop_fallback_reason(loop));
  tt_free(loop);
}

Test(loop, backends_supported_mask) {
  unsigned sup = tide_backends_supported();
  cr_assert_neq(sup, 0u);
  cr_assert_eq(sup & ~TIDE_BACKEND_ALL, 0u, "unknown bits in %#x", sup);
  /* Linux always has these three. */
  cr_assert(sup & TIDE_BACKEND_EPOLL);
  cr_assert(sup & TIDE_BACKEND_POLL);
  cr_assert(sup & TIDE_BACKEND_SELECT);
  cr_assert_eq(tide_backends_supported(), sup, "the probe must be stable");
}

Test(loop, version_and_strerror) {
  cr_assert_eq(tide_version(), (unsigned)TIDE_VERSION_NUMBER);
  const char *a = tide_strerror(-EINVAL), *b = tide_strerror(EINVAL);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_str_eq(a, b, "negative and positive errno must name the same error");
  cr_assert_str_neq(a, "Unknown error");
  cr_assert_str_neq(tide_strerror(-EBADF), a);
  cr_assert_str_eq(tide_strerror(-987654), "Unknown error");
  cr_assert_str_eq(tide_strerror(987654), "Unknown error");
  cr_assert_not_null(tide_strerror(0));
}

Test(loop, err_name) {
  cr_assert_str_eq(tide_err_name(-EBUSY), "EBUSY");
  cr_assert_str_eq(tide_err_name(EBUSY), "EBUSY", "positive errno names the same error");
  cr_assert_str_eq(tide_err_name(-EINVAL), "EINVAL");
  cr_assert_str_eq(tide_err_name(-ENOSYS), "ENOSYS");
  cr_assert_str_eq(tide_err_name(-ETIMEDOUT), "ETIMEDOUT");
  cr_assert_str_eq(tide_err_name(-ECANCELED), "ECANCELED");
  cr_assert_str_eq(tide_err_name(0), "0");
  cr_assert_str_eq(tide_err_name(-987654), "UNKNOWN");
  cr_assert_str_eq(tide_err_name(987654), "UNKNOWN");
  cr_assert_str_eq(tide_err_name(INT_MIN), "UNKNOWN", "INT_MIN has no positive twin");
  cr_assert_str_eq(tide_strerror(INT_MIN), "Unknown error");
  /* Every error a libtide call returns has a name. */
  tide_loop *loop = tt_loop();
  cr_assert_str_eq(tide_err_name(tide_loop_free(NULL)), "EINVAL");
  errno = 4242;
  (void)tide_err_name(-EPERM);
  cr_assert_eq(errno, 4242, "tide_err_name changed errno to %d", errno);
  tt_free(loop);
}

Test(loop, backends_built_mask) {
  const unsigned built = tide_backends_built(), sup = tide_backends_supported();
  cr_assert_eq(built & ~TIDE_BACKEND_ALL, 0u, "unknown bits in %#x", built);
  cr_assert_eq(built & (TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT),
               TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT,
               "epoll, poll and select are always built (%#x)", built);
  cr_assert_eq(sup & ~built, 0u, "supported %#x names a backend that is not built (%#x)", sup, built);
  cr_assert_eq(tide_backends_built(), built, "the mask must be stable");
  /* The loop under test runs a built backend. */
  const char *want;
  unsigned bit = tt_backend_bit(&want);
  if (bit) cr_assert(built & bit, "running on %s, which tide_backends_built() (%#x) lacks", want, built);
  /* A backend that is not built cannot be chosen: asking for it alone is -ENOSYS. */
  if (!(built & TIDE_BACKEND_URING)) {
    struct tide_loop_options o;
    tide_loop *l = NULL;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.backends = TIDE_BACKEND_URING;
    o.flags = TIDE_LOOP_NOENV;
    cr_assert_eq(tide_loop_new(&l, &o), -ENOSYS);
  }
}

Test(loop, backend_names) {
  static const struct { unsigned bit; const char *name; } all[] = {
    {TIDE_BACKEND_URING, "io_uring"}, {TIDE_BACKEND_EPOLL, "epoll"},
    {TIDE_BACKEND_POLL, "poll"}, {TIDE_BACKEND_SELECT, "select"}};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    cr_assert_str_eq(tide_backend_name(all[i].bit), all[i].name);
    cr_assert_eq(tide_backend_from_name(all[i].name), (int)all[i].bit, "%s", all[i].name);
  }
  cr_assert_eq(tide_backend_from_name("uring"), (int)TIDE_BACKEND_URING, "the short spelling");
  cr_assert_eq(tide_backend_from_name("epoll,poll"), (int)(TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL));
  cr_assert_eq(tide_backend_from_name(" select , uring "), (int)(TIDE_BACKEND_SELECT | TIDE_BACKEND_URING));
  cr_assert_eq(tide_backend_from_name(NULL), -EINVAL);
  cr_assert_eq(tide_backend_from_name(""), -EINVAL);
  cr_assert_eq(tide_backend_from_name(" , "), -EINVAL);
  cr_assert_eq(tide_backend_from_name("kqueue"), -EINVAL);
  cr_assert_eq(tide_backend_from_name("epoll,kqueue"), -EINVAL, "one unknown name spoils the list");
  cr_assert_eq(tide_backend_from_name("EPOLL"), -EINVAL, "names are case-sensitive");
  cr_assert_eq(tide_backend_from_name("epol"), -EINVAL, "no prefixes");
  cr_assert_null(tide_backend_name(0));
  cr_assert_null(tide_backend_name(TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL));
  cr_assert_null(tide_backend_name(0x100));
  /* The loop under test reports the name of its backend. */
  const char *want;
  unsigned bit = tt_backend_bit(&want);
  tide_loop *loop = tt_loop();
  if (bit) cr_assert_str_eq(tide_loop_backend(loop), tide_backend_name(bit));
  cr_assert_gt(tide_backend_from_name(tide_loop_backend(loop)), 0);
  tt_free(loop);
}

Test(loop, new_with_null_options) {
  tide_loop *loop = NULL;
  unsetenv("TIDE_BACKEND");
  cr_assert_eq(tide_loop_new(&loop, NULL), 0);
  cr_assert_not_null(loop);
  cr_assert_not_null(tide_loop_backend(loop));
  tt_free(loop);
}

/* Creates a loop with NOENV and the given mask; returns its backend name (static). */
static const char *backend_for_mask(unsigned mask, unsigned flags, const char **reason) {
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.backends = mask;
  o.flags = flags;
  tide_loop *loop = NULL;
  int rc = tide_loop_new(&loop, &o);
  cr_assert_eq(rc, 0, "tide_loop_new(mask %#x, flags %#x): %s", mask, flags, tide_strerror(rc));
  const char *name = tide_loop_backend(loop);
  if (reason) *reason = tide_loop_fallback_reason(loop) ? "set" : NULL;
  tt_free(loop);
  return name;
}

Test(loop, backend_preference_order) {
  unsigned sup = tide_backends_supported();
  cr_assert_str_eq(backend_for_mask(TIDE_BACKEND_POLL | TIDE_BACKEND_SELECT, TIDE_LOOP_NOENV, NULL),
                   "poll");
  cr_assert_str_eq(backend_for_mask(TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL, TIDE_LOOP_NOENV, NULL),
                   "epoll");
  cr_assert_str_eq(backend_for_mask(TIDE_BACKEND_SELECT, TIDE_LOOP_NOENV, NULL), "select");
  cr_assert_str_eq(
      backend_for_mask(TIDE_BACKEND_EPOLL | TIDE_BACKEND_SELECT, TIDE_LOOP_NOENV, NULL), "epoll");
  const char *reason;
  const char *best = backend_for_mask(TIDE_BACKEND_ALL, TIDE_LOOP_NOENV, &reason);
  if (sup & TIDE_BACKEND_URING)
    cr_assert(strcmp(best, "io_uring") == 0 || reason != NULL,
              "io_uring supported but loop runs '%s' without a fallback reason", best);
  else
    cr_assert_str_eq(best, "epoll");
  /* backends 0 means all */
  const char *best0 = backend_for_mask(0, TIDE_LOOP_NOENV, NULL);
  cr_assert_str_eq(best0, best);
  if (sup & TIDE_BACKEND_URING) {
    const char *u = backend_for_mask(TIDE_BACKEND_URING, TIDE_LOOP_NOENV, &reason);
    cr_assert_str_eq(u, "io_uring");
    cr_assert_null(reason);
  }
}

Test(loop, environment_variable_narrows_choice) {
  setenv("TIDE_BACKEND", "poll", 1);
  cr_assert_str_eq(backend_for_mask(TIDE_BACKEND_ALL, 0, NULL), "poll");
  setenv("TIDE_BACKEND", "select,poll", 1);
  cr_assert_str_eq(backend_for_mask(TIDE_BACKEND_ALL, 0, NULL), "poll",
                   "the best of the listed backends must be chosen");
  setenv("TIDE_BACKEND", "select", 1);
  cr_assert_str_eq(backend_for_mask(0, 0, NULL), "select");

  /* NOENV ignores it */
  const char *ignored = backend_for_mask(TIDE_BACKEND_EPOLL | TIDE_BACKEND_SELECT, TIDE_LOOP_NOENV,
                                         NULL);
  cr_assert_str_eq(ignored, "epoll");

  /* opt NULL honours the environment */
  setenv("TIDE_BACKEND", "poll", 1);
  tide_loop *loop = NULL;
  cr_assert_eq(tide_loop_new(&loop, NULL), 0);
  cr_assert_str_eq(tide_loop_backend(loop), "poll");
  tt_free(loop);

  /* a value naming nothing usable is ignored, and the fallback reason says so */
  setenv("TIDE_BACKEND", "bogus", 1);
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.backends = TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL;
  loop = NULL;
  cr_assert_eq(tide_loop_new(&loop, &o), 0);
  cr_assert_str_eq(tide_loop_backend(loop), "epoll");
  cr_assert_not_null(tide_loop_fallback_reason(loop),
                     "an ignored TIDE_BACKEND must be explained by tide_loop_fallback_reason");
  tt_free(loop);

  /* names a backend the options exclude: nothing usable, ignored */
  setenv("TIDE_BACKEND", "select", 1);
  loop = NULL;
  cr_assert_eq(tide_loop_new(&loop, &o), 0);
  cr_assert_str_eq(tide_loop_backend(loop), "epoll");
  cr_assert_not_null(tide_loop_fallback_reason(loop));
  tt_free(loop);
  unsetenv("TIDE_BACKEND");
}

Test(loop, user_data) {
  tide_loop *loop = tt_loop();
  int x;
  cr_assert_null(tide_loop_get_data(loop));
  cr_assert_eq(tide_loop_set_data(loop, &x), 0);
  cr_assert_eq(tide_loop_get_data(loop), &x);
  cr_assert_eq(tide_loop_set_data(loop, NULL), 0);
  cr_assert_null(tide_loop_get_data(loop));
  tt_free(loop);
}

Test(loop, errno_is_preserved) {
  tide_loop *loop = tt_loop();
  errno = 4242;
  struct tide_loop_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.flags = 0x8000u;
  tide_loop *l2 = NULL;
  cr_assert_eq(tide_loop_new(&l2, &o), -EINVAL);
  cr_assert_eq(tide_run(NULL, 0), -EINVAL);
  tide_io w;
  cr_assert_eq(tide_io_init(&w, count_io_cb, -1, TIDE_READ), -EBADF);
  int p[2];
  tt_pipe(p);
  int fd = p[0];
  tt_close2(p);
  cr_assert_eq(tide_io_init(&w, count_io_cb, fd, TIDE_READ), 0);
  errno = 4242;
  cr_assert_eq(tide_io_start(loop, &w), -EBADF);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(errno, 4242, "libtide changed errno to %d", errno);
  tt_free(loop);
}

/* ------------------------------------------------------------ tide_run */

Test(run, returns_0_when_nothing_active) {
  tide_loop *loop = tt_loop();
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 0);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(1), "an empty loop must not block");
  tt_free(loop);
}

Test(run, returns_0_after_last_watcher) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_MS(1), 0), 0);
  t.data = &n;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(tide_is_active(&t), 0);
  tt_free(loop);
}

Test(run, unref_watcher_does_not_keep_loop_alive) {
  tide_loop *loop = tt_loop();
  int n = 0, m = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_SEC(10), 0), 0);
  t.data = &n;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_unref(loop), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0,
               "an unref'd watcher must not keep tide_run(DEFAULT) alive");
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(1));
  cr_assert_eq(n, 0);
  cr_assert_eq(tide_is_active(&t), 1, "unref must not stop the watcher");

  /* an unref'd io watcher too, while a referenced one still counts */
  int p[2];
  tt_pipe(p);
  tide_io w;
  cr_assert_eq(tide_io_init(&w, count_io_cb, p[0], TIDE_READ), 0);
  w.data = &m;
  cr_assert_eq(tide_io_start(loop, &w), 0); /* refs: io 1, timer 0 */
  uint64_t t1 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1, "the io watcher is referenced");
  cr_assert_lt(tt_now_ns() - t1, TT_SEC(1));
  cr_assert_eq(tide_unref(loop), 0); /* refs: 0 */
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(m, 0);

  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_io_stop(loop, &w), 0);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  tt_close2(p);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
}

Test(run, unref_below_zero_is_erange) {
  tide_loop *loop = tt_loop();
  cr_assert_eq(tide_unref(loop), -ERANGE);
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_unref(loop), -ERANGE);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
}

struct unref_idle {
  tide_idle i;
  int n;
};

static void unref_idle_cb(tide_loop *loop, tide_idle *w, unsigned revents) {
  (void)revents;
  struct unref_idle *u = w->data;
  if (++u->n == 3) {
    tide_idle_stop(loop, w);
    tide_unref(loop); /* drop the extra reference taken by the test */
  }
}

Test(run, ref_keeps_loop_alive_until_unref) {
  tide_loop *loop = tt_loop();
  /* An extra reference without watchers: the loop counts as alive. */
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(tide_unref(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 0);

  /* DEFAULT keeps running on the extra reference after the idle watcher stops
   * itself, until the callback drops the reference. */
  struct unref_idle u = {.n = 0};
  cr_assert_eq(tide_idle_init(&u.i, unref_idle_cb), 0);
  u.i.data = &u;
  cr_assert_eq(tide_ref(loop), 0);
  cr_assert_eq(tide_idle_start(loop, &u.i), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));
  cr_assert_eq(tide_unref(loop), 0); /* the watchdog must not count */
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(u.n, 3);
  cr_assert_eq(tide_ref(loop), 0);
  tt_watchdog_stop(loop, &wd);
  tt_free(loop);
}

Test(run, nowait_does_not_block) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_SEC(10), 0), 0);
  t.data = &n;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  uint64_t t0 = tt_now_ns();
  int rc = tide_run(loop, TIDE_RUN_NOWAIT);
  uint64_t dt = tt_now_ns() - t0;
  cr_assert_eq(rc, 1, "NOWAIT with an active timer returns 1, got %d", rc);
  cr_assert_lt(dt, TT_MS(200), "NOWAIT blocked for %llu ns", (unsigned long long)dt);
  for (int k = 0; k < 100; k++) cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_lt(tt_now_ns() - t0, TT_MS(500));
  cr_assert_eq(n, 0);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  tt_free(loop);
}

Test(run, once_blocks_until_timer) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_MS(30), 0), 0);
  t.data = &n;
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  int rc = tide_run(loop, TIDE_RUN_ONCE);
  uint64_t dt = tt_now_ns() - t0;
  cr_assert_eq(n, 1, "ONCE must block until the timer fires (returned after %llu ns)",
               (unsigned long long)dt);
  cr_assert_geq(dt, TT_MS(30));
  cr_assert_eq(rc, 0, "no active watcher left: ONCE returns 0, got %d", rc);
  tt_free(loop);
}

struct go_state {
  int go[2];   /* blocking pipe: prepare -> thread */
  int data[2]; /* non-blocking pipe watched by the loop, or -1 */
  tide_loop *loop;
  int prepared;
  int wakeups; /* rounds for the wakeup thread */
};

static void go_prepare_cb(tide_loop *loop, tide_prepare *w, unsigned revents) {
  (void)loop;
  (void)revents;
  struct go_state *s = w->data;
  s->prepared++;
  tt_write1(s->go[1]);
}

static void *writer_thread(void *arg) {
  struct go_state *s = arg;
  char c;
  if (read(s->go[0], &c, 1) != 1) return (void *)1;
  return tt_write1(s->data[1]) ? NULL : (void *)1;
}

Test(run, once_blocks_until_io) {
  tide_loop *loop = tt_loop();
  struct go_state s = {.loop = loop};
  cr_assert_eq(pipe(s.go), 0);
  tt_pipe(s.data);
  tide_prepare p;
  cr_assert_eq(tide_prepare_init(&p, go_prepare_cb), 0);
  p.data = &s;
  cr_assert_eq(tide_prepare_start(loop, &p), 0);
  int n = 0;
  tide_io w;
  cr_assert_eq(tide_io_init(&w, count_io_cb, s.data[0], TIDE_READ), 0);
  w.data = &n;
  cr_assert_eq(tide_io_start(loop, &w), 0);
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(10));

  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, writer_thread, &s), 0);
  uint64_t t0 = tt_now_ns();
  int rc = tide_run(loop, TIDE_RUN_ONCE);
  uint64_t dt = tt_now_ns() - t0;
  void *tr;
  pthread_join(th, &tr);
  cr_assert_null(tr);
  cr_assert_eq(wd.fired, 0);
  cr_assert_eq(n, 1, "ONCE must block until the io event and run its callback");
  cr_assert_eq(rc, 1);
  cr_assert_lt(dt, TT_SEC(5));
  cr_assert_eq(s.prepared, 1, "ONCE is one iteration");

  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &w), 0);
  cr_assert_eq(tide_prepare_stop(loop, &p), 0);
  tt_free(loop);
  tt_close2(s.go);
  tt_close2(s.data);
}

static void *wakeup_thread(void *arg) {
  struct go_state *s = arg;
  char c;
  for (int k = 0; k < s->wakeups; k++) {
    if (read(s->go[0], &c, 1) != 1) return (void *)1;
    if (tide_loop_wakeup(s->loop) != 0) return (void *)2;
  }
  return NULL;
}

Test(run, wakeup_from_other_thread_unblocks_once) {
  tide_loop *loop = tt_loop();
  struct go_state s = {.loop = loop, .wakeups = 20, .data = {-1, -1}};
  cr_assert_eq(pipe(s.go), 0);
  tide_prepare p;
  cr_assert_eq(tide_prepare_init(&p, go_prepare_cb), 0);
  p.data = &s;
  cr_assert_eq(tide_prepare_start(loop, &p), 0);
  int n = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_SEC(20), 0), 0);
  t.data = &n;
  cr_assert_eq(tide_timer_start(loop, &t), 0);

  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, wakeup_thread, &s), 0);
  uint64_t t0 = tt_now_ns();
  for (int k = 0; k < s.wakeups; k++) {
    int rc = tide_run(loop, TIDE_RUN_ONCE);
    cr_assert_eq(rc, 1, "round %d: %d", k, rc);
    cr_assert_lt(tt_now_ns() - t0, TT_SEC(10), "round %d: tide_loop_wakeup did not unblock", k);
  }
  void *tr;
  pthread_join(th, &tr);
  cr_assert_null(tr);
  cr_assert_eq(n, 0);
  cr_assert_eq(s.prepared, s.wakeups);
  cr_assert_eq(tide_timer_stop(loop, &t), 0);
  cr_assert_eq(tide_prepare_stop(loop, &p), 0);
  tt_free(loop);
  tt_close2(s.go);
}

struct stopper {
  tide_timer t;
  int n;
  int every;
};

static void stopper_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct stopper *s = w->data;
  if (++s->n % s->every == 0) cr_assert_eq(tide_stop(loop), 0);
}

Test(run, stop_inside_callback) {
  tide_loop *loop = tt_loop();
  struct stopper s = {.every = 3};
  cr_assert_eq(tide_timer_init(&s.t, stopper_cb, TT_MS(1), TT_MS(1)), 0);
  s.t.data = &s;
  cr_assert_eq(tide_timer_start(loop, &s.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 1);
  cr_assert_eq(s.n, 3);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 1, "the loop can run again after a stop");
  cr_assert_eq(s.n, 6);
  cr_assert_eq(tide_timer_stop(loop, &s.t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  tt_free(loop);
}

struct order_log {
  char s[64];
  int n;
};

static void log_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  struct order_log *l = tide_loop_get_data(loop);
  char tag = *(char *)w->data;
  l->s[l->n++] = tag;
  if (tag == 'A') tide_stop(loop);
}

Test(run, stop_finishes_current_iteration) {
  tide_loop *loop = tt_loop();
  struct order_log lg = {{0}, 0};
  tide_loop_set_data(loop, &lg);
  char a = 'A', b = 'B';
  tide_timer ta, tb, keep;
  cr_assert_eq(tide_timer_init(&ta, log_timer_cb, 0, 0), 0);
  cr_assert_eq(tide_timer_init(&tb, log_timer_cb, 0, 0), 0);
  ta.data = &a;
  tb.data = &b;
  cr_assert_eq(tide_timer_init(&keep, count_timer_cb, TT_SEC(10), 0), 0);
  int kn = 0;
  keep.data = &kn;
  cr_assert_eq(tide_timer_start(loop, &keep), 0);
  cr_assert_eq(tide_timer_start(loop, &ta), 0);
  cr_assert_eq(tide_timer_start(loop, &tb), 0);
  uint64_t t0 = tt_now_ns();
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 1);
  cr_assert_lt(tt_now_ns() - t0, TT_SEC(5));
  cr_assert_str_eq(lg.s, "AB", "callbacks pending in the stopping iteration still run");
  cr_assert_eq(tide_timer_stop(loop, &keep), 0);
  tt_free(loop);
}

Test(run, stop_before_run_returns_at_once) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_prepare p;
  cr_assert_eq(tide_prepare_init(&p, count_prepare_cb), 0);
  p.data = &n;
  cr_assert_eq(tide_prepare_start(loop, &p), 0);
  cr_assert_eq(tide_stop(loop), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 1);
  cr_assert_eq(n, 0, "a stop requested before tide_run makes it return without iterating");
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(n, 1, "the stop request must have been cleared");
  cr_assert_eq(tide_prepare_stop(loop, &p), 0);
  tt_free(loop);
}

static void nested_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  int *r = w->data;
  r[0] = tide_run(loop, TIDE_RUN_NOWAIT);
  r[1] = tide_loop_free(loop);
  r[2] = 1;
}

Test(run, nested_run_and_free_are_edeadlk) {
  tide_loop *loop = tt_loop();
  int r[3] = {0, 0, 0};
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, nested_cb, 0, 0), 0);
  t.data = r;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(r[2], 1);
  cr_assert_eq(r[0], -EDEADLK, "tide_run from a callback: %d", r[0]);
  cr_assert_eq(r[1], -EDEADLK, "tide_loop_free from a callback: %d", r[1]);
  tt_free(loop);
}

/* ------------------------------------------------------------ time */

static void now_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  uint64_t *v = w->data;
  v[1] = tide_now(loop);
  v[2] = tt_now_ns();
}

Test(loop, now_and_update_time) {
  tide_loop *loop = tt_loop();
  uint64_t a = tt_now_ns();
  cr_assert_eq(tide_update_time(loop), 0);
  uint64_t n = tide_now(loop);
  uint64_t b = tt_now_ns();
  cr_assert(a <= n && n <= b, "tide_now %llu outside [%llu, %llu]", (unsigned long long)n,
            (unsigned long long)a, (unsigned long long)b);
  tt_spin_ns(TT_MS(2));
  cr_assert_eq(tide_now(loop), n, "tide_now is cached: no update without update_time/run");
  cr_assert_eq(tide_update_time(loop), 0);
  cr_assert_geq(tide_now(loop), n + TT_MS(2));

  uint64_t v[3] = {0, 0, 0};
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, now_cb, TT_MS(5), 0), 0);
  t.data = v;
  v[0] = tt_now_ns();
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_geq(v[1], v[0] + TT_MS(5), "loop time in the callback is before the deadline");
  cr_assert_leq(v[1], v[2], "loop time ahead of the clock");
  tt_free(loop);
}

/* ------------------------------------------------------------ free */

Test(loop, free_refuses_with_active_watcher) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_timer t;
  cr_assert_eq(tide_timer_init(&t, count_timer_cb, TT_MS(1), 0), 0);
  t.data = &n;
  cr_assert_eq(tide_timer_start(loop, &t), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  cr_assert_eq(tide_is_active(&t), 1, "a refused free changes nothing");
  cr_assert_eq(tide_run(loop, TIDE_RUN_DEFAULT), 0, "the loop still works after a refused free");
  cr_assert_eq(n, 1);

  int p[2];
  tt_pipe(p);
  tide_io w;
  int m = 0;
  cr_assert_eq(tide_io_init(&w, count_io_cb, p[0], TIDE_READ), 0);
  w.data = &m;
  cr_assert_eq(tide_io_start(loop, &w), 0);
  cr_assert_eq(tide_loop_free(loop), -EBUSY);
  tt_write1(p[1]);
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(m, 1);
  cr_assert_eq(tide_io_stop(loop, &w), 0);
  tt_free(loop);
  tt_close2(p);
}

Test(loop, free_drops_pending_inactive_watchers) {
  tide_loop *loop = tt_loop();
  int n = 0;
  tide_idle i;
  cr_assert_eq(tide_idle_init(&i, count_idle_cb), 0);
  i.data = &n;
  cr_assert_eq(tide_feed_event(loop, &i, TIDE_CUSTOM), 0);
  cr_assert_eq(tide_is_pending(&i), 1);
  tt_free(loop);
  cr_assert_eq(n, 0);
  cr_assert_eq(tide_is_pending(&i), 0, "the pending event was dropped with the loop");
}

/* ------------------------------------------------------------ fork */

Test(loop, fork_child_reinitialises) {
  tide_loop *loop = tt_loop();
  int p[2];
  tt_pipe(p);
  int n = 0;
  tide_io w;
  cr_assert_eq(tide_io_init(&w, count_io_cb, p[0], TIDE_READ), 0);
  w.data = &n;
  cr_assert_eq(tide_io_start(loop, &w), 0);
  cr_assert_eq(tide_run(loop, TIDE_RUN_NOWAIT), 1); /* registered with the kernel */
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int code = 0;
    if (tide_loop_fork(loop) != 0) code |= 1;
    tt_write1(p[1]);
    tide_timer t;
    int tn = 0;
    tide_timer_init(&t, count_timer_cb, TT_SEC(5), 0);
    t.data = &tn;
    tide_timer_start(loop, &t);
    if (tide_run(loop, TIDE_RUN_ONCE) != 1) code |= 2;
    if (n != 1) code |= 4;
    if (tn != 0) code |= 8;
    tide_timer_stop(loop, &t);
    tide_io_stop(loop, &w);
    if (tide_loop_free(loop) != 0) code |= 16;
    _exit(code);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st), "child died");
  cr_assert_eq(WEXITSTATUS(st), 0, "child failures (bit mask): %d", WEXITSTATUS(st));
  /* the parent's loop is unaffected (the child must not have touched the shared
   * kernel objects); the child's byte is still in the pipe */
  tt_watchdog wd;
  tt_watchdog_start(loop, &wd, TT_SEC(5));
  cr_assert_eq(tide_run(loop, TIDE_RUN_ONCE), 1);
  cr_assert_eq(wd.fired, 0, "the parent's loop lost its io watcher after the child's tide_loop_fork");
  cr_assert_eq(n, 1);
  tt_watchdog_stop(loop, &wd);
  cr_assert_eq(tide_io_stop(loop, &w), 0);
  tt_free(loop);
  tt_close2(p);
}

/* ------------------------------------------------------------ loops in threads */

static void thread_timer_cb(tide_loop *loop, tide_timer *w, unsigned revents) {
  (void)revents;
  int *n = w->data;
  if (++*n == 20) tide_timer_stop(loop, w);
}

static void *loop_thread(void *arg) {
  struct tide_loop_options o = *(struct tide_loop_options *)arg;
  tide_loop *loop = NULL;
  if (tide_loop_new(&loop, &o) != 0) return (void *)1;
  int n = 0;
  tide_timer t;
  tide_timer_init(&t, thread_timer_cb, TT_MS(1), TT_MS(1));
  t.data = &n;
  tide_timer_start(loop, &t);
  int rc = tide_run(loop, TIDE_RUN_DEFAULT);
  if (rc != 0 || n != 20) return (void *)2;
  if (tide_loop_free(loop) != 0) return (void *)3;
  return NULL;
}

Test(loop, independent_loops_in_threads) {
  struct tide_loop_options o = tt_options();
  pthread_t th[4];
  for (int k = 0; k < 4; k++) cr_assert_eq(pthread_create(&th[k], NULL, loop_thread, &o), 0);
  for (int k = 0; k < 4; k++) {
    void *r;
    pthread_join(th[k], &r);
    cr_assert_null(r, "thread %d failed with %p", k, r);
  }
}
