#!/usr/bin/env bash
# Regenerates the parity fixtures in this folder with the independent PyTorch
# reference in ../shared/ref (needs Debian's python3-torch and python3-numpy;
# run with /usr/bin/python3). Each fixture is PREFIX.weights.safetensors,
# PREFIX.expect.safetensors and PREFIX.json (the reference's config; the
# safetensors __metadata__ copy of it is numpy's abbreviated repr, see
# fnet/parity.go refConfig).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=${FNET_REF:-$here/../../../shared/ref}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make_fixture() {
	local name=$1
	shift
	/usr/bin/python3 "$ref/fnet_ref.py" --dtype float64 --seed 0 --dump "$tmp/$name.npz" "$@"
	/usr/bin/python3 "$ref/dump_to_safetensors.py" "$tmp/$name.npz" "$here/$name"
	cp "$tmp/$name.json" "$here/$name.json"
}
# odd, non-power-of-two widths: hidden 36 = 4·9, seq 24 = 8·3, FFN 100
make_fixture odd --vocab 300 --hidden 36 --layers 3 --ffn 100 --seq 24 --batch 2
# prime sequence length and a hidden size with a prime factor 11 (generic FFT radix)
make_fixture prime --vocab 200 --hidden 22 --layers 2 --ffn 64 --seq 29 --batch 3 --num-masked 4
# several layers, a longer sequence
make_fixture deep --vocab 256 --hidden 48 --layers 6 --ffn 96 --seq 96 --batch 2
