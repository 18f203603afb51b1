#!/usr/bin/env bash
# call 2: captured step: GPU tests, then 1 vs 2 GPUs eager vs --cuda-graph
set -u
S=$SECONDS; R=/tmp/g8; rm -rf $R; mkdir -p $R
log() { echo "[$(( SECONDS - S ))s] $*" | tee -a $R/driver.log; }
export PYTHONPATH=/tmp/site:$(pwd) PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .devbuild/pt/*.whl > $R/pip.log 2>&1
log "setup done"
timeout 240 python3 -m pytest -q -x -m gpu -p no:cacheprovider tests/multimodal/test_cuda_graph.py > $R/pytest.log 2>&1
log "pytest rc=$? $(tail -1 $R/pytest.log)"
U=$(ls .devbuild/sh7/*.tar | paste -sd: | sed 's/:/::/g')
pr() { local name=$1 n=$2; shift 2
  timeout ${TO:-100} python3 -m torch.distributed.run --standalone --nproc-per-node $n scripts/step_probe.py --train "$U" --model small --workers 14 --warmup 30 --steps 60 --profile-steps 8 --json $R/$name.json "$@" > $R/$name.log 2>&1
  log "$name rc=$?"; grep -E "^ *(loader|fixed)" $R/$name.log | tee -a $R/driver.log; }
pr g1_b256_graph 1 --batch-size 256 --cuda-graph
pr g2_b256_graph 2 --batch-size 256 --cuda-graph
pr g1_b256_eager 1 --batch-size 256
pr g2_b256_eager 2 --batch-size 256
pr g1_b256_graph_again 1 --batch-size 256 --cuda-graph --feeds loader
pr g2_b256_graph_again 2 --batch-size 256 --cuda-graph --feeds loader
log done
tar czf $OUT/g8.tar.gz -C /tmp g8
