#!/usr/bin/env bash
# fnet-tui <-> Hugging Face transformers, checked live (issue 15 point 3,
# docs/INTEROP.md): export -> transformers (loading info, token ids,
# masked-LM and classifier logits), transformers -> fnet-tui (random
# FNetForPreTraining / BertForPreTraining / *ForSequenceClassification
# saved by transformers), and a finetuned FNet classifier both ways.
#
# Two halves. Here, with Go (no GPU needed):
#
#   scripts/gpu/interop.sh prepare
#
# builds .device-carry/fnet-tui (static, the committed tree), trains three
# tiny runs on a Gutenberg book (FNet with its own BPE vocabulary, BERT
# with BERT's WordPiece vocabulary, an FNet RTE finetune of the first) and
# writes .device-carry/interop/: exports/<name>/ (fnet-tui export --hf; the
# pretraining runs also as --class mlm), refs/<name>.safetensors (our token
# ids and logits, fnet-tui export --logits), sentences.txt (20 real
# sentences) and pairs.txt (20 RTE pairs). Then on the device machine (torch
# and transformers installed), from the repository root, carrying
# .device-carry/fnet-tui.gz, .device-carry/interop and .device-carry/COMMIT
# (prepare prints the sizes; a call carries at most 64 MiB):
#
#   scripts/gpu/interop.sh                      (~1 minute)
#
# OUT gets interop.txt (PASS/FAIL per check), interop.jsonl and
# fixtures.tar.gz (the folders transformers wrote: the test fixtures to
# commit). Exit status 1 if any check failed. FNET_INTEROP_DEVICE=cpu runs
# transformers on the CPU.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CARRY=$ROOT/.device-carry
W=$CARRY/interop
BIN=${FNET_TUI:-$CARRY/fnet-tui}

if [ "${1:-}" != prepare ]; then
	FNET_CARRY_DIR=$CARRY . "$ROOT/scripts/gpu/unpack.sh"
fi
if [ "${1:-}" = prepare ]; then
	set -eo pipefail
	data=${FNET_DATA:-$ROOT/../shared/data}
	book=$data/corpus/gutenberg/pg1342_pride_and_prejudice.txt
	[ -f "$book" ] || { echo "no $book (set FNET_DATA)" >&2; exit 1; }
	mkdir -p "$CARRY"
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	git archive --format=tar HEAD | tar -x -C "$src"
	# the host steps below run the binary; the device call carries it
	# gzipped (64 MiB a call, scripts/gpu/unpack.sh)
	rm -f "$CARRY/fnet-tui"
	BIN=$src/fnet-tui-bin
	(cd "$src" && CGO_ENABLED=0 go build -tags pure -ldflags='-s -w' -o "$BIN" ./cmd/fnet-tui)
	gzip -6 -c "$BIN" >"$CARRY/fnet-tui.gz"
	git rev-parse --short HEAD >"$CARRY/COMMIT"
	rm -rf "$W"
	mkdir -p "$W/exports" "$W/refs"
	# 20 real sentences: prose lines of 60-160 characters past the front matter
	awk 'NR > 300 && length($0) >= 60 && length($0) <= 160 && $0 ~ /^[A-Z]/ && !seen[$0]++ { print; if (++n == 20) exit }' "$book" >"$W/sentences.txt"
	# 20 RTE dev pairs short enough for 128 tokens
	awk -F'\t' 'NR > 1 && length($2) + length($3) <= 220 { print $2 "\t" $3; if (++n == 20) exit }' "$data/glue/RTE/dev.tsv" >"$W/pairs.txt"
	runs=$(mktemp -d)
	tiny=(--set model.hidden_size=64 --set model.num_layers=2 --set model.intermediate_size=128 --set model.max_positions=128
		--set data.seq_len=128 --set data.batch_size=8 --set train.steps=40 --set train.warmup_steps=4 --set train.device=cpu
		--set eval.every=20 --set eval.batches=2 --set checkpoint.every=20 --set log.every=10 --set data.corpus="$book")
	"$BIN" pretrain -c configs/pretrain-mini.toml --runs "$runs" --name fnet "${tiny[@]}" \
		--set model.vocab_size=1000 --set data.tokenizer_sentences=20000 >"$runs/fnet.out" 2>&1
	"$BIN" pretrain -c configs/pretrain-mini.toml --runs "$runs" --name bert "${tiny[@]}" \
		--set model.architecture=bert --set model.heads=4 --set model.hidden_size=32 --set model.intermediate_size=64 \
		--set data.tokenizer="$data/tokenizer/bert-base-uncased-vocab.txt" >"$runs/bert.out" 2>&1
	"$BIN" finetune -c configs/glue-rte.toml --from "$runs/fnet" --runs "$runs" --name fnet-rte \
		--set finetune.glue_dir="$data/glue" --set finetune.max_train=128 --set finetune.max_eval=32 --set finetune.epochs=1 \
		--set data.batch_size=16 --set train.device=cpu >"$runs/fnet-rte.out" 2>&1
	# every 4th token masked for FNet (1000 pieces), every 8th for BERT (30522
	# pieces: the logits are the bulk of what the device call carries)
	for r in fnet:4 bert:8; do
		every=${r#*:} r=${r%:*}
		"$BIN" export --hf "$W/exports/$r" "$runs/$r"
		"$BIN" export --hf "$W/exports/$r-mlm" --class mlm "$runs/$r" # its reference is $r's
		"$BIN" export --logits "$W/refs/$r.safetensors" --text "$W/sentences.txt" --mask-every "$every" "$runs/$r"
	done
	"$BIN" export --hf "$W/exports/fnet-rte" "$runs/fnet-rte/checkpoints/best"
	"$BIN" export --logits "$W/refs/fnet-rte.safetensors" --text "$W/pairs.txt" "$runs/fnet-rte/checkpoints/best"
	rm -rf "$runs"
	du -sh "$W" "$CARRY/fnet-tui.gz"
	exit 0
fi

OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
[ -d "$W/exports" ] || { echo "no $W: run scripts/gpu/interop.sh prepare on a machine with Go first" | tee "$OUT/interop.txt"; exit 1; }
export PYTHONUNBUFFERED=1
echo "fnet-tui $(cat "$CARRY/COMMIT" 2>/dev/null)" | tee "$OUT/interop.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee -a "$OUT/interop.txt"
# from /tmp: the repository root's safetensors/ (Go) would shadow the Python package
(cd /tmp && python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)') 2>&1 | tail -1 | tee -a "$OUT/interop.txt"
(cd /tmp && python3 -c 'import sentencepiece; print("sentencepiece", sentencepiece.__version__)') 2>&1 | tail -1 | tee -a "$OUT/interop.txt"
timeout 400 python3 scripts/gpu/hf_interop.py --work "$W" --bin "$BIN" --out "$OUT" --device "${FNET_INTEROP_DEVICE:-auto}" 2>"$OUT/python.err" | tee -a "$OUT/interop.txt"
rc=${PIPESTATUS[0]}
tail -n 20 "$OUT/python.err"
exit "$rc"
