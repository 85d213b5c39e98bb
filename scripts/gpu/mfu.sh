#!/usr/bin/env bash
# Issue 16 on a lent GPU: are the fused paths (cuda.Options.Fuse,
# FNET_CUDA_FUSE) correct, and which of them win? Here (with Go):
#
#   scripts/gpu/build.sh
#
# then on the device, from the repository root, carrying .device-carry:
#
#   scripts/gpu/mfu.sh                     (~6 min on an H100/H200; limits add to 17)
#
# Stages, each with its own time limit; a failing stage does not stop the
# later ones, and $OUT/summary.txt is rewritten after every stage so a
# lease cut short still returns what ran:
#   kernels   every kernel test, the new fused kernels against the ones they
#             replace (TestKernel*: NaN-poisoned outputs, awkward shapes)
#   engine-*  the CUDA engine against the CPU engine with the fused paths on
#             (pretraining, classifier, regression heads): engine-all with
#             FNET_CUDA_FUSE=all (the FFN on cuBLASLt epilogues), engine-gelu
#             with every path but the epilogue (the FFN on the 16-byte kernels)
#   parity-*  every PyTorch reference fixture, the same two ways: the bf16
#             bound ≤ 2e-2 must keep holding (fp32 ≤ 1e-3, tf32 ≤ 5e-3)
#   fusions   TestBenchFusions: FNet-Base seq 512 batch 32 and the mini preset
#             (batch 128 × 128), the plain sequence, each path alone and all
#             of them, with the event profile of each (the docs/GPU.md table)
#   batch64   the plain sequence and all paths at batch 64
#   hf        Hugging Face FNetForPreTraining in the same session (the ≥ 4x
#             target), when torch and transformers are installed
# If a lease is short, split it: FNET_MFU_ONLY="kernels engine-all
# parity-all engine-gelu parity-gelu", then FNET_MFU_ONLY="fusions
# batch64 hf". FNET_MFU_ONLY names the stages to run; FNET_BENCH_FUSE
# picks the variants (see cuda/bench_test.go).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
LOGS=${LOGS:-$(mktemp -d)}
ROOT=$(pwd)
BIN=$ROOT/.device-carry
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
export FNET_PARITY_DIR=$BIN/fixtures
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
export PYTHONUNBUFFERED=1
BATCH=${FNET_BENCH_BATCH:-32}
CT=(bash -c 'cd cuda && exec "$0" "$@"' "$BIN/cuda.test")
declare -a SUMMARY

summarise() {
	{
		nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
		echo "commit $(cat "$BIN/COMMIT" 2>/dev/null)"
		printf '%s\n' "${SUMMARY[@]}"
		echo
		grep -h -- '--- FAIL' "$LOGS"/*.log 2>/dev/null | head -40
		grep -hE 'worst|relative L2 error [0-9.e+-]+ >' "$LOGS"/parity-*.log 2>/dev/null | head -40
		grep -h '^RESULT_JSON' "$LOGS"/fusions.log "$LOGS"/batch64.log "$LOGS"/hf.log 2>/dev/null >"$OUT/results.jsonl"
		python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.strip()]
hf = next((r for r in rows if r.get("what", "").startswith("hugging")), None)
for r in rows:
    if r is hf:
        continue
    line = f'{r.get("preset", "base"):5s} B={r["batch"]:<4d} fuse={r.get("fuse", "none"):36s} {r["step_ms_median"]:8.2f} ms/step {r["tokens_per_s"]:11.0f} tok/s  MFU {100*r["mfu"]:5.1f}%  x{r.get("speedup_vs_first", 1):.3f}'
    if hf and r.get("preset", "base") == "base" and r["batch"] == hf["batch"]:
        line += f'  x{r["tokens_per_s"]/hf["tokens_per_s"]:.2f} vs HF'
    print(line)
if hf:
    print(f'HF FNetForPreTraining B={hf["batch"]}: {hf["step_ms_median"]:.2f} ms/step {hf["tokens_per_s"]:.0f} tok/s')
PY
	} >"$OUT/summary.txt" 2>&1
	for f in "$LOGS"/*.log; do echo "##### $(basename "$f")"; cat "$f"; done >"$OUT/all-logs.txt"
}

stage() { # name timeout command...
	local name=$1 limit=$2
	shift 2
	if [ -n "${FNET_MFU_ONLY:-}" ] && [[ " $FNET_MFU_ONLY " != *" $name "* ]]; then
		return
	fi
	local t0=$SECONDS
	echo "=== $name (limit ${limit}s)"
	timeout --kill-after=5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
	local rc=$?
	local verdict=ok
	[ $rc -ne 0 ] && verdict="FAILED rc=$rc"
	[ $rc -eq 124 ] && verdict="TIMED OUT"
	SUMMARY+=("$(printf '%-10s %-14s %4ss' "$name" "$verdict" $((SECONDS - t0)))")
	tail -n "${TAIL:-12}" "$LOGS/$name.log"
	summarise
}

stage kernels 90 "${CT[@]}" -test.v -test.run 'TestKernel|TestGemm|TestLt'
# all: the FFN takes the cuBLASLt epilogues; gelu: the 16-byte GELU kernels
# (the epilogue wins when both are on, so each needs its own run)
for pair in all:all gelu:ln-bwd,ln-fwd,gelu,adamw; do
	tag=${pair%%:*} fuse=${pair#*:}
	stage "engine-$tag" 120 env FNET_CUDA_FUSE=$fuse "${CT[@]}" -test.v -test.run '^TestEngineMatchesCPUEngine$'
	stage "parity-$tag" 150 env FNET_CUDA_FUSE=$fuse "${CT[@]}" -test.v -test.run '^TestParityWithReferenceFixtures$'
done
TAIL=20 stage fusions 200 env FNET_CUDA_BENCH=1 FNET_BENCH_BATCH="$BATCH" "${CT[@]}" -test.v -test.run '^TestBenchFusions$'
TAIL=6 stage batch64 90 env FNET_CUDA_BENCH=1 FNET_BENCH_BATCH=$((2 * BATCH)) FNET_BENCH_PRESETS=base FNET_BENCH_FUSE='none;all' \
	"${CT[@]}" -test.v -test.run '^TestBenchFusions$'
if python3 -c 'import torch, transformers' 2>/dev/null; then
	TAIL=4 stage hf 100 python3 scripts/gpu/hf_bench.py --batch "$BATCH"
else
	SUMMARY+=("$(printf '%-10s %-14s' hf 'skipped (no torch/transformers)')")
fi
summarise
echo
cat "$OUT/summary.txt"
