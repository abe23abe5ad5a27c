/* SPDX-License-Identifier: MIT */
/* B7 file reads, libuv: random 4 KiB reads with uv_fs_read at explicit offsets,
 * --qd of them in flight. libuv 1.44 runs file operations on its thread pool
 * (UV_THREADPOOL_SIZE, default 4 threads).
 *
 *   --file=PATH --qd=N --ops=N --direct=0|1 --seed=N   (as bench/b7_files/tide.c)
 * Exit 1: a read failed or returned the wrong block. */
#include "bench.h"

#include <inttypes.h>
#include <sys/stat.h>
#include <uv.h>

#define B7_BLOCK 4096u
#define B7_MAGIC 0x5449444542374237ull /* "TIDEB7B7" */

typedef struct {
  uv_fs_t req;
  uint64_t block, t0;
  uv_buf_t buf;
} slot;

static struct {
  uv_loop_t *loop;
  uv_file fd;
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

static void on_read(uv_fs_t *req);

static void submit(slot *s) {
  s->block = next_block();
  s->t0 = bench_now_ns();
  int rc = uv_fs_read(g.loop, &s->req, g.fd, &s->buf, 1, (int64_t)(s->block * B7_BLOCK), on_read);
  if (rc < 0) bench_die("uv_fs_read: %s", uv_strerror(rc));
  g.submitted++;
}

static void on_read(uv_fs_t *req) {
  slot *s = req->data;
  bench_hist_add(&g.hist, bench_now_ns() - s->t0);
  ssize_t res = req->result;
  uv_fs_req_cleanup(req);
  uint64_t head[2];
  memcpy(head, s->buf.base, sizeof head);
  if (res != (ssize_t)B7_BLOCK) {
    fprintf(stderr, "bench: read of block %" PRIu64 ": %s\n", s->block,
            res < 0 ? uv_strerror((int)res) : "short read");
    g.failed = 1;
  } else if (head[0] != s->block || head[1] != (s->block ^ B7_MAGIC)) {
    fprintf(stderr, "bench: block %" PRIu64 " holds the header of block %" PRIu64 "\n", s->block, head[0]);
    g.failed = 1;
  }
  g.done++;
  if (!g.failed && g.submitted < g.ops) {
    s->req.data = s;
    submit(s);
  }
}

int main(int argc, char **argv) {
  int smoke = bench_smoke(argc, argv);
  const char *path = bench_arg_str(argc, argv, "file", "/var/tmp/tide-bench/b7.dat");
  uint64_t qd = bench_arg_u64(argc, argv, "qd", 1);
  int direct = (int)bench_arg_u64(argc, argv, "direct", 0);
  g.ops = bench_arg_u64(argc, argv, "ops", smoke ? 300 : 200000);
  g.rng = 0x9E3779B97F4A7C15ull ^ bench_arg_u64(argc, argv, "seed", 1);
  if (qd < 1 || qd > 4096 || g.ops < 1) bench_die("--qd must be 1..4096 and --ops >= 1");
  if (qd > g.ops) qd = g.ops;

  /* open synchronously: only the reads are measured */
  g.fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (g.fd < 0) bench_die("open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(g.fd, &st) < 0) bench_die("fstat: %s", strerror(errno));
  g.nblocks = (uint64_t)st.st_size / B7_BLOCK;
  if (g.nblocks < 1) bench_die("%s: smaller than one block", path);

  g.loop = uv_default_loop();
  slot *slots = calloc(qd, sizeof *slots);
  char *bufs;
  if (!slots || posix_memalign((void **)&bufs, B7_BLOCK, qd * B7_BLOCK)) bench_die("out of memory");
  for (uint64_t i = 0; i < qd; i++) {
    slots[i].req.data = &slots[i];
    slots[i].buf = uv_buf_init(bufs + i * B7_BLOCK, B7_BLOCK);
  }

  bench_clock clk;
  bench_begin(&clk);
  for (uint64_t i = 0; i < qd; i++) submit(&slots[i]);
  int rc = uv_run(g.loop, UV_RUN_DEFAULT);
  bench_end(&clk);
  if (rc < 0) bench_die("uv_run: %s", uv_strerror(rc));
  if (g.failed) return 1;
  if (g.done != g.ops) bench_die("%" PRIu64 " reads completed of %" PRIu64, g.done, g.ops);

  bench_result(&clk, g.ops, &g.hist, " qd=%" PRIu64 " direct=%d", qd, direct);
  uv_loop_close(g.loop);
  free(bufs);
  free(slots);
  close(g.fd);
  return 0;
}
