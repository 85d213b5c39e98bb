#!/usr/bin/env bash
# Builds what scripts/gpu/nccl.sh needs beyond scripts/gpu/build.sh (which
# it runs first): the train package's test binary, whose
# TestNCCLTrainerMatchesOneProcess drives the real trainer (train.Finetune
# on the CUDA engine) through the NCCL Collective. Like build.sh it builds
# the committed tree only, statically (no Go on the device machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
FNET_TRAIN_TEST=1 exec scripts/gpu/build.sh
