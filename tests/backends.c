/* SPDX-License-Identifier: MIT */
/* backends.c - prints one line per backend for tests/run.sh:
 *     NAME ok
 *     NAME not-built kernel-allows|kernel-refuses
 *     NAME kernel-refuses REASON
 * "ok": built into this libtide and allowed by the running kernel.
 * "not-built": this libtide was built without it (tide_backends_built()); for
 * io_uring the kernel is asked directly (io_uring_setup(2), no liburing), so the
 * test runner can tell a build that silently lost io_uring from a kernel that
 * refuses it. "kernel-refuses": built, but the running kernel does not allow it;
 * REASON is the library's own account (tide_loop_fallback_reason()). */
#define _GNU_SOURCE /* syscall(2) */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <tide.h>

/* Does the running kernel let this process create an io_uring instance? */
static int kernel_allows_uring(void) {
#ifdef SYS_io_uring_setup
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  long fd = syscall(SYS_io_uring_setup, 2, &p);
  if (fd < 0) return 0;
  close((int)fd);
  return 1;
#else
  return 0;
#endif
}

/* Why the library could not set the backend up: the fallback reason of a loop
 * that was allowed this backend and select (always available). */
static const char *refusal(unsigned bit, char *buf, size_t len) {
  struct tide_loop_options opt;
  tide_loop *loop;
  memset(&opt, 0, sizeof opt);
  opt.size = sizeof opt;
  opt.backends = bit | TIDE_BACKEND_SELECT;
  opt.flags = TIDE_LOOP_NOENV;
  snprintf(buf, len, "no reason given");
  if (tide_loop_new(&loop, &opt) == 0) {
    const char *why = tide_loop_fallback_reason(loop);
    if (why) snprintf(buf, len, "%s", why);
    tide_loop_free(loop);
  }
  return buf;
}

int main(void) {
  /* The names tests/run.sh knows (the short spelling of io_uring); the library
   * turns each into its bit. */
  static const char *const names[] = {"uring", "epoll", "poll", "select"};
  const unsigned built = tide_backends_built(), supported = tide_backends_supported();
  char why[512];
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *name = names[i];
    int parsed = tide_backend_from_name(name);
    if (parsed <= 0) {
      fprintf(stderr, "backends: libtide does not know the backend name '%s'\n", name);
      return 1;
    }
    unsigned bit = (unsigned)parsed;
    if (supported & bit)
      printf("%s ok\n", name);
    else if (!(built & bit))
      printf("%s not-built %s\n", name,
             bit == TIDE_BACKEND_URING && kernel_allows_uring() ? "kernel-allows" : "kernel-refuses");
    else
      printf("%s kernel-refuses %s\n", name, refusal(bit, why, sizeof why));
  }
  return 0;
}
