#!/bin/bash
# The clip bundle row of docs/benchmarks.md (Edge), 2-core CPU; W is a scratch folder.
W=${W:-/tmp/cb}
D=.venv/bin/drivesynth
set -e; mkdir -p $W
$D generate --out $W/train --scenarios 40 --frames 2 --image-size 64 --workers 1 --clip-frames 4 --clip-rate 4 --seed 11 --no-progress --no-card > $W/gen_train.log 2>&1
$D generate --out $W/held --scenarios 16 --frames 2 --image-size 64 --workers 1 --clip-frames 4 --clip-rate 4 --seed 12 --no-progress --no-card > $W/gen_held.log 2>&1
$D train --train "$(ls $W/train/*.tar | sed -z "s/\n/::/g; s/::$//")" --out $W/run --model tiny --batch-size 16 --workers 1 --device cpu --lr 1e-3 --warmup-steps 5 --steps-per-epoch 40 --clip-frames 4 --no-progress > $W/train.log 2>&1
$D export --checkpoint $W/run/checkpoint.pt --out $W/bundle --quantize all --data "$(ls $W/held/*.tar | sed -z "s/\n/::/g; s/::$//")" --calib "$(ls $W/train/*.tar | sed -z "s/\n/::/g; s/::$//")" --heldout 32 --calib-samples 32 > $W/export.log 2>&1
$D bench edge --bundle $W/bundle --checkpoint $W/run/checkpoint.pt --threads 1 --samples 32 --repeats 10 --batch 8 --json $W/bench_edge.json > $W/bench_edge.log 2>&1
