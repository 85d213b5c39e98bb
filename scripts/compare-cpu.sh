#!/usr/bin/env bash
# CPU speed of every architecture against the tuned PyTorch peer
# (../shared/ref/fnet_ref.py), as docs/RESULTS.md reports it: for each preset
# and architecture, ROUNDS interleaved rounds of fnet-tui bench and the
# peer (A B A B in one time window: the machine is noisy), the median
# ms/step of each side, and Go's speed as a multiple of the peer's.
#
#   scripts/compare-cpu.sh [PRESETS] [ARCHS]     (default: "mini small", all six)
#
# Both sides run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for their
# command alone (as the reference's README asks for a fair comparison); the
# peer needs libopenblas0-openmp and libtcmalloc-minimal4. STEPS and WARMUP
# set the timed and warm-up steps (default 10 and 3; small halves them),
# ROUNDS the rounds (default 3). Raw JSON lines go to $OUT (default
# compare-cpu.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
presets=${1:-mini small}
archs=${2:-fnet bert linear random ff_only hybrid}
rounds=${ROUNDS:-3}
out=${OUT:-compare-cpu.jsonl}
bin=${FNET_TUI:-./bin/fnet-tui}
ref=${FNET_REF:-../shared/ref/fnet_ref.py}
[ -x "$bin" ] || go build -o "$bin" ./cmd/fnet-tui
: >"$out"
seqlen() { case $1 in mini) echo 128 ;; small) echo 256 ;; base) echo 512 ;; esac; }
batch() { case $1 in mini) echo 16 ;; small) echo 8 ;; base) echo 2 ;; esac; }
for preset in $presets; do
	steps=${STEPS:-10} warm=${WARMUP:-3}
	if [ "$preset" != mini ] && [ -z "${STEPS:-}" ]; then steps=5 warm=2; fi
	S=$(seqlen "$preset") B=$(batch "$preset")
	for arch in $archs; do
		case $arch in
		hybrid) peer=(--model fnet --attention-layers 2 --attention-layout top) ;;
		*) peer=(--model "$arch") ;;
		esac
		for r in $(seq "$rounds"); do
			go_ms=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" bench --preset "$preset" --arch "$arch" --seq "$S" \
				--tokens-per-step $((B * S)) --steps "$steps" --warmup "$warm" --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["ms_per_step"])')
			pt_ms=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$ref" --preset "$preset" "${peer[@]}" --steps "$steps" --warmup "$warm" \
				--blas openblas-openmp --openblas-coretype auto --malloc tcmalloc --threads 2 2>/dev/null |
				sed -n 's/^RESULT_JSON //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)["step_ms"]["median"])')
			echo "{\"preset\":\"$preset\",\"arch\":\"$arch\",\"round\":$r,\"go_ms\":$go_ms,\"torch_ms\":$pt_ms}" | tee -a "$out" >&2
		done
	done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| preset | arch | fnet-tui ms/step | PyTorch ms/step | fnet-tui speed vs PyTorch |")
print("|---|---|---:|---:|---:|")
seen = []
for r in rows:
    k = (r["preset"], r["arch"])
    if k not in seen:
        seen.append(k)
for p, a in seen:
    g = statistics.median(r["go_ms"] for r in rows if (r["preset"], r["arch"]) == (p, a))
    t = statistics.median(r["torch_ms"] for r in rows if (r["preset"], r["arch"]) == (p, a))
    print(f"| {p} | {a} | {g:.0f} | {t:.0f} | {t / g:.2f}x |")
PY
