/* A stand-in for libcublasLt.so with cuBLASLt's C signatures (cublasLt.h),
 * built by the cublaslt_test.go tests to check the purego calls on a machine
 * without cuBLASLt: every call appends a line to a log the test reads back
 * (descriptor and layout handles numbered in creation order), attribute
 * sizes are checked against the header's types as the real library does
 * (CUBLAS_STATUS_INVALID_VALUE otherwise), and the heuristic's answer and
 * any one function's failure are set by the test. Destroyed objects are
 * kept, marked dead: a call handed one (a descriptor destroyed while still
 * in use) is logged as "... dead D3" and refused. No arithmetic: the GEMMs
 * themselves are checked by the emulator and on a device. Tests only.
 * Built with -DFAKE_NO_HEURISTIC it lacks cublasLtMatmulAlgoGetHeuristic
 * (an old or broken library). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OK = 0, INVALID_VALUE = 7, NOT_SUPPORTED = 15 };

typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  int state;
  float wavesCount;
  int reserved[4];
} cublasLtMatmulHeuristicResult_t;

typedef struct { char kind; int id; int dead; } obj; /* H, D, L, P */

static char log_[1 << 16];
static size_t loglen;
static int next_id[128];
static int heur_count = 1;
static size_t heur_ws = 1 << 20;
static char fail_fn[64];
static int fail_status;

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(log_ + loglen, sizeof log_ - loglen, fmt, ap);
  va_end(ap);
  if (n > 0 && loglen + n + 1 < sizeof log_) {
    loglen += n;
    log_[loglen++] = '\n';
    log_[loglen] = 0;
  }
}

static obj *make(char kind) {
  obj *o = calloc(1, sizeof *o);
  o->kind = kind;
  o->id = ++next_id[(int)kind];
  return o;
}

static const char *name(const void *p) {
  static char buf[8][16];
  static int k;
  const obj *o = p;
  char *b = buf[k++ % 8];
  if (!o) return "NULL";
  snprintf(b, 16, "%c%d", o->kind, o->id);
  return b;
}

/* bury marks o destroyed (never freed, so a later use is seen); it
 * returns 0, or INVALID_VALUE for a second destroy */
static int bury(void *p) {
  obj *o = p;
  if (!o) return INVALID_VALUE;
  if (o->dead) {
    say("destroyed twice %s", name(o));
    return INVALID_VALUE;
  }
  o->dead = 1;
  return OK;
}

/* dead reports (and logs) a destroyed object among n handed to fn */
static int dead(const char *fn, int n, ...) {
  va_list ap;
  int bad = 0;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    const obj *o = va_arg(ap, const obj *);
    if (o && o->dead) {
      say("%s dead %s", fn, name(o));
      bad = 1;
    }
  }
  va_end(ap);
  return bad;
}

static int failing(const char *fn) { return strcmp(fn, fail_fn) == 0 ? fail_status : 0; }

/* test controls */
const char *fakeLtLog(void) { return log_; }
void fakeLtReset(void) {
  loglen = 0;
  log_[0] = 0;
  memset(next_id, 0, sizeof next_id);
  heur_count = 1;
  heur_ws = 1 << 20;
  fail_fn[0] = 0;
}
void fakeLtSetHeuristic(int count, size_t ws) { heur_count = count, heur_ws = ws; }
void fakeLtFail(const char *fn, int status) {
  snprintf(fail_fn, sizeof fail_fn, "%s", fn);
  fail_status = status;
}
size_t fakeLtResultSize(void) { return sizeof(cublasLtMatmulHeuristicResult_t); }

int cublasLtCreate(void **h) {
  if (!h) return INVALID_VALUE;
  if (failing("cublasLtCreate")) return failing("cublasLtCreate");
  *h = make('H');
  say("create %s", name(*h));
  return OK;
}

int cublasLtDestroy(void *h) {
  say("destroy %s", name(h));
  return bury(h);
}

int cublasLtMatmulDescCreate(void **d, int computeType, int scaleType) {
  if (!d) return INVALID_VALUE;
  if (failing("cublasLtMatmulDescCreate")) return failing("cublasLtMatmulDescCreate");
  *d = make('D');
  say("descCreate %s compute=%d scale=%d", name(*d), computeType, scaleType);
  return OK;
}

/* the size each attribute's C type has (cublasLtMatmulDescAttributes_t) */
static size_t desc_attr_size(int attr) {
  switch (attr) {
  case 0: case 1: case 2: case 3: case 4: case 5: case 6: return 4; /* int32_t */
  case 7: return 4;                                                 /* uint32_t epilogue */
  case 8: case 11: return sizeof(void *);                           /* pointers */
  case 10: case 12: case 13: case 14: return 8;                     /* int64_t */
  case 26: return 4;                                                /* int32_t cudaDataType */
  }
  return 0;
}

static uint64_t value(const void *buf, size_t size) {
  if (size == 4) return *(const uint32_t *)buf;
  if (size == 8) return *(const uint64_t *)buf;
  return 0;
}

