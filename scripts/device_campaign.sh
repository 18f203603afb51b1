#!/usr/bin/env bash
# The GPU training campaign in one call (2x H200, 32 cores, Python 3.12, <= 9.5 minutes):
#   1. install the carried wheels (+ pybullet build in the background), open_clip's own env;
#   2. generate train / val / test shards (split by seed: held-out scenario seeds) on Dask;
#   3. image-text side by side: our trainer (--modalities image,text) vs open_clip_train.main
#      on the same shards repacked (png/txt), same config, batch, precision and GPU count;
#   4. scaling: the same short run (per-GPU batch, steps) on 1 GPU and on all of them:
#      sps_n / (n * sps_1) = efficiency, the 1-GPU run's loader workers shared out over the
#      ranks (also: bf16 gradient all-reduce; all the workers on every rank); before the
#      data, an NCCL probe (transport, all-reduce GB/s);
#   5. the main run (torchrun, NCCL, bf16), test-split eval with held-out caption
#      families, training curves, confusion matrices;
#   6. (CAMPAIGN_EDGE=1) ONNX export of the main run
#      (int8 calibrated on val), `bench edge` on the test split at 1/2/4 threads (which
#      records the host CPU and its int8 instructions);
#   7. results.json + plots + logs tarball into $OUT.
# For a run longer than one device call (10 min), start it detached and poll:
#   setsid nohup env OUT=/tmp/co CAMPAIGN_BUDGET_S=1500 bash scripts/device_campaign.sh &
# Usage: bash scripts/device_campaign.sh            (the GPU machine)
#        bash scripts/device_campaign.sh --smoke    (CPU, tiny, gloo: proves every step)
set -uo pipefail

MODE=gpu
[[ "${1:-}" == "--smoke" ]] && MODE=smoke
ROOT=$(pwd)
START=$SECONDS
TSCALE=1                                   # phase time limits x TSCALE (the CPU smoke: 5)
[[ $MODE == smoke ]] && TSCALE=5
BUDGET=${CAMPAIGN_BUDGET_S:-$(( 550 * TSCALE ))}  # hard wall for the whole call, seconds
HELD_OUT=tagline,radio                     # caption families never trained on
TRAIN_FAM=descriptive,terse,dashcam_log,question_answer,narrative

if [[ $MODE == gpu ]]; then
  PY=python3; W=/tmp/campaign; SITE=/tmp/site; PB=/tmp/pb; OC=/tmp/oc
  OUT=${OUT:?OUT must be set}; NGPU=2; DEVICE=cuda; PREC=bf16; OC_PREC=amp_bf16
  GEN_W=30; SIZE=96; MODEL=small; BATCH=256; LWORK=14; EVAL_DEV=cuda
  TRAIN_SCEN=2048; VAL_SCEN=64; TEST_SCEN=320; FRAMES=10; TEST_FRAMES=2
  GEN_CAP=170; SCALE_STEPS=100; MAIN_S=120; CMP_STEPS=120; LR=7e-4; WARM=100
  # overrides for a rerun on another machine (e.g. 1 GPU, 16 cores: CAMPAIGN_NGPU=1 ...)
  NGPU=${CAMPAIGN_NGPU:-$NGPU}; GEN_W=${CAMPAIGN_GEN_W:-$GEN_W}; LR=${CAMPAIGN_LR:-$LR}
  MAIN_S=${CAMPAIGN_MAIN_S:-$MAIN_S}; GEN_CAP=${CAMPAIGN_GEN_CAP:-$GEN_CAP}
  WARM=${CAMPAIGN_WARM:-$WARM}; BATCH=${CAMPAIGN_BATCH:-$BATCH}
  TEST_SCEN=${CAMPAIGN_TEST_SCEN:-$TEST_SCEN}; VAL_SCEN=${CAMPAIGN_VAL_SCEN:-$VAL_SCEN}
  TRAIN_SCEN=${CAMPAIGN_TRAIN_SCEN:-$TRAIN_SCEN}; FRAMES=${CAMPAIGN_FRAMES:-$FRAMES}
  SCALE_STEPS=${CAMPAIGN_SCALE_STEPS:-$SCALE_STEPS}; LWORK=${CAMPAIGN_LWORK:-$LWORK}
