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
  static const struct { const char *name; unsigned bit; } names[] = {
      {"uring", TIDE_BACKEND_URING}, {"epoll", TIDE_BACKEND_EPOLL},
      {"poll", TIDE_BACKEND_POLL}, {"select", TIDE_BACKEND_SELECT}};
  struct tide_loop_options o = {.size = sizeof o, .flags = TIDE_LOOP_NOENV};
  if (backend) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (!strcmp(backend, names[i].name)) o.backends = names[i].bit;
    if (!o.backends) bench_die("--backend=%s: uring, epoll, poll or select", backend);
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
