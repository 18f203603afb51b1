#!/usr/bin/env bash
# call 1: where a step's time goes, 1 vs 2 GPUs, real loader vs fixed batch
set -u
S=$SECONDS; R=$OUT/p8; mkdir -p $R
log() { echo "[$(( SECONDS - S ))s] $*" | tee -a $R/driver.log; }
export PYTHONPATH=/tmp/site:$(pwd) PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl > $R/pip.log 2>&1
log "setup done $(nproc) cores"
U=$(ls .devbuild/sh7/*.tar | paste -sd: | sed 's/:/::/g')
pr() { local name=$1 n=$2; shift 2
  timeout ${TO:-110} python3 -m torch.distributed.run --standalone --nproc-per-node $n scripts/step_probe.py --train "$U" --model small --workers 14 --warmup 30 --steps 60 --profile-steps 8 --json $R/$name.json "$@" > $R/$name.log 2>&1
  log "$name rc=$?"; grep -E "^ *(loader|fixed)" $R/$name.log | tee -a $R/driver.log; }
cpu() { (sleep $1; top -b -n 1 -w 200 | head -40 > $R/top_$2.txt; grep MHz /proc/cpuinfo | awk '{s+=$4} END {print s/NR}' > $R/mhz_$2.txt) & }
cpu 45 g1b256; pr g1_b256 1 --batch-size 256
cpu 45 g2b256; pr g2_b256 2 --batch-size 256
pr g1_b512 1 --batch-size 512
pr g2_b512 2 --batch-size 512
pr g1_b256_again 1 --batch-size 256 --feeds fixed
pr g2_b256_again 2 --batch-size 256 --feeds fixed
nvidia-smi -q -d CLOCK | head -40 > $R/clocks.txt
log done
