/* SPDX-License-Identifier: MIT */
/* net.h - the listening socket of the benchmark servers and sinks: TCP on
 * 127.0.0.1:port (0 = any), non-blocking, backlog 65535, and the "PORT n" line the
 * driver reads first on stdout. */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"

static inline int listen_on(uint64_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) bench_die("socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 65535) < 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
    bench_die("bind/listen 127.0.0.1:%llu: %s", (unsigned long long)port, strerror(errno));
  printf("PORT %u\n", ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}

#endif /* BENCH_NET_H */