else
  PY=$ROOT/.venv/bin/python; W=${CAMPAIGN_WORK:-/tmp/campaign_smoke}; SITE=$W/site
  PB=$W/pb; OC=$W/oc; OUT=${OUT:-$W/out}; NGPU=2; DEVICE=cpu; PREC=fp32; OC_PREC=fp32
  GEN_W=2; SIZE=64; MODEL=tiny; BATCH=16; LWORK=1; EVAL_DEV=cpu
  TRAIN_SCEN=48; VAL_SCEN=8; TEST_SCEN=24; FRAMES=6; TEST_FRAMES=2
  GEN_CAP=300; SCALE_STEPS=8; MAIN_S=25; CMP_STEPS=6; LR=2e-3; WARM=5
fi
rm -rf "$W"; mkdir -p "$W/logs" "$OUT"
export PYTHONPATH=$SITE:$PB:$ROOT PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
DATA=$W/data; RUNS=$W/runs; RESULTS=$W/results.json
# GPU runs capture each step as a CUDA graph (--cuda-graph; CAMPAIGN_CUDA_GRAPH=0: eager):
# eager steps of the small model are host-bound and 2 GPUs scaled 0.75-0.86, captured ones
# 0.95-0.96 (docs/results/train_scaling_cuda_graph_2xh200/). Loader workers per rank in
# multi-GPU runs: all of them on every rank (a captured 2-GPU run eats ~8 500 samples/s:
# 7 per rank starve it)
GRAPH=""; [[ $MODE == gpu && ${CAMPAIGN_CUDA_GRAPH:-1} != 0 ]] && GRAPH=--cuda-graph
RANK_W=${CAMPAIGN_RANK_W:-$LWORK}
export PY W DATA RUNS SIZE MODEL BATCH LWORK RANK_W PREC DEVICE LR WARM TRAIN_FAM GRAPH
echo '{}' > "$RESULTS"

log() { echo "[$(( SECONDS - START ))s] $*" | tee -a "$W/logs/campaign.log"; }
left() { echo $(( BUDGET - (SECONDS - START) )); }
# limit LIMIT [RESERVE]: LIMIT capped by what the budget leaves after RESERVE seconds
limit() {
  local want=$(( $1 * TSCALE )) l; l=$(( $(left) - ${2:-0} * TSCALE ))
  (( l < want )) && echo $(( l > 5 ? l : 5 )) || echo "$want"; }
put() { $PY -c "import json,sys; p='$RESULTS'; d=json.load(open(p)); d[sys.argv[1]]=json.loads(sys.argv[2]); json.dump(d,open(p,'w'),indent=2)" "$1" "$2"; }
jfile() { [[ -s $1 ]] && cat "$1" || echo null; }
ds() { $PY -m edge.cli "$@"; }
# the shards that exist (a time-capped split may have fewer than planned), joined with '::'
shards() { printf '%s::' "$DATA/$1/$1"-*.tar | sed 's/::$//'; }
samples() {  # samples in the finished shards of every split (tar members named *.json)
  local n=0 f; for f in "$DATA"/*/*.tar; do [[ -e $f ]] && n=$(( n + $(tar tf "$f" | grep -c '\.json$') )); done; echo $n; }
count() { ls "$DATA/$1/$1"-*.tar 2>/dev/null | wc -l; }

pack() {  # always runs: whatever exists goes to $OUT
  log "packing results"
  put total_seconds "$(( SECONDS - START ))"
  cp "$RESULTS" "$OUT/results.json"
  cp "$RUNS/main/training_curve.png" "$OUT/training_curve.png" 2>/dev/null
  cp "$W/eval_test.json" "$OUT/eval_test.json" 2>/dev/null
  cp "$W/edge_bench.json" "$W/edge_bench.png" "$OUT/" 2>/dev/null
  (cd "$W" && ls eval_plots/*.png >/dev/null 2>&1 && tar czf "$OUT/confusion.tar.gz" eval_plots)
  (cd "$W" && tar czf "$OUT/logs.tar.gz" logs runs/*/summary.json runs/*/tensorboard \
     runs/main/training_curve.png occ/logs/*/out.log data/*/manifest.json data/*/card 2>/dev/null)
  ls -la "$OUT"
}
trap pack EXIT

