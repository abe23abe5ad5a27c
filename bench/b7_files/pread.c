/* SPDX-License-Identifier: MIT */
/* B7 file reads, the synchronous floor: a pread(2) loop over the same random
 * 4 KiB blocks as the other B7 programs, one at a time (--qd is accepted and
 * ignored). On the page cache this is the cheapest way to read a block.
 *
 *   --file=PATH --ops=N --direct=0|1 --seed=N   (as bench/b7_files/tide.c)
 * Exit 1: a read failed or returned the wrong block. */
#include "bench.h"

#include <inttypes.h>
#include <sys/stat.h>

#define B7_BLOCK 4096u
#define B7_MAGIC 0x5449444542374237ull /* "TIDEB7B7" */

int main(int argc, char **argv) {
  int smoke = bench_smoke(argc, argv);
  const char *path = bench_arg_str(argc, argv, "file", "/var/tmp/tide-bench/b7.dat");
  int direct = (int)bench_arg_u64(argc, argv, "direct", 0);
  uint64_t ops = bench_arg_u64(argc, argv, "ops", smoke ? 300 : 200000);
  uint64_t rng = 0x9E3779B97F4A7C15ull ^ bench_arg_u64(argc, argv, "seed", 1);
  if (ops < 1) bench_die("--ops must be >= 1");

  int fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) bench_die("open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0) bench_die("fstat: %s", strerror(errno));
  uint64_t nblocks = (uint64_t)st.st_size / B7_BLOCK;
  if (nblocks < 1) bench_die("%s: smaller than one block", path);

  unsigned char *buf;
  if (posix_memalign((void **)&buf, B7_BLOCK, B7_BLOCK)) bench_die("out of memory");
  static bench_hist hist;

  bench_clock clk;
  bench_begin(&clk);
  for (uint64_t i = 0; i < ops; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    uint64_t block = rng % nblocks, t0 = bench_now_ns();
    ssize_t n = pread(fd, buf, B7_BLOCK, (off_t)(block * B7_BLOCK));
    bench_hist_add(&hist, bench_now_ns() - t0);
    if (n != (ssize_t)B7_BLOCK) bench_die("read of block %" PRIu64 ": %s", block, n < 0 ? strerror(errno) : "short read");
    uint64_t head[2];
    memcpy(head, buf, sizeof head);
    if (head[0] != block || head[1] != (block ^ B7_MAGIC))
      bench_die("block %" PRIu64 " holds the header of block %" PRIu64, block, head[0]);
  }
  bench_end(&clk);

  bench_result(&clk, ops, &hist, " qd=1 direct=%d", direct);
  free(buf);
  close(fd);
  return 0;
}
