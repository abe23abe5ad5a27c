/* SPDX-License-Identifier: MIT */
/*
 * tide.h - libtide, an embeddable event loop and asynchronous I/O library.
 *
 * C99 header; also valid C++. The implementation is C++ behind this extern "C"
 * boundary: no function declared here throws, aborts or changes errno.
 *
 * Conventions that hold for every function below unless its comment says otherwise:
 *   - Return value: 0 (or a non-negative count) on success, a negative errno
 *     value (-EINVAL, -EBADF, ...) on failure. tide_strerror() names them.
 *   - Times are nanoseconds of CLOCK_MONOTONIC (uint64_t).
 *   - A NULL loop or watcher pointer gives -EINVAL.
 *   - A watcher struct that never went through its tide_X_init() gives -EINVAL
 *     (the init call writes a signature into the private storage).
 *   - Threads: a loop and its watchers belong to one thread at a time. The only
 *     functions that may be called from any thread are tide_async_send() and
 *     tide_loop_wakeup(). Different loops in different threads are independent.
 *   - Watchers are caller-allocated. The library keeps a pointer to a watcher from
 *     its successful start until it is stopped (explicitly, or automatically:
 *     TIDE_ONESHOT, a non-repeating timer firing, an fd error), and while an event
 *     for it is pending (tide_feed_event); the caller must not free or move it in
 *     between. A callback may stop, restart, re-init or free its own watcher.
 *
 * Behaviour follows libev (ev.pod) where libev has the concept: iteration order,
 * timer "again" semantics, priorities, feed_event, ref/unref of the loop.
 * Full documentation: tide(7) and one manual page per function (man 3 tide_run).
 */
#ifndef TIDE_H
#define TIDE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct sockaddr, struct msghdr, socklen_t */
#include <sys/types.h>  /* ssize_t, mode_t */
#include <sys/uio.h>    /* struct iovec */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define TIDE_API __attribute__((visibility("default")))
#else
#define TIDE_API
#endif

/* In C++ the functions are declared noexcept: none of them throws. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define TIDE_NOEXCEPT noexcept
#else
#define TIDE_NOEXCEPT
#endif

/* ---------------------------------------------------------------- version */

#define TIDE_VERSION_MAJOR 1
#define TIDE_VERSION_MINOR 0
#define TIDE_VERSION_PATCH 0
/* The version as one number: (major << 16) | (minor << 8) | patch. */
#define TIDE_VERSION_NUMBER \
  ((TIDE_VERSION_MAJOR << 16) | (TIDE_VERSION_MINOR << 8) | TIDE_VERSION_PATCH)

/* tide_version - the version of the library actually loaded at run time.
 * Returns (major << 16) | (minor << 8) | patch, to compare with
 * TIDE_VERSION_NUMBER (the header the program was compiled against).
 * Never fails. Thread-safe. */
TIDE_API unsigned tide_version(void) TIDE_NOEXCEPT;

/* tide_strerror - a static, human-readable description of an error code.
 * err: a negative errno as returned by libtide, or a positive errno (both work).
 * Returns a pointer to a constant string (never NULL) that stays valid for the
 * life of the process; unknown codes give "Unknown error". Unlike strerror(3) it
 * never writes a shared buffer, so it is thread-safe. */
TIDE_API const char *tide_strerror(int err) TIDE_NOEXCEPT;

/* tide_err_name - the symbolic name of an error code: "EBUSY" for -EBUSY.
 * err: a negative errno as returned by libtide, or a positive errno (both work);
 * 0 gives "0". Returns a pointer to a constant string (never NULL) that stays
 * valid for the life of the process; a code with no name gives "UNKNOWN". For
 * logs, bindings and protocols that need a stable token rather than the English
 * text of tide_strerror(). Never fails. Thread-safe. Follows libuv's
 * uv_err_name() (without its allocation for unknown codes) and glibc's
 * strerrorname_np(3). */
TIDE_API const char *tide_err_name(int err) TIDE_NOEXCEPT;

/* ---------------------------------------------------------------- backends */

/* Backend bits for tide_loop_options.backends and tide_backends_supported(). */
#define TIDE_BACKEND_URING  0x01u /* io_uring (liburing), Linux >= 5.11 */
#define TIDE_BACKEND_EPOLL  0x02u /* epoll(7) */
#define TIDE_BACKEND_POLL   0x04u /* poll(2) / ppoll(2) */
#define TIDE_BACKEND_SELECT 0x08u /* select(2) / pselect(2); fds < FD_SETSIZE only */
#define TIDE_BACKEND_ALL    0x0fu

/* tide_backends_supported - which backends this build and the running kernel
 * allow, as a TIDE_BACKEND_* mask. io_uring is probed once per process by
 * creating and destroying a small ring; a kernel with io_uring disabled
 * (kernel.io_uring_disabled, seccomp, a kernel older than 5.11) clears its bit.
 * Never fails. Thread-safe. */
TIDE_API unsigned tide_backends_supported(void) TIDE_NOEXCEPT;

/* tide_backends_built - which backends were compiled into this library, as a
 * TIDE_BACKEND_* mask, whatever the running kernel allows. epoll, poll and
 * select are always built; io_uring is built unless the library was configured
 * with --disable-uring. A bit set here and clear in tide_backends_supported()
 * means the running kernel refuses that backend (too old, kernel.io_uring_disabled,
 * seccomp); a bit clear here means this build cannot run it on any kernel.
 * Never fails. Thread-safe. */
TIDE_API unsigned tide_backends_built(void) TIDE_NOEXCEPT;

