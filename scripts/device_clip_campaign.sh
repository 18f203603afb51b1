#!/usr/bin/env bash
# The clip campaign of issue 25 on the GPU machine (1 GPU, 16 cores, Python 3.12): longer
# than one device call, so it runs detached and a second call collects it:
#   call 1: setsid nohup env OUT=/tmp/ccamp_out bash scripts/device_clip_campaign.sh \
#             > /tmp/ccamp.log 2>&1 &   ... then wait for up to 9 minutes
#   call 2: wait for /tmp/ccamp_out/DONE, copy /tmp/ccamp_out/* to $OUT
# Steps:
#   1. the carried wheels (.whl) and pybullet built from the slim sdist;
#   2. clip shards on Dask, the three splits at once, held-out scenarios by split (the
#      scenario seeds derive from the split): train = $TRAIN_SCEN scenarios x $CLIPS clips of
#      $T frames at $RATE Hz, $STRIDE frames apart (overlapping windows), time-capped at
#      $GEN_CAP s (a capped run keeps its finished shards); val / test = one clip per scenario
#      (evaluation takes one sample per scenario);
#   3. `drivesynth train --clip-frames $T` (small model, bf16, CUDA graph) on the caption
#      families $TRAIN_FAM, once per arm of $ARMS ("name:extra flags;name:extra flags", e.g.
#      ARMS="clips:;motion:--motion-layers 2", same data and hyper-parameters); then, when
#      FSTEPS > 0, a short single-frame run (--clip-frames 0, the clips' key frames) with the
#      same batch and loader: samples/s and loader stall side by side;
#   4. `drivesynth eval` of every arm on val and test with the held-out caption families
#      $HELD_OUT: zero-shot weather / time of day / driver style from video, audio and fused,
#      retrieval, event detection (AUROC); the arm with the best mean zero-shot accuracy on
#      val is recorded as chosen (test plays no part in the choice);
#   5. results.json, eval json, confusion plots, logs into $OUT, then $OUT/DONE.
# Hyper-parameters are the single-frame campaign's (lr 5e-4 chosen there on val,
# docs/results/train_accuracy_24k_samples_1xh200/); none is chosen on test.
# CPU smoke test of every step: CLIPC_SMOKE=1 OUT=/tmp/cc bash scripts/device_clip_campaign.sh
# Two campaigns in one call (e.g. two clip rates): the second with another W_DIR and OUT reuses
# the first's wheels and pybullet build.
set -uo pipefail
ROOT=$(pwd); START=$SECONDS; OUT=${OUT:?OUT must be set}
HELD_OUT=tagline,radio
TRAIN_FAM=descriptive,terse,dashcam_log,question_answer,narrative
T=${T:-8}; RATE=${RATE:-4}; STRIDE=${STRIDE:-2}; CLIPS=${CLIPS:-16}
# one device call (~9.5 min): GEN_CAP=220 TRAIN_CAP=170 TEST_SCEN=240 VAL_SCEN=64 ... and wait
# for $OUT/DONE in the same call
if [[ -n ${CLIPC_SMOKE:-} ]]; then
  PY=$ROOT/.venv/bin/python; W=/tmp/clipc_smoke; DEVICE=cpu; PREC=fp32; MODEL=tiny
  SIZE=64; TRAIN_SCEN=4; CLIPS=4; VAL_SCEN=3; TEST_SCEN=4; GW=1; VW=1; TW=1; GEN_CAP=300
  BATCH=8; STEPS=4; FSTEPS=3; LWORK=1; GRAPH=""; LR=1e-3; WARM=1; EVAL_W=0
else
  PY=python3; W=/tmp/clipc; DEVICE=cuda; PREC=bf16; MODEL=${MODEL:-small}
  SIZE=${SIZE:-96}; TRAIN_SCEN=${TRAIN_SCEN:-1300}; VAL_SCEN=${VAL_SCEN:-96}
  TEST_SCEN=${TEST_SCEN:-320}; GW=${GW:-11}; VW=${VW:-1}; TW=${TW:-3}; GEN_CAP=${GEN_CAP:-420}
  BATCH=${BATCH:-128}; STEPS=${STEPS:-700}; FSTEPS=${FSTEPS:-80}; LWORK=${LWORK:-12}
  GRAPH=--cuda-graph; LR=${LR:-5e-4}; WARM=${WARM:-50}; EVAL_W=6