# ---- 1. environment ----------------------------------------------------------------------
log "mode=$MODE python=$($PY -V 2>&1)"
if [[ $MODE == gpu ]]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
    > "$W/logs/pip.log" 2>&1 || log "pip install of .whl failed (see pip.log)"
  mkdir -p "$W/pbsrc" && tar xzf .devbuild/pybullet-3.2.7-slim.tar.gz -C "$W/pbsrc"
  ( cd "$W/pbsrc"/pybullet-* && MAX_JOBS=32 $PY -m pip install -q --no-deps \
      --no-build-isolation --no-compile --target "$PB" . ) > "$W/logs/pybullet_build.log" 2>&1 &
  PB_PID=$!
fi
# open_clip's trainer in its own env: webdataset 0.2.86 (+ pandas, which its data.py imports)
$PY -m pip install -q --no-index --no-deps --no-compile --target "$OC" --find-links .whl_oc \
  ${OC_FIND_LINKS:+--find-links "$OC_FIND_LINKS"} webdataset==0.2.86 >> "$W/logs/pip.log" 2>&1
$PY -c "import pandas" 2>/dev/null || $PY -m pip install -q --no-index --no-deps --no-compile \
  --target "$OC" --find-links .whl_oc ${OC_FIND_LINKS:+--find-links "$OC_FIND_LINKS"} \
  pandas python-dateutil pytz tzdata six >> "$W/logs/pip.log" 2>&1
$PY scripts/openclip_compare.py config --model $MODEL --name ds-$MODEL --out "$W/occ/cfg" >/dev/null
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.device_count())" \
  | tee -a "$W/logs/campaign.log"
if [[ $MODE == gpu ]]; then
  wait $PB_PID; log "pybullet build rc=$?"
  nvidia-smi --query-gpu=name,memory.total --format=csv > "$W/logs/gpus.csv" 2>&1
fi
put env "{\"mode\": \"$MODE\", \"setup_seconds\": $(( SECONDS - START ))}"
if [[ $MODE == gpu ]] && (( NGPU > 1 )); then  # how the GPUs talk: transport, all-reduce GB/s
  nvidia-smi topo -m > "$W/logs/topo.txt" 2>&1
  NCCL_DEBUG=INFO timeout 90 $PY -m torch.distributed.run --standalone --nproc-per-node $NGPU \
    scripts/nccl_probe.py --json "$W/nccl_probe.json" > "$W/logs/nccl_probe.log" 2>&1
  log "nccl probe rc=$? transport: $(grep -oE 'via [A-Za-z/]+' "$W/logs/nccl_probe.log" | sort | uniq -c | tr '\n' ' ')"
  grep -E 'bus|peer' "$W/logs/nccl_probe.log" | tee -a "$W/logs/campaign.log"
  put nccl_probe "$(jfile "$W/nccl_probe.json")"
fi

# ---- 2. data: one LocalCluster per split, all three at once (CPU split by size) ---------
T=$SECONDS
if [[ -n ${CAMPAIGN_DATA:-} ]]; then  # reuse shards: $CAMPAIGN_DATA/{train,val,test}/*.tar
  log "reusing data in $CAMPAIGN_DATA"; rm -rf "$DATA"; cp -r "$CAMPAIGN_DATA" "$DATA"
  put generate "{\"reused\": \"$CAMPAIGN_DATA\"}"; RTR=0
else
log "generating data"
gen() {  # split scenarios frames workers
  ds generate --out "$DATA/$1" --split "$1" --scenarios "$2" --frames "$3" --workers "$4" \
    --seed 7 --image-size $SIZE --samples-per-shard 128 --no-progress --no-card \
    > "$W/logs/generate_$1.log" 2>&1
}
export -f gen ds
VW=$(( GEN_W / 10 > 1 ? GEN_W / 10 : 1 )); TW=$(( GEN_W / 8 > 1 ? GEN_W / 8 : 1 ))
timeout "$(limit $GEN_CAP ${CAMPAIGN_GEN_RESERVE:-330})" bash -c "gen train $TRAIN_SCEN $FRAMES $(( GEN_W - VW - TW ))" &
GT=$!
gen val $VAL_SCEN $TEST_FRAMES $VW & GV=$!
gen test $TEST_SCEN $TEST_FRAMES $TW; RT=$?
wait $GV; RV=$?; wait $GT; RTR=$?
GEN_S=$(( SECONDS - T ))
put generate "{\"seconds\": $GEN_S, \"rc\": [$RTR, $RV, $RT], \"train_scenarios\": $TRAIN_SCEN, \"frames\": $FRAMES, \"image_size\": $SIZE, \"workers\": $GEN_W, \"train_shards\": $(count train), \"val_shards\": $(count val), \"test_shards\": $(count test), \"samples\": $(samples), \"samples_per_s\": $(( $(samples) / (GEN_S > 0 ? GEN_S : 1) ))}"
log "generate done in ${GEN_S}s rc=$RTR/$RV/$RT shards $(count train)/$(count val)/$(count test)"
# a time-capped train split (rc 124) keeps its finished shards: train on those
(( RTR == 124 && $(count train) > 0 )) && RTR=0
fi
(( RTR == 0 )) || { log "train generation failed"; exit 1; }
TRAIN_URLS=$(shards train); TEST_URLS=$(shards test); VAL_URLS=$(shards val)
export TRAIN_URLS

