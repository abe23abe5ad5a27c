/* SPDX-License-Identifier: MIT */
/* tide_loop.h - a libtide loop on the backend named by --backend (uring, epoll,
 * poll, select; NULL: the library's choice), with TIDE_LOOP_NOENV so the
 * environment cannot change what is measured. Exits 3 ("cannot run here") when
 * that backend is not available, 1 on other errors. */
#ifndef BENCH_TIDE_LOOP_H
#define BENCH_TIDE_LOOP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#include "bench.h"

static inline tide_loop *new_loop(const char *backend) {
  struct tide_loop_options o = {.size = sizeof o, .flags = TIDE_LOOP_NOENV};
  if (backend) {
    int bits = tide_backend_from_name(backend);
    if (bits < 0) bench_die("--backend=%s: uring, epoll, poll or select", backend);
    o.backends = (unsigned)bits;
  }
  tide_loop *l;
  int r = tide_loop_new(&l, &o);
  if (r == -ENOSYS) {
    fprintf(stderr, "bench: backend %s not available\n", backend ? backend : "(any)");
    exit(3);
  }
  if (r < 0) bench_die("tide_loop_new: %s", tide_strerror(r));
  return l;
}

#endif /* BENCH_TIDE_LOOP_H */