fi
W=${W_DIR:-$W}  # W_DIR: another work folder, for a second campaign in the same call
# the wheels and the pybullet build live outside $W, so that a second campaign in the same call
# (another W_DIR) reuses them
SITE=${W%/*}/clipc_site; PB=${W%/*}/clipc_pb
rm -rf "$W"; mkdir -p "$W/logs" "$OUT"; rm -f "$OUT/DONE"
export PYTHONPATH=$SITE:$PB:$ROOT PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
RESULTS=$W/results.json; echo '{}' > "$RESULTS"
log() { echo "[$(( SECONDS - START ))s] $*" | tee -a "$W/logs/campaign.log"; }
put() { $PY -c "import json,sys; p='$RESULTS'; d=json.load(open(p)); d[sys.argv[1]]=json.loads(sys.argv[2]); json.dump(d,open(p,'w'),indent=2)" "$1" "$2"; }
jfile() { [[ -s $1 ]] && cat "$1" || echo null; }
ds() { $PY -m edge.cli "$@"; }
count() { ls "$W/data/$1/$1"-*.tar 2>/dev/null | wc -l; }
samples() { local n=0 f; for f in "$W/data/$1/$1"-*.tar; do [[ -e $f ]] && n=$(( n + $(tar tf "$f" | grep -c '\.json$') )); done; echo $n; }
shards() { printf '%s::' "$W/data/$1/$1"-*.tar | sed 's/::$//'; }
pack() {
  put total_seconds "$(( SECONDS - START ))"
  cp "$RESULTS" "$OUT/results.json"
  cp "$W"/eval_*.json "$OUT/" 2>/dev/null
  for f in "$W"/runs/*/training_curve.png; do cp "$f" "$OUT/curve_$(basename "$(dirname "$f")").png"; done 2>/dev/null
  (cd "$W" && tar czf "$OUT/logs.tgz" logs runs/*/summary.json runs/*/config.json \
     data/*/manifest.json plots 2>/dev/null)
  touch "$OUT/DONE"
}
trap pack EXIT

if [[ -z ${CLIPC_SMOKE:-} ]] && ! ls "$PB"/pybullet*.so > /dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
    > "$W/logs/pip.log" 2>&1 || log "pip install failed"
  [ -f .whl/llvmlite.tar.xz ] && tar xJf .whl/llvmlite.tar.xz -C "$SITE"
  mkdir -p "$W/pbsrc" && tar xzf .whl/pybullet-3.2.7-slim.tar.gz -C "$W/pbsrc"
  ( cd "$W/pbsrc"/pybullet-* && MAX_JOBS=16 $PY -m pip install -q --no-deps \
      --no-build-isolation --no-compile --target "$PB" . ) > "$W/logs/pybullet_build.log" 2>&1
  log "pybullet build rc=$?"
fi
[[ -z ${CLIPC_SMOKE:-} ]] && put gpu "\"$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)\""

# ---- 2. data ------------------------------------------------------------------------------
gen() {  # split scenarios clips stride workers
  ds generate --out "$W/data/$1" --split "$1" --scenarios "$2" --frames "$3" \
    --clip-frames "$T" --clip-rate "$RATE" --clip-stride "$4" --image-size "$SIZE" \
    --workers "$5" --seed 7 --samples-per-shard 128 --no-progress --no-card \
    > "$W/logs/generate_$1.log" 2>&1
}
t0=$SECONDS; log "generating clips"
( timeout "$GEN_CAP" bash -c "$(declare -f gen ds); W=$W T=$T RATE=$RATE SIZE=$SIZE PY=$PY; gen train $TRAIN_SCEN $CLIPS $STRIDE $GW" ) & GT=$!
gen val "$VAL_SCEN" 1 0 "$VW" & GV=$!
gen test "$TEST_SCEN" 1 0 "$TW"; RT=$?
wait $GV; RV=$?; wait $GT; RTR=$?
GEN_S=$(( SECONDS - t0 ))
NTRAIN=$(samples train)
put generate "{\"seconds\": $GEN_S, \"rc\": [$RTR, $RV, $RT], \"planned_train_scenarios\": $TRAIN_SCEN, \"clips_per_scenario\": $CLIPS, \"clip_frames\": $T, \"clip_rate\": $RATE, \"clip_stride\": $STRIDE, \"image_size\": $SIZE, \"workers\": [$GW, $VW, $TW], \"train_shards\": $(count train), \"train_clips\": $NTRAIN, \"train_scenarios\": $(( NTRAIN / CLIPS )), \"val_clips\": $(samples val), \"test_clips\": $(samples test), \"train_clips_per_s\": $(( NTRAIN / (GEN_S > 0 ? GEN_S : 1) ))}"
log "generate ${GEN_S}s rc=$RTR/$RV/$RT train clips $NTRAIN ($(count train) shards)"
(( $(count train) > 0 && $(count test) > 0 )) || exit 1

# ---- 3. training ----------------------------------------------------------------------------
train() {  # name steps extra...
  local name=$1 steps=$2; shift 2
  # TRAIN_CAP > 0: a time cap (one-call runs); the checkpoint saved every 100 steps stays
  timeout "${TRAIN_CAP:-0}" $PY -m edge.cli train --train "$(shards train)" --out "$W/runs/$name" --model "$MODEL" --precision "$PREC" \
    --batch-size "$BATCH" --steps-per-epoch "$steps" --warmup-steps "$WARM" --lr "$LR" \
    --workers "$LWORK" --device "$DEVICE" --no-progress $GRAPH --save-every 100 \
    --train-caption-families "$TRAIN_FAM" "$@" > "$W/logs/train_$name.log" 2>&1
  local rc=$? s
  s=$($PY -c "import json; d=json.load(open('$W/runs/$name/summary.json')); print(json.dumps({k: d.get(k) for k in ('samples_per_s','stall_fraction','steady_stall_fraction','steps','wall_s','first_loss','final_loss')}))" 2>/dev/null || echo null)
  put "train_$name" "{\"rc\": $rc, \"summary\": $s}"
  log "train $name rc=$rc $s"
}
# ARMS: "name:extra train flags" separated by ';' (e.g. the motion stream beside the plain
# temporal tower); every arm trains on the same shards with the same hyper-parameters
ARMS=${ARMS:-clips:}
IFS=';' read -ra ARM_LIST <<< "$ARMS"
for arm in "${ARM_LIST[@]}"; do
  name=${arm%%:*}; extra=${arm#*:}
  # shellcheck disable=SC2086
  train "$name" "$STEPS" --clip-frames "$T" --audio-seconds "$($PY -c "print($T/$RATE)")" $extra
done

# ---- 4. evaluation ------------------------------------------------------------------------
evaluate() {  # arm split
  ds eval --checkpoint "$W/runs/$1/checkpoint.pt" --data "$(shards "$2")" \
    --caption-families "$HELD_OUT" --json "$W/eval_$1_$2.json" --plots "$W/plots/$1_$2" \
    --device "$DEVICE" --workers "$EVAL_W" --batch-size 64 > "$W/logs/eval_$1_$2.log" 2>&1
  log "eval $1 $2 rc=$?"
}
brief() {  # eval json -> the figures results.json keeps
  $PY - "$1" <<'EOF'
import json, sys
try:
    m = json.load(open(sys.argv[1]))
except Exception:
    print("null"); sys.exit()
zs = {t: {s: round(r["accuracy"], 4) for s, r in by.items()} for t, by in m["zero_shot"].items()}
ev = {s: r["mean_auroc"] for s, r in m.get("events", {}).items()}
sp = {s: {"accuracy": round(r["accuracy"], 4), "majority": round(r["majority"], 4)}
      for s, r in m.get("ego_speed", {}).items()}
print(json.dumps({"gallery": m["gallery_size"], "zero_shot": zs, "events_mean_auroc": ev,
                  "ego_speed": sp,
                  "audio->text": m["retrieval"]["audio->text"],
                  "image->text": m["retrieval"]["image->text"]}))
EOF
}
for arm in "${ARM_LIST[@]}"; do
  name=${arm%%:*}
  [[ -s $W/runs/$name/checkpoint.pt ]] || { log "no checkpoint for $name"; continue; }
  for split in val test; do
    evaluate "$name" "$split"
    put "eval_${name}_$split" "$(brief "$W/eval_${name}_$split.json")"
  done
done
# the arm chosen on val only: highest mean zero-shot accuracy over every task and source
put chosen_on_val "$($PY - "$RESULTS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
score = {}
for key, m in d.items():
    if key.startswith("eval_") and key.endswith("_val") and m:
        accs = [a for by in m["zero_shot"].values() for a in by.values()]
        score[key[5:-4]] = round(sum(accs) / len(accs), 4)
print(json.dumps({"rule": "mean zero-shot accuracy on val over tasks and sources",
                  "val_scores": score, "arm": max(score, key=score.get) if score else None}))
EOF
)"
log "chosen: $($PY -c "import json; print(json.load(open('$RESULTS')).get('chosen_on_val'))")"
# ---- single frames beside clips: throughput and loader stall with the same batch/loader --
(( FSTEPS > 0 )) && train frames "$FSTEPS" --clip-frames 0 --audio-seconds 1.0
log "done"
