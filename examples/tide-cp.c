/* SPDX-License-Identifier: MIT */
/*
 * tide-cp.c - copy a file with libtide completion requests.
 *
 * Usage:
 *   tide-cp [--backend uring|epoll|poll|select] [--depth N] [--chunk BYTES] SRC DST
 *
 *   --backend NAME  run exactly this libtide backend (the TIDE_BACKEND
 *                   environment variable is then ignored). If the build or the
 *                   kernel lacks it, tide-cp says so and exits with status 3.
 *                   A comma list (epoll,poll) runs the best of those backends
 *                   that is available.
 *   --depth N       reads kept in flight at once, 1..1024 (default 8)
 *   --chunk BYTES   bytes per read, 1..1 GiB (default 256 KiB); a K, M or G
 *                   suffix multiplies by 1024, 1024^2, 1024^3
 *
 * DST is created (with SRC's permission bits, minus the umask) or truncated.
 * SRC and DST may not be the same file. On success one line goes to stderr:
 *
 *   tide-cp: 67108864 bytes in 0.060 s, 1118.5 MB/s (io_uring; read native, write native; depth 8, chunk 262144)
 *
 * (MB = 10^6 bytes; the time covers everything from the opens to the closes,
 * fsync included). Exit status: 0 copied, 1 error (described on stderr; DST may
 * then hold part of the data), 2 usage, 3 backend not available.
 *
 * How it works: both files are opened with tide_openat. Then DEPTH slots each
 * read one CHUNK of SRC at increasing offsets (tide_read with an explicit
 * offset, so the reads are independent). A slot whose read completes writes
 * that chunk at the same offset of DST with tide_write(TIDE_ALL), then reads the
 * next chunk not yet taken: reads and writes of different chunks overlap, and
 * DEPTH reads are in flight whenever the writes keep up. A read that returns
 * fewer bytes than asked is continued at the offset where it stopped; a read
 * that returns 0 marks the end of SRC, and no chunk beyond it is started. A
 * write that moves fewer bytes than asked (TIDE_ALL only does that when the
 * write failed part way) is continued too, which brings out the error. When
 * every slot is idle DST is fsynced (tide_fsync) and both files are closed
 * (tide_close). On the first error the requests in flight are cancelled
 * (tide_cancel) and the files are closed without the fsync.
 * If SRC changes size during the copy (a read past a known end returns data,
 * or the end moves before data already read), the copy fails rather than
 * produce a file that matches no version of SRC.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <tide.h>

#define PROG "tide-cp"
#define EXIT_USAGE 2
#define EXIT_NOBACKEND 3

#define DEFAULT_DEPTH 8ul
#define MAX_DEPTH 1024ul
#define DEFAULT_CHUNK (256ul * 1024ul)
#define MAX_CHUNK (1024ul * 1024ul * 1024ul)

enum slot_state { S_IDLE, S_READ, S_WRITE };

/* One chunk in progress: read into buf, then written from it. */
struct slot {
  tide_req req;         /* the read or the write of this chunk; req.data = the slot */
  unsigned char *buf;   /* chunk bytes */
  int64_t off;          /* offset of buf[0] in both files */
  size_t got;           /* bytes of the chunk read so far */
  size_t put;           /* bytes of buf[0..got) written so far */
  enum slot_state state;
};

enum phase { P_OPEN, P_COPY, P_FINISH, P_DONE };

struct cp {
  tide_loop *loop;
  const char *src, *dst;
  mode_t dst_mode;
  int fd[2];               /* SRC, DST; -1 when not open */
  tide_req open_req[2], close_req[2], fsync_req;
  int opens, closes;       /* opens / closes still in flight */
  enum phase phase;
  struct slot *slots;
  size_t depth, chunk;
  size_t busy;             /* slots with a request in flight */
  int64_t next_off;        /* where the next chunk not yet taken starts */
  int64_t eof_at;          /* size of SRC once a read returned 0; INT64_MAX before */
  int64_t data_end;        /* end of the furthest data any read returned */
  uint64_t copied;         /* bytes written to DST */
  int err;                 /* first error (-errno), 0 if none */
  uint64_t t0, t1;
};

