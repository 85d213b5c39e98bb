#!/usr/bin/env bash
# The project's test command (README, .ci/run): static checks, every
# package's tests (the fault-injection test of train included), the race
# detector on the packages with concurrency, and the fuzz targets.
# Needs libopenblas-dev; tmux and python3-sentencepiece enable the
# end-to-end dashboard test and the official-tokenizer comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi
go vet ./...
CGO_ENABLED=0 go vet -tags pure ./...
go test -count=1 ./...
go test -count=1 -race ./corpus/... ./dist/... ./pretrain/... ./rundir/... ./tokenizer/... ./train/... ./tui/...
# the pure-Go build still builds and computes the same kernels
CGO_ENABLED=0 go test -count=1 -tags pure ./kernels/ ./safetensors/
# every parser's fuzz target, briefly (FUZZTIME=10m for a long run)
./scripts/fuzz.sh
echo "all tests passed"