# ---- training runs (phases 3 to 5) ------------------------------------------------------
train() {  # name nproc steps extra...
  local name=$1 n=$2 steps=$3; shift 3
  $PY -m torch.distributed.run --standalone --nproc-per-node "$n" -m multimodal.train \
    --train "$TRAIN_URLS" --out "$RUNS/$name" --model $MODEL --batch-size $BATCH \
    --steps-per-epoch "$steps" --workers $(( n > 1 ? RANK_W : LWORK )) --precision $PREC --device $DEVICE \
    --lr $LR --warmup-steps $WARM --log-every 10 --no-progress $GRAPH \
    --train-caption-families $TRAIN_FAM "$@" > "$W/logs/train_$name.log" 2>&1
}
export -f train
sps() { $PY -c "import json; print(json.load(open('$RUNS/$1/summary.json'))['samples_per_s'] or 0)" 2>/dev/null || echo 0; }

# ---- 3. image-text: ours vs open_clip_train (first after the data: the target still open) --
vs_openclip() {  # our run, json name, results key: its samples/s against open_clip's log
  $PY scripts/openclip_compare.py compare --ours "$RUNS/$1/summary.json" \
    --openclip-log "$W/occ/logs/oc/out.log" --json "$W/$2.json" | tee -a "$W/logs/campaign.log"
  put "$3" "$(jfile "$W/$2.json")"
}
compare() {
  log "image-text: drivesynth trainer"
  # image-text steps are short (no audio tower): both trainers get all the loader workers on
  # every rank (on 2x H200 with 7 per rank ours stalled 27 % and reached 0.75x; 14: 0.99x)
  timeout "$(limit 60 70)" bash -c "train it_ours $NGPU $CMP_STEPS --modalities image,text --workers $LWORK"
  log "image-text: open_clip_train.main"
  $PY scripts/openclip_shards.py --src "$TRAIN_URLS" --out "$W/occ/data" --families $TRAIN_FAM \
    > "$W/logs/openclip_shards.log" 2>&1
  OC_N=$NGPU; OC_DEV=(); [[ $DEVICE == cpu ]] && { OC_N=1; OC_DEV=(--device cpu); }  # open_clip DDP needs GPUs
  OC_URLS=$(tail -1 "$W/logs/openclip_shards.log" | $PY -c "import json,sys; print(json.load(sys.stdin)['urls'])")
  ( export PYTHONPATH=$OC:$SITE:$ROOT; cd "$W/occ" && timeout "$(limit 75 10)" \
    $PY -m torch.distributed.run --standalone --nproc-per-node $OC_N \
    "$ROOT/scripts/openclip_compare.py" train --config-dir "$W/occ/cfg" -- \
    --train-data "$OC_URLS" --dataset-type webdataset --dataset-resampled \
    --train-num-samples $(( CMP_STEPS * BATCH * OC_N )) --batch-size $BATCH --epochs 1 \
    --model ds-$MODEL --precision $OC_PREC --workers $LWORK --lr $LR --warmup $WARM \
    --save-frequency 0 --log-every-n-steps 10 --logs "$W/occ/logs" --name oc --local-loss \
    --gather-with-grad --seed 0 "${OC_DEV[@]}" ) > "$W/logs/openclip_train.log" 2>&1
  log "open_clip rc=$?"
  vs_openclip it_ours compare openclip_compare
  put openclip_compare_note "\"open_clip ran on $OC_N process(es), ours on $NGPU\""
  if [[ -n "${CAMPAIGN_CMP_REPEAT:-}" ]]; then  # ours once more after open_clip: drift bracket
    log "image-text: drivesynth trainer again (after open_clip)"
    timeout "$(limit 60 70)" bash -c "train it_ours_after $NGPU $CMP_STEPS --modalities image,text --workers $LWORK"
    vs_openclip it_ours_after compare_after openclip_compare_ours_after
  fi
}
[[ -z "${CAMPAIGN_SKIP_COMPARE:-}" ]] && compare