/* tide_backend_from_name - the TIDE_BACKEND_* mask that names spells: one backend
 * name or a comma-separated list ("epoll,poll"), the syntax of the TIDE_BACKEND
 * environment variable, for programs that take a backend on their command line.
 * Names: "uring" or "io_uring", "epoll", "poll", "select"; exact and
 * case-sensitive; commas and spaces between names are skipped.
 * Returns the mask (> 0), or -EINVAL when names is NULL, holds no name, or holds
 * a name that is not a backend's. Whether the backends are built or allowed by
 * the kernel is another question: tide_backends_built(), tide_backends_supported().
 * Never fails otherwise. Thread-safe. */
TIDE_API int tide_backend_from_name(const char *names) TIDE_NOEXCEPT;

/* tide_backend_name - the name of one backend: "io_uring", "epoll", "poll" or
 * "select" for TIDE_BACKEND_URING, _EPOLL, _POLL, _SELECT, the same string
 * tide_loop_backend() reports for a loop running it. Returns a static string, or
 * NULL when backend is not exactly one of those bits. Thread-safe. */
TIDE_API const char *tide_backend_name(unsigned backend) TIDE_NOEXCEPT;

/* ---------------------------------------------------------------- loops */

typedef struct tide_loop tide_loop; /* opaque */

/* Loop flags for tide_loop_options.flags. */
#define TIDE_LOOP_NOENV  0x01u /* ignore the TIDE_BACKEND environment variable */
#define TIDE_LOOP_SQPOLL 0x02u /* io_uring: ask for a kernel submission-queue polling
                                   thread (IORING_SETUP_SQPOLL); ignored elsewhere,
                                   silently dropped if the kernel refuses it */

/* Options for tide_loop_new(). Extensible: set size to sizeof(struct
 * tide_loop_options) (the size the program was compiled with). A library that is
 * newer accepts a smaller size and uses defaults for the missing fields; a library
 * that is older accepts a larger size only if the bytes it does not know are all
 * zero (otherwise -E2BIG), as Linux does for extensible syscall structs. */
struct tide_loop_options {
  size_t size;             /* sizeof(struct tide_loop_options) */
  unsigned backends;       /* TIDE_BACKEND_* mask allowed; 0 means all */
  unsigned flags;          /* TIDE_LOOP_* */
  unsigned uring_entries;  /* io_uring submission queue entries; 0 means 1024 (the completion queue is twice that) */
  unsigned sqpoll_idle_ms; /* with TIDE_LOOP_SQPOLL: kernel thread idle time, ms */
};

/* tide_loop_new - create an event loop.
 * out: receives the loop on success; untouched on failure. opt: may be NULL
 * (all backends allowed, environment honoured, defaults).
 * The loop runs the best backend allowed: io_uring > epoll > poll > select,
 * among opt->backends intersected with tide_backends_supported(). Unless
 * TIDE_LOOP_NOENV is set, the environment variable TIDE_BACKEND (a comma list of
 * "uring", "epoll", "poll", "select") narrows the choice further, as libev's
 * LIBEV_FLAGS does; if it names nothing usable it is ignored and
 * tide_loop_fallback_reason() says so. When a better backend was allowed but
 * could not be set up, the loop silently falls back to the next one and
 * tide_loop_fallback_reason() says why.
 * Returns 0, or -EINVAL (out NULL, opt->size too small to hold size, unknown
 * flags or backend bits), -E2BIG (opt->size larger than known with non-zero tail),
 * -ENOSYS (none of the allowed backends is available), -ENOMEM, -EMFILE/-ENFILE
 * (no file descriptors left for the backend or the wakeup eventfd).
 * The loop is owned by the caller; release it with tide_loop_free(). */
TIDE_API int tide_loop_new(tide_loop **out, const struct tide_loop_options *opt) TIDE_NOEXCEPT;

/* tide_loop_free - destroy a loop and close its kernel objects.
 * Refuses, returning -EBUSY and changing nothing, while any watcher is active
 * on it (stop them first; this is what keeps caller-owned watchers from
 * dangling). Pending but inactive watchers (tide_feed_event) are dropped.
 * Returns 0, -EINVAL (NULL), -EBUSY (active watchers, requests in flight, or
 * buffer pools not yet freed with tide_bufpool_free), -EDEADLK (called from a
 * callback while tide_run() is running on this loop). Must not be called from
 * another thread than the loop's. */
TIDE_API int tide_loop_free(tide_loop *loop) TIDE_NOEXCEPT;

/* tide_loop_backend - the name of the backend this loop runs: "io_uring",
 * "epoll", "poll" or "select". A static string; NULL only for a NULL loop. */
TIDE_API const char *tide_loop_backend(const tide_loop *loop) TIDE_NOEXCEPT;

/* tide_loop_fallback_reason - why this loop is not running the best backend it
 * was allowed (e.g. "io_uring: io_uring_queue_init: Operation not permitted"),
 * or that TIDE_BACKEND named nothing usable and was ignored; NULL if it runs its
 * first choice (narrowing the choice with options or TIDE_BACKEND is not a
 * fallback). The string lives as long as the loop. */
TIDE_API const char *tide_loop_fallback_reason(const tide_loop *loop) TIDE_NOEXCEPT;

/* tide_loop_set_data / tide_loop_get_data - one user pointer per loop, never
 * touched by libtide. set returns 0 or -EINVAL (NULL loop); get returns the
 * pointer, or NULL for a NULL loop. */
