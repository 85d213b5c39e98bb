#!/usr/bin/env bash
# Regenerates the parity fixtures in this folder with the independent PyTorch
# reference in ../shared/ref (needs Debian's python3-torch and python3-numpy;
# run with /usr/bin/python3). Each fixture is PREFIX.weights.safetensors,
# PREFIX.expect.safetensors and PREFIX.json (the reference's config; the
# safetensors __metadata__ copy of it is numpy's abbreviated repr, see
# fnet/parity.go refConfig).
#
#   testdata/parity/make.sh [NAME...]     (default: every fixture)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=${FNET_REF:-$here/../../../shared/ref}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
only=" $* "
make_fixture() {
	local name=$1
	shift
	if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then
		return
	fi
	/usr/bin/python3 "$ref/fnet_ref.py" --dtype float64 --seed 0 --dump "$tmp/$name.npz" "$@"
	/usr/bin/python3 "$ref/dump_to_safetensors.py" "$tmp/$name.npz" "$here/$name"
	cp "$tmp/$name.json" "$here/$name.json"
}
# masked LM only (the reference's default heads), 5-step loss curves:
# odd, non-power-of-two widths: hidden 36 = 4·9, seq 24 = 8·3, FFN 100
make_fixture odd --vocab 300 --hidden 36 --layers 3 --ffn 100 --seq 24 --batch 2
# prime sequence length and a hidden size with a prime factor 11 (generic FFT radix)
make_fixture prime --vocab 200 --hidden 22 --layers 2 --ffn 64 --seq 29 --batch 3 --num-masked 4
# several layers, a longer sequence
make_fixture deep --vocab 256 --hidden 48 --layers 6 --ffn 96 --seq 96 --batch 2
# the other heads, small enough to stay under 200 KB a file (position table
# = seq), 5-step loss curves:
# pretraining (MLM + NSP, pooler): hidden 18 = 2·9, seq 25 = 5², three layers, padded rows
make_fixture pretrain_odd --dump-steps 5 --openblas-coretype Haswell --task-heads pretraining \
	--vocab 97 --hidden 18 --layers 3 --ffn 38 --seq 25 --max-pos 25 --batch 3 --num-masked 3 --pad-max 4
# classifier with 5 classes: prime length 23, hidden 26 = 2·13 (generic radix), padded rows
make_fixture cls5_prime --dump-steps 5 --openblas-coretype Haswell --task-heads classifier --num-labels 5 \
	--vocab 71 --hidden 26 --layers 2 --ffn 34 --seq 23 --max-pos 23 --batch 3 --pad-max 5
# regression (one output, mean squared error): an odd hidden size 15 = 3·5, seq 21 = 3·7
make_fixture reg_odd --dump-steps 5 --openblas-coretype Haswell --task-heads classifier --num-labels 1 \
	--vocab 61 --hidden 15 --layers 2 --ffn 21 --seq 21 --max-pos 21 --batch 3
# the other architectures (model.architecture), small and odd-sized:
# BERT with 3 heads of 6 (hidden 18), a prime length, padded rows
make_fixture bert_heads3 --dump-steps 5 --model bert --heads 3 \
	--vocab 83 --hidden 18 --layers 2 --ffn 30 --seq 19 --max-pos 19 --batch 3 --num-masked 3 --pad-max 6
# BERT classifier (3 classes), one head, padded rows
make_fixture bert_cls3 --dump-steps 5 --model bert --heads 1 --task-heads classifier --num-labels 3 \
	--vocab 61 --hidden 14 --layers 2 --ffn 22 --seq 17 --max-pos 17 --batch 3 --pad-max 5
# a longer sequence through attention: 2 layers of 4 heads at length 96
make_fixture bert_long --dump-steps 3 --model bert --heads 4 \
	--vocab 64 --hidden 16 --layers 1 --ffn 24 --seq 96 --max-pos 96 --batch 2 --num-masked 6 --pad-max 20
# hybrids in the other layouts: mixed (5 layers, N=2: layers 0, 2, 4), bottom, middle
make_fixture hybrid_mixed --dump-steps 5 --model fnet --attention-layers 2 --attention-layout mixed --heads 2 \
	--vocab 67 --hidden 12 --layers 5 --ffn 20 --seq 15 --max-pos 15 --batch 2 --num-masked 2 --pad-max 4
make_fixture linear_bottom --dump-steps 5 --model linear --attention-layers 1 --attention-layout bottom --heads 2 \
	--task-heads pretraining --vocab 59 --hidden 14 --layers 3 --ffn 18 --seq 13 --max-pos 13 --batch 3 --num-masked 2 --pad-max 3
make_fixture random_middle --dump-steps 5 --model random --attention-layers 2 --attention-layout middle --heads 1 \
	--task-heads classifier --num-labels 1 --vocab 53 --hidden 10 --layers 4 --ffn 16 --seq 11 --max-pos 11 --batch 3 --pad-max 3
# FF-only with a prime length and padding (which identity mixing ignores)
make_fixture ffonly_prime --dump-steps 5 --model ff_only --vocab 47 --hidden 9 --layers 2 --ffn 15 --seq 17 --max-pos 17 --batch 2 --num-masked 3 --pad-max 4
# BERT as the hub's checkpoints compute it: the exact erf GELU (hidden_act "gelu"), pretraining heads
make_fixture bert_erf --dump-steps 5 --model bert --heads 2 --gelu erf --task-heads pretraining \
	--vocab 71 --hidden 16 --layers 2 --ffn 28 --seq 21 --max-pos 21 --batch 3 --num-masked 3 --pad-max 5
