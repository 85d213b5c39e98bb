#!/usr/bin/env bash
# Issue 17's device check of data parallel over NCCL, on a lent GPU, from
# the repository root. Here (with Go):
#
#   scripts/gpu/build-nccl.sh      (runs scripts/gpu/build.sh, adds .device-carry/train.test)
#
# then on the device, carrying .device-carry:
#
#   scripts/gpu/nccl.sh            (~6 min on an H200)
#
# Stages, each with its own time limit; a failing stage does not stop the
# later ones, and $OUT/summary.txt and $OUT/all-logs.txt are rewritten
# after every stage:
#
#   1 doctor       fnet-tui doctor: NCCL loads, its version
#   2 coll1        world of one: the NCCL Collective on the device (host
#                  sums and means, the engine's overlapped and unarmed
#                  device averages against the host average of the same
#                  gradients: TestNCCLCollectiveOnDevice)
#     trainer1     world of one through the real trainer (train.Finetune on
#                  the CUDA engine with the NCCL Collective) against the
#                  same run without it: equal losses and gradient norms
#                  (TestNCCLTrainerMatchesOneProcess)
#   3 coll2        NCCL ≥ 2.30 only (NCCL_MULTI_RANK_GPU_ENABLE=1 lets two
#     trainer2     ranks share the one GPU): the same two tests with two rank
#                  processes started here with torchrun's variables; the
#                  trainer's 2-rank losses against one process's
#   4 time1        FNet-Base (seq 512, batch FNET_BENCH_BATCH=32, bf16): the
#     time2        step without and with the overlapped average, the average
#                  alone after the backward and its bandwidth, at world size
#                  1 and (NCCL ≥ 2.30) 2 (TestNCCLAllReduceTimeBase)
#
# The summary ends with the all-reduce time per step and its share of the
# step at Base, and an 8-GPU estimate from a bus bandwidth: the measured
# 2-ranks-on-one-GPU figure is not NVLink's, so the estimate uses
# FNET_NCCL_BUSBW_GBS (default 450 GB/s, the order nccl-tests' all_reduce_perf
# reports for large messages on 8×H100/H200 over NVLink 4 — an assumption,
# not a measurement here). FNET_NCCL_FORCE2=1 tries the 2-rank stages on an
# older NCCL too. Checked on the host (every test skips without a GPU) with
#   OUT=/tmp/nccl-out scripts/gpu/nccl.sh
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
LOGS=${LOGS:-$(mktemp -d)}
ROOT=$(pwd)
BIN=$ROOT/.device-carry
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
export FNET_BENCH_BATCH=${FNET_BENCH_BATCH:-32}
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
RUNS=${FNET_NCCL_RUNS_BASE:-/tmp/fnet-nccl-runs}
rm -rf "$RUNS"
mkdir -p "$RUNS"
# Go test binaries expect to run in their package's directory.
CT=(bash -c 'cd cuda && exec "$0" "$@"' "$BIN/cuda.test")
TT=(bash -c 'cd train && exec "$0" "$@"' "$BIN/train.test")
declare -a SUMMARY

