/* SPDX-License-Identifier: MIT */
/*
 * test_misuse.c - the MISUSE table of tide(7), one test per row, in the order of
 * the table. Each test makes the mistake its row names and checks the exact
 * value returned, that errno is left as it was, and the state the row promises
 * afterwards (usually: nothing changed, the loop still works).
 */
#include "common.h"

#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/select.h>

TestSuite(misuse, .timeout = 30);

/* errno is set to this before every checked call; libtide must leave it. */
#define SENTINEL 9119

/* What the assertions are about, when a test loops (watcher kind, operation). */
static const char *g_ctx = "";

/* EXPECT(call, want): call returns exactly want (an int, a pointer or a time)
 * and leaves errno alone. */
#define EXPECT(call, want)                                                                 \
  do {                                                                                     \
    errno = SENTINEL;                                                                      \
    intptr_t got_ = (intptr_t)(call);                                                      \
    int errno_ = errno;                                                                    \
    cr_assert_eq(got_, (intptr_t)(want), "%s [%s]: returned %ld, want %ld", #call, g_ctx, \
                 (long)got_, (long)(intptr_t)(want));                                      \
    cr_assert_eq(errno_, SENTINEL, "%s [%s]: errno changed to %d", #call, g_ctx, errno_); \
  } while (0)

/* Set-up steps that must succeed. */
#define OK(call) cr_assert_eq((call), 0, "%s [%s] failed", #call, g_ctx)

/* ====================================================================
 * Watchers of every kind, through one switch per operation.
 * ==================================================================== */

enum { W_IO, W_TIMER, W_IDLE, W_PREPARE, W_CHECK, W_ASYNC, W_KINDS };
static const char *const w_names[W_KINDS] = {"io", "timer", "idle", "prepare", "check", "async"};

/* Storage for a watcher of any kind. All watcher structs share one layout and
 * size (tide.h); the members are the kinds the tests name. */
union anyw {
  tide_io io;
  tide_timer timer;
  tide_async async;
};

static int g_calls;        /* watcher callbacks so far */
static unsigned g_revents; /* revents of the last one */

#define COUNTING_CB(name, type)                           \
  static void name(tide_loop *l, type *w, unsigned r) { \
    (void)l;                                             \
    (void)w;                                             \
    g_calls++;                                           \
    g_revents = r;                                       \
  }
COUNTING_CB(io_cb, tide_io)
COUNTING_CB(timer_cb, tide_timer)
COUNTING_CB(idle_cb, tide_idle)
COUNTING_CB(prepare_cb, tide_prepare)
COUNTING_CB(check_cb, tide_check)
COUNTING_CB(async_cb, tide_async)

/* io watchers watch the read end of this pipe (readable only when a test writes). */
static int g_pipe[2] = {-1, -1};

static void pipe_up(void) {
  tt_pipe(g_pipe);
  g_calls = 0;
  g_revents = 0;
}

static void pipe_down(void) { tt_close2(g_pipe); }

/* tide_X_init for kind k; with_cb 0 passes a NULL callback. Timers are far away. */
static int w_init(int k, void *w, int with_cb) {
  switch (k) {
    case W_IO: return tide_io_init(w, with_cb ? io_cb : NULL, g_pipe[0], TIDE_READ);
    case W_TIMER: return tide_timer_init(w, with_cb ? timer_cb : NULL, TT_SEC(100), 0);
    case W_IDLE: return tide_idle_init(w, with_cb ? idle_cb : NULL);
    case W_PREPARE: return tide_prepare_init(w, with_cb ? prepare_cb : NULL);
    case W_CHECK: return tide_check_init(w, with_cb ? check_cb : NULL);
    default: return tide_async_init(w, with_cb ? async_cb : NULL);
  }
}

static int w_start(int k, tide_loop *loop, void *w) {
  switch (k) {
    case W_IO: return tide_io_start(loop, w);
    case W_TIMER: return tide_timer_start(loop, w);
    case W_IDLE: return tide_idle_start(loop, w);
    case W_PREPARE: return tide_prepare_start(loop, w);
    case W_CHECK: return tide_check_start(loop, w);
    default: return tide_async_start(loop, w);
  }
}

static int w_stop(int k, tide_loop *loop, void *w) {
  switch (k) {
    case W_IO: return tide_io_stop(loop, w);
    case W_TIMER: return tide_timer_stop(loop, w);
    case W_IDLE: return tide_idle_stop(loop, w);
    case W_PREPARE: return tide_prepare_stop(loop, w);
    case W_CHECK: return tide_check_stop(loop, w);
    default: return tide_async_stop(loop, w);
  }
}

/* A new, initialised watcher of kind k in w; assertions now name that kind. */
static void w_fresh(int k, union anyw *w) {
  memset(w, 0, sizeof *w);
  g_ctx = w_names[k];
  OK(w_init(k, w, 1));
}

/* The functions that exist for one kind only, on a struct that is not an
 * initialised watcher of that kind: all -EINVAL. */
static void expect_kind_functions_refuse(tide_loop *loop, union anyw *w) {
  EXPECT(tide_io_modify(&w->io, TIDE_READ), -EINVAL);
  EXPECT(tide_io_fd(&w->io), -EINVAL);
  EXPECT(tide_timer_set(&w->timer, 1, 1), -EINVAL);
  EXPECT(tide_timer_again(loop, &w->timer), -EINVAL);
  EXPECT(tide_timer_remaining(loop, &w->timer), -EINVAL);
  EXPECT(tide_async_send(loop, &w->async), -EINVAL);
}

/* ====================================================================
 * Loops
 * ==================================================================== */

/* Row 1 of tide(7) MISUSE: misuse::null_loop */
Test(misuse, null_loop, .init = pipe_up, .fini = pipe_down) {
  union anyw w[W_KINDS];
  memset(w, 0, sizeof w);
  for (int k = 0; k < W_KINDS; k++) OK(w_init(k, &w[k], 1));
  EXPECT(tide_loop_free(NULL), -EINVAL);
  EXPECT(tide_loop_set_data(NULL, w), -EINVAL);
  EXPECT(tide_loop_fork(NULL), -EINVAL);
  EXPECT(tide_loop_wakeup(NULL), -EINVAL);
  EXPECT(tide_run(NULL, TIDE_RUN_NOWAIT), -EINVAL);
  EXPECT(tide_stop(NULL), -EINVAL);
  EXPECT(tide_ref(NULL), -EINVAL);
  EXPECT(tide_unref(NULL), -EINVAL);
  EXPECT(tide_update_time(NULL), -EINVAL);
  EXPECT(tide_op_support(NULL, TIDE_OP_NOP), -EINVAL);
  EXPECT(tide_loop_backend(NULL), NULL);
  EXPECT(tide_loop_fallback_reason(NULL), NULL);
  EXPECT(tide_loop_get_data(NULL), NULL);
  EXPECT(tide_now(NULL), 0);
  for (int k = 0; k < W_KINDS; k++) {
    g_ctx = w_names[k];
    EXPECT(w_start(k, NULL, &w[k]), -EINVAL);
    EXPECT(w_stop(k, NULL, &w[k]), -EINVAL);
    EXPECT(tide_feed_event(NULL, &w[k], TIDE_CUSTOM), -EINVAL);
    EXPECT(tide_is_active(&w[k]), 0);
    EXPECT(tide_is_pending(&w[k]), 0);
  }
  EXPECT(tide_timer_again(NULL, &w[W_TIMER].timer), -EINVAL);
  EXPECT(tide_timer_remaining(NULL, &w[W_TIMER].timer), -EINVAL);
  EXPECT(tide_async_send(NULL, &w[W_ASYNC].async), -EINVAL);
  EXPECT(tide_is_active(&w[W_TIMER]), 0);
}

/* Row 2 of tide(7) MISUSE: misuse::loop_new_bad_arguments */
Test(misuse, loop_new_bad_arguments) {
  tide_loop *const mark = (tide_loop *)&g_calls; /* any address that is not a loop */
  tide_loop *loop = mark;
  struct tide_loop_options o = tt_options();
  EXPECT(tide_loop_new(NULL, &o), -EINVAL);
  EXPECT(tide_loop_new(NULL, NULL), -EINVAL);
  for (size_t size = 0; size < sizeof(size_t); size++) {
    o = tt_options();
    o.size = size;
    EXPECT(tide_loop_new(&loop, &o), -EINVAL);
  }
  o = tt_options();
  o.flags |= 0x100u;
  EXPECT(tide_loop_new(&loop, &o), -EINVAL);
  o = tt_options();
  o.backends |= 0x10u;
  EXPECT(tide_loop_new(&loop, &o), -EINVAL);
  cr_assert_eq(loop, mark, "*out was written by a failed tide_loop_new");
  o = tt_options();
  OK(tide_loop_new(&loop, &o));
  tt_free(loop);
}

/* Row 3 of tide(7) MISUSE: misuse::loop_new_unknown_option_bytes */
Test(misuse, loop_new_unknown_option_bytes) {
  tide_loop *const mark = (tide_loop *)&g_calls;
  tide_loop *loop = mark;
  struct {
    struct tide_loop_options o;
    unsigned char later[16]; /* fields of a newer libtide */
  } newer;
  memset(&newer, 0, sizeof newer);
  newer.o = tt_options();
  newer.o.size = sizeof newer;
  newer.later[5] = 1;
  EXPECT(tide_loop_new(&loop, &newer.o), -E2BIG);
  cr_assert_eq(loop, mark, "*out was written by a failed tide_loop_new");
  newer.later[5] = 0;
  OK(tide_loop_new(&loop, &newer.o));
  tt_free(loop);
}

/* Row 4 of tide(7) MISUSE: misuse::loop_free_with_active_watcher */
Test(misuse, loop_free_with_active_watcher, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < W_KINDS; k++) {
    union anyw w;
    w_fresh(k, &w);
    OK(w_start(k, loop, &w));
    EXPECT(tide_loop_free(loop), -EBUSY);
    EXPECT(tide_is_active(&w), 1);
    EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
    OK(w_stop(k, loop, &w));
  }
  tt_free(loop);
}

