#!/usr/bin/env bash
# Builds what scripts/gpu/nccl.sh needs beyond scripts/gpu/build.sh (which
# it runs first): the train package's test binary, whose
# TestNCCLTrainerMatchesOneProcess drives the real trainer (train.Finetune
# on the CUDA engine) through the NCCL Collective. Like build.sh it builds
# the committed tree only, statically (no Go on the device machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/gpu/build.sh >/dev/null
root=$(pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git archive --format=tar HEAD | tar -x -C "$src"
export CGO_ENABLED=0
(cd "$src" && go test -tags pure -ldflags='-s -w' -c -o "$root/.device-carry/train.test" ./train/)
ls -la .device-carry/fnet-tui .device-carry/cuda.test .device-carry/train.test
