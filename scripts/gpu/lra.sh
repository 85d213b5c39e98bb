#!/usr/bin/env bash
# The Long Range Arena ListOps comparison of docs/RESULTS.md on a lent GPU:
# data generated on the device by the official rules (96,000 / 2,000 /
# 2,000 examples of 501..1999 tokens), then configs/lra-listops.toml (the
# LRA base config: 6 x 512, seq 2000, batch 32, 5,000 steps) trained for
# each architecture and seed until FNET_LRA_SECONDS have passed; each run's
# test accuracy is its best-validation checkpoint's. Here (with Go):
#
#   scripts/gpu/build.sh
#
# then on the device, from the repository root, carrying .device-carry:
#
#   FNET_LRA_ARCHS="fnet bert" scripts/gpu/lra.sh      (~8 min on an H200)
#   FNET_LRA_ARCHS="linear hybrid" scripts/gpu/lra.sh
#
# The hybrid is FNet with attention in its top 2 of 6 layers (the paper's hybrid).
# A speed and memory sweep by length (fnet-tui bench, one process per cell:
# tokens/s and peak device memory at 1000, 2000 and 4000 tokens) runs first
# unless FNET_LRA_BENCH=0. $OUT gets summary.txt (a line per run: test and
# val accuracy, best step, median tokens/s, peak GPU memory, minutes),
# bench.jsonl and lra-runs.tar.gz (configs, logs, metrics; no weights),
# refreshed after every run. Checked on the host with
#   FNET_LRA_DEVICE=cpu FNET_LRA_TINY=1 scripts/gpu/lra.sh
set -u
OUT=${OUT:-gpu-out}
BIN=${FNET_TUI:-.device-carry/fnet-tui}
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
runs=${FNET_LRA_RUNS:-/tmp/lra-runs}
data=${FNET_LRA_DATA:-/tmp/lra-listops}
device=${FNET_LRA_DEVICE:-cuda}
deadline=$((SECONDS + ${FNET_LRA_SECONDS:-540}))
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
read -r -a extra <<<"${FNET_LRA_EXTRA:-}"
counts=(--train 96000 --val 2000 --test 2000)
if [ -n "${FNET_LRA_TINY:-}" ]; then # a host check of the script itself: tiny data and model
	counts=(--train 64 --val 16 --test 16 --min-len 10 --max-len 60 --max-depth 4 --max-args 4)
	extra+=(--set model.num_layers=2 --set model.hidden_size=16 --set model.intermediate_size=32 --set model.heads=1
		--set data.seq_len=64 --set data.batch_size=8 --set train.steps=8 --set train.warmup_steps=2 --set eval.every=4 --set checkpoint.every=4)
fi
mkdir -p "$OUT" "$runs"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT/summary.txt"
if [ ! -f "$data/basic_test.tsv" ]; then
	t0=$SECONDS
	"$BIN" lra generate listops --out "$data" --seed 0 "${counts[@]}" 2>/dev/null || { echo "generate failed" | tee -a "$OUT/summary.txt"; exit 1; }
	echo "generated ListOps in $((SECONDS - t0)) s: $(wc -l <"$data/basic_train.tsv") train lines" | tee -a "$OUT/summary.txt"
fi
if [ "${FNET_LRA_BENCH:-1}" = 1 ] && [ -z "${FNET_LRA_TINY:-}" ]; then
	timeout 150 "$BIN" bench --device "$device" --preset small --arch fnet,bert,linear,hybrid --seq 1000,2000,4000 \
		--tokens-per-step 64000 --json --out "$OUT/bench.jsonl" >/dev/null 2>"$OUT/bench.err" ||
		echo "bench: rc $? (see bench.err)" | tee -a "$OUT/summary.txt"
fi
for seed in ${FNET_LRA_SEEDS:-1}; do
	for arch in ${FNET_LRA_ARCHS:-fnet bert linear hybrid}; do
		name=listops-$arch-s$seed
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$name: not started (time is up)" | tee -a "$OUT/summary.txt"
			continue
		fi
		set_arch=(--set "model.architecture=$arch")
		[ "$arch" = hybrid ] && set_arch=(--set model.attention_layers=2)
		rm -rf "${runs:?}/$name"
		t0=$SECONDS
		timeout $((deadline - SECONDS + 30)) "$BIN" finetune -c configs/lra-listops.toml --runs "$runs" --name "$name" \
			--set "finetune.data_dir=$data" --set "train.device=$device" --set "train.seed=$seed" "${set_arch[@]}" "${extra[@]}" \
			>"$runs/$name.out" 2>&1
		rc=$?
		python3 - "$runs/$name/metrics.jsonl" "$name" "$rc" "$((SECONDS - t0))" <<'PY' | tee -a "$OUT/summary.txt"
import json, statistics, sys
path, name, rc, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
try:
    lines = [json.loads(l) for l in open(path) if l.strip()]
except OSError as e:
    print(f"{name}: rc {rc}, no metrics ({e})"); sys.exit()
tps = [l["tokens_per_s"] for l in lines if l.get("split") == "train" and "tokens_per_s" in l]
mem = [l["gpu_mem_gib"] for l in lines if l.get("split") == "system" and "gpu_mem_gib" in l]
test = [l for l in lines if l.get("split") == "test"]
step = max([l["step"] for l in lines if l.get("split") == "train"] or [0])
t = test[-1] if test else {}
print(f"{name}: rc {rc} step {step} test_acc {t.get('test_accuracy', float('nan')):.4f} val_acc {t.get('val_accuracy', float('nan')):.4f} "
      f"best_step {int(t.get('checkpoint_step', 0))} tokens/s {statistics.median(tps) if tps else 0:.0f} "
      f"gpu_mem_gib {max(mem) if mem else 0:.2f} minutes {secs / 60:.1f}")
PY
		tar czf "$OUT/lra-runs.tar.gz" -C "$runs" --exclude checkpoints . 2>/dev/null
	done
done
cat "$OUT/summary.txt"