static struct cp cp;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void die(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(status);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " [--backend uring|epoll|poll|select] [--depth N] [--chunk BYTES] SRC DST\n"
          "  --backend NAME  use exactly this libtide backend (exit 3 if unavailable);\n"
          "                  NAME,NAME,... runs the best of those\n"
          "  --depth N       reads in flight, 1..%lu (default %lu)\n"
          "  --chunk BYTES   bytes per read, 1..1G, K/M/G suffixes (default 256K)\n",
          MAX_DEPTH, DEFAULT_DEPTH);
}

/* ---------------------------------------------------------------- errors */

static void finish(void);

/* Record the first error, described as "WHAT: strerror(err)", and cancel the
 * requests that are still in flight: the copy winds down and then closes the
 * files. Later errors (often consequences of the first) are only counted. */
static void fail(int err, const char *fmt, ...) {
  va_list ap;
  size_t i;
  if (cp.err != 0) return;
  cp.err = err < 0 ? err : -EIO;
  va_start(ap, fmt);
  fputs(PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  if (err < 0) fprintf(stderr, ": %s", tide_strerror(err));
  fputc('\n', stderr);
  va_end(ap);
  for (i = 0; i < cp.depth; i++) {
    if (cp.slots[i].state != S_IDLE) {
      int r = tide_cancel(cp.loop, &cp.slots[i].req);
      /* -ENOENT: its callback is already queued; -EALREADY: asked before. */
      if (r < 0 && r != -ENOENT && r != -EALREADY)
        fprintf(stderr, PROG ": tide_cancel: %s\n", tide_strerror(r));
    }
  }
}

/* ---------------------------------------------------------------- the copy */

static void read_cb(tide_loop *loop, tide_req *req, ssize_t res);
static void write_cb(tide_loop *loop, tide_req *req, ssize_t res);

/* Read the rest of slot s's chunk, from s->got on. */
static void submit_read(struct slot *s) {
  int r = tide_read(cp.loop, &s->req, cp.fd[0], s->buf + s->got, cp.chunk - s->got,
                    s->off + (int64_t)s->got, 0, read_cb);
  if (r < 0) {
    s->state = S_IDLE;
    fail(r, "tide_read");
    return;
  }
  s->state = S_READ;
  cp.busy++;
}

/* Write what slot s holds and has not written yet. */
static void submit_write(struct slot *s) {
  int r = tide_write(cp.loop, &s->req, cp.fd[1], s->buf + s->put, s->got - s->put,
                     s->off + (int64_t)s->put, TIDE_ALL, write_cb);
  if (r < 0) {
    s->state = S_IDLE;
    fail(r, "tide_write");
    return;
  }
  s->state = S_WRITE;
  cp.busy++;
}

/* Give slot s the next chunk, unless the end of SRC is known to come first. */
static void next_chunk(struct slot *s) {
  s->state = S_IDLE;
  if (cp.err != 0 || cp.next_off >= cp.eof_at) return;
  if (cp.next_off > INT64_MAX - (int64_t)cp.chunk) {
    fail(-EFBIG, "%s", cp.src);
    return;
  }
  s->off = cp.next_off;
  s->got = s->put = 0;
  cp.next_off += (int64_t)cp.chunk;
  submit_read(s);
}

/* Once no slot is busy the copy is over, one way or the other. */
static void maybe_done(void) {
  if (cp.phase == P_COPY && cp.busy == 0) finish();
}

static void read_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct slot *s = req->data;
  int64_t pos = s->off + (int64_t)s->got; /* where this read started */
  (void)loop;
  cp.busy--;
  s->state = S_IDLE;
  if (res < 0) {
    if (res != -ECANCELED || cp.err == 0) fail((int)res, "reading %s at offset %lld", cp.src, (long long)pos);
  } else if (cp.err == 0) {
    if (res == 0) { /* end of file at pos */
      if (pos < cp.eof_at) cp.eof_at = pos;
    } else {
      s->got += (size_t)res;
      if (s->off + (int64_t)s->got > cp.data_end) cp.data_end = s->off + (int64_t)s->got;
    }
    if (cp.data_end > cp.eof_at) {
      fail(0, "%s changed size during the copy", cp.src);
    } else if (res > 0 && s->got < cp.chunk && s->off + (int64_t)s->got < cp.eof_at) {
      submit_read(s); /* a short read: the rest of the chunk, or the end of the file */
    } else if (s->got > 0) {
      submit_write(s);
    } else {
      next_chunk(s); /* this chunk was past the end: nothing more to take */
    }
  }
  maybe_done();
}