TIDE_API int tide_loop_set_data(tide_loop *loop, void *data) TIDE_NOEXCEPT;
TIDE_API void *tide_loop_get_data(const tide_loop *loop) TIDE_NOEXCEPT;

/* tide_loop_fork - call in the child after fork(2) before using a loop that was
 * created in the parent: recreates the kernel objects (io_uring ring, epoll
 * instance, wakeup eventfd) and re-registers every active io watcher, as libev's
 * ev_loop_fork() does. Returns 0, -EINVAL, -ENOMEM, -EMFILE. */
TIDE_API int tide_loop_fork(tide_loop *loop) TIDE_NOEXCEPT;

/* tide_loop_wakeup - make a tide_run() that is blocked in the backend return
 * from the wait and run one more iteration. Thread-safe and async-signal-safe
 * (one write(2) to an eventfd; coalesced while a wakeup is already pending).
 * Returns 0 or -EINVAL. */
TIDE_API int tide_loop_wakeup(tide_loop *loop) TIDE_NOEXCEPT;

/* Modes for tide_run(). */
#define TIDE_RUN_DEFAULT 0 /* run until no active referenced watchers remain, or tide_stop() */
#define TIDE_RUN_ONCE    1 /* one iteration; block until at least one event if needed */
#define TIDE_RUN_NOWAIT  2 /* one iteration; never block */

/* tide_run - run the loop. Each iteration, in this order (libev's, ev.pod "ev_run"):
 *   1. update the loop time; 2. run prepare watchers (and anything pending);
 *   3. apply watcher changes to the kernel (one batch); 4. wait in the backend
 *   (one syscall; no wait when idle watchers are active, events are pending, the
 *   mode is NOWAIT or tide_stop() was called; otherwise until the next timer);
 *   5. update the loop time; 6. expired timers become pending; 7. idle watchers
 *   become pending if nothing else is; 8. check watchers become pending;
 *   9. pending callbacks run, priority TIDE_MAXPRI first, FIFO within a priority.
 * The loop is "alive" while active watchers exist, not counting the ones hidden by
 * tide_unref().
 * Returns 0 when the loop ran out of active referenced watchers, 1 when it
 * returned with some still active (tide_stop(), ONCE, NOWAIT), -EINVAL (NULL loop
 * or unknown mode), -EDEADLK (called from a callback of the same loop: libtide
 * does not nest runs), or a backend failure as -errno (the loop stays usable). */
TIDE_API int tide_run(tide_loop *loop, int mode) TIDE_NOEXCEPT;

/* tide_stop - make the running tide_run() return after the current iteration
 * (libev's ev_break(EVBREAK_ONE)). Called while the loop is not running, the next
 * tide_run() returns at once without iterating (1 if watchers are active, else 0)
 * and clears the request (libuv's uv_stop() behaves the same). Returns 0 or
 * -EINVAL. */
TIDE_API int tide_stop(tide_loop *loop) TIDE_NOEXCEPT;

/* tide_ref / tide_unref - adjust the loop's reference count, as libev's
 * ev_ref()/ev_unref(): tide_unref() after starting a watcher that should not
 * keep tide_run(DEFAULT) going (a signal or housekeeping watcher), tide_ref()
 * before stopping it again. Each active watcher holds one reference; tide_run
 * returns 0 when the count reaches zero. Returns 0, -EINVAL (NULL loop), or
 * -ERANGE when tide_unref() would take the count below zero. */
TIDE_API int tide_ref(tide_loop *loop) TIDE_NOEXCEPT;
TIDE_API int tide_unref(tide_loop *loop) TIDE_NOEXCEPT;

/* tide_now - the loop's cached time, in ns of CLOCK_MONOTONIC, updated once per
 * iteration (before and after the backend wait) and by tide_update_time().
 * Cheap: no syscall. Returns 0 for a NULL loop. */
TIDE_API uint64_t tide_now(const tide_loop *loop) TIDE_NOEXCEPT;

/* tide_update_time - refresh the cached loop time from the clock now (one
 * vDSO clock_gettime). Returns 0 or -EINVAL. */
TIDE_API int tide_update_time(tide_loop *loop) TIDE_NOEXCEPT;

/* ---------------------------------------------------------------- watchers */

/* Event bits. TIDE_READ/TIDE_WRITE select interest for io watchers; the others
 * are reported in the revents argument of callbacks. */
#define TIDE_READ    0x0001u
#define TIDE_WRITE   0x0002u
#define TIDE_EDGE    0x0010u /* io modifier: edge-triggered (see tide_io_init) */
#define TIDE_ONESHOT 0x0020u /* io modifier: stop the watcher after one event */
#define TIDE_TIMER   0x0100u
#define TIDE_IDLE    0x0200u
#define TIDE_PREPARE 0x0400u
#define TIDE_CHECK   0x0800u
#define TIDE_ASYNC   0x1000u
#define TIDE_CUSTOM  0x4000u /* free for tide_feed_event() */
#define TIDE_ERROR   0x8000u /* the watcher failed and was stopped (io: fd closed/invalid) */

/* Priorities: TIDE_MINPRI (-2) .. TIDE_MAXPRI (+2), default 0. */
#define TIDE_MINPRI (-2)
#define TIDE_MAXPRI 2

/* Private storage of a watcher: opaque, fixed size (part of the ABI). */
#define TIDE_PRIVATE_WORDS 12
#define TIDE_WATCHER_PRIVATE uint64_t tide_private_[TIDE_PRIVATE_WORDS]

typedef struct tide_io tide_io;
typedef struct tide_timer tide_timer;
typedef struct tide_idle tide_idle;
typedef struct tide_prepare tide_prepare;
typedef struct tide_check tide_check;
typedef struct tide_async tide_async;