# CAMPAIGN_SWEEP_LRS=7e-4,5e-4: the main run becomes one 1-GPU run per learning rate, side
# by side (one per GPU), each scored on the val split; the best on val (mean of weather and
# time-of-day accuracy from images) becomes "main", and only it is scored on test
sweep() {
  local lr i=0 best
  for lr in ${CAMPAIGN_SWEEP_LRS//,/ }; do
    ( [[ $DEVICE == cuda ]] && export CUDA_VISIBLE_DEVICES=$(( i % NGPU ))
      timeout "$(limit $(( MAIN_S + 60 )) ${CAMPAIGN_MAIN_RESERVE:-150})" \
        bash -c "train sweep_$lr 1 $STEPS --save-every 250 --batch-size $MBATCH --lr $lr" ) &
    i=$(( i + 1 ))
  done
  wait
  for lr in ${CAMPAIGN_SWEEP_LRS//,/ }; do
    $PY -m edge.cli eval --checkpoint "$RUNS/sweep_$lr/checkpoint.pt" --data "$VAL_URLS" \
      --caption-families $HELD_OUT --json "$W/eval_val_$lr.json" --device $EVAL_DEV \
      --workers 4 --batch-size 256 > "$W/logs/eval_val_$lr.log" 2>&1
  done
  best=$($PY -c "
import json, sys
def score(lr):
    try: z = json.load(open('$W/eval_val_' + lr + '.json'))['zero_shot']
    except Exception: return -1.0
    return (z['weather_family']['image']['accuracy'] + z['time_of_day']['image']['accuracy']) / 2
lrs = '$CAMPAIGN_SWEEP_LRS'.split(',')
scores = {lr: score(lr) for lr in lrs}
print(max(lrs, key=scores.get), json.dumps(scores), file=sys.stdout)")
  log "sweep: val scores ${best#* } -> lr ${best%% *}"
  put sweep "{\"val_score_by_lr\": ${best#* }, \"chosen_lr\": \"${best%% *}\", \"val_scenarios\": $VAL_SCEN}"
  rm -rf "$RUNS/main"; mv "$RUNS/sweep_${best%% *}" "$RUNS/main"
}

if [[ -z "${CAMPAIGN_SKIP_MAIN:-}" ]]; then  # (set: only the image-text comparison above)
log "scaling: 1 process"
timeout "$(limit 60 330)" bash -c "train scale1 1 $SCALE_STEPS"
SPS1=$(sps scale1); SPS2=0
if (( NGPU > 1 )); then  # the same short run on every GPU: same per-GPU batch, same steps
  log "scaling: $NGPU processes"
  timeout "$(limit 60 300)" bash -c "train scale2 $NGPU $SCALE_STEPS"
  SPS2=$(sps scale2)
  if [[ -n "${CAMPAIGN_SCALE_REPEAT:-}" ]]; then  # the pair once more: the noise between repeats
    log "scaling repeat: 1 process, then $NGPU"
    timeout "$(limit 60 300)" bash -c "train scale1_again 1 $SCALE_STEPS"
    timeout "$(limit 60 280)" bash -c "train scale2_again $NGPU $SCALE_STEPS"
  else
  # what a bf16 gradient all-reduce (half the bytes) and eager steps (no CUDA graph) do
  log "scaling: $NGPU processes, bf16 gradient all-reduce"
  timeout "$(limit 60 280)" bash -c "train scale2_bf16 $NGPU $SCALE_STEPS --grad-reduce bf16"
  log "scaling: $NGPU processes, eager steps"
  timeout "$(limit 60 260)" bash -c "GRAPH= train scale2_eager $NGPU $SCALE_STEPS"
  fi
fi
# steps of the main run: MAIN_S seconds at the measured rate (or CAMPAIGN_MAIN_STEPS);
# CAMPAIGN_MAIN_BATCH sets its per-GPU batch (e.g. 128 on 2 GPUs = a 256 global batch)
MBATCH=${CAMPAIGN_MAIN_BATCH:-$BATCH}
STEPS=$($PY -c "g=$NGPU; r=$SPS2 if g > 1 else $SPS1; print(max(20, int($MAIN_S * r / (g * $MBATCH))))")
STEPS=${CAMPAIGN_MAIN_STEPS:-$STEPS}
log "sps1=$SPS1 sps$NGPU=$SPS2 -> main run $STEPS steps, per-GPU batch $MBATCH"
if [[ -n ${CAMPAIGN_SWEEP_LRS:-} ]]; then sweep; else
timeout "$(limit $(( MAIN_S + 60 )) ${CAMPAIGN_MAIN_RESERVE:-150})" bash -c "train main $NGPU $STEPS --save-every 250 --batch-size $MBATCH"
log "main run rc=$?"
fi
put scaling "$($PY -c "
import json
def s(n):
    try: return json.load(open('$RUNS/'+n+'/summary.json'))
    except Exception: return {}
keys = ('samples_per_s', 'stall_fraction_per_rank', 'steady_stall_fraction_per_rank',
        'peak_memory_mib_per_rank', 'global_batch', 'steps', 'first_loss', 'final_loss', 'nonfinite_steps_skipped')
r = {k: {x: s(n).get(x) for x in keys} for k, n in (('gpus_1', 'scale1'),
     ('gpus_$NGPU', 'scale2'), ('gpus_${NGPU}_bf16_reduce', 'scale2_bf16'),
     ('gpus_${NGPU}_eager', 'scale2_eager'), ('gpus_1_again', 'scale1_again'),
     ('gpus_${NGPU}_again', 'scale2_again'), ('main', 'main'))}
r['per_gpu_batch'] = $BATCH; r['model'] = '$MODEL'; r['step'] = '${GRAPH:-eager}'
r['efficiency'] = ($SPS2 / ($NGPU * $SPS1)) if $SPS1 and $SPS2 else None
r['loader_workers'] = {'gpus_1': $LWORK, 'per_rank': $RANK_W}
a1, a2 = (r[k].get('samples_per_s') for k in ('gpus_1_again', 'gpus_${NGPU}_again'))
r['efficiency_again'] = a2 / ($NGPU * a1) if a1 and a2 else None
for k in ('gpus_${NGPU}_bf16_reduce', 'gpus_${NGPU}_eager'):
    v = r[k].get('samples_per_s')
    r['efficiency_' + k.split('_', 2)[2]] = v / ($NGPU * $SPS1) if v and $SPS1 else None
print(json.dumps(r))")"

log "evaluating on test (held-out caption families: $HELD_OUT)"
timeout "$(limit 60 ${CAMPAIGN_EVAL_RESERVE:-100})" $PY -m edge.cli eval --checkpoint "$RUNS/main/checkpoint.pt" \
  --data "$TEST_URLS" --caption-families $HELD_OUT --json "$W/eval_test.json" \
  --plots "$W/eval_plots" --device $EVAL_DEV --workers 4 --batch-size 256 \
  > "$W/logs/eval_test.log" 2>&1
log "eval rc=$?"
put eval_test "$($PY -c "
import json
try: m = json.load(open('$W/eval_test.json'))
except Exception: m = None
if m:
    zs = {t: {s: r['accuracy'] for s, r in v.items()} for t, v in m['zero_shot'].items()}
    m = {'gallery': m['gallery_size'], 'held_out_families': '$HELD_OUT'.split(','),
         'zero_shot_accuracy': zs, 'retrieval_R@1': {d: r['R@1'] for d, r in m['retrieval'].items()}}
print(json.dumps(m))")"
fi

if [[ -n "${CAMPAIGN_EDGE:-}" ]]; then
  log "edge: export and bench on this host's CPU"
  ds export --checkpoint "$RUNS/main/checkpoint.pt" --out "$W/bundle" --quantize all \
    --data "$TEST_URLS" --calib "$VAL_URLS" --overwrite > "$W/logs/export.log" 2>&1
  log "export rc=$?"
  timeout "$(limit 240 5)" $PY -m edge.cli bench edge --bundle "$W/bundle" \
    --checkpoint "$RUNS/main/checkpoint.pt" --data "$TEST_URLS" --threads 1,2,4 --samples 64 \
    --json "$W/edge_bench.json" --plot "$W/edge_bench.png" > "$W/logs/bench_edge.log" 2>&1
  log "bench edge rc=$?"
fi
log "done"