static void write_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  struct slot *s = req->data;
  (void)loop;
  cp.busy--;
  s->state = S_IDLE;
  if (res < 0) {
    if (res != -ECANCELED || cp.err == 0)
      fail((int)res, "writing %s at offset %lld", cp.dst, (long long)(s->off + (int64_t)s->put));
  } else if (cp.err == 0) {
    if (res == 0) {
      fail(0, "writing %s at offset %lld made no progress", cp.dst, (long long)(s->off + (int64_t)s->put));
    } else {
      s->put += (size_t)res;
      cp.copied += (uint64_t)res;
      if (s->put < s->got)
        submit_write(s); /* short: the next write reports why, or goes on */
      else
        next_chunk(s);
    }
  }
  maybe_done();
}

/* ---------------------------------------------------------------- open, fsync, close */

static void close_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  int which = req == &cp.close_req[0] ? 0 : 1;
  (void)loop;
  if (res < 0) fail((int)res, "closing %s", which == 0 ? cp.src : cp.dst);
  cp.fd[which] = -1;
  if (--cp.closes == 0) {
    cp.phase = P_DONE;
    cp.t1 = now_ns();
  }
}

static void close_files(void) {
  int i, r;
  cp.phase = P_FINISH;
  for (i = 0; i < 2; i++) {
    if (cp.fd[i] < 0) continue;
    r = tide_close(cp.loop, &cp.close_req[i], cp.fd[i], close_cb);
    if (r == 0) {
      cp.closes++;
    } else {
      /* Nothing is in flight on the fd any more, so a plain close is safe. */
      fprintf(stderr, PROG ": tide_close: %s; closing directly\n", tide_strerror(r));
      if (close(cp.fd[i]) != 0) fail(-errno, "closing %s", i == 0 ? cp.src : cp.dst);
      cp.fd[i] = -1;
    }
  }
  if (cp.closes == 0) {
    cp.phase = P_DONE;
    cp.t1 = now_ns();
  }
}

static void fsync_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  (void)loop;
  (void)req;
  if (res < 0) fail((int)res, "fsync %s", cp.dst);
  close_files();
}

/* The copy is over: fsync DST if it went well, then close both files. */
static void finish(void) {
  int r;
  cp.phase = P_FINISH;
  if (cp.err == 0) {
    r = tide_fsync(cp.loop, &cp.fsync_req, cp.fd[1], 0, fsync_cb);
    if (r == 0) return;
    fail(r, "tide_fsync");
  }
  close_files();
}

static void open_cb(tide_loop *loop, tide_req *req, ssize_t res) {
  int which = req == &cp.open_req[0] ? 0 : 1;
  size_t i;
  (void)loop;
  if (res < 0)
    fail((int)res, "%s", which == 0 ? cp.src : cp.dst);
  else
    cp.fd[which] = (int)res;
  if (--cp.opens > 0) return;
  if (cp.err != 0) {
    close_files();
    return;
  }
  cp.phase = P_COPY;
  for (i = 0; i < cp.depth; i++) next_chunk(&cp.slots[i]);
  maybe_done(); /* only if no read could be submitted */
}

/* ---------------------------------------------------------------- setup */