publish() { # the summary and every log so far, under $OUT
	printf '%s\n' "${SUMMARY[@]}" >"$OUT/summary.txt"
	for f in "$LOGS"/*.log; do
		[ -f "$f" ] && { echo "===== $(basename "$f")"; cat "$f"; }
	done >"$OUT/all-logs.txt"
}

stage() { # name limit command...: one process
	local name=$1 limit=$2
	shift 2
	local t0=$SECONDS
	echo "=== $name (limit ${limit}s)"
	timeout --kill-after=5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
	verdict "$name" $? $((SECONDS - t0))
}

verdict() { # name rc seconds
	local v=ok
	[ "$2" -ne 0 ] && v="FAILED rc=$2"
	[ "$2" -eq 124 ] && v="TIMED OUT"
	grep -q -- '--- SKIP' "$LOGS/$1.log" 2>/dev/null && ! grep -q -- '--- PASS' "$LOGS/$1.log" && v="skipped: $(grep -m1 -B1 -- '--- SKIP' "$LOGS/$1.log" | head -1 | sed 's/^ *//' | cut -c1-100)"
	SUMMARY+=("$(printf '%-10s %-14s %4ss' "$1" "$v" "$3")")
	tail -n "${TAIL:-15}" "$LOGS/$1.log"
	publish
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ranks2() { # name limit command...: two rank processes on the one GPU, torchrun's variables
	local name=$1 limit=$2
	shift 2
	local t0=$SECONDS port pids=() rc=0
	port=$(free_port)
	echo "=== $name (2 ranks, port $port, limit ${limit}s)"
	for r in 0 1; do
		env RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
			FNET_RUN_ID="nccl-$name-$port" NCCL_MULTI_RANK_GPU_ENABLE=1 \
			timeout --kill-after=5 "$limit" "$@" >"$LOGS/$name.rank$r.txt" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || { local c=$?; [ $rc -eq 0 ] && rc=$c; }
	done
	{ echo "--- rank 0"; cat "$LOGS/$name.rank0.txt"; echo "--- rank 1"; cat "$LOGS/$name.rank1.txt"; } >"$LOGS/$name.log"
	rm -f "$LOGS/$name.rank0.txt" "$LOGS/$name.rank1.txt"
	verdict "$name" $rc $((SECONDS - t0))
}

stage smi 15 nvidia-smi
TAIL=8 stage doctor 60 "$BIN/fnet-tui" doctor
nccl=$(grep -E '^NCCL:' "$LOGS/doctor.log" | grep -oE 'version [0-9]+\.[0-9]+\.[0-9]+' | awk '{print $2}')
SUMMARY+=("NCCL version: ${nccl:-none found}")
publish
multi=0
if [ -n "$nccl" ] && [ "$(printf '%s\n' 2.30.0 "$nccl" | sort -V | head -1)" = 2.30.0 ]; then
	multi=1
fi
[ "${FNET_NCCL_FORCE2:-0}" = 1 ] && multi=1

stage coll1 120 "${CT[@]}" -test.v -test.run '^TestNCCLCollectiveOnDevice$'
stage trainer1 240 env FNET_NCCL_RUNS="$RUNS/one" FNET_NCCL_TAG=one "${TT[@]}" -test.v -test.run '^TestNCCLTrainerMatchesOneProcess$'
if [ $multi = 1 ]; then
	ranks2 coll2 150 "${CT[@]}" -test.v -test.run '^TestNCCLCollectiveOnDevice$'
	ranks2 trainer2 300 env FNET_NCCL_RUNS="$RUNS/two" FNET_NCCL_TAG=two "${TT[@]}" -test.v -test.run '^TestNCCLTrainerMatchesOneProcess$'
else
	SUMMARY+=("coll2/trainer2: skipped (NCCL ${nccl:-missing} < 2.30: no two ranks on one GPU; FNET_NCCL_FORCE2=1 tries anyway)")
	publish
fi
stage time1 240 env FNET_CUDA_BENCH=1 "${CT[@]}" -test.v -test.run '^TestNCCLAllReduceTimeBase$'
if [ $multi = 1 ]; then
	ranks2 time2 300 env FNET_CUDA_BENCH=1 "${CT[@]}" -test.v -test.run '^TestNCCLAllReduceTimeBase$'
fi

# the numbers: trainer differences, all-reduce time and share, 8-GPU estimate
python3 - "$LOGS" "${FNET_NCCL_BUSBW_GBS:-450}" <<'PY' >"$LOGS/numbers.txt" 2>&1
import json, os, re, sys
logs, busbw = sys.argv[1], float(sys.argv[2])
def lines(name):
    p = os.path.join(logs, name + ".log")
    return open(p).read().splitlines() if os.path.exists(p) else []
for name in ("trainer1", "trainer2"):
    for l in lines(name):
        if "NCCL_TRAINER" in l:
            print(f"{name}: {l.strip()}")
def result(name):  # rank 0's RESULT_JSON
    for l in lines(name):
        if l.startswith("RESULT_JSON ") and '"rank":0' in l:
            return json.loads(l[len("RESULT_JSON "):])
for name in ("time1", "time2"):
    r = result(name)
    if not r:
        continue
    print(f"{name}: world {r['world_size']}, NCCL {r['nccl']}, batch {r['batch']}x{r['seq']}: step {r['step_ms_plain']:.2f} ms plain, "
          f"{r['step_ms_overlapped']:.2f} ms with the overlapped average ({r['exposed_ms']:+.2f} ms); the average alone "
          f"{r['allreduce_ms']:.2f} ms = {100*r['allreduce_share']:.1f}% of a step; {r['grad_bytes']/2**20:.0f} MiB in {r['groups']} groups, "
          f"algbw {r['algbw_gbs']:.1f} GB/s, busbw {r['busbw_gbs']:.1f} GB/s")
r = result("time1") or result("time2")
if r:
    n, B, last = 8, r["grad_bytes"], r["last_group_bytes"]
    t_all = 2 * (n - 1) / n * B / (busbw * 1e9) * 1e3
    t_last = 2 * (n - 1) / n * last / (busbw * 1e9) * 1e3
    step = r["step_ms_plain"]
    print(f"8-GPU estimate at busbw {busbw:.0f} GB/s (assumed): the whole average {t_all:.2f} ms per step; "
          f"the embeddings' group, which cannot overlap, {t_last:.2f} ms ({last/2**20:.0f} MiB)")
    print(f"  scaling efficiency (same batch per GPU): {100*step/(step+t_last):.1f}% if the layers' reductions hide under the backward, "
          f"{100*step/(step+t_all):.1f}% if nothing overlaps; {8*r['batch']*r['seq']/((step+t_last)/1e3):.0f} to "
          f"{8*r['batch']*r['seq']/((step+t_all)/1e3):.0f} tokens/s over 8 GPUs")
PY
SUMMARY+=("" "$(cat "$LOGS/numbers.txt")")
publish
echo
cat "$OUT/summary.txt"
