#!/usr/bin/env bash
# Clip training on the GPU machine in one device call (1 GPU, 16 cores, Python 3.12, <= 9.5 min):
#   1. the carried wheels and pybullet built from the slim sdist; meanwhile every `-m gpu`
#      test of tests/multimodal (the CUDA-graph trainer, single frames and clips);
#   2. clip shards from `drivesynth generate --clip-frames $T --clip-rate $RATE` on $GEN_W
#      workers, time-capped (samples/s recorded);
#   3. `drivesynth train` on them for $STEPS steps: clips (--clip-frames $T) and single
#      frames (--clip-frames 0: each clip's key frame) with the same model, batch and loader
#      workers; samples/s and the loader stall from each run's summary.json;
#   4. results.json + logs into $OUT.
# Usage (device tool, carry .whl): OUT=$OUT bash scripts/device_clips.sh
set -uo pipefail
ROOT=$(pwd); START=$SECONDS; OUT=${OUT:?OUT must be set}
W=/tmp/clips; SITE=/tmp/site; PB=/tmp/pb; PY=python3
GEN_W=${GEN_W:-15}; T=${T:-8}; RATE=${RATE:-4}; SIZE=${SIZE:-96}; GEN_S=${GEN_S:-150}
STEPS=${STEPS:-150}; BATCH=${BATCH:-128}; LWORK=${LWORK:-12}
mkdir -p "$W/logs" "$OUT"
export PYTHONPATH=$SITE:$PB:$ROOT PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
RESULTS=$OUT/results.json; echo '{}' > "$RESULTS"
log() { echo "[$(( SECONDS - START ))s] $*" | tee -a "$W/logs/run.log"; }
put() { $PY -c "import json,sys; p='$RESULTS'; d=json.load(open(p)); d[sys.argv[1]]=json.loads(sys.argv[2]); json.dump(d,open(p,'w'),indent=2)" "$1" "$2"; }
ds() { $PY -m edge.cli "$@"; }

$PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
  > "$W/logs/pip.log" 2>&1 || log "pip install failed"
# llvmlite (for numba) travels as .whl/llvmlite.tar.xz: its wheel is too big for a call
[ -f .whl/llvmlite.tar.xz ] && tar xJf .whl/llvmlite.tar.xz -C "$SITE"
mkdir -p "$W/pbsrc" && tar xzf .whl/pybullet-3.2.7-slim.tar.gz -C "$W/pbsrc"
( cd "$W/pbsrc"/pybullet-* && MAX_JOBS=16 $PY -m pip install -q --no-deps \
    --no-build-isolation --no-compile --target "$PB" . ) > "$W/logs/pybullet_build.log" 2>&1 &
PB_PID=$!
put gpu "\"$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)\""
log "gpu tests"
timeout 200 $PY -m pytest -q -p no:cacheprovider -m gpu tests/multimodal/test_cuda_graph.py \
  > "$W/logs/pytest_gpu.log" 2>&1; rc=$?
log "gpu tests rc=$rc $(tail -1 "$W/logs/pytest_gpu.log")"
put gpu_tests "{\"rc\": $rc, \"last\": $($PY -c "import json,sys; print(json.dumps(sys.argv[1]))" "$(tail -1 "$W/logs/pytest_gpu.log")")}"
wait $PB_PID; log "pybullet build rc=$?"

t0=$SECONDS
timeout "$GEN_S" $PY -m edge.cli generate --out "$W/data" --scenarios 4000 --frames 2 \
  --clip-frames "$T" --clip-rate "$RATE" --image-size "$SIZE" --workers "$GEN_W" \
  --samples-per-shard 64 --seed 11 --no-progress --no-card > "$W/logs/gen.log" 2>&1
grc=$?; gwall=$(( SECONDS - t0 ))
nshards=$(ls "$W/data"/*.tar 2>/dev/null | wc -l)
put generate "{\"rc\": $grc, \"wall_s\": $gwall, \"shards\": $nshards, \"clips\": $(( nshards * 64 )), \"clip_frames\": $T, \"clip_rate\": $RATE, \"image_size\": $SIZE, \"workers\": $GEN_W}"
log "generate rc=$grc wall=${gwall}s shards=$nshards (64 clips each)"
(( nshards > 0 )) || exit 1
URLS=$(ls "$W/data"/*.tar | sort | paste -sd, -)
train() {  # name extra...
  local name=$1; shift
  timeout 150 ds train --train "$W/data" --out "$W/runs/$name" --model small --precision bf16 \
    --batch-size "$BATCH" --steps-per-epoch "$STEPS" --warmup-steps 10 --lr 5e-4 \
    --workers "$LWORK" --device cuda --no-progress "$@" > "$W/logs/train_$name.log" 2>&1
  local rc=$?
  local s; s=$($PY -c "import json; d=json.load(open('$W/runs/$name/summary.json')); print(json.dumps({k: d.get(k) for k in ('samples_per_s','stall_fraction','steady_stall_fraction','steps','wall_s')}))" 2>/dev/null || echo null)
  put "train_$name" "{\"rc\": $rc, \"summary\": $s}"
  log "train $name rc=$rc $s"
}
train clips --clip-frames "$T" --audio-seconds "$($PY -c "print($T/$RATE)")"
train frames --clip-frames 0 --audio-seconds 1.0
cp "$W/logs/run.log" "$OUT/run.log"
tar czf "$OUT/logs.tgz" -C "$W" logs runs 2>/dev/null
log "done"