/* A count with an optional K, M or G suffix (powers of 1024), lo..hi. */
static int parse_size(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
  char *end;
  unsigned long v, mult = 1;
  if (s == NULL || *s < '0' || *s > '9') return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0) return -1;
  if (*end != '\0') {
    switch (*end) {
    case 'k': case 'K': mult = 1024ul; break;
    case 'm': case 'M': mult = 1024ul * 1024ul; break;
    case 'g': case 'G': mult = 1024ul * 1024ul * 1024ul; break;
    default: return -1;
    }
    if (end[1] != '\0') return -1;
  }
  if (v > hi / mult) return -1;
  v *= mult;
  if (v < lo) return -1;
  *out = v;
  return 0;
}

static const char *support_name(int op) {
  switch (tide_op_support(cp.loop, op)) {
  case TIDE_OP_NATIVE: return "native";
  case TIDE_OP_EMULATED: return "emulated";
  default: return "unsupported";
  }
}

int main(int argc, char **argv) {
  unsigned long depth = DEFAULT_DEPTH, chunk = DEFAULT_CHUNK;
  const char *backend = NULL, *why, *paths[2];
  struct tide_loop_options opt;
  struct stat st_src, st_dst;
  int i, r, npaths = 0, status, backends = 0;
  size_t k;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    const char *eq;
    char name[32];
    size_t nlen;
    if (strcmp(a, "--") == 0) {
      for (i++; i < argc; i++) {
        if (npaths == 2) die(EXIT_USAGE, "too many arguments (SRC and DST only)");
        paths[npaths++] = argv[i];
      }
      break;
    }
    if (a[0] != '-' || a[1] == '\0') { /* SRC or DST ("-" is a file name here) */
      if (npaths == 2) die(EXIT_USAGE, "too many arguments (SRC and DST only)");
      paths[npaths++] = a;
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    eq = strchr(a, '=');
    nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (nlen >= sizeof name) {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      fprintf(stderr, PROG ": option %s needs a value\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    if (strcmp(name, "--depth") == 0) {
      if (parse_size(val, 1, MAX_DEPTH, &depth) < 0) die(EXIT_USAGE, "bad --depth '%s' (1..%lu)", val, MAX_DEPTH);
    } else if (strcmp(name, "--chunk") == 0) {
      if (parse_size(val, 1, MAX_CHUNK, &chunk) < 0) die(EXIT_USAGE, "bad --chunk '%s' (1..1G)", val);
    } else if (strcmp(name, "--backend") == 0) {
      backends = tide_backend_from_name(val);
      if (backends < 0) die(EXIT_USAGE, "unknown backend '%s' (uring, epoll, poll, select)", val);
      backend = val;
    } else {
      fprintf(stderr, PROG ": unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (npaths != 2) {
    fprintf(stderr, PROG ": need SRC and DST\n");
    usage(stderr);
    return EXIT_USAGE;
  }
  cp.src = paths[0];
  cp.dst = paths[1];
  cp.depth = (size_t)depth;
  cp.chunk = (size_t)chunk;
  cp.fd[0] = cp.fd[1] = -1;
  cp.eof_at = INT64_MAX;
  cp.dst_mode = 0666;

  /* Opening DST truncates it, so refuse to copy a file onto itself. (A check
   * before the open, as cp(1) does; good enough for a demo.) A SRC that cannot
   * be stat'ed is left for the open to report. */
  if (stat(cp.src, &st_src) == 0) {
    cp.dst_mode = st_src.st_mode & 0777;
    if (stat(cp.dst, &st_dst) == 0 && st_src.st_dev == st_dst.st_dev && st_src.st_ino == st_dst.st_ino)
      die(1, "%s and %s are the same file", cp.src, cp.dst);
  }

  cp.slots = calloc(cp.depth, sizeof *cp.slots);
  if (cp.slots == NULL) die(1, "out of memory");
  for (k = 0; k < cp.depth; k++) {
    cp.slots[k].buf = malloc(cp.chunk);
    if (cp.slots[k].buf == NULL) die(1, "out of memory for %zu buffers of %zu bytes", cp.depth, cp.chunk);
    cp.slots[k].req.data = &cp.slots[k];
  }

  memset(&opt, 0, sizeof opt);
  opt.size = sizeof opt;
  if (backend) {
    opt.backends = (unsigned)backends;
    opt.flags = TIDE_LOOP_NOENV;
    if (!(tide_backends_built() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is not built into this libtide (configured without it)", backend);
    if (!(tide_backends_supported() & opt.backends))
      die(EXIT_NOBACKEND, "backend %s is refused by the running kernel", backend);
  }
  r = tide_loop_new(&cp.loop, &opt);
  if (r == -ENOSYS && backend) die(EXIT_NOBACKEND, "backend %s is not available here", backend);
  if (r < 0) die(1, "tide_loop_new: %s", tide_strerror(r));
  why = tide_loop_fallback_reason(cp.loop);
  if (why) fprintf(stderr, PROG ": backend %s (fallback: %s)\n", tide_loop_backend(cp.loop), why);
  {
    static const int ops[] = {TIDE_OP_OPENAT, TIDE_OP_READ, TIDE_OP_WRITE, TIDE_OP_FSYNC, TIDE_OP_CLOSE};
    for (k = 0; k < sizeof ops / sizeof ops[0]; k++)
      if (tide_op_support(cp.loop, ops[k]) != TIDE_OP_NATIVE &&
          tide_op_support(cp.loop, ops[k]) != TIDE_OP_EMULATED)
        die(1, "the %s backend cannot run the requests a copy needs", tide_loop_backend(cp.loop));
  }

  cp.t0 = now_ns();
  cp.phase = P_OPEN;
  r = tide_openat(cp.loop, &cp.open_req[0], AT_FDCWD, cp.src, O_RDONLY | O_CLOEXEC, 0, open_cb);
  if (r < 0) die(1, "tide_openat: %s", tide_strerror(r));
  cp.opens++;
  r = tide_openat(cp.loop, &cp.open_req[1], AT_FDCWD, cp.dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  cp.dst_mode, open_cb);
  if (r < 0) {
    /* The first open is in flight: let it finish, then close what it opened. */
    fail(r, "tide_openat");
  } else {
    cp.opens++;
  }

  for (;;) {
    r = tide_run(cp.loop, TIDE_RUN_DEFAULT);
    if (r == 0) break;
    if (r == 1 || r == -EINTR) continue;
    die(1, "tide_run: %s", tide_strerror(r));
  }
  if (cp.phase != P_DONE) {
    /* tide_run() said nothing is in flight before the copy finished: a lost
     * request. Say so rather than claim a result. */
    fprintf(stderr, PROG ": the loop ran out of requests before the copy finished\n");
    if (cp.err == 0) cp.err = -EIO;
  }

  if (cp.err == 0) {
    double secs = (double)(cp.t1 - cp.t0) / 1e9;
    fprintf(stderr, PROG ": %llu bytes in %.3f s, %.1f MB/s (%s; read %s, write %s; depth %zu, chunk %zu)\n",
            (unsigned long long)cp.copied, secs, secs > 0.0 ? (double)cp.copied / 1e6 / secs : 0.0,
            tide_loop_backend(cp.loop), support_name(TIDE_OP_READ), support_name(TIDE_OP_WRITE),
            cp.depth, cp.chunk);
    status = 0;
  } else {
    fprintf(stderr, PROG ": failed after %llu bytes written\n", (unsigned long long)cp.copied);
    status = 1;
  }

  r = tide_loop_free(cp.loop); /* nothing is in flight: tide_run() returned 0 */
  if (r < 0) {
    fprintf(stderr, PROG ": tide_loop_free: %s\n", tide_strerror(r));
    status = 1;
  }
  for (k = 0; k < cp.depth; k++) free(cp.slots[k].buf);
  free(cp.slots);
  return status;
}
