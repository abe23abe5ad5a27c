/* SPDX-License-Identifier: MIT */
/* B2 echo server - plain liburing, the floor for io_uring servers.
 *
 *   raw_uring [--port=N] [--taskrun=plain|coop|defer] [--size=S]
 *
 * Listens on 127.0.0.1:N (0 or absent: a free port), prints "PORT n" first.
 * One multishot accept; per connection one operation in flight at a time: a
 * recv of up to 4 KiB, then send SQEs until all of it went out, then the next
 * recv. Every loop pass is one io_uring_submit_and_wait(ring, 1) that submits
 * the SQEs queued by the previous pass's completions, then reaps all CQEs.
 * --taskrun: ring setup flags: plain (none, the default, as libtide uses),
 * coop (IORING_SETUP_COOP_TASKRUN), defer (SINGLE_ISSUER | DEFER_TASKRUN).
 * SIGTERM/SIGINT (a read SQE on a signalfd) end the run: one cancel-any SQE, and
 * the loop reaps until nothing is in flight.
 *   RESULT ops wall_ns cpu_ns bytes=B conns=<accepted>
 * measured from the first accepted connection to the signal. ops = echoed chunks
 * (one per request when every request arrives in one recv, as on loopback), or
 * bytes / S with --size=S. Exit 3 if io_uring is not available.
 */
#define _GNU_SOURCE 1
#include "bench.h"

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#define BUF 4096
#define SQ_ENTRIES 4096
#define CQ_ENTRIES 32768

enum { OP_ACCEPT, OP_SIGNAL, OP_CANCEL, OP_RECV, OP_SEND }; /* low 3 bits of user_data */

typedef struct {
  int fd;
  uint32_t off, len; /* send progress in buf */
  unsigned char buf[BUF];
} conn;

static struct io_uring ring;
static int lfd, sfd, stopping;
static uint64_t chunks, bytes, accepted, open_conns;
static int accepting, signal_armed; /* the accept and the signal read are in flight */
static struct signalfd_siginfo siginfo;
static bench_clock clk;

static int listen_on(uint64_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
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

static struct io_uring_sqe *sqe_for(void *ptr, unsigned op) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) { /* SQ full: hand the batch to the kernel now */
    int r = io_uring_submit(&ring);
    if (r < 0) bench_die("io_uring_submit: %s", strerror(-r));
    if (!(sqe = io_uring_get_sqe(&ring))) bench_die("no SQE after submit");
  }
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)ptr | op);
  return sqe;
}

static void arm_accept(void) {
  io_uring_prep_multishot_accept(sqe_for(NULL, OP_ACCEPT), lfd, NULL, NULL, SOCK_CLOEXEC);
  accepting = 1;
}

static void arm_recv(conn *c) {
  io_uring_prep_recv(sqe_for(c, OP_RECV), c->fd, c->buf, BUF, 0);
}

static void arm_send(conn *c) {
  io_uring_prep_send(sqe_for(c, OP_SEND), c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
}

static void drop(conn *c) {
  close(c->fd);
  free(c);
  open_conns--;
}

static void on_cqe(const struct io_uring_cqe *cqe) {
  unsigned op = (unsigned)(cqe->user_data & 7);
  conn *c = (conn *)(uintptr_t)(cqe->user_data & ~(uint64_t)7);
  int res = cqe->res;
  switch (op) {
  case OP_ACCEPT:
    if (res >= 0) {
      if (!accepted++) bench_begin(&clk);
      if (stopping) {
        close(res);
      } else {
        if (!(c = malloc(sizeof *c))) bench_die("out of memory");
        c->fd = res;
        open_conns++;
        arm_recv(c);
      }
    } else if (res == -EINVAL) {
      bench_die("multishot accept: %s (Linux >= 5.19 needed)", strerror(-res));
    } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
      fprintf(stderr, "raw_uring: accept: %s\n", strerror(-res));
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
      accepting = 0;
      if (!stopping) arm_accept();
    }
    break;
  case OP_SIGNAL:
    signal_armed = 0;
    if (res < 0 && res != -ECANCELED) bench_die("signalfd read: %s", strerror(-res));
    if (!stopping) { /* SIGTERM or SIGINT: stop measuring, cancel everything */
      if (accepted) bench_end(&clk);
      stopping = 1;
      io_uring_prep_cancel64(sqe_for(NULL, OP_CANCEL), 0, IORING_ASYNC_CANCEL_ANY);
    }
    break;
  case OP_CANCEL:
    break;
  case OP_RECV:
    if (res <= 0 || stopping) drop(c); /* EOF, error (ECONNRESET when the load closes), cancelled */
    else {
      c->off = 0;
      c->len = (uint32_t)res;
      arm_send(c);
    }
    break;
  case OP_SEND:
    if (res <= 0) {
      drop(c);
      break;
    }
    c->off += (uint32_t)res;
    if (c->off < c->len) {
      if (stopping) drop(c);
      else arm_send(c);
      break;
    }
    chunks++;
    bytes += c->len;
    if (stopping) drop(c);
    else arm_recv(c);
    break;
  }
}

int main(int argc, char **argv) {
  uint64_t port = bench_arg_u64(argc, argv, "port", 0);
  uint64_t size = bench_arg_u64(argc, argv, "size", 0);
  const char *taskrun = bench_arg_str(argc, argv, "taskrun", "plain");
  struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
  if (!strcmp(taskrun, "coop")) p.flags |= IORING_SETUP_COOP_TASKRUN;
  else if (!strcmp(taskrun, "defer")) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  else if (strcmp(taskrun, "plain")) bench_die("--taskrun=plain|coop|defer");
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
  if (r < 0) {
    fprintf(stderr, "raw_uring: io_uring_queue_init: %s\n", strerror(-r));
    return 3;
  }

  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  if ((sfd = signalfd(-1, &ss, SFD_CLOEXEC)) < 0) bench_die("signalfd: %s", strerror(errno));
  lfd = listen_on(port);
  arm_accept();
  io_uring_prep_read(sqe_for(NULL, OP_SIGNAL), sfd, &siginfo, sizeof siginfo, (uint64_t)-1);
  signal_armed = 1;

  while (!stopping || open_conns || accepting || signal_armed) {
    r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR && r != -EBUSY) bench_die("io_uring_submit_and_wait: %s", strerror(-r));
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      on_cqe(cqe);
      seen++;
    }
    io_uring_cq_advance(&ring, seen);
  }

  io_uring_queue_exit(&ring);
  close(lfd);
  close(sfd);
  bench_result(&clk, size ? bytes / size : chunks, NULL, " bytes=%llu conns=%llu taskrun=%s",
               (unsigned long long)bytes, (unsigned long long)accepted, taskrun);
  return 0;
}
