/* A stand-in for libnccl.so.2 with NCCL's C signatures, built by
 * TestNCCLBindingsAgainstAFakeLibrary to check the purego calls' argument
 * order and pointers on a machine without NCCL. Host memory stands in for
 * device memory; one process plays every rank, so a sum is nranks times a
 * rank's own buffer and an average is the buffer itself. Tests only. */
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef struct fakeComm { int nranks, rank, async; ncclUniqueId id; } *ncclComm_t;

static int version = 22304;
static int aborted, destroyed;
static void *last_stream;
static const char *last_error = "";

void fakeSetVersion(int v) { version = v; }
void fakeSetAsync(ncclComm_t c, int state) { c->async = state; }
int fakeAborted(void) { return aborted; }
int fakeDestroyed(void) { return destroyed; }
void *fakeLastStream(void) { return last_stream; }
void fakeCommID(ncclComm_t c, ncclUniqueId *out) { *out = c->id; }
int fakeCommRank(ncclComm_t c) { return c->rank; }
int fakeCommSize(ncclComm_t c) { return c->nranks; }

int ncclGetVersion(int *v) { *v = version; return 0; }

int ncclGetUniqueId(ncclUniqueId *id) {
  for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 3);
  return 0;
}

int ncclCommInitRankScalable(ncclComm_t *out, int nranks, int myrank, int nId, ncclUniqueId *ids, void *config) {
  if (!out || !ids || nId != 1 || config != NULL || nranks < 1 || myrank < 0 || myrank >= nranks) {
    last_error = "fake: improper ncclCommInitRankScalable arguments";
    return 4; /* ncclInvalidArgument */
  }
  ncclComm_t c = calloc(1, sizeof *c);
  c->nranks = nranks;
  c->rank = myrank;
  c->id = ids[0];
  *out = c;
  return 0;
}

int ncclAllReduce(const void *send, void *recv, size_t count, int dtype, int op, ncclComm_t comm, void *stream) {
  last_stream = stream;
  double k;
  if (op == 0) k = comm->nranks;      /* ncclSum */
  else if (op == 4) k = 1;            /* ncclAvg */
  else { last_error = "fake: unsupported op"; return 4; }
  if (dtype == 7) {
    const float *s = send; float *r = recv;
    for (size_t i = 0; i < count; i++) r[i] = (float)(s[i] * k);
  } else if (dtype == 8) {
    const double *s = send; double *r = recv;
    for (size_t i = 0; i < count; i++) r[i] = s[i] * k;
  } else {
    last_error = "fake: unsupported data type";
    return 4;
  }
  return 0;
}

int ncclCommGetAsyncError(ncclComm_t c, int *state) { *state = c->async; return 0; }
int ncclCommDestroy(ncclComm_t c) { destroyed++; free(c); return 0; }
int ncclCommAbort(ncclComm_t c) { aborted++; free(c); return 0; }

const char *ncclGetErrorString(int r) {
  switch (r) {
  case 0: return "no error";
  case 4: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
  case 6: return "remote process exited or there was a network error";
  default: return "unknown result code";
  }
}

const char *ncclGetLastError(ncclComm_t c) { (void)c; return last_error; }