/* Row 5 of tide(7) MISUSE: misuse::loop_free_with_request_in_flight */
Test(misuse, loop_free_with_request_in_flight) {
  tide_loop *loop = tt_loop();
  tt_req r;
  tt_req_init(&r);
  OK(tide_nop(loop, &r.req, tt_req_cb));
  EXPECT(tide_loop_free(loop), -EBUSY);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "the nop never completed");
  cr_assert_eq(r.res, 0);
  tt_free(loop);
}

/* Row 6 of tide(7) MISUSE: misuse::loop_free_with_bufpool */
Test(misuse, loop_free_with_bufpool) {
  tide_loop *loop = tt_loop();
  tide_bufpool *pool = NULL;
  OK(tide_bufpool_new(loop, &pool, 2, 64));
  EXPECT(tide_loop_free(loop), -EBUSY);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  OK(tide_bufpool_free(pool));
  tt_free(loop);
}

/* A timer callback that calls fn on its own loop, while tide_run runs it. */
struct inside {
  tide_timer t;
  int (*fn)(tide_loop *);
  int rc, err, calls;
};

static void inside_cb(tide_loop *loop, tide_timer *t, unsigned revents) {
  struct inside *in = t->data;
  (void)revents;
  errno = SENTINEL;
  in->rc = in->fn(loop);
  in->err = errno;
  in->calls++;
}

static int run_default(tide_loop *loop) { return tide_run(loop, TIDE_RUN_DEFAULT); }

static void call_inside_a_callback(int (*fn)(tide_loop *)) {
  tide_loop *loop = tt_loop();
  struct inside in;
  memset(&in, 0, sizeof in);
  in.fn = fn;
  OK(tide_timer_init(&in.t, inside_cb, 0, 0));
  in.t.data = &in;
  OK(tide_timer_start(loop, &in.t));
  EXPECT(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(in.calls, 1);
  cr_assert_eq(in.rc, -EDEADLK, "inside a callback: %d", in.rc);
  cr_assert_eq(in.err, SENTINEL, "errno changed to %d", in.err);
  /* the loop was neither freed nor disturbed: it runs the timer again */
  OK(tide_timer_start(loop, &in.t));
  EXPECT(tide_run(loop, TIDE_RUN_DEFAULT), 0);
  cr_assert_eq(in.calls, 2);
  tt_free(loop);
}

/* Row 7 of tide(7) MISUSE: misuse::loop_free_inside_callback */
Test(misuse, loop_free_inside_callback) { call_inside_a_callback(tide_loop_free); }

/* Row 8 of tide(7) MISUSE: misuse::run_inside_callback */
Test(misuse, run_inside_callback) { call_inside_a_callback(run_default); }

/* Row 9 of tide(7) MISUSE: misuse::run_unknown_mode */
Test(misuse, run_unknown_mode) {
  tide_loop *loop = tt_loop();
  tide_prepare p;
  memset(&p, 0, sizeof p);
  g_calls = 0;
  OK(tide_prepare_init(&p, prepare_cb));
  OK(tide_prepare_start(loop, &p));
  EXPECT(tide_run(loop, 3), -EINVAL);
  EXPECT(tide_run(loop, -1), -EINVAL);
  EXPECT(tide_run(loop, INT_MAX), -EINVAL);
  cr_assert_eq(g_calls, 0, "a refused tide_run iterated");
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(g_calls, 1);
  OK(tide_prepare_stop(loop, &p));
  tt_free(loop);
}

/* Row 10 of tide(7) MISUSE: misuse::unref_below_zero */
Test(misuse, unref_below_zero) {
  tide_loop *loop = tt_loop();
  tide_timer t;
  memset(&t, 0, sizeof t);
  EXPECT(tide_unref(loop), -ERANGE);
  OK(tide_timer_init(&t, timer_cb, TT_SEC(100), 0));
  OK(tide_timer_start(loop, &t));
  OK(tide_unref(loop));
  EXPECT(tide_unref(loop), -ERANGE);
  OK(tide_ref(loop));
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1); /* the timer's reference is intact */
  OK(tide_timer_stop(loop, &t));
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_free(loop);
}

/* Row 11 of tide(7) MISUSE: misuse::backend_from_name_unknown */
Test(misuse, backend_from_name_unknown) {
  static const char *const bad[] = {"", " , ", "kqueue", "EPOLL", "epol", "epoll,kqueue"};
  EXPECT(tide_backend_from_name(NULL), -EINVAL);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    g_ctx = bad[i];
    EXPECT(tide_backend_from_name(bad[i]), -EINVAL);
  }
}

/* Row 12 of tide(7) MISUSE: misuse::backend_name_not_one_bit */
Test(misuse, backend_name_not_one_bit) {
  static const unsigned bad[] = {0, TIDE_BACKEND_EPOLL | TIDE_BACKEND_POLL, TIDE_BACKEND_ALL,
                                 0x10u, 0x80000000u};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) EXPECT(tide_backend_name(bad[i]), NULL);
}

/* Row 13 of tide(7) MISUSE: misuse::op_support_out_of_range */
Test(misuse, op_support_out_of_range) {
  tide_loop *loop = tt_loop();
  EXPECT(tide_op_support(loop, -1), -EINVAL);
  EXPECT(tide_op_support(loop, TIDE_OP_COUNT_), -EINVAL);
  EXPECT(tide_op_support(loop, INT_MAX), -EINVAL);
  cr_assert_geq(tide_op_support(loop, TIDE_OP_COUNT_ - 1), TIDE_OP_UNSUPPORTED);
  tt_free(loop);
}

