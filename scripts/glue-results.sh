#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: GLUE dev scores of the mini model finetuned
# from a pretraining checkpoint against the same architecture trained from
# scratch with the same tokenizer.
#
#   scripts/glue-results.sh PRETRAIN_RUN_DIR [RUNS_DIR]
#
# Each task runs its configs/glue-TASK.toml twice; SST-2's training set is
# capped (SST2_MAX_TRAIN, default 10,000 examples): the whole run takes about
# 85 minutes on 2 cores. GLUE_TASKS picks the tasks, GLUE_SIDES which of
# "pretrained scratch" to run (both by default). The table at the end
# is `fnet-tui glue results`.
set -euo pipefail
cd "$(dirname "$0")/.."
pre=${1:?usage: scripts/glue-results.sh PRETRAIN_RUN_DIR [RUNS_DIR]}
runs=${2:-runs/glue-results}
bin=${FNET_TUI:-./bin/fnet-tui}
[ -x "$bin" ] || go build -o "$bin" ./cmd/fnet-tui
tok="$pre/checkpoints/latest/tokenizer.model"
[ -f "$tok" ] || { echo "no tokenizer at $tok" >&2; exit 1; }
for task in ${GLUE_TASKS:-rte wnli mrpc stsb cola sst2}; do
	extra=()
	[ "$task" = sst2 ] && extra=(--set "finetune.max_train=${SST2_MAX_TRAIN:-10000}")
	for side in ${GLUE_SIDES:-pretrained scratch}; do
		case $side in
		pretrained) from=(--from "$pre") ;;
		scratch) from=(--set data.tokenizer="$tok") ;;
		*) echo "GLUE_SIDES: unknown side $side (want pretrained or scratch)" >&2; exit 2 ;;
		esac
		"$bin" finetune -c "configs/glue-$task.toml" "${from[@]}" --runs "$runs" --name "$task-$side" "${extra[@]}"
	done
done
"$bin" glue results --runs "$runs"
