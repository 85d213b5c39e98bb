#!/usr/bin/env bash
# Pretrains the mini model on the whole Gutenberg corpus on a lent GPU
# machine, for the GLUE comparison in docs/RESULTS.md. Here (with Go):
#
#   FNET_FULL_CORPUS=1 scripts/gpu/build.sh
#
# then on the device, from the repository root, carrying .device-carry:
#
#   scripts/gpu/pretrain-mini.sh
#
# It times a short run first and sizes the real run to FNET_PRETRAIN_SECONDS
# of training, so the linear decay ends where the time does. What comes
# back in $OUT: the run's config, metrics, log, trainer state and the
# model weights in parts of under 16 MiB (rejoin with cat; the tokenizer is
# the one carried, .device-carry/tokenizer.model).
set -euo pipefail
OUT=${OUT:-gpu-out}
BIN=.device-carry
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
SECONDS_BUDGET=${FNET_PRETRAIN_SECONDS:-420}
BATCH=${FNET_PRETRAIN_BATCH:-128}
DEVICE=${FNET_PRETRAIN_DEVICE:-cuda}
CALIB_STEPS=${FNET_CALIB_STEPS:-150}
RUNS=${FNET_PRETRAIN_RUNS:-/tmp/fnet-runs}
mkdir -p "$OUT" /tmp/fnet-corpus "$RUNS"
tar -xzf "$BIN/gutenberg.tar.gz" -C /tmp/fnet-corpus
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true

common=(-c configs/pretrain-mini.toml --runs "$RUNS"
	--set train.device="$DEVICE" --set data.corpus=/tmp/fnet-corpus
	--set data.tokenizer="$BIN/tokenizer.model" --set data.batch_size="$BATCH"
	--set data.held_out=0.02)

# 1. time a short run (same shapes) to size the real one
"$BIN/fnet-tui" pretrain "${common[@]}" --name calibrate --set train.steps="$CALIB_STEPS" \
	--set eval.every=100000 --set checkpoint.every=100000 --set log.every=25 >/dev/null
ms=$(python3 - "$RUNS/calibrate/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ms = [r["step_ms"] for r in rows if r.get("split") == "train" and "step_ms" in r]
print(sorted(ms[len(ms) // 2:])[len(ms[len(ms) // 2:]) // 2])  # median of the later half
PY
)
steps=$(python3 -c "print(max(100, int($SECONDS_BUDGET * 1000 / ($ms * 1.08)) // 100 * 100))")
echo "calibration: $ms ms/step at batch $BATCH -> $steps steps for ${SECONDS_BUDGET}s"

# 2. the real run; a hard limit keeps its periodic checkpoints if it overruns
every=$((steps / 10))
timeout --kill-after=10 $((SECONDS_BUDGET * 12 / 10)) \
	"$BIN/fnet-tui" pretrain "${common[@]}" --name pretrain-mini-gutenberg-gpu \
	--set train.steps="$steps" --set train.warmup_steps=$((steps / 20)) \
	--set eval.every="$every" --set eval.batches=40 --set checkpoint.every="$every" \
	--set checkpoint.keep=1 --set log.every=50 || echo "pretrain exited with $?"

run=$RUNS/pretrain-mini-gutenberg-gpu
cp "$run/config.toml" "$run/metrics.jsonl" "$run/train.log" "$OUT/"
ck=$(readlink -f "$run/checkpoints/latest")
cp "$ck/trainer.json" "$OUT/"
split -b 12000000 "$ck/model.safetensors" "$OUT/model.safetensors.part-"
sha256sum "$ck/model.safetensors" | cut -d' ' -f1 >"$OUT/model.sha256"
tail -n 4 "$run/train.log"