/* ====================================================================
 * Watchers
 * ==================================================================== */

/* Row 14 of tide(7) MISUSE: misuse::null_watcher_or_callback */
Test(misuse, null_watcher_or_callback, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  union anyw w;
  int prio = 7;
  for (int k = 0; k < W_KINDS; k++) {
    g_ctx = w_names[k];
    EXPECT(w_init(k, NULL, 1), -EINVAL);
    EXPECT(w_start(k, loop, NULL), -EINVAL);
    EXPECT(w_stop(k, loop, NULL), -EINVAL);
    memset(&w, 0, sizeof w);
    EXPECT(w_init(k, &w, 0), -EINVAL);
    EXPECT(tide_is_active(&w), -EINVAL); /* still no watcher */
  }
  g_ctx = "generic";
  EXPECT(tide_is_active(NULL), -EINVAL);
  EXPECT(tide_is_pending(NULL), -EINVAL);
  EXPECT(tide_set_priority(NULL, 0), -EINVAL);
  EXPECT(tide_get_priority(NULL, &prio), -EINVAL);
  EXPECT(tide_feed_event(loop, NULL, TIDE_CUSTOM), -EINVAL);
  OK(w_init(W_IDLE, &w, 1));
  EXPECT(tide_get_priority(&w, NULL), -EINVAL);
  cr_assert_eq(prio, 7, "*out written on failure");
  EXPECT(tide_io_modify(NULL, TIDE_READ), -EINVAL);
  EXPECT(tide_io_fd(NULL), -EINVAL);
  EXPECT(tide_timer_set(NULL, 1, 1), -EINVAL);
  EXPECT(tide_timer_again(loop, NULL), -EINVAL);
  EXPECT(tide_timer_remaining(loop, NULL), -EINVAL);
  EXPECT(tide_async_send(loop, NULL), -EINVAL);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_free(loop);
}

/* Row 15 of tide(7) MISUSE: misuse::uninitialised_watcher */
Test(misuse, uninitialised_watcher, .init = pipe_up, .fini = pipe_down) {
  static const int fills[] = {0x00, 0xA5};
  tide_loop *loop = tt_loop();
  for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
    union anyw w;
    for (int k = 0; k < W_KINDS; k++) {
      int prio = 7;
      g_ctx = w_names[k];
      memset(&w, fills[f], sizeof w);
      EXPECT(w_start(k, loop, &w), -EINVAL);
      EXPECT(w_stop(k, loop, &w), -EINVAL);
      EXPECT(tide_is_active(&w), -EINVAL);
      EXPECT(tide_is_pending(&w), -EINVAL);
      EXPECT(tide_set_priority(&w, 1), -EINVAL);
      EXPECT(tide_get_priority(&w, &prio), -EINVAL);
      EXPECT(tide_feed_event(loop, &w, TIDE_CUSTOM), -EINVAL);
      cr_assert_eq(prio, 7);
    }
    memset(&w, fills[f], sizeof w);
    expect_kind_functions_refuse(loop, &w);
  }
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_free(loop);
}

/* Row 16 of tide(7) MISUSE: misuse::watcher_of_another_kind */
Test(misuse, watcher_of_another_kind, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  union anyw w;
  char ctx[32];
  for (int k = 0; k < W_KINDS; k++)
    for (int j = 0; j < W_KINDS; j++) {
      if (j == k) continue;
      w_fresh(k, &w);
      snprintf(ctx, sizeof ctx, "%s used as %s", w_names[k], w_names[j]);
      g_ctx = ctx;
      EXPECT(w_start(j, loop, &w), -EINVAL);
      EXPECT(w_stop(j, loop, &w), -EINVAL);
      EXPECT(tide_is_active(&w), 0);
    }
  w_fresh(W_IDLE, &w);
  expect_kind_functions_refuse(loop, &w);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  tt_free(loop);
}

/* Row 17 of tide(7) MISUSE: misuse::init_active_watcher */
Test(misuse, init_active_watcher, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < W_KINDS; k++) {
    union anyw w;
    int prio = 0;
    w_fresh(k, &w);
    OK(tide_set_priority(&w, 1));
    OK(w_start(k, loop, &w));
    EXPECT(w_init(k, &w, 1), -EINVAL);
    EXPECT(tide_is_active(&w), 1);
    OK(tide_get_priority(&w, &prio));
    cr_assert_eq(prio, 1, "%s: the refused init reset the watcher", w_names[k]);
    OK(w_stop(k, loop, &w));
  }
  tt_free(loop);
}

/* Row 18 of tide(7) MISUSE: misuse::init_pending_watcher */
Test(misuse, init_pending_watcher, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  for (int k = W_IDLE; k <= W_ASYNC; k++) {
    union anyw w;
    int prio = 0;
    w_fresh(k, &w);
    OK(tide_set_priority(&w, 2));
    OK(tide_feed_event(loop, &w, TIDE_CUSTOM));
    EXPECT(w_init(k, &w, 1), -EINVAL);
    EXPECT(tide_is_pending(&w), 1);
    OK(tide_get_priority(&w, &prio));
    cr_assert_eq(prio, 2, "%s: the refused init reset the watcher", w_names[k]);
    g_calls = 0;
    EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
    cr_assert_eq(g_calls, 1, "%s: the fed event was lost", w_names[k]);
    cr_assert_eq(g_revents, TIDE_CUSTOM);
  }
  tt_free(loop);
}

/* Row 19 of tide(7) MISUSE: misuse::start_active_watcher */
Test(misuse, start_active_watcher, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < W_KINDS; k++) {
    union anyw w;
    w_fresh(k, &w);
    OK(w_start(k, loop, &w));
    EXPECT(w_start(k, loop, &w), 0);
    EXPECT(w_start(k, loop, &w), 0);
    EXPECT(tide_is_active(&w), 1);
    OK(w_stop(k, loop, &w));
    EXPECT(tide_is_active(&w), 0); /* one stop undoes all the starts */
    EXPECT(tide_unref(loop), -ERANGE); /* and no reference was left behind */
  }
  tt_free(loop);
}

/* Row 20 of tide(7) MISUSE: misuse::stop_inactive_watcher */
Test(misuse, stop_inactive_watcher, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  for (int k = 0; k < W_KINDS; k++) {
    union anyw w;
    w_fresh(k, &w);
    EXPECT(w_stop(k, loop, &w), 0); /* never started */
    OK(w_start(k, loop, &w));
    OK(w_stop(k, loop, &w));
    EXPECT(w_stop(k, loop, &w), 0); /* stopped twice */
    EXPECT(tide_is_active(&w), 0);
    EXPECT(tide_unref(loop), -ERANGE); /* the extra stops took no reference away */
    OK(w_start(k, loop, &w));          /* and the watcher still works */
    EXPECT(tide_is_active(&w), 1);
    OK(w_stop(k, loop, &w));
  }
  tt_free(loop);
}

/* Row 21 of tide(7) MISUSE: misuse::watcher_active_on_another_loop */
Test(misuse, watcher_active_on_another_loop, .init = pipe_up, .fini = pipe_down) {
  tide_loop *a = tt_loop(), *b = tt_loop();
  for (int k = 0; k < W_KINDS; k++) {
    union anyw w;
    w_fresh(k, &w);
    OK(w_start(k, a, &w));
    EXPECT(w_start(k, b, &w), -EBUSY);
    EXPECT(w_stop(k, b, &w), -EBUSY);
    EXPECT(tide_feed_event(b, &w, TIDE_CUSTOM), -EBUSY);
    if (k == W_TIMER) {
      EXPECT(tide_timer_again(b, &w.timer), -EBUSY);
      EXPECT(tide_timer_remaining(b, &w.timer), -EBUSY);
    }
    EXPECT(tide_is_active(&w), 1);
    EXPECT(tide_is_pending(&w), 0);
    EXPECT(tide_run(b, TIDE_RUN_NOWAIT), 0); /* b never took it */
    EXPECT(tide_run(a, TIDE_RUN_NOWAIT), 1); /* a still has it */
    OK(w_stop(k, a, &w));
  }
  tt_free(a);
  tt_free(b);
}