/* Every watcher struct: one public member, data (never touched by libtide),
 * then private storage. */
struct tide_io      { void *data; TIDE_WATCHER_PRIVATE; };
struct tide_timer   { void *data; TIDE_WATCHER_PRIVATE; };
struct tide_idle    { void *data; TIDE_WATCHER_PRIVATE; };
struct tide_prepare { void *data; TIDE_WATCHER_PRIVATE; };
struct tide_check   { void *data; TIDE_WATCHER_PRIVATE; };
struct tide_async   { void *data; TIDE_WATCHER_PRIVATE; };

/* Callbacks, one type per watcher: (loop, the watcher, the events that fired). */
typedef void (*tide_io_cb)(tide_loop *loop, tide_io *w, unsigned revents);
typedef void (*tide_timer_cb)(tide_loop *loop, tide_timer *w, unsigned revents);
typedef void (*tide_idle_cb)(tide_loop *loop, tide_idle *w, unsigned revents);
typedef void (*tide_prepare_cb)(tide_loop *loop, tide_prepare *w, unsigned revents);
typedef void (*tide_check_cb)(tide_loop *loop, tide_check *w, unsigned revents);
typedef void (*tide_async_cb)(tide_loop *loop, tide_async *w, unsigned revents);

/* --- generic operations; w points to any tide_X watcher struct --- */

/* tide_is_active - 1 if the watcher is started, 0 if not, -EINVAL if w is NULL
 * or not initialised. */
TIDE_API int tide_is_active(const void *w) TIDE_NOEXCEPT;

/* tide_is_pending - 1 if the watcher has an event queued whose callback has not
 * run yet, 0 if not, -EINVAL. */
TIDE_API int tide_is_pending(const void *w) TIDE_NOEXCEPT;

/* tide_set_priority - set the priority (TIDE_MINPRI..TIDE_MAXPRI) used to order
 * pending callbacks: higher first, FIFO within one priority. Only while the
 * watcher is neither active nor pending (as in libev). Returns 0, -EINVAL (NULL,
 * not initialised, out of range), -EBUSY (active or pending). */
TIDE_API int tide_set_priority(void *w, int priority) TIDE_NOEXCEPT;

/* tide_get_priority - store the watcher's priority (TIDE_MINPRI..TIDE_MAXPRI)
 * in *out. Returns 0, or -EINVAL (w or out NULL, w not initialised). */
TIDE_API int tide_get_priority(const void *w, int *out) TIDE_NOEXCEPT;

/* tide_feed_event - queue the watcher's callback with revents as if the event had
 * happened (libev's ev_feed_event). The watcher need not be active; it must be
 * initialised and not active on another loop. If already pending, revents is
 * OR-ed into the pending events. The callback runs in the next pending phase of
 * this loop, never inside this call. Returns 0, -EINVAL (NULL, not initialised,
 * revents 0), -EBUSY (active or pending on another loop). */
TIDE_API int tide_feed_event(tide_loop *loop, void *w, unsigned revents) TIDE_NOEXCEPT;

/* --- io: readiness of a file descriptor --- */

/* tide_io_init - prepare an io watcher for fd (>= 0, owned by the caller, never
 * closed by libtide) and events: TIDE_READ and/or TIDE_WRITE, optionally with
 *   TIDE_EDGE: edge-triggered: notify when the fd becomes ready, not again until
 *     new readiness arrives (read/write until EAGAIN). Native on epoll (EPOLLET)
 *     and io_uring (multishot POLL_ADD); on poll and select, and when an fd has
 *     level-triggered watchers too, it is delivered level-triggered, which a
 *     program that drains to EAGAIN cannot tell apart (libevent's EV_ET does the
 *     same).
 *   TIDE_ONESHOT: the watcher is stopped just before its callback runs.
 * Default is level-triggered (epoll's and poll's default): the callback runs every
 * iteration while the fd is ready. Resets the watcher (inactive, not pending,
 * priority 0); must not be called while the watcher is active or pending (stop
 * it, or let its callback run, first).
 * Returns 0, -EINVAL (w or cb NULL, no READ/WRITE bit, unknown bits, w active or
 * pending),
 * -EBADF (fd < 0). */
TIDE_API int tide_io_init(tide_io *w, tide_io_cb cb, int fd, unsigned events) TIDE_NOEXCEPT;

/* tide_io_start - start watching. Several watchers may watch one fd.
 * Returns 0 (also when already active on this loop: no-op), -EINVAL,
 * -EBUSY (active on another loop), -EBADF (fd not open; checked when the loop
 * does not already watch this fd), -ERANGE (fd >= FD_SETSIZE on the select
 * backend), -ENOMEM. A regular file is always ready on every backend (epoll,
 * which refuses regular files, reports them ready as poll and select do).
 * An fd closed while watched: poll (POLLNVAL) and select (EBADF) report it at
 * the next wait: the watcher gets TIDE_ERROR in revents and is stopped. io_uring's
 * armed poll holds its own reference to the file, so the close is noticed when
 * that poll next completes (the file's next activity): the watcher may see that
 * readiness, then TIDE_ERROR when re-arming fails. epoll cannot see it (the kernel
 * drops the registration silently) and the watcher stays silent until stopped. */
TIDE_API int tide_io_start(tide_loop *loop, tide_io *w) TIDE_NOEXCEPT;

