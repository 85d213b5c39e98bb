#!/usr/bin/env bash
# The GLUE comparison of docs/RESULTS.md on a lent GPU: each task finetuned
# from a pretraining checkpoint and from scratch (same tokenizer), for
# several seeds, SST-2 with its whole training set. Here (with Go):
#
#   FNET_GLUE=1 scripts/gpu/build.sh
#
# then on the device, from the repository root, carrying .device-carry and
# the checkpoint folder:
#
#   scripts/gpu/glue.sh PRETRAIN_CHECKPOINT_DIR
#
# Runs are launched in the order seed, task, side until FNET_GLUE_SECONDS
# have passed, so a short lease still returns whole seeds. $OUT gets
# summary.txt (one line per run) and glue-runs.tar.gz (each run's config,
# log and metrics, no weights), refreshed after every run.
set -u
OUT=${OUT:-gpu-out}
BIN=${FNET_TUI:-.device-carry/fnet-tui}
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
GLUE=${FNET_GLUE_DIR:-.device-carry/glue}
ck=${1:?usage: scripts/gpu/glue.sh PRETRAIN_CHECKPOINT_DIR}
runs=${FNET_GLUE_RUNS:-/tmp/glue-runs}
device=${FNET_GLUE_DEVICE:-cuda}
deadline=$((SECONDS + ${FNET_GLUE_SECONDS:-240}))
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
read -r -a extra <<<"${FNET_GLUE_EXTRA:-}"
mkdir -p "$OUT" "$runs"
nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | tee "$OUT/summary.txt"
for seed in ${FNET_GLUE_SEEDS:-1 2 3}; do
	for task in ${GLUE_TASKS:-rte wnli mrpc stsb cola sst2}; do
		for side in pretrained scratch; do
			name=$task-$side-s$seed
			if [ "$SECONDS" -ge "$deadline" ]; then
				echo "$name: not started (time is up)" | tee -a "$OUT/summary.txt"
				continue
			fi
			case $side in
			pretrained) from=(--from "$ck") ;;
			scratch) from=(--set data.tokenizer="$ck/tokenizer.model") ;;
			esac
			t0=$SECONDS
			timeout 150 "$BIN" finetune -c "configs/glue-$task.toml" "${from[@]}" --runs "$runs" --name "$name" \
				--set train.device="$device" --set train.seed="$seed" --set finetune.glue_dir="$GLUE" "${extra[@]}" \
				>"$runs/$name.out" 2>&1
			rc=$?
			best=$(grep -h '^best dev\|best dev' "$runs/$name/train.log" 2>/dev/null | tail -n 1 | sed 's/^[0-9:]* //')
			[ $rc -ne 0 ] && best="FAILED rc=$rc: $(tail -n 2 "$runs/$name.out" | tr '\n' ' ')"
			echo "$name $((SECONDS - t0))s $best" | tee -a "$OUT/summary.txt"
			tar -czf "$OUT/glue-runs.tar.gz" --exclude=checkpoints --exclude=predictions -C "$runs" .
		done
	done
done