/* Row 22 of tide(7) MISUSE: misuse::feed_watcher_pending_on_another_loop */
Test(misuse, feed_watcher_pending_on_another_loop) {
  tide_loop *a = tt_loop(), *b = tt_loop();
  tide_idle i;
  memset(&i, 0, sizeof i);
  g_calls = 0;
  OK(tide_idle_init(&i, idle_cb));
  OK(tide_feed_event(a, &i, TIDE_CUSTOM));
  EXPECT(tide_feed_event(b, &i, TIDE_CUSTOM), -EBUSY);
  EXPECT(tide_is_pending(&i), 1);
  EXPECT(tide_run(b, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(g_calls, 0, "the callback ran on the other loop");
  EXPECT(tide_run(a, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(g_calls, 1);
  tt_free(a);
  tt_free(b);
}

/* Row 23 of tide(7) MISUSE: misuse::feed_event_zero_revents */
Test(misuse, feed_event_zero_revents) {
  tide_loop *loop = tt_loop();
  tide_idle i;
  memset(&i, 0, sizeof i);
  g_calls = 0;
  OK(tide_idle_init(&i, idle_cb));
  EXPECT(tide_feed_event(loop, &i, 0), -EINVAL);
  EXPECT(tide_is_pending(&i), 0);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(g_calls, 0);
  tt_free(loop);
}

/* Row 24 of tide(7) MISUSE: misuse::priority_out_of_range */
Test(misuse, priority_out_of_range) {
  static const int bad[] = {TIDE_MAXPRI + 1, TIDE_MINPRI - 1, INT_MAX, INT_MIN};
  tide_timer t;
  int prio = 0;
  memset(&t, 0, sizeof t);
  OK(tide_timer_init(&t, timer_cb, TT_SEC(100), 0));
  OK(tide_set_priority(&t, TIDE_MINPRI));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    EXPECT(tide_set_priority(&t, bad[i]), -EINVAL);
  OK(tide_get_priority(&t, &prio));
  cr_assert_eq(prio, TIDE_MINPRI);
}

/* Row 25 of tide(7) MISUSE: misuse::priority_while_active_or_pending */
Test(misuse, priority_while_active_or_pending) {
  tide_loop *loop = tt_loop();
  tide_timer t;
  int prio = 0;
  memset(&t, 0, sizeof t);
  OK(tide_timer_init(&t, timer_cb, TT_SEC(100), 0));
  OK(tide_set_priority(&t, 1));
  OK(tide_timer_start(loop, &t));
  EXPECT(tide_set_priority(&t, 2), -EBUSY);
  OK(tide_timer_stop(loop, &t));
  OK(tide_feed_event(loop, &t, TIDE_CUSTOM));
  EXPECT(tide_set_priority(&t, 2), -EBUSY);
  OK(tide_get_priority(&t, &prio));
  cr_assert_eq(prio, 1);
  g_calls = 0;
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(g_calls, 1);
  EXPECT(tide_set_priority(&t, 2), 0); /* neither active nor pending any more */
  tt_free(loop);
}

/* Row 26 of tide(7) MISUSE: misuse::io_init_negative_fd */
Test(misuse, io_init_negative_fd, .init = pipe_up, .fini = pipe_down) {
  tide_io w;
  memset(&w, 0, sizeof w);
  EXPECT(tide_io_init(&w, io_cb, -1, TIDE_READ), -EBADF);
  EXPECT(tide_is_active(&w), -EINVAL); /* no watcher was made */
  OK(tide_io_init(&w, io_cb, g_pipe[0], TIDE_READ));
  EXPECT(tide_io_init(&w, io_cb, -1, TIDE_READ), -EBADF);
  EXPECT(tide_io_init(&w, io_cb, INT_MIN, TIDE_WRITE), -EBADF);
  EXPECT(tide_io_fd(&w), g_pipe[0]); /* the watcher is unchanged */
}

/* Row 27 of tide(7) MISUSE: misuse::io_events_invalid */
Test(misuse, io_events_invalid, .init = pipe_up, .fini = pipe_down) {
  static const unsigned bad[] = {0,
                                 TIDE_EDGE,
                                 TIDE_EDGE | TIDE_ONESHOT,
                                 TIDE_READ | 0x4u,
                                 TIDE_READ | TIDE_TIMER,
                                 TIDE_WRITE | TIDE_ERROR,
                                 TIDE_READ | 0x80000000u};
  tide_loop *loop = tt_loop();
  tide_io fresh, w;
  memset(&fresh, 0, sizeof fresh);
  memset(&w, 0, sizeof w);
  OK(tide_io_init(&w, io_cb, g_pipe[0], TIDE_READ));
  OK(tide_io_start(loop, &w));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    EXPECT(tide_io_init(&fresh, io_cb, g_pipe[0], bad[i]), -EINVAL);
    EXPECT(tide_io_modify(&w, bad[i]), -EINVAL);
  }
  EXPECT(tide_is_active(&fresh), -EINVAL);
  /* w still watches for TIDE_READ, as before the refused changes */
  cr_assert(tt_write1(g_pipe[1]));
  cr_assert(tt_run_until(loop, &g_calls, 1, TT_SEC(10)), "no callback");
  cr_assert_eq(g_revents, TIDE_READ);
  OK(tide_io_stop(loop, &w));
  tt_free(loop);
}

/* Row 28 of tide(7) MISUSE: misuse::io_start_fd_not_open */
Test(misuse, io_start_fd_not_open, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  int fd = dup(g_pipe[0]);
  cr_assert_geq(fd, 0);
  close(fd); /* a number below FD_SETSIZE that names no open file */
  tide_io w;
  memset(&w, 0, sizeof w);
  OK(tide_io_init(&w, io_cb, fd, TIDE_READ));
  EXPECT(tide_io_start(loop, &w), -EBADF);
  EXPECT(tide_is_active(&w), 0);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0); /* no reference taken */
  tt_free(loop);
}

/* Row 29 of tide(7) MISUSE: misuse::io_start_fd_beyond_select_limit */
Test(misuse, io_start_fd_beyond_select_limit, .init = pipe_up, .fini = pipe_down) {
  struct rlimit rl;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur <= FD_SETSIZE) { /* room for fd number FD_SETSIZE */
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_SETSIZE + 1 ? FD_SETSIZE + 1
                                                                               : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int big = dup3(g_pipe[0], FD_SETSIZE, O_CLOEXEC);
  if (big < 0) cr_skip_test("fd %d not available: %s", FD_SETSIZE, strerror(errno));
  tide_loop *loop = tt_loop();
  tide_io w;
  memset(&w, 0, sizeof w);
  OK(tide_io_init(&w, io_cb, big, TIDE_READ));
  if (tt_is(loop, "select")) {
    EXPECT(tide_io_start(loop, &w), -ERANGE);
    EXPECT(tide_is_active(&w), 0);
    EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  } else { /* the limit is select's alone */
    EXPECT(tide_io_start(loop, &w), 0);
    OK(tide_io_stop(loop, &w));
  }
  tt_free(loop);
  close(big);
}

/* An io watcher whose first callback closes its fd. */
struct closer {
  tide_io w;
  int calls, errors, active_after_error;
  unsigned first;
};

static void closer_cb(tide_loop *loop, tide_io *w, unsigned revents) {
  struct closer *c = w->data;
  (void)loop;
  if (c->calls++ == 0) {
    c->first = revents;
    close(tide_io_fd(w));
  }
  if (revents & TIDE_ERROR) {
    c->errors++;
    c->active_after_error = tide_is_active(w);
  }
}

/* Row 30 of tide(7) MISUSE: misuse::io_fd_closed_while_watched */
Test(misuse, io_fd_closed_while_watched, .init = pipe_up, .fini = pipe_down) {
  tide_loop *loop = tt_loop();
  struct closer c;
  memset(&c, 0, sizeof c);
  OK(tide_io_init(&c.w, closer_cb, g_pipe[0], TIDE_READ));
  c.w.data = &c;
  OK(tide_io_start(loop, &c.w));
  cr_assert(tt_write1(g_pipe[1]));
  cr_assert(tt_run_until(loop, &c.calls, 1, TT_SEC(10)), "no first callback");
  cr_assert_eq(c.first, TIDE_READ);
  g_pipe[0] = -1; /* closed by the callback */
  if (tt_is(loop, "epoll")) {
    /* not detected: the kernel dropped the registration, the watcher is silent */
    for (int i = 0; i < 3; i++) EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
    cr_assert_eq(c.calls, 1, "epoll reported a closed fd");
    EXPECT(tide_is_active(&c.w), 1);
    EXPECT(tide_io_stop(loop, &c.w), 0);
  } else {
    cr_assert(tt_run_until(loop, &c.errors, 1, TT_SEC(10)), "%s: no TIDE_ERROR",
              tide_loop_backend(loop));
    cr_assert_eq(c.active_after_error, 0, "the failed watcher was not stopped");
    EXPECT(tide_is_active(&c.w), 0);
  }
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0); /* no reference left */
  cr_assert_eq(c.errors, tt_is(loop, "epoll") ? 0 : 1);
  tt_free(loop);
}

/* ====================================================================
 * Requests: every submit function, called through one switch with one set of
 * good arguments, which a test spoils one argument at a time.
 * ==================================================================== */

struct sargs {
  tide_loop *loop;
  tide_req *req;
  tide_req_cb cb;
  int fd, fd2; /* fd2: splice's fd_out, sendfile's in_fd */
  void *buf;
  size_t len;
  struct iovec *iov;
  int iovcnt;
  int64_t off, off2; /* off2: splice's off_out */
  unsigned flags;
  int sock_flags;
  struct msghdr *msg;
  struct sockaddr *addr; /* connect */
  socklen_t addrlen;
  struct sockaddr *acc_addr; /* accept */
  socklen_t *acc_addrlen;
  struct sockaddr_storage acc_ss;
  socklen_t acc_sslen;
  int how;
  const char *path, *path2;
  struct statx *stx;
  tide_work_fn fn;
  tide_bufpool *pool;
  int64_t falloc_off, falloc_len;
};

static const char *const op_names[TIDE_OP_COUNT_] = {
    "nop",      "read",     "write",    "readv",   "writev", "recv",     "send",
    "recvmsg",  "sendmsg",  "accept",   "connect", "shutdown", "close",  "openat",
    "statx",    "fsync",    "fallocate", "unlinkat", "renameat", "mkdirat", "splice",
    "sendfile", "sleep",    "work",     "recv_pool"};

static int submit_op(int op, const struct sargs *a) {
  tide_loop *l = a->loop;
  tide_req *q = a->req;
  switch (op) {
    case TIDE_OP_NOP: return tide_nop(l, q, a->cb);
    case TIDE_OP_READ: return tide_read(l, q, a->fd, a->buf, a->len, a->off, a->flags, a->cb);
    case TIDE_OP_WRITE: return tide_write(l, q, a->fd, a->buf, a->len, a->off, a->flags, a->cb);
    case TIDE_OP_READV: return tide_readv(l, q, a->fd, a->iov, a->iovcnt, a->off, a->flags, a->cb);
    case TIDE_OP_WRITEV:
      return tide_writev(l, q, a->fd, a->iov, a->iovcnt, a->off, a->flags, a->cb);
    case TIDE_OP_RECV: return tide_recv(l, q, a->fd, a->buf, a->len, 0, a->flags, a->cb);
    case TIDE_OP_SEND: return tide_send(l, q, a->fd, a->buf, a->len, 0, a->flags, a->cb);
    case TIDE_OP_RECVMSG: return tide_recvmsg(l, q, a->fd, a->msg, 0, a->cb);
    case TIDE_OP_SENDMSG: return tide_sendmsg(l, q, a->fd, a->msg, 0, a->cb);
    case TIDE_OP_ACCEPT:
      return tide_accept(l, q, a->fd, a->acc_addr, a->acc_addrlen, a->sock_flags, a->flags, a->cb);
    case TIDE_OP_CONNECT: return tide_connect(l, q, a->fd, a->addr, a->addrlen, a->cb);
    case TIDE_OP_SHUTDOWN: return tide_shutdown(l, q, a->fd, a->how, a->cb);
    case TIDE_OP_CLOSE: return tide_close(l, q, a->fd, a->cb);
    case TIDE_OP_OPENAT: return tide_openat(l, q, AT_FDCWD, a->path, O_RDONLY, 0, a->cb);
    case TIDE_OP_STATX: return tide_statx(l, q, AT_FDCWD, a->path, 0, STATX_SIZE, a->stx, a->cb);
    case TIDE_OP_FSYNC: return tide_fsync(l, q, a->fd, a->flags, a->cb);
    case TIDE_OP_FALLOCATE:
      return tide_fallocate(l, q, a->fd, 0, a->falloc_off, a->falloc_len, a->cb);
    case TIDE_OP_UNLINKAT: return tide_unlinkat(l, q, AT_FDCWD, a->path, 0, a->cb);
    case TIDE_OP_RENAMEAT:
      return tide_renameat(l, q, AT_FDCWD, a->path, AT_FDCWD, a->path2, 0, a->cb);
    case TIDE_OP_MKDIRAT: return tide_mkdirat(l, q, AT_FDCWD, a->path, 0700, a->cb);
    case TIDE_OP_SPLICE:
      return tide_splice(l, q, a->fd, a->off, a->fd2, a->off2, a->len, a->flags, a->cb);
    case TIDE_OP_SENDFILE: return tide_sendfile(l, q, a->fd, a->fd2, a->off, a->len, a->cb);
    case TIDE_OP_SLEEP: return tide_sleep(l, q, TT_SEC(100), a->cb);
    case TIDE_OP_WORK: return tide_work(l, q, a->fn, a->cb);
    case TIDE_OP_RECV_POOL: return tide_recv_pool(l, q, a->fd, a->pool, a->cb);
    default: return INT_MIN;
  }
}

/* Ways to spoil the good arguments, grouped by the table row they belong to. */
enum {
  S_NONE,
  /* request_null_pointer */
  S_LOOP, S_REQ, S_CB,
  /* submit_null_argument */
  S_BUF, S_IOV, S_MSG, S_ADDR, S_ACC_NOLEN, S_PATH, S_PATH2, S_STX, S_FN, S_POOL,
  /* submit_unknown_flags */
  S_FLAGS, S_VEC_FLAGS, S_SOCK_FLAGS,
  /* submit_argument_out_of_range */
  S_IOVCNT0, S_IOVCNT_MAX, S_OFF, S_OFF2, S_ADDRLEN0, S_ADDRLEN_BIG, S_HOW, S_FALLOC_OFF,
  S_FALLOC_LEN, S_MSHOT_ADDR,
  /* submit_negative_fd */
  S_FD, S_FD2,
  S_COUNT
};

static const char *const spoil_names[S_COUNT] = {
    "as given", "loop NULL", "req NULL", "cb NULL", "buf NULL", "iov NULL", "msg NULL",
    "addr NULL", "accept addrlen NULL", "path NULL", "newpath NULL", "statx buf NULL",
    "work fn NULL", "pool NULL", "flags 0x80", "vector flags TIDE_ALL", "sock_flags 0x1",
    "iovcnt 0", "iovcnt IOV_MAX+1", "offset -2", "off_out -2", "addrlen 0", "addrlen 129",
    "how 99", "fallocate offset -1", "fallocate len 0", "multishot accept with addr",
    "fd -1", "second fd -1"};

#define S(x) (1u << (x))
#define S_EVERY_OP (S(S_NONE) | S(S_LOOP) | S(S_REQ) | S(S_CB))

/* Which spoilings each operation has an argument for. */
static const unsigned op_spoils[TIDE_OP_COUNT_] = {
    [TIDE_OP_READ] = S(S_FD) | S(S_BUF) | S(S_FLAGS) | S(S_OFF),
    [TIDE_OP_WRITE] = S(S_FD) | S(S_BUF) | S(S_FLAGS) | S(S_OFF),
    [TIDE_OP_READV] = S(S_FD) | S(S_IOV) | S(S_FLAGS) | S(S_VEC_FLAGS) | S(S_IOVCNT0) |
                      S(S_IOVCNT_MAX) | S(S_OFF),
    [TIDE_OP_WRITEV] = S(S_FD) | S(S_IOV) | S(S_FLAGS) | S(S_VEC_FLAGS) | S(S_IOVCNT0) |
                       S(S_IOVCNT_MAX) | S(S_OFF),
    [TIDE_OP_RECV] = S(S_FD) | S(S_BUF) | S(S_FLAGS),
    [TIDE_OP_SEND] = S(S_FD) | S(S_BUF) | S(S_FLAGS),
    [TIDE_OP_RECVMSG] = S(S_FD) | S(S_MSG),
    [TIDE_OP_SENDMSG] = S(S_FD) | S(S_MSG),
    [TIDE_OP_ACCEPT] = S(S_FD) | S(S_ACC_NOLEN) | S(S_FLAGS) | S(S_SOCK_FLAGS) | S(S_MSHOT_ADDR),
    [TIDE_OP_CONNECT] = S(S_FD) | S(S_ADDR) | S(S_ADDRLEN0) | S(S_ADDRLEN_BIG),
    [TIDE_OP_SHUTDOWN] = S(S_FD) | S(S_HOW),
    [TIDE_OP_CLOSE] = S(S_FD),
    [TIDE_OP_OPENAT] = S(S_PATH),
    [TIDE_OP_STATX] = S(S_PATH) | S(S_STX),
    [TIDE_OP_FSYNC] = S(S_FD) | S(S_FLAGS),
    [TIDE_OP_FALLOCATE] = S(S_FD) | S(S_FALLOC_OFF) | S(S_FALLOC_LEN),
    [TIDE_OP_UNLINKAT] = S(S_PATH),
    [TIDE_OP_RENAMEAT] = S(S_PATH) | S(S_PATH2),
    [TIDE_OP_MKDIRAT] = S(S_PATH),
    [TIDE_OP_SPLICE] = S(S_FD) | S(S_FD2) | S(S_FLAGS) | S(S_OFF) | S(S_OFF2),
    [TIDE_OP_SENDFILE] = S(S_FD) | S(S_FD2) | S(S_OFF),
    [TIDE_OP_WORK] = S(S_FN),
    [TIDE_OP_RECV_POOL] = S(S_FD) | S(S_POOL),
};

static void spoil(int s, struct sargs *a) {
  switch (s) {
    case S_LOOP: a->loop = NULL; break;
    case S_REQ: a->req = NULL; break;
    case S_CB: a->cb = NULL; break;
    case S_BUF: a->buf = NULL; break; /* len stays non-zero */
    case S_IOV: a->iov = NULL; break;
    case S_MSG: a->msg = NULL; break;
    case S_ADDR: a->addr = NULL; break;
    case S_ACC_NOLEN: a->acc_addr = (struct sockaddr *)&a->acc_ss; break;
    case S_PATH: a->path = NULL; break;
    case S_PATH2: a->path2 = NULL; break;
    case S_STX: a->stx = NULL; break;
    case S_FN: a->fn = NULL; break;
    case S_POOL: a->pool = NULL; break;
    case S_FLAGS: a->flags = 0x80u; break;
    case S_VEC_FLAGS: a->flags = TIDE_ALL; break;
    case S_SOCK_FLAGS: a->sock_flags = 0x1; break;
    case S_IOVCNT0: a->iovcnt = 0; break;
    case S_IOVCNT_MAX: a->iovcnt = IOV_MAX + 1; break;
    case S_OFF: a->off = -2; break;
    case S_OFF2: a->off2 = -2; break;
    case S_ADDRLEN0: a->addrlen = 0; break;
    case S_ADDRLEN_BIG: a->addrlen = 129; break;
    case S_HOW: a->how = 99; break;
    case S_FALLOC_OFF: a->falloc_off = -1; break;
    case S_FALLOC_LEN: a->falloc_len = 0; break;
    case S_MSHOT_ADDR:
      a->flags = TIDE_MULTISHOT;
      a->acc_addr = (struct sockaddr *)&a->acc_ss;
      a->acc_addrlen = &a->acc_sslen;
      break;
    case S_FD: a->fd = -1; break;
    case S_FD2: a->fd2 = -1; break;
    default: break;
  }
}

/* For every operation and every spoiling in [first, last] it has an argument
 * for: submit with that one argument spoiled and expect want. Returns the number
 * of submits tried. */
static int expect_spoiled(const struct sargs *good, int first, int last, int want) {
  char ctx[64];
  int tried = 0;
  for (int op = 0; op < TIDE_OP_COUNT_; op++)
    for (int s = first; s <= last; s++) {
      if (!((op_spoils[op] | S_EVERY_OP) & S(s))) continue;
      struct sargs a = *good;
      spoil(s, &a);
      snprintf(ctx, sizeof ctx, "%s, %s", op_names[op], spoil_names[s]);
      g_ctx = ctx;
      EXPECT(submit_op(op, &a), want);
      tried++;
    }
  g_ctx = "";
  return tried;
}

/* What the good arguments point to. Never used by a submit that succeeds: the
 * paths are in a directory that does not exist, and every test expects the
 * submits it makes with them to fail. */
static struct {
  int sv[2];
  char buf[8];
  struct iovec iov;
  struct msghdr msg;
  struct sockaddr_in sin;
  struct statx stx;
} g_res;

static void work_fn(tide_req *req) { (void)req; }

/* A loop, a record for the request, and good arguments for every submit. */
static tide_loop *req_setup(struct sargs *a, tt_req *r) {
  tide_loop *loop = tt_loop();
  tt_req_init(r);
  memset(&g_res, 0, sizeof g_res);
  tt_socketpair(g_res.sv);
  g_res.iov.iov_base = g_res.buf;
  g_res.iov.iov_len = sizeof g_res.buf;
  g_res.msg.msg_iov = &g_res.iov;
  g_res.msg.msg_iovlen = 1;
  g_res.sin.sin_family = AF_INET;
  g_res.sin.sin_port = htons(9);
  g_res.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  memset(a, 0, sizeof *a);
  OK(tide_bufpool_new(loop, &a->pool, 4, 64));
  a->loop = loop;
  a->req = &r->req;
  a->cb = tt_req_cb;
  a->fd = g_res.sv[0];
  a->fd2 = g_res.sv[1];
  a->buf = g_res.buf;
  a->len = sizeof g_res.buf;
  a->iov = &g_res.iov;
  a->iovcnt = 1;
  a->off = a->off2 = -1;
  a->msg = &g_res.msg;
  a->addr = (struct sockaddr *)&g_res.sin;
  a->addrlen = sizeof g_res.sin;
  a->acc_sslen = sizeof a->acc_ss;
  a->how = SHUT_RDWR;
  a->path = "/nonexistent-tide-misuse/a";
  a->path2 = "/nonexistent-tide-misuse/b";
  a->stx = &g_res.stx;
  a->fn = work_fn;
  a->falloc_len = 1;
  return loop;
}

/* Nothing is left in flight, no callback came, and everything is released. */
static void req_teardown(const struct sargs *a, const tt_req *r, int want_calls) {
  EXPECT(tide_run(a->loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(r->calls, want_calls, "%d callbacks, want %d", r->calls, want_calls);
  OK(tide_bufpool_free(a->pool));
  tt_close2(g_res.sv);
  tt_free(a->loop);
}

/* A row that spoils one argument at a time: spoilings [first, last], tried
 * times in all, each refused with want; nothing is left in flight. */
static void spoiled_submits(int first, int last, int want, int tried) {
  struct sargs good;
  tt_req r;
  req_setup(&good, &r);
  cr_assert_eq(expect_spoiled(&good, first, last, want), tried);
  req_teardown(&good, &r, 0);
}

/* Row 31 of tide(7) MISUSE: misuse::request_null_pointer */
Test(misuse, request_null_pointer) {
  struct sargs good;
  tt_req r;
  tide_loop *loop = req_setup(&good, &r);
  void *ptr = &r;
  cr_assert_eq(expect_spoiled(&good, S_LOOP, S_CB, -EINVAL), 3 * TIDE_OP_COUNT_);
  EXPECT(tide_cancel(NULL, &r.req), -EINVAL);
  EXPECT(tide_cancel(loop, NULL), -EINVAL);
  EXPECT(tide_req_more(NULL), -EINVAL);
  EXPECT(tide_req_set_timeout(NULL, 1), -EINVAL);
  EXPECT(tide_req_buffer(NULL, &ptr), -EINVAL);
  EXPECT(tide_bufpool_free(NULL), -EINVAL);
  EXPECT(tide_bufpool_put(NULL, 0), -EINVAL);
  cr_assert_eq(ptr, (void *)&r, "*ptr written on failure");
  req_teardown(&good, &r, 0);
}

/* Row 32 of tide(7) MISUSE: misuse::submit_null_argument */
Test(misuse, submit_null_argument) { spoiled_submits(S_BUF, S_POOL, -EINVAL, 19); }

/* Row 33 of tide(7) MISUSE: misuse::submit_unknown_flags */
Test(misuse, submit_unknown_flags) { spoiled_submits(S_FLAGS, S_SOCK_FLAGS, -EINVAL, 12); }

/* Row 34 of tide(7) MISUSE: misuse::submit_argument_out_of_range */
Test(misuse, submit_argument_out_of_range) {
  spoiled_submits(S_IOVCNT0, S_MSHOT_ADDR, -EINVAL, 17);
}

/* Row 35 of tide(7) MISUSE: misuse::submit_negative_fd */
Test(misuse, submit_negative_fd) { spoiled_submits(S_FD, S_FD2, -EBADF, 19); }

/* Row 36 of tide(7) MISUSE: misuse::submit_request_in_flight */
Test(misuse, submit_request_in_flight) {
  struct sargs good;
  tt_req r;
  char in[4];
  tide_loop *loop = req_setup(&good, &r);
  OK(tide_recv(loop, &r.req, g_res.sv[0], in, sizeof in, 0, 0, tt_req_cb));
  cr_assert_eq(expect_spoiled(&good, S_NONE, S_NONE, -EBUSY), TIDE_OP_COUNT_);
  tide_loop *other = tt_loop();
  EXPECT(tide_nop(other, &r.req, tt_req_cb), -EBUSY);
  EXPECT(tide_run(other, TIDE_RUN_NOWAIT), 0);
  tt_free(other);
  /* the request in flight is undisturbed */
  cr_assert_eq(write(g_res.sv[1], "data", 4), 4);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "the recv never completed");
  cr_assert_eq(r.res, 4);
  cr_assert_eq(memcmp(in, "data", 4), 0);
  req_teardown(&good, &r, 1);
}

/* Row 37 of tide(7) MISUSE: misuse::set_timeout_in_flight */
Test(misuse, set_timeout_in_flight) {
  struct sargs good;
  tt_req r;
  char in[4];
  tide_loop *loop = req_setup(&good, &r);
  OK(tide_recv(loop, &r.req, g_res.sv[0], in, sizeof in, 0, 0, tt_req_cb));
  EXPECT(tide_req_set_timeout(&r.req, 1), -EBUSY);
  EXPECT(tide_req_set_timeout(&r.req, 0), -EBUSY);
  tt_spin_ns(TT_MS(2)); /* far past the refused 1 ns timeout */
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r.calls, 0, "the refused timeout applied: res %zd", r.res);
  cr_assert_eq(write(g_res.sv[1], "late", 4), 4);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)), "the recv never completed");
  cr_assert_eq(r.res, 4);
  req_teardown(&good, &r, 1);
}

