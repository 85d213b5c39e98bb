#!/usr/bin/env bash
# Builds, on a machine with Go (no GPU needed), what scripts/gpu/check.sh
# runs on the GPU machine (which has no Go): static binaries of fnet-tui and
# of the cuda package's tests, plus the shared reference fixtures.
# Everything goes to .device-carry/ (git-ignored), which the device call carries.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device-carry/fixtures
root=$(pwd)
# Build the committed tree only: a colleague's half-written file in this
# shared checkout must not break (or leak into) the device binaries.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git archive --format=tar HEAD | tar -x -C "$src"
export CGO_ENABLED=0
(cd "$src" && go build -tags pure -ldflags='-s -w' -o "$root/.device-carry/fnet-tui" ./cmd/fnet-tui)
(cd "$src" && go test -tags pure -ldflags='-s -w' -c -o "$root/.device-carry/cuda.test" ./cuda/)
git rev-parse --short HEAD > .device-carry/COMMIT
if [ -d ../shared/ref/fixtures ]; then
  cp ../shared/ref/fixtures/*.safetensors ../shared/ref/fixtures/*.json .device-carry/fixtures/
fi
# a small real corpus and the BERT vocabulary for the trainer's GPU run
data=${FNET_DATA:-../shared/data}
if [ -d "$data/corpus/gutenberg" ]; then
  mkdir -p .device-carry/corpus .device-carry/tok
  for b in pg1184_the_count_of_monte_cristo pg11_alices_adventures_in_wonderland pg108_the_return_of_sherlock_holmes; do
    cp "$data/corpus/gutenberg/$b.txt" .device-carry/corpus/
  done
  cp "$data/tokenizer/bert-base-uncased-vocab.txt" .device-carry/tok/vocab.txt
fi
# FNET_FULL_CORPUS=1: the whole Gutenberg corpus and the tokenizer named by
# FNET_TOKENIZER (default: the cached auto-trained one) for pretrain-mini.sh
if [ "${FNET_FULL_CORPUS:-0}" = 1 ]; then
  tar -czf .device-carry/gutenberg.tar.gz -C "$data/corpus/gutenberg" .
  tok=${FNET_TOKENIZER:-$(ls runs/.cache/bpe-8192-*.model 2>/dev/null | head -1)}
  [ -f "$tok" ] || { echo "FNET_FULL_CORPUS=1 needs FNET_TOKENIZER (a .model file)" >&2; exit 1; }
  cp "$tok" .device-carry/tokenizer.model
fi
# FNET_GLUE=1: the GLUE tasks of docs/RESULTS.md for glue.sh
if [ "${FNET_GLUE:-0}" = 1 ]; then
  mkdir -p .device-carry/glue
  for t in CoLA SST-2 MRPC STS-B RTE WNLI; do
    cp -r "$data/glue/$t" .device-carry/glue/
  done
fi
ls -la .device-carry .device-carry/fixtures