/* tide_io_stop - stop watching; clears a pending event. No syscall: the kernel
 * interest is updated once, before the next backend wait, so a stop followed by
 * a start in one iteration costs nothing. Returns 0 (also when inactive),
 * -EINVAL, -EBUSY (active on another loop). */
TIDE_API int tide_io_stop(tide_loop *loop, tide_io *w) TIDE_NOEXCEPT;

/* tide_io_modify - change the events (same bits as tide_io_init) of an active or
 * inactive watcher; an active one sees the change from the next backend wait.
 * Returns 0, -EINVAL. */
TIDE_API int tide_io_modify(tide_io *w, unsigned events) TIDE_NOEXCEPT;

/* tide_io_fd - the fd given to tide_io_init, or -EINVAL. */
TIDE_API int tide_io_fd(const tide_io *w) TIDE_NOEXCEPT;

/* --- timer: relative timeouts on the monotonic clock --- */

/* tide_timer_init - prepare a timer that fires after_ns nanoseconds after
 * tide_timer_start(), then every repeat_ns (0 = once). Returns 0, -EINVAL
 * (w or cb NULL, w active or pending). */
TIDE_API int tide_timer_init(tide_timer *w, tide_timer_cb cb, uint64_t after_ns,
                             uint64_t repeat_ns) TIDE_NOEXCEPT;

/* tide_timer_set - change after/repeat; used by the next start or again. Returns
 * 0, -EINVAL. */
TIDE_API int tide_timer_set(tide_timer *w, uint64_t after_ns, uint64_t repeat_ns) TIDE_NOEXCEPT;

/* tide_timer_start - arm the timer for after_ns from now, where now is read from
 * the clock at this call (so it never fires early, even when the loop's cached
 * time is stale). It fires in the first iteration whose time is >= the deadline;
 * timers with the same deadline fire in start order. A repeating timer is re-armed
 * relative to its previous deadline, not to the callback (no drift), skipping
 * missed periods. Returns 0 (also when already active), -EINVAL, -EBUSY (active on
 * another loop), -ENOMEM. */
TIDE_API int tide_timer_start(tide_loop *loop, tide_timer *w) TIDE_NOEXCEPT;

/* tide_timer_stop - disarm; clears a pending event. Returns 0, -EINVAL, -EBUSY. */
TIDE_API int tide_timer_stop(tide_loop *loop, tide_timer *w) TIDE_NOEXCEPT;

/* tide_timer_again - libev's ev_timer_again: if repeat_ns is non-zero, (re)arm the
 * timer for repeat_ns from now, whether it was active or not; if repeat_ns is 0,
 * stop it. The cheap way to implement an inactivity timeout. Returns 0, -EINVAL,
 * -EBUSY, -ENOMEM. */
TIDE_API int tide_timer_again(tide_loop *loop, tide_timer *w) TIDE_NOEXCEPT;

/* tide_timer_remaining - ns until an active timer fires, measured from
 * tide_now(loop) (0 if already due); the timer's after_ns if inactive. Returns
 * that count, or -EINVAL, -EBUSY (active on another loop). */
TIDE_API int64_t tide_timer_remaining(tide_loop *loop, const tide_timer *w) TIDE_NOEXCEPT;

/* --- idle, prepare, check: loop phases --- */

/* idle: runs in iterations where nothing else is pending; while one is active
 * the backend does not block. prepare: runs just before the backend wait. check:
 * runs just after it. None of them makes the loop return from a wait by itself.
 * revents is TIDE_IDLE, TIDE_PREPARE or TIDE_CHECK. init returns 0 or -EINVAL
 * (w or cb NULL, w active or pending); start/stop return 0 (no-op when already
 * in that state), -EINVAL, -EBUSY (active on another loop); start also -ENOMEM. */