/* A request whose final callback tries to cancel it. */
struct self_cancel {
  tide_req req;
  int calls, rc, err;
};

static void self_cancel_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct self_cancel *s = req->data;
  (void)res;
  errno = SENTINEL;
  s->rc = tide_cancel(loop, req);
  s->err = errno;
  s->calls++;
}

/* Row 38 of tide(7) MISUSE: misuse::cancel_not_in_flight */
Test(misuse, cancel_not_in_flight) {
  tide_loop *loop = tt_loop(), *other = tt_loop();
  tt_req r;
  tt_req_init(&r);
  EXPECT(tide_cancel(loop, &r.req), -ENOENT); /* never submitted */
  int sv[2];
  char in[4];
  tt_socketpair(sv);
  OK(tide_recv(loop, &r.req, sv[0], in, sizeof in, 0, 0, tt_req_cb));
  EXPECT(tide_cancel(other, &r.req), -ENOENT); /* in flight on another loop */
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 1);
  cr_assert_eq(r.calls, 0, "the refused cancel ended the request");
  cr_assert_eq(write(sv[1], "done", 4), 4);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)));
  cr_assert_eq(r.res, 4);
  EXPECT(tide_cancel(loop, &r.req), -ENOENT); /* completed */
  struct self_cancel s;
  memset(&s, 0, sizeof s);
  s.req.data = &s;
  OK(tide_nop(loop, &s.req, self_cancel_cb));
  cr_assert(tt_run_until(loop, &s.calls, 1, TT_SEC(10)));
  cr_assert_eq(s.rc, -ENOENT, "cancel from its own final callback: %d", s.rc);
  cr_assert_eq(s.err, SENTINEL);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(s.calls, 1);
  tt_close2(sv);
  tt_free(other);
  tt_free(loop);
}

