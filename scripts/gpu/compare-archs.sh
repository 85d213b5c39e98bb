#!/usr/bin/env bash
# The paper's speed/memory-by-length table on a lent GPU (issue: the
# baselines' comparison), one prepared script, results returned after each
# part: fnet-tui's FNet, BERT, Linear and Hybrid at the base size, bf16,
# lengths 512 … 8192 with a fixed number of tokens per step, then in the
# same run Hugging Face FNetForPreTraining and BertForPreTraining (sdpa,
# padded and unpadded) at the same cells.
#
# Run from the repository root after scripts/gpu/build.sh (the binary in
# .device-carry). TOKENS (default 65536), SEQS, ARCHS and HF_MODELS pick the
# cells; $OUT gets compare-fnet-tui.jsonl, compare-hf.jsonl and the table.
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
BIN=${BIN:-$(pwd)/.device-carry/fnet-tui}
. scripts/gpu/unpack.sh # the carried binaries and fixtures, gzipped by build.sh
TOKENS=${TOKENS:-65536}
SEQS=${SEQS:-512,1024,2048,4096,8192}
export FNET_CUDA_CACHE=${FNET_CUDA_CACHE:-/tmp/fnet-tui-kernels}
echo "=== fnet-tui (limit 300 s)"
timeout --kill-after=5 300 "$BIN" bench --preset base --arch "${ARCHS:-fnet,bert,linear,hybrid}" --seq "$SEQS" \
	--tokens-per-step "$TOKENS" --steps 10 --warmup 3 --device cuda --json | tee "$OUT/compare-fnet-tui.jsonl"
echo "=== hugging face (limit 400 s)"
timeout --kill-after=5 400 python3 scripts/gpu/hf_compare.py --models "${HF_MODELS:-fnet,bert,bert-padded}" --seq "$SEQS" \
	--tokens-per-step "$TOKENS" | tee "$OUT/compare-hf.jsonl"
python3 - "$OUT/compare-fnet-tui.jsonl" "$OUT/compare-hf.jsonl" <<'PY' | tee "$OUT/compare-table.md"
import json, sys
cells = []
for f in sys.argv[1:]:
    try:
        cells += [json.loads(l) for l in open(f) if l.startswith("{")]
    except FileNotFoundError:
        pass
seqs = sorted({c["seq"] for c in cells})
archs = []
for c in cells:
    if c["arch"] not in archs:
        archs.append(c["arch"])
by = {(c["arch"], c["seq"]): c for c in cells}
def fmt(c):
    if c is None:
        return "-"
    if c.get("oom"):
        return "OOM"
    if c.get("error"):
        return "error"
    return f"{c['tokens_per_s']/1e3:.0f}k tok/s, {c['peak_mem_bytes']/2**30:.1f} GiB"
print("| arch | " + " | ".join(str(s) for s in seqs) + " |")
print("|---|" + "---|" * len(seqs))
for a in archs:
    print(f"| {a} | " + " | ".join(fmt(by.get((a, s))) for s in seqs) + " |")
for ours, theirs in (("fnet", "hf-fnet"), ("bert", "hf-bert"), ("bert", "hf-bert-padded")):
    r = []
    for s in seqs:
        o, t = by.get((ours, s)), by.get((theirs, s))
        if o and t and o.get("tokens_per_s") and t.get("tokens_per_s"):
            r.append(f"{s}: {o['tokens_per_s']/t['tokens_per_s']:.2f}x")
    print(f"{ours} vs {theirs}: " + ", ".join(r))
PY
