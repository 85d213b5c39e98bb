#!/usr/bin/env bash
# Quality at equal compute, as docs/RESULTS.md reports it: the mini model
# pretrained with each architecture for the same wall time on the same
# corpus (the number of steps each gets is BUDGET_S divided by its own
# measured ms/step on this machine), then finetuned on GLUE dev tasks from
# its checkpoint. Prints held-out MLM accuracy per architecture and the
# best dev score per task (fnet-tui glue results --json, tabulated).
#
#   scripts/compare-quality.sh [ARCHS]      (default: "fnet bert linear hybrid")
#
# BUDGET_S (default 300) is each pretraining's wall time; TASKS (default
# "rte mrpc stsb sst2") the GLUE tasks, SST-2's training set capped at
# SST2_MAX_TRAIN (default 5000); DEVICE (default cpu) where everything runs;
# RUNS (default runs/compare-quality) the runs folder; CORPUS the pretraining
# corpus (default ../shared/data/corpus/gutenberg); FT_EXTRA more finetune
# flags (e.g. "--set finetune.max_train=64" for a smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
archs=${1:-fnet bert linear hybrid}
budget=${BUDGET_S:-300}
tasks=${TASKS:-rte mrpc stsb sst2}
device=${DEVICE:-cpu}
runs=${RUNS:-runs/compare-quality}
corpus=${CORPUS:-../shared/data/corpus/gutenberg}
bin=${FNET_TUI:-./bin/fnet-tui}
[ -x "$bin" ] || go build -o "$bin" ./cmd/fnet-tui
mkdir -p "$runs"
arch_set() {
	case $1 in
	hybrid) echo "--set model.architecture=fnet --set model.attention_layers=2 --set model.attention_layout=top" ;;
	*) echo "--set model.architecture=$1" ;;
	esac
}
t0=$(date +%s)
for arch in $archs; do
	cell=$arch
	ms=$("$bin" bench --preset mini --arch "$cell" --seq 128 --tokens-per-step 2048 --steps 4 --warmup 1 --device "$device" --json |
		python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["ms_per_step"])')
	steps=$(python3 -c "print(max(20, int($budget * 1000 / $ms)))")
	every=$((steps / 5))
	echo "== $arch: $ms ms/step -> $steps steps in ${budget}s" >&2
	# shellcheck disable=SC2046
	"$bin" pretrain -c configs/pretrain-mini.toml --set data.corpus="$corpus" $(arch_set "$arch") \
		--set train.steps="$steps" --set train.warmup_steps=$((steps / 20)) --set eval.every="$every" \
		--set checkpoint.every="$every" --set train.device="$device" --runs "$runs" --name "pre-$arch" >/dev/null
	for task in $tasks; do
		extra=()
		[ "$task" = sst2 ] && extra=(--set "finetune.max_train=${SST2_MAX_TRAIN:-5000}")
		"$bin" finetune -c "configs/glue-$task.toml" --from "$runs/pre-$arch" --set train.device="$device" \
			--runs "$runs" --name "$task-$arch" "${extra[@]}" ${FT_EXTRA:-} >/dev/null
	done
done
echo "total: $(( ($(date +%s) - t0) / 60 )) minutes" >&2
"$bin" glue results --runs "$runs" --json >"$runs/glue.json"
python3 - "$runs" "$archs" "$tasks" <<'PY'
import json, os, sys
runs, archs, tasks = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def last_eval(run):
    best = None
    for line in open(os.path.join(runs, run, "metrics.jsonl")):
        m = json.loads(line)
        if m.get("split") == "eval":
            best = m
    return best
res = {(r["task"], r["run"].rsplit("-", 1)[-1]): r for r in json.load(open(os.path.join(runs, "glue.json")))}
print("| arch | pretraining steps | held-out MLM acc | " + " | ".join(tasks) + " |")
print("|---|---:|---:|" + "---:|" * len(tasks))
for a in archs:
    ev = last_eval(f"pre-{a}")
    cells = []
    for t in tasks:
        r = res.get((t, a))
        cells.append(f"{r['score']:.3f} ({r['metric']})" if r else "-")
    print(f"| {a} | {ev['step']} | {ev.get('mlm_acc', float('nan')):.3f} | " + " | ".join(cells) + " |")
PY