int cublasLtMatmulDescSetAttribute(void *d, int attr, const void *buf, size_t size) {
  if (dead("descAttr", 1, d)) return INVALID_VALUE;
  if (!d || !buf || desc_attr_size(attr) == 0 || size != desc_attr_size(attr)) {
    say("descAttr %s %d size=%zu rejected", name(d), attr, size);
    return INVALID_VALUE;
  }
  if (failing("cublasLtMatmulDescSetAttribute")) return failing("cublasLtMatmulDescSetAttribute");
  say("descAttr %s %d size=%zu value=%llu", name(d), attr, size, (unsigned long long)value(buf, size));
  return OK;
}

int cublasLtMatmulDescDestroy(void *d) {
  say("descDestroy %s", name(d));
  return bury(d);
}

int cublasLtMatrixLayoutCreate(void **l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (!l) return INVALID_VALUE;
  if (failing("cublasLtMatrixLayoutCreate")) return failing("cublasLtMatrixLayoutCreate");
  *l = make('L');
  say("layout %s type=%d rows=%llu cols=%llu ld=%lld", name(*l), type, (unsigned long long)rows, (unsigned long long)cols, (long long)ld);
  return OK;
}

int cublasLtMatrixLayoutDestroy(void *l) {
  say("layoutDestroy %s", name(l));
  return bury(l);
}

int cublasLtMatmulPreferenceCreate(void **p) {
  if (!p) return INVALID_VALUE;
  *p = make('P');
  say("prefCreate %s", name(*p));
  return OK;
}

int cublasLtMatmulPreferenceSetAttribute(void *p, int attr, const void *buf, size_t size) {
  /* MAX_WORKSPACE_BYTES (1) is uint64_t; SEARCH_MODE (0) and
   * MIN_ALIGNMENT_{A,B,C,D}_BYTES (5-8) uint32_t */
  size_t want = attr == 1 ? 8 : (attr == 0 || (attr >= 5 && attr <= 8)) ? 4 : 0;
  if (dead("prefAttr", 1, p)) return INVALID_VALUE;
  if (!p || !buf || want == 0 || size != want) {
    say("prefAttr %s %d size=%zu rejected", name(p), attr, size);
    return INVALID_VALUE;
  }
  say("prefAttr %s %d size=%zu value=%llu", name(p), attr, size, (unsigned long long)value(buf, size));
  return OK;
}

int cublasLtMatmulPreferenceDestroy(void *p) {
  say("prefDestroy %s", name(p));
  return bury(p);
}

#ifndef FAKE_NO_HEURISTIC
int cublasLtMatmulAlgoGetHeuristic(void *h, void *desc, void *a, void *b, void *c, void *d, void *pref, int requested,
                                   cublasLtMatmulHeuristicResult_t *results, int *count) {
  if (!h || !desc || !a || !b || !c || !d || !pref || requested < 1 || !results || !count) return INVALID_VALUE;
  if (dead("heuristic", 7, h, desc, a, b, c, d, pref)) return INVALID_VALUE;
  if (failing("cublasLtMatmulAlgoGetHeuristic")) return failing("cublasLtMatmulAlgoGetHeuristic");
  say("heuristic %s %s %s %s %s %s %s requested=%d", name(h), name(desc), name(a), name(b), name(c), name(d), name(pref), requested);
  memset(results, 0, sizeof *results * (size_t)requested);
  for (int i = 0; i < heur_count && i < requested; i++) {
    results[i].algo.data[0] = 0xA160 + (uint64_t)i;
    results[i].algo.data[7] = 0x7777;
    results[i].workspaceSize = heur_ws;
    results[i].wavesCount = 1.5f;
  }
  *count = heur_count < requested ? heur_count : requested;
  return OK;
}
#endif

int cublasLtMatmul(void *h, void *desc, const float *alpha, const void *A, void *Adesc, const void *B, void *Bdesc,
                   const float *beta, const void *C, void *Cdesc, void *D, void *Ddesc, const cublasLtMatmulAlgo_t *algo,
                   void *workspace, size_t workspaceSize, void *stream) {
  if (!h || !desc || !alpha || !beta || !Adesc || !Bdesc || !Cdesc || !Ddesc) return INVALID_VALUE;
  if (dead("matmul", 6, h, desc, Adesc, Bdesc, Cdesc, Ddesc)) return INVALID_VALUE;
  if (failing("cublasLtMatmul")) return failing("cublasLtMatmul");
  say("matmul %s %s alpha=%g A=%p %s B=%p %s beta=%g C=%p %s D=%p %s algo=%llx/%llx ws=%p wsSize=%zu stream=%p", name(h), name(desc), *alpha, A,
      name(Adesc), B, name(Bdesc), *beta, C, name(Cdesc), D, name(Ddesc), algo ? (unsigned long long)algo->data[0] : 0ull,
      algo ? (unsigned long long)algo->data[7] : 0ull, workspace, workspaceSize, stream);
  return OK;
}
