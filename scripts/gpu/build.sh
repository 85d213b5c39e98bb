#!/usr/bin/env bash
# Builds, on a machine with Go (no GPU needed), what scripts/gpu/check.sh
# runs on the GPU machine (which has no Go): static binaries of fnet-tui and
# of the cuda package's tests, plus the shared reference fixtures.
# Everything goes to .device-carry/ (git-ignored), which the device call carries.
#
# The device call carries at most 64 MiB of working tree, this folder
# included, so the binaries go gzipped (NAME.gz) and the fixtures as
# fixtures.tgz; every device script unpacks them (scripts/gpu/unpack.sh).
# FNET_TRAIN_TEST=1 adds the train package's tests (scripts/gpu/nccl.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device-carry
# unpacked copies a host run of a device script left would travel too
rm -rf .device-carry/fnet-tui .device-carry/cuda.test .device-carry/train.test .device-carry/fixtures
# extras of an earlier build that this one does not ask for
[ "${FNET_FULL_CORPUS:-0}" = 1 ] || rm -f .device-carry/gutenberg.tar.gz .device-carry/tokenizer.model
[ "${FNET_GLUE:-0}" = 1 ] || rm -rf .device-carry/glue
root=$(pwd)
# Build the committed tree only: a colleague's half-written file in this
# shared checkout must not break (or leak into) the device binaries.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git archive --format=tar HEAD | tar -x -C "$src"
export CGO_ENABLED=0
bin=$src/.bin
mkdir -p "$bin"
(cd "$src" && go build -tags pure -ldflags='-s -w' -o "$bin/fnet-tui" ./cmd/fnet-tui)
(cd "$src" && go test -tags pure -ldflags='-s -w' -c -o "$bin/cuda.test" ./cuda/)
rm -f .device-carry/train.test.gz
if [ "${FNET_TRAIN_TEST:-0}" = 1 ]; then
  (cd "$src" && go test -tags pure -ldflags='-s -w' -c -o "$bin/train.test" ./train/)
fi
for f in "$bin"/*; do
  gzip -6 -c "$f" > ".device-carry/$(basename "$f").gz"
done
git rev-parse --short HEAD > .device-carry/COMMIT
if [ -d ../shared/ref/fixtures ]; then
  tar -czf .device-carry/fixtures.tgz -C ../shared/ref/fixtures $(cd ../shared/ref/fixtures && ls *.safetensors *.json)
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
ls -la .device-carry
# what a device call would carry: the tracked tree and this folder
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carry=$(du -sb .device-carry | cut -f1)
total=$(( (tree + carry) / 1048576 ))
echo "device call: tree $((tree / 1048576)) MiB + .device-carry $((carry / 1048576)) MiB = $total MiB of the 64 MiB a call carries"
if [ "$total" -ge 64 ]; then
  echo "build.sh: that is over the device call's 64 MiB: build with fewer extras (FNET_FULL_CORPUS, FNET_GLUE, FNET_TRAIN_TEST) per call" >&2
  exit 1
fi
