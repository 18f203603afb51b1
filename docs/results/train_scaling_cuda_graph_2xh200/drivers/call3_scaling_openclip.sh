#!/usr/bin/env bash
# call 3: GPU tests; scaling pairs with the real trainer and --cuda-graph;
# image-text vs open_clip_train.main (2 GPUs), ours bracketing open_clip
set -u
ROOT=$(pwd); S=$SECONDS; R=/tmp/f8; rm -rf $R; mkdir -p $R/logs $R/runs
log() { echo "[$(( SECONDS - S ))s] $*" | tee -a $R/logs/driver.log; }
export PYTHONPATH=/tmp/site:$ROOT PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl .devbuild/pt/*.whl > $R/logs/pip.log 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/oc --find-links .whl_oc webdataset==0.2.86 pandas python-dateutil pytz tzdata six >> $R/logs/pip.log 2>&1
lscpu > $R/logs/lscpu.txt; nvidia-smi --query-gpu=name,memory.total --format=csv > $R/logs/gpus.csv
log "setup done"
timeout 200 python3 -m pytest -q -m gpu -p no:cacheprovider tests/multimodal/test_cuda_graph.py > $R/logs/pytest.log 2>&1
log "pytest rc=$? $(tail -1 $R/logs/pytest.log)"
U=$(ls .devbuild/sh7/*.tar | paste -sd: | sed 's/:/::/g')
FAM=descriptive,terse,dashcam_log,question_answer,narrative
tr() { local name=$1 n=$2 steps=$3; shift 3
  timeout ${TO:-90} python3 -m torch.distributed.run --standalone --nproc-per-node $n -m multimodal.train --train "$U" --out $R/runs/$name --model small --batch-size 256 --steps-per-epoch $steps --workers 14 --precision bf16 --device cuda --lr 7e-4 --warmup-steps 100 --log-every 10 --no-progress --train-caption-families $FAM "$@" > $R/logs/$name.log 2>&1
  log "$name rc=$? $(python3 -c "import json;d=json.load(open('$R/runs/$name/summary.json'));print(round(d['samples_per_s']), [round(x,3) for x in d['stall_fraction_per_rank']], d['nonfinite_steps_skipped'])" 2>&1 | tail -1)"; }
tr g1 1 300 --cuda-graph
tr g2 2 300 --cuda-graph
tr g1_again 1 300 --cuda-graph
tr g2_again 2 300 --cuda-graph
# image-text vs open_clip (same shards repacked, same config, 2 GPUs, 14 workers per rank)
python3 scripts/openclip_compare.py config --model small --name ds-small --out $R/occ/cfg > /dev/null
tr it_ours 2 120 --modalities image,text --cuda-graph
python3 scripts/openclip_shards.py --src "$U" --out $R/occ/data --families $FAM > $R/logs/openclip_shards.log 2>&1
OC_URLS=$(tail -1 $R/logs/openclip_shards.log | python3 -c "import json,sys; print(json.load(sys.stdin)['urls'])")
( export PYTHONPATH=/tmp/oc:/tmp/site:$ROOT; cd $R/occ && timeout 100 python3 -m torch.distributed.run --standalone --nproc-per-node 2 "$ROOT/scripts/openclip_compare.py" train --config-dir $R/occ/cfg -- --train-data "$OC_URLS" --dataset-type webdataset --dataset-resampled --train-num-samples $(( 120 * 256 * 2 )) --batch-size 256 --epochs 1 --model ds-small --precision amp_bf16 --workers 14 --lr 7e-4 --warmup 100 --save-frequency 0 --log-every-n-steps 10 --logs $R/occ/logs --name oc --local-loss --gather-with-grad --seed 0 ) > $R/logs/openclip_train.log 2>&1
log "open_clip rc=$?"
tr it_ours_after 2 120 --modalities image,text --cuda-graph
for r in it_ours it_ours_after; do python3 scripts/openclip_compare.py compare --ours $R/runs/$r/summary.json --openclip-log $R/occ/logs/oc/out.log --json $R/compare_$r.json | tee -a $R/logs/driver.log; done
log done
cp $R/occ/logs/oc/out.log $R/logs/openclip_out.log 2>/dev/null
(cd /tmp && tar czf $OUT/f8.tar.gz f8/logs f8/runs/*/summary.json f8/runs/*/training_curve.png f8/compare_*.json)