/* Row 39 of tide(7) MISUSE: misuse::cancel_twice */
Test(misuse, cancel_twice) {
  tide_loop *loop = tt_loop();
  tt_req r;
  int sv[2];
  char in[4];
  tt_req_init(&r);
  tt_socketpair(sv);
  OK(tide_recv(loop, &r.req, sv[0], in, sizeof in, 0, 0, tt_req_cb));
  OK(tide_cancel(loop, &r.req));
  EXPECT(tide_cancel(loop, &r.req), -EALREADY);
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)));
  cr_assert_eq(r.res, -ECANCELED);
  EXPECT(tide_run(loop, TIDE_RUN_NOWAIT), 0);
  cr_assert_eq(r.calls, 1, "one final callback only");
  tt_close2(sv);
  tt_free(loop);
}

/* A request that asks for its buffer in every callback and keeps what it gets. */
struct pooled {
  tide_req req;
  int calls, ended, buf_rc, buf_err, held;
  ssize_t res;
};

static void pooled_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct pooled *p = req->data;
  void *ptr = NULL;
  (void)loop;
  errno = SENTINEL;
  p->buf_rc = tide_req_buffer(req, &ptr);
  p->buf_err = errno;
  if (p->buf_rc >= 0) p->held = p->buf_rc;
  p->res = res;
  p->calls++;
  if (tide_req_more(req) == 0) p->ended = 1;
}

