/* SPDX-License-Identifier: MIT */
/* B7 file reads, libtide: random 4 KiB reads at explicit offsets with tide_read,
 * --qd of them in flight. On io_uring they are native read SQEs; on the readiness
 * backends (--backend=epoll|poll|select) libtide runs them on its thread pool.
 *
 *   --file=PATH   test file written by bench/run (every 4 KiB block starts with its
 *                 block number, then the number XOR B7_MAGIC, as uint64)
 *   --qd=N        reads in flight (default 1)     --ops=N   reads (default 200000)
 *   --direct=0|1  O_DIRECT                         --backend=uring|epoll|poll|select|any
 *   --seed=N      offset sequence (xorshift64; the same in every B7 program)
 * Exit 3: the backend is not available. Exit 1: a read failed or returned the
 * wrong block. */
#include "bench.h"
#include "tide.h"

#include <inttypes.h>
#include <sys/stat.h>

#define B7_BLOCK 4096u
#define B7_MAGIC 0x5449444542374237ull /* "TIDEB7B7" */

typedef struct {
  tide_req req;
  uint64_t block, t0;
  unsigned char *buf;
} slot;

static struct {
  int fd;
  uint64_t nblocks, ops, submitted, done, rng;
  bench_hist hist;
  int failed;
} g;

static uint64_t next_block(void) {
  g.rng ^= g.rng << 13;
  g.rng ^= g.rng >> 7;
  g.rng ^= g.rng << 17;
  return g.rng % g.nblocks;
}

static void on_read(tide_loop *loop, tide_req *req, ssize_t res);

static void submit(tide_loop *loop, slot *s) {
  s->block = next_block();
  s->t0 = bench_now_ns();
  int rc = tide_read(loop, &s->req, g.fd, s->buf, B7_BLOCK, (int64_t)(s->block * B7_BLOCK), 0, on_read);
  if (rc < 0) bench_die("tide_read: %s", tide_strerror(rc));
  g.submitted++;
}

static void on_read(tide_loop *loop, tide_req *req, ssize_t res) {
  slot *s = req->data;
  bench_hist_add(&g.hist, bench_now_ns() - s->t0);
  uint64_t head[2];
  memcpy(head, s->buf, sizeof head);
  if (res != (ssize_t)B7_BLOCK) {
    fprintf(stderr, "bench: read of block %" PRIu64 ": %s\n", s->block,
            res < 0 ? tide_strerror((int)res) : "short read");
    g.failed = 1;
  } else if (head[0] != s->block || head[1] != (s->block ^ B7_MAGIC)) {
    fprintf(stderr, "bench: block %" PRIu64 " holds the header of block %" PRIu64 "\n", s->block, head[0]);
    g.failed = 1;
  }
  g.done++;
  if (!g.failed && g.submitted < g.ops) submit(loop, s);
}

/* "any" -> 0 (libtide picks); a backend name -> its TIDE_BACKEND_* bit. */
static unsigned backend_bit(const char *name) {
  int bits = strcmp(name, "any") ? tide_backend_from_name(name) : 0;
  if (bits < 0) bench_die("unknown --backend=%s", name);
  return (unsigned)bits;
}

int main(int argc, char **argv) {
  int smoke = bench_smoke(argc, argv);
  const char *path = bench_arg_str(argc, argv, "file", "/var/tmp/tide-bench/b7.dat");
  uint64_t qd = bench_arg_u64(argc, argv, "qd", 1);
  int direct = (int)bench_arg_u64(argc, argv, "direct", 0);
  const char *backend = bench_arg_str(argc, argv, "backend", "uring");
  g.ops = bench_arg_u64(argc, argv, "ops", smoke ? 300 : 200000);
  g.rng = 0x9E3779B97F4A7C15ull ^ bench_arg_u64(argc, argv, "seed", 1);
  if (qd < 1 || qd > 4096 || g.ops < 1) bench_die("--qd must be 1..4096 and --ops >= 1");
  if (qd > g.ops) qd = g.ops;

  g.fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (g.fd < 0) bench_die("open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(g.fd, &st) < 0) bench_die("fstat: %s", strerror(errno));
  g.nblocks = (uint64_t)st.st_size / B7_BLOCK;
  if (g.nblocks < 1) bench_die("%s: smaller than one block", path);

  struct tide_loop_options opt = {sizeof opt, backend_bit(backend), TIDE_LOOP_NOENV, 0, 0};
  tide_loop *loop;
  int rc = tide_loop_new(&loop, &opt);
  if (rc == -ENOSYS) {
    fprintf(stderr, "bench: backend %s not available\n", backend);
    return 3;
  }
  if (rc < 0) bench_die("tide_loop_new: %s", tide_strerror(rc));
  int native = tide_op_support(loop, TIDE_OP_READ) == TIDE_OP_NATIVE;

  slot *slots = calloc(qd, sizeof *slots);
  unsigned char *bufs;
  if (!slots || posix_memalign((void **)&bufs, B7_BLOCK, qd * B7_BLOCK))
    bench_die("out of memory");
  for (uint64_t i = 0; i < qd; i++) {
    slots[i].req.data = &slots[i];
    slots[i].buf = bufs + i * B7_BLOCK;
  }

  bench_clock clk;
  bench_begin(&clk);
  for (uint64_t i = 0; i < qd; i++) submit(loop, &slots[i]);
  rc = tide_run(loop, TIDE_RUN_DEFAULT);
  bench_end(&clk);
  if (rc < 0) bench_die("tide_run: %s", tide_strerror(rc));
  if (g.failed) return 1;
  if (g.done != g.ops) bench_die("%" PRIu64 " reads completed of %" PRIu64, g.done, g.ops);

  bench_result(&clk, g.ops, &g.hist, " qd=%" PRIu64 " direct=%d backend=%s native=%d", qd, direct,
               tide_loop_backend(loop), native);
  rc = tide_loop_free(loop);
  if (rc < 0) bench_die("tide_loop_free: %s", tide_strerror(rc));
  free(bufs);
  free(slots);
  close(g.fd);
  return 0;
}
