#!/usr/bin/env bash
set -u
export PYTHONPATH=/tmp/site:$(pwd) PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl > /dev/null 2>&1
U=$(ls .devbuild/sh7/*.tar | paste -sd: | sed 's/:/::/g')
nvidia-smi --query-gpu=name --format=csv,noheader; nproc --all
timeout 130 python3 -m edge.cli bench train --train "$U" --device cuda --model small --batch-size 256 --precision bf16 --steps 200 --workers 12 --step-modes eager,graph --json $OUT/bench_train_h100.json 2>&1 | grep -v Warning | tail -6