static void pooled_start(tide_loop *loop, struct pooled *p, int fd, tide_bufpool *pool) {
  memset(p, 0, sizeof *p);
  p->req.data = p;
  p->held = -1;
  OK(tide_recv_pool(loop, &p->req, fd, pool, pooled_cb));
}

/* A loop, a pool of two buffers, a socket pair, and one request on the pool. */
struct pool_rig {
  tide_loop *loop;
  tide_bufpool *pool;
  int sv[2];
  struct pooled p;
};

static void rig_up(struct pool_rig *g) {
  memset(g, 0, sizeof *g);
  g->loop = tt_loop();
  tt_socketpair(g->sv);
  OK(tide_bufpool_new(g->loop, &g->pool, 2, 64));
}

/* Sends 3 bytes to the request (started on sv[0]) and waits for them. */
static void rig_receive(struct pool_rig *g) {
  cr_assert_eq(write(g->sv[1], "abc", 3), 3);
  cr_assert(tt_run_until(g->loop, &g->p.calls, 1, TT_SEC(10)), "no data");
  cr_assert_eq(g->p.res, 3);
  cr_assert_geq(g->p.held, 0, "no buffer: %d", g->p.buf_rc);
}

/* Ends the request (a cancel, unless it ended) and frees everything. */
static void rig_down(struct pool_rig *g) {
  if (!g->p.ended) OK(tide_cancel(g->loop, &g->p.req));
  cr_assert(tt_run_until(g->loop, &g->p.ended, 1, TT_SEC(10)), "no final callback");
  OK(tide_bufpool_free(g->pool));
  tt_close2(g->sv);
  tt_free(g->loop);
}

