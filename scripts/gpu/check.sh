#!/usr/bin/env bash
# The GPU check, run on the lent device machine from the repository root
# after scripts/gpu/build.sh ran here: nvidia-smi, fnet-tui doctor, every
# kernel against its CPU version (attention softmax, BERT embeddings and
# axpy included), the engine against the CPU engine for FNet (engine) and
# for every other architecture (archs: bert, linear, random, ff_only and
# hybrids, padded batches), every PyTorch reference fixture (parity: fp32
# ≤ 1e-3, tf32 ≤ 5e-3, bf16 ≤ 2e-2), one training step of each
# architecture at the base size (archbench), our FNet-Base seq-512
# training step against Hugging Face's FNetForPreTraining, a short
# pretraining run with falling loss, and cuBLAS's GEMM ceiling.
#
# FNET_CHECK_ONLY="kernels engine" runs only the named stages.
# Each stage has its own time limit and a failing stage does not stop the
# later ones. Logs go to $OUT (or ./gpu-out); the summary is printed last.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
# Stage logs go to LOGS and are joined into $OUT/all-logs.txt at the end
# (the device tool returns at most 8 files).
LOGS=${LOGS:-$(mktemp -d)}
ROOT=$(pwd)
BIN=$ROOT/.device-carry
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
export FNET_PARITY_DIR=$BIN/fixtures
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
export PYTHONUNBUFFERED=1
BATCH=${FNET_BENCH_BATCH:-32}
export FNET_BENCH_BATCH=$BATCH
declare -a SUMMARY
# Go test binaries expect to run in their package's directory.
CT=(bash -c 'cd cuda && exec "$0" "$@"' "$BIN/cuda.test")

stage() { # name timeout command...
  local name=$1 limit=$2
  shift 2
  if [ -n "${FNET_CHECK_ONLY:-}" ] && [[ " $FNET_CHECK_ONLY " != *" $name "* ]]; then
    SUMMARY+=("$(printf '%-10s %-14s' "$name" skipped)")
    : >"$LOGS/$name.log"
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
  tail -n "${TAIL:-25}" "$LOGS/$name.log"
}

stage smi 15 nvidia-smi
TAIL=12 stage libs 15 bash -c 'ldconfig -p | grep -E "libcublas|libnvrtc|libcuda|nvidia-ml"; ls -d /usr/local/cuda* /usr/local/nvidia/lib64 2>&1; find / -xdev \( -name "libnvrtc.so*" -o -name "libcublas.so*" \) 2>/dev/null | head'
stage doctor 30 $BIN/fnet-tui doctor
stage kernels 60 "${CT[@]}" -test.v -test.run 'TestKernel|TestGemm'
stage engine 90 "${CT[@]}" -test.v -test.run '^(TestEngineMatchesCPUEngine|TestEngineHiddenStates)$'
stage archs 150 "${CT[@]}" -test.v -test.run '^TestEngineMatchesCPUEngineArchitectures$'
stage parity 150 "${CT[@]}" -test.v -test.run '^TestParityWithReferenceFixtures$'
# one cell per architecture at the base size, seq 512 (each in its own process)
TAIL=12 stage archbench 120 "$BIN/fnet-tui" bench --preset base --arch fnet,bert,linear,random,ff_only,hybrid --seq 512 \
  --device cuda --steps 5 --warmup 2
TAIL=8 stage bench 75 env FNET_CUDA_BENCH=1 FNET_BENCH_QUICK=${FNET_BENCH_QUICK:-0} "${CT[@]}" -test.v -test.run TestBenchTrainStep
TAIL=4 stage hf 100 python3 scripts/gpu/hf_bench.py --batch "$BATCH"
TAIL=6 stage train 60 env FNET_CUDA_TRAIN_STEPS=${FNET_CUDA_TRAIN_STEPS:-300} "${CT[@]}" -test.v -test.run TestPretrainLossFalls
# the real trainer: FNet-Base, seq 512, batch 32, on three Gutenberg books
# with the BERT vocabulary (fnet-tui pretrain, run directory under /tmp)
TAIL=8 stage pretrain 90 "$BIN/fnet-tui" pretrain -c configs/pretrain-mini.toml --runs /tmp/fnet-runs --name gpu-base \
  --set model.preset=base --set data.seq_len=512 --set data.batch_size="$BATCH" --set train.device=cuda \
  --set data.corpus="$BIN/corpus" --set data.tokenizer="$BIN/tok/vocab.txt" --set train.steps=300 \
  --set train.lr=1e-4 --set train.warmup_steps=30 --set eval.every=100 --set eval.batches=4 \
  --set checkpoint.every=1000 --set log.every=25
cp /tmp/fnet-runs/gpu-base/metrics.jsonl "$OUT/pretrain-metrics.jsonl" 2>/dev/null
cp /tmp/fnet-runs/gpu-base/train.log "$OUT/pretrain-train.log" 2>/dev/null
TAIL=6 stage gemm 25 "${CT[@]}" -test.run XXX -test.bench BenchmarkGemmBF16 -test.benchtime 200x

echo
echo "=== kernel / parity lines"
grep -hE '^\s+(kernel_test|kernel_attention_test|engine_test)\.go:[0-9]+: (PARITY|.*relative L2 error [0-9.e+-]+ >|worst|gradient norm)' "$LOGS/kernels.log" "$LOGS/engine.log" "$LOGS/archs.log" "$LOGS/parity.log" | head -120
grep -hE -- '--- (PASS|FAIL|SKIP)' "$LOGS/kernels.log" "$LOGS/engine.log" "$LOGS/parity.log"
grep -hE -- '^    --- FAIL' "$LOGS/archs.log"
grep -chE -- '^    --- PASS' "$LOGS/archs.log" | sed 's/^/archs: subtests passed: /'
echo "=== speed (same GPU, FNet-Base, seq 512, batch $BATCH)"
grep -h '^RESULT_JSON' "$LOGS/bench.log" "$LOGS/hf.log" > "$OUT/results.jsonl"
python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.strip()]
hf = next((r for r in rows if r["what"].startswith("hugging")), None)
for r in rows:
    tag = f'{r["what"].split()[0]} {r.get("precision", "")}{" mixTF32" if r.get("mix_tf32") else ""}{" batch-major" if r.get("batch_major") else ""} B={r["batch"]}'
    line = f"{tag:40s} {r['step_ms_median']:8.2f} ms/step {r['tokens_per_s']:10.0f} tok/s  MFU {100*r['mfu']:5.1f}%"
    if hf and r is not hf:
        line += f"  x{r['tokens_per_s']/hf['tokens_per_s']:.2f} vs HF"
    print(line)
PY
grep -h '^PROFILE' "$LOGS/bench.log" | head -45
grep -h 'TRAIN_RESULT\|^TRAIN step' "$LOGS/train.log" | tail -4
grep -h 'step \|eval \|done' "$LOGS/pretrain.log" | tail -6
grep -h 'TFLOP/s' "$LOGS/gemm.log"
for f in "$LOGS"/*.log; do echo "##### $(basename "$f")"; cat "$f"; done > "$OUT/all-logs.txt"
echo "=== stages"
printf '%s\n' "${SUMMARY[@]}"