TIDE_API int tide_idle_init(tide_idle *w, tide_idle_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_idle_start(tide_loop *loop, tide_idle *w) TIDE_NOEXCEPT;
TIDE_API int tide_idle_stop(tide_loop *loop, tide_idle *w) TIDE_NOEXCEPT;
TIDE_API int tide_prepare_init(tide_prepare *w, tide_prepare_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_prepare_start(tide_loop *loop, tide_prepare *w) TIDE_NOEXCEPT;
TIDE_API int tide_prepare_stop(tide_loop *loop, tide_prepare *w) TIDE_NOEXCEPT;
TIDE_API int tide_check_init(tide_check *w, tide_check_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_check_start(tide_loop *loop, tide_check *w) TIDE_NOEXCEPT;
TIDE_API int tide_check_stop(tide_loop *loop, tide_check *w) TIDE_NOEXCEPT;

/* --- async: wake a loop from another thread --- */

/* tide_async_init/start/stop - as for idle (init: -EINVAL also while w is
 * active or pending). An active async watcher's callback
 * runs (revents TIDE_ASYNC) in the loop's thread after tide_async_send(). */
TIDE_API int tide_async_init(tide_async *w, tide_async_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_async_start(tide_loop *loop, tide_async *w) TIDE_NOEXCEPT;
TIDE_API int tide_async_stop(tide_loop *loop, tide_async *w) TIDE_NOEXCEPT;

/* tide_async_send - from any thread (or a signal handler): ask for w's callback.
 * Sends coalesce: many sends before the loop notices give one callback, and a
 * send is never lost: after the last send returns, the callback runs at least
 * once more (libev's ev_async_send guarantee). At most one write(2) to the
 * loop's eventfd per wakeup; async-signal-safe. Memory written by the sender
 * before the send is visible to the callback (the send is a seq_cst atomic
 * operation). w should be active on loop and must stay alive; a send to an
 * inactive watcher is remembered and delivered once it is started on loop.
 * Returns 0 or -EINVAL (loop or w NULL, w not an initialised async watcher). */
TIDE_API int tide_async_send(tide_loop *loop, tide_async *w) TIDE_NOEXCEPT;

/* ================================================================ requests
 *
 * Completion requests (the proactor half; tide-requests(7)). The program hands
 * the loop an operation and its buffers; the loop calls back once the operation
 * is done. One program runs on every backend: io_uring runs the operations
 * natively (one SQE each, all of an iteration submitted in one batch); epoll,
 * poll and select run socket and pipe operations as non-blocking syscalls when
 * the fd is ready (FIFO per fd and direction), and file and path operations on a
 * thread pool. tide_op_support() tells which way each runs.
 *
 * Lifetime: a tide_req is caller-allocated and needs no initialisation (it may be
 * zeroed or not). It belongs to the library from a successful submit until its
 * final callback (for multishot requests: the one where tide_req_more(req) == 0);
 * the library lets go of it just before that callback runs, so the callback may
 * resubmit or free it. So do the buffers, iovecs, addresses and paths given to the
 * submit: they must stay valid and untouched until the final callback. A failed
 * submit (negative return) never calls back and does not take ownership of
 * anything.
 * Order: stream operations on one fd (recv, send, recvmsg, sendmsg, and read,
 * write, readv, writev at offset -1) run one at a time per direction and complete
 * in submit order, on every backend; operations at explicit offsets run in
 * parallel (a queue depth of 32 file reads is 32 operations in flight).
 * Callbacks never run inside the submitting call; they run in the pending phase
 * of tide_run(), before the watcher callbacks of that iteration, in completion
 * order. In-flight requests keep tide_run(DEFAULT) alive, like active watchers
 * (tide_ref/tide_unref apply), and tide_loop_free() refuses (-EBUSY) while any
 * is in flight.
 * Results: res >= 0 is the operation's result (bytes moved, a new fd, 0);
 * res < 0 is -errno as the matching syscall would have set it, plus -ECANCELED
 * (tide_cancel) and -ETIMEDOUT (tide_req_set_timeout).
 * Submit functions return 0 or: -EINVAL (NULL loop/req/cb/buffer with non-zero
 * length, unknown flags, an argument out of its documented range), -EBUSY (req is
 * already in flight), -EBADF (a descriptor argument < 0; directory fds such as
 * AT_FDCWD are passed to the kernel unchecked), -ENOMEM, -EAGAIN (the thread pool
 * could not start a thread), -EOPNOTSUPP (the operation cannot run on this loop:
 * tide_op_support() says TIDE_OP_UNSUPPORTED). Errors of the operation itself (a
 * closed fd, EOF, ECONNRESET...) arrive in the callback, never from the submit.
 * Offsets: int64_t byte offsets; -1 means "the file's current position" (and
 * advances it), as read(2)/write(2) do, where the operation takes -1.
 * On epoll, poll and select, nop, shutdown and close run inside the submit (their
 * callback still comes later), the first attempt of a socket or pipe operation is
 * made inside the submit, and splice, and connect/sendfile on blocking-mode
 * sockets, run on the thread pool.
 */

typedef struct tide_req tide_req;
typedef struct tide_bufpool tide_bufpool; /* opaque */

#define TIDE_REQ_PRIVATE_WORDS 44
struct tide_req { void *data; uint64_t tide_private_[TIDE_REQ_PRIVATE_WORDS]; };

/* res: the result (>= 0) or -errno. */
typedef void (*tide_req_cb)(tide_loop *loop, tide_req *req, ssize_t res);
/* A function run on the thread pool by tide_work(); must not touch the loop. */
typedef void (*tide_work_fn)(tide_req *req);

/* Request flags (the unsigned flags argument of read, write, recv, send, accept
 * and fsync; splice and renameat take the kernel's SPLICE_F_* and RENAME_*). */
#define TIDE_ALL       0x01u /* read/recv/write/send: complete only when all len bytes
                                 moved, or on EOF/error; res is the count moved (if
                                 some bytes moved before an error, res is that count
                                 and the error is dropped, as for a short read) */
#define TIDE_MULTISHOT 0x02u /* accept: keep accepting, one callback per connection */
#define TIDE_DATASYNC  0x04u /* fsync: fdatasync(2) instead of fsync(2) */

/* Operations, for tide_op_support(). */
enum tide_op {
  TIDE_OP_NOP, TIDE_OP_READ, TIDE_OP_WRITE, TIDE_OP_READV, TIDE_OP_WRITEV,
  TIDE_OP_RECV, TIDE_OP_SEND, TIDE_OP_RECVMSG, TIDE_OP_SENDMSG, TIDE_OP_ACCEPT,
  TIDE_OP_CONNECT, TIDE_OP_SHUTDOWN, TIDE_OP_CLOSE, TIDE_OP_OPENAT, TIDE_OP_STATX,
  TIDE_OP_FSYNC, TIDE_OP_FALLOCATE, TIDE_OP_UNLINKAT, TIDE_OP_RENAMEAT,
  TIDE_OP_MKDIRAT, TIDE_OP_SPLICE, TIDE_OP_SENDFILE, TIDE_OP_SLEEP, TIDE_OP_WORK,
  TIDE_OP_RECV_POOL,
  TIDE_OP_COUNT_ /* number of operations; not an operation */
};

/* tide_op_support results. */
#define TIDE_OP_UNSUPPORTED 0 /* cannot run on this loop */
#define TIDE_OP_EMULATED    1 /* runs, through readiness + syscall or the thread pool */
#define TIDE_OP_NATIVE      2 /* runs as an io_uring operation */

/* tide_op_support - how this loop runs op: TIDE_OP_NATIVE, TIDE_OP_EMULATED or
 * TIDE_OP_UNSUPPORTED. On io_uring, decided once at loop creation from
 * IORING_REGISTER_PROBE; every op the kernel lacks is emulated. Returns that
 * value, or -EINVAL (NULL loop, op out of range). */
TIDE_API int tide_op_support(const tide_loop *loop, int op) TIDE_NOEXCEPT;

/* tide_req_more - inside a callback: 1 if more callbacks will follow for this
 * multishot request, 0 if this is the last (the request is then finished and
 * may be reused). 0 for a single-shot request. -EINVAL when req is NULL or was
 * never submitted nor given a timeout (tide_req_set_timeout). */
TIDE_API int tide_req_more(const tide_req *req) TIDE_NOEXCEPT;

/* tide_req_set_timeout - before submitting req: make it complete with -ETIMEDOUT
 * if it has not completed ns nanoseconds after the submit (io_uring: a linked
 * timeout, IORING_OP_LINK_TIMEOUT; elsewhere a loop timer). Applies to the next
 * submit only. ns = 0 removes it. Returns 0, -EINVAL (NULL), -EBUSY (in flight). */
TIDE_API int tide_req_set_timeout(tide_req *req, uint64_t ns) TIDE_NOEXCEPT;

/* tide_cancel - ask an in-flight request to finish early. Exactly one final
 * callback still follows: with -ECANCELED, or with the real result if the
 * operation completed first (it may already be queued). Cancelling a request
 * that is running on the thread pool waits for it to finish. Returns 0 (the
 * cancellation was requested), -EINVAL (NULL), -ENOENT (req is not in flight on
 * this loop), -EALREADY (a cancel was already requested). */
TIDE_API int tide_cancel(tide_loop *loop, tide_req *req) TIDE_NOEXCEPT;

/* --- submit functions; see the section comment for the shared rules --- */

/* tide_nop - complete with res 0 in the next iteration (io_uring: IORING_OP_NOP). */
TIDE_API int tide_nop(tide_loop *loop, tide_req *req, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_read / tide_write - read(2)/pread(2), write(2)/pwrite(2) of len bytes at
 * offset (-1: current position) on any fd. flags: TIDE_ALL. res: bytes moved
 * (0 = EOF for read). */
TIDE_API int tide_read(tide_loop *loop, tide_req *req, int fd, void *buf, size_t len,
                       int64_t offset, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_write(tide_loop *loop, tide_req *req, int fd, const void *buf, size_t len,
                        int64_t offset, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_readv / tide_writev - readv(2)/preadv(2), writev(2)/pwritev(2);
 * 1 <= iovcnt <= IOV_MAX. The iovec array and buffers stay the caller's and must
 * stay valid until the callback. flags: 0. */
TIDE_API int tide_readv(tide_loop *loop, tide_req *req, int fd, const struct iovec *iov,
                        int iovcnt, int64_t offset, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_writev(tide_loop *loop, tide_req *req, int fd, const struct iovec *iov,
                         int iovcnt, int64_t offset, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_recv / tide_send - recv(2)/send(2) on a socket; msg_flags are recv(2)'s
 * and send(2)'s MSG_* flags (MSG_DONTWAIT is implied and not needed; send and
 * sendmsg add MSG_NOSIGNAL: a closed peer gives -EPIPE, never SIGPIPE; tide_write
 * on a socket can raise SIGPIPE on io_uring, so prefer tide_send for sockets).
 * flags: TIDE_ALL. */
TIDE_API int tide_recv(tide_loop *loop, tide_req *req, int fd, void *buf, size_t len,
                       int msg_flags, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_send(tide_loop *loop, tide_req *req, int fd, const void *buf, size_t len,
                       int msg_flags, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_recvmsg / tide_sendmsg - recvmsg(2)/sendmsg(2); msg (and all it points to)
 * stays the caller's until the callback. */
TIDE_API int tide_recvmsg(tide_loop *loop, tide_req *req, int fd, struct msghdr *msg,
                          int msg_flags, tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_sendmsg(tide_loop *loop, tide_req *req, int fd, const struct msghdr *msg,
                          int msg_flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_accept - accept4(2) on a listening socket. addr/addrlen may be NULL (as
 * for accept4; with TIDE_MULTISHOT they must be NULL). sock_flags: SOCK_NONBLOCK,
 * SOCK_CLOEXEC. flags: TIDE_MULTISHOT (io_uring: multishot accept). res: the new
 * fd, owned by the program. */
TIDE_API int tide_accept(tide_loop *loop, tide_req *req, int fd, struct sockaddr *addr,
                         socklen_t *addrlen, int sock_flags, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_connect - connect(2) a socket (non-blocking or not) to addr; res 0 when
 * connected. addr is copied: it need not outlive the call. addrlen <= 128. */
TIDE_API int tide_connect(tide_loop *loop, tide_req *req, int fd, const struct sockaddr *addr,
                          socklen_t addrlen, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_shutdown - shutdown(2) with how = SHUT_RD, SHUT_WR or SHUT_RDWR. */
TIDE_API int tide_shutdown(tide_loop *loop, tide_req *req, int fd, int how, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_close - close(2) fd, after cancelling every request of this loop still in
 * flight on fd (each completes with -ECANCELED or its result). The fd number must
 * not be reused by the program before the callback. */
TIDE_API int tide_close(tide_loop *loop, tide_req *req, int fd, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_openat - openat(2); path is copied by the time the callback runs, but must
 * stay valid until then. res: the new fd. */
TIDE_API int tide_openat(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                         mode_t mode, tide_req_cb cb) TIDE_NOEXCEPT;

struct statx; /* <sys/stat.h> with _GNU_SOURCE, or <linux/stat.h> */
/* tide_statx - statx(2) into *buf. */
TIDE_API int tide_statx(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                        unsigned mask, struct statx *buf, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_fsync - fsync(2), or fdatasync(2) with TIDE_DATASYNC. */
TIDE_API int tide_fsync(tide_loop *loop, tide_req *req, int fd, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_fallocate - fallocate(2): mode (FALLOC_FL_*), offset and len in bytes. */
TIDE_API int tide_fallocate(tide_loop *loop, tide_req *req, int fd, int mode, int64_t offset,
                            int64_t len, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_unlinkat / tide_renameat / tide_mkdirat - unlinkat(2) (flags:
 * AT_REMOVEDIR), renameat2(2) (flags: RENAME_*), mkdirat(2). */
TIDE_API int tide_unlinkat(tide_loop *loop, tide_req *req, int dirfd, const char *path, int flags,
                           tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_renameat(tide_loop *loop, tide_req *req, int olddirfd, const char *oldpath,
                           int newdirfd, const char *newpath, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;
TIDE_API int tide_mkdirat(tide_loop *loop, tide_req *req, int dirfd, const char *path, mode_t mode,
                          tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_splice - splice(2) len bytes from fd_in (at off_in, -1 = current position
 * or a pipe) to fd_out (at off_out); one of them must be a pipe. flags:
 * SPLICE_F_MOVE, SPLICE_F_MORE (SPLICE_F_NONBLOCK is implied). res: bytes moved. */
TIDE_API int tide_splice(tide_loop *loop, tide_req *req, int fd_in, int64_t off_in, int fd_out,
                         int64_t off_out, size_t len, unsigned flags, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_sendfile - copy count bytes from the file in_fd at offset (-1: current
 * position) to out_fd (a socket or pipe) without a user-space copy: on io_uring
 * through a pipe with two splices per chunk, elsewhere sendfile(2). Completes
 * when all count bytes moved, or at EOF or on an error; res: bytes moved. */
TIDE_API int tide_sendfile(tide_loop *loop, tide_req *req, int out_fd, int in_fd, int64_t offset,
                           size_t count, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_sleep - complete with res 0 after ns nanoseconds (never early), or
 * -ECANCELED. io_uring: IORING_OP_TIMEOUT; elsewhere the loop's timer heap. */
TIDE_API int tide_sleep(tide_loop *loop, tide_req *req, uint64_t ns, tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_work - run fn(req) on the thread pool, then cb(loop, req, 0) on the loop
 * (-ECANCELED if cancelled before a thread picked it up). The pool has
 * TIDE_THREADPOOL_SIZE threads (environment, default 4, clamped to 1..128),
 * shared by the loops of a process and started on first use. tide_cancel of a
 * job already running returns at once; its callback follows when fn returns. */
TIDE_API int tide_work(tide_loop *loop, tide_req *req, tide_work_fn fn, tide_req_cb cb) TIDE_NOEXCEPT;

/* --- provided buffers --- */

/* tide_bufpool_new - a pool of count buffers of size bytes each (count a power of
 * two, 1..32768; size 1..2^31, rounded up to a multiple of the page size), owned by
 * loop. On io_uring a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux
 * 5.19); elsewhere a plain pool. Returns 0 and *out, -EINVAL, -ENOMEM. */
TIDE_API int tide_bufpool_new(tide_loop *loop, tide_bufpool **out, unsigned count, size_t size) TIDE_NOEXCEPT;

/* tide_bufpool_free - release a pool. Returns 0, -EINVAL, -EBUSY (a request still
 * uses it). Buffers still held by the program become invalid. */
TIDE_API int tide_bufpool_free(tide_bufpool *pool) TIDE_NOEXCEPT;

/* tide_recv_pool - multishot receive on a socket into buffers picked from pool:
 * one callback per chunk received, res = its length (0 = EOF, the last callback),
 * the buffer from tide_req_buffer(). When the pool runs dry the request pauses and
 * resumes when buffers are returned with tide_bufpool_put(); it does not fail.
 * Every delivered buffer must be put back. Native on io_uring with Linux >= 6.0
 * (multishot receive into a buffer ring), emulated elsewhere.
 * Ends (tide_req_more() == 0) at EOF, on an error, a timeout, or after
 * tide_cancel(). Besides the shared submit errors, -EINVAL when pool was
 * created for another loop. */
TIDE_API int tide_recv_pool(tide_loop *loop, tide_req *req, int fd, tide_bufpool *pool,
                            tide_req_cb cb) TIDE_NOEXCEPT;

/* tide_req_buffer - inside a tide_recv_pool callback: store the buffer that holds
 * the data in *ptr and return its id (>= 0), which the program owns until it gives
 * it back with tide_bufpool_put(). -ENOENT if this callback carries no buffer
 * (EOF, error), -EINVAL. */
TIDE_API int tide_req_buffer(const tide_req *req, void **ptr) TIDE_NOEXCEPT;

/* tide_bufpool_put - give buffer id back to its pool. Returns 0, -EINVAL (NULL,
 * id out of range), -EALREADY (the buffer is already in the pool). */
TIDE_API int tide_bufpool_put(tide_bufpool *pool, int id) TIDE_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TIDE_H */