/* Row 40 of tide(7) MISUSE: misuse::req_buffer_without_buffer */
Test(misuse, req_buffer_without_buffer, .init = pipe_up, .fini = pipe_down) {
  struct pool_rig g;
  rig_up(&g);
  cr_assert_eq(shutdown(g.sv[1], SHUT_WR), 0);
  pooled_start(g.loop, &g.p, g.sv[0], g.pool); /* its only callback is the EOF */
  cr_assert(tt_run_until(g.loop, &g.p.ended, 1, TT_SEC(10)), "no EOF");
  cr_assert_eq(g.p.res, 0);
  cr_assert_eq(g.p.buf_rc, -ENOENT, "EOF callback: %d", g.p.buf_rc);
  cr_assert_eq(g.p.buf_err, SENTINEL);
  pooled_start(g.loop, &g.p, g.sv[1], g.pool); /* ended by a cancellation */
  OK(tide_cancel(g.loop, &g.p.req));
  cr_assert(tt_run_until(g.loop, &g.p.ended, 1, TT_SEC(10)), "no final callback");
  cr_assert_eq(g.p.res, -ECANCELED);
  cr_assert_eq(g.p.buf_rc, -ENOENT, "cancelled: %d", g.p.buf_rc);
  cr_assert_eq(g.p.buf_err, SENTINEL);
  cr_assert(tt_write1(g_pipe[1]));
  pooled_start(g.loop, &g.p, g_pipe[0], g.pool); /* ended by an error: not a socket */
  cr_assert(tt_run_until(g.loop, &g.p.ended, 1, TT_SEC(10)), "no error");
  cr_assert_eq(g.p.res, -ENOTSOCK);
  cr_assert_eq(g.p.buf_rc, -ENOENT, "error callback: %d", g.p.buf_rc);
  cr_assert_eq(g.p.buf_err, SENTINEL);
  memset(&g.p, 0, sizeof g.p); /* a request of another kind */
  g.p.req.data = &g.p;
  OK(tide_nop(g.loop, &g.p.req, pooled_cb));
  cr_assert(tt_run_until(g.loop, &g.p.ended, 1, TT_SEC(10)));
  cr_assert_eq(g.p.buf_rc, -ENOENT, "nop callback: %d", g.p.buf_rc);
  cr_assert_eq(g.p.buf_err, SENTINEL);
  rig_down(&g);
}

/* Row 41 of tide(7) MISUSE: misuse::req_buffer_bad_arguments */
Test(misuse, req_buffer_bad_arguments) {
  tide_loop *loop = tt_loop();
  tt_req r;
  void *ptr = &r;
  tt_req_init(&r);
  EXPECT(tide_req_buffer(&r.req, &ptr), -EINVAL); /* never submitted: zeroed */
  memset(r.req.tide_private_, 0xA5, sizeof r.req.tide_private_);
  EXPECT(tide_req_buffer(&r.req, &ptr), -EINVAL); /* never submitted: garbage */
  tt_req_init(&r);
  OK(tide_nop(loop, &r.req, tt_req_cb));
  cr_assert(tt_run_until(loop, &r.calls, 1, TT_SEC(10)));
  EXPECT(tide_req_buffer(&r.req, NULL), -EINVAL);
  cr_assert_eq(ptr, (void *)&r, "*ptr written on failure");
  tt_free(loop);
}

/* Row 42 of tide(7) MISUSE: misuse::bufpool_new_bad_arguments */
Test(misuse, bufpool_new_bad_arguments) {
  tide_loop *loop = tt_loop();
  tide_bufpool *const mark = (tide_bufpool *)&g_calls;
  tide_bufpool *pool = mark;
  EXPECT(tide_bufpool_new(NULL, &pool, 4, 64), -EINVAL);
  EXPECT(tide_bufpool_new(loop, NULL, 4, 64), -EINVAL);
  EXPECT(tide_bufpool_new(loop, &pool, 0, 64), -EINVAL);
  EXPECT(tide_bufpool_new(loop, &pool, 3, 64), -EINVAL);
  EXPECT(tide_bufpool_new(loop, &pool, 65536, 64), -EINVAL);
  EXPECT(tide_bufpool_new(loop, &pool, 4, 0), -EINVAL);
  EXPECT(tide_bufpool_new(loop, &pool, 4, ((size_t)1 << 31) + 1), -EINVAL);
  cr_assert_eq(pool, mark, "*out written on failure");
  tt_free(loop); /* no pool was made: nothing holds the loop */
}

/* Row 43 of tide(7) MISUSE: misuse::bufpool_put_bad_id */
Test(misuse, bufpool_put_bad_id) {
  static const int bad[] = {-1, 4, INT_MAX, INT_MIN};
  tide_loop *loop = tt_loop();
  tide_bufpool *pool = NULL;
  OK(tide_bufpool_new(loop, &pool, 4, 64));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    EXPECT(tide_bufpool_put(pool, bad[i]), -EINVAL);
  OK(tide_bufpool_free(pool));
  tt_free(loop);
}

/* Row 44 of tide(7) MISUSE: misuse::bufpool_put_twice */
Test(misuse, bufpool_put_twice) {
  struct pool_rig g;
  rig_up(&g);
  EXPECT(tide_bufpool_put(g.pool, 0), -EALREADY); /* never taken out */
  pooled_start(g.loop, &g.p, g.sv[0], g.pool);
  rig_receive(&g);
  OK(tide_bufpool_put(g.pool, g.p.held));
  EXPECT(tide_bufpool_put(g.pool, g.p.held), -EALREADY); /* put back twice */
  rig_down(&g);
}

/* Row 45 of tide(7) MISUSE: misuse::bufpool_free_in_use */
Test(misuse, bufpool_free_in_use) {
  struct pool_rig g;
  rig_up(&g);
  pooled_start(g.loop, &g.p, g.sv[0], g.pool);
  EXPECT(tide_bufpool_free(g.pool), -EBUSY);
  rig_receive(&g); /* the pool and the request go on working */
  OK(tide_bufpool_put(g.pool, g.p.held));
  rig_down(&g);
}
