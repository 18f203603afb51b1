#!/usr/bin/env bash
# Generation on the GPU machine in one device call (1 GPU, 16 cores, Python 3.12, <= 9.5 min):
#   1. GL loaders, the carried wheels, pybullet built from the slim sdist (with its EGL plugin);
#      meanwhile the CUDA-graph trainer tests (pytest -m gpu);
#   2. the renderer tests with EGL on the GPU (principal point, labels, agreement with
#      TinyRenderer, determinism);
#   3. `drivesynth generate` throughput, TinyRenderer vs EGL at 128, 256 and 512 px on
#      $GEN_W workers (samples/s from generate's own build time, and the command's wall time);
#      at 128 px also a run three times as long: the difference of the two is the steady rate
#      (worker start-up and the last shard's tail cancel out);
#   4. scaling of EGL generation at 1, 4, 8 and $GEN_W workers ($SCALE_SCEN scenarios per
#      worker, default 16), and byte-identical shards for 4 and $GEN_W workers;
#   5. results.json + logs into $OUT.
# Usage (device tool, carry .whl and .gl): OUT=$OUT bash scripts/device_generate.sh
# (GPU_TESTS=0 skips step 1's tests, EGL_TESTS=0 step 2; SIZES picks step 3's image sizes, default
# "128 256 512" (step 4 compares with the 128 px EGL run), RENDERERS its renderers, default "egl tiny";
# BUDGET is the script's own time limit in seconds)
set -uo pipefail
ROOT=$(pwd); START=$SECONDS; OUT=${OUT:?OUT must be set}
W=/tmp/gen; SITE=/tmp/site; PB=/tmp/pb; PY=python3
GEN_W=${GEN_W:-15}; FRAMES=${FRAMES:-8}; BUDGET=${BUDGET:-560}
mkdir -p "$W/logs" "$OUT"
export PYTHONPATH=$SITE:$PB:$ROOT PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
RESULTS=$OUT/results.json; echo '{}' > "$RESULTS"
log() { echo "[$(( SECONDS - START ))s] $*" | tee -a "$W/logs/run.log"; }
left() { echo $(( BUDGET - (SECONDS - START) )); }
put() { $PY -c "import json,sys; p='$RESULTS'; d=json.load(open(p)); d[sys.argv[1]]=json.loads(sys.argv[2]); json.dump(d,open(p,'w'),indent=2)" "$1" "$2"; }
ds() { $PY -m edge.cli "$@"; }

for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
$PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
  > "$W/logs/pip.log" 2>&1 || log "pip install failed"
# llvmlite's wheel is too big to carry as it is: its files travel as .whl/llvmlite.tar.xz
[ -f .whl/llvmlite.tar.xz ] && tar xJf .whl/llvmlite.tar.xz -C "$SITE"
mkdir -p "$W/pbsrc" && tar xzf .whl/pybullet-3.2.7-slim.tar.gz -C "$W/pbsrc"
( cd "$W/pbsrc"/pybullet-* && MAX_JOBS=16 $PY -m pip install -q --no-deps \
    --no-build-isolation --no-compile --target "$PB" . ) > "$W/logs/pybullet_build.log" 2>&1 &
PB_PID=$!
log "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
put gpu "\"$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)\""

if [[ ${GPU_TESTS:-1} == 1 ]]; then
  log "CUDA-graph tests"
  timeout "${GPU_TIMEOUT:-240}" $PY -m pytest -q -p no:cacheprovider -rs -m gpu tests/multimodal/test_cuda_graph.py \
    > "$W/logs/pytest_gpu.log" 2>&1; log "gpu tests rc=$? $(tail -1 "$W/logs/pytest_gpu.log")"
fi
wait $PB_PID; log "pybullet build rc=$?"
put numba "$($PY -c 'import sim.jit as j; print(str(j.AVAILABLE).lower())' 2>/dev/null || echo false)"
log "numba kernels: $($PY -c 'import sim.jit as j; print(j.AVAILABLE)' 2>&1 | tail -1)"

# numba compiles the weather kernels once per machine (cache next to the source): a small run
# over every preset fills the cache before anything is timed
( ds generate --out "$W/data/warm" --scenarios 26 --frames 1 --image-size 64 --workers 2 \
    --seed 1 --no-progress --no-card > "$W/logs/gen_warm.log" 2>&1 ) &
WARM_PID=$!
if [[ ${EGL_TESTS:-1} == 1 ]]; then
log "renderer tests (EGL on the GPU)"
timeout 150 $PY -m pytest -q -p no:cacheprovider -rs tests/sim/test_egl_renderer.py \
  tests/sim/test_camera_labels.py > "$W/logs/pytest_egl.log" 2>&1
log "egl tests rc=$? $(tail -1 "$W/logs/pytest_egl.log")"
$PY - > "$W/agree.json" 2>> "$W/logs/agree.log" <<'EOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/sim")
from test_egl_renderer import _pair
from sim.camera import renderer_info
rows = []
for seed in (3, 11, 21):
    for size in (128, 256, 512):
        for t, g in _pair(seed, size):
            both = (t.instance == g.instance) & (t.depth > 0)
            rows.append({"seed": seed, "size": size,
                         "semantic": float(np.mean(t.semantic == g.semantic)),
                         "instance": float(np.mean(t.instance == g.instance)),
                         "depth_median_abs_m": float(np.median(np.abs(t.depth[both] - g.depth[both])))})
print(json.dumps({"renderer": renderer_info("egl"), "frames": rows,
                  "semantic_min": min(r["semantic"] for r in rows),
                  "instance_min": min(r["instance"] for r in rows)}))
EOF
put agreement "$(cat "$W/agree.json" 2>/dev/null || echo null)"; log "agreement: $(head -c 300 "$W/agree.json")"
fi

wait $WARM_PID; log "numba warm-up rc=$?"

gen() {  # gen NAME RENDERER SIZE WORKERS SCENARIOS
  local t0=$SECONDS dir=$W/data/$1
  timeout "$(( $(left) > 20 ? $(left) - 10 : 10 ))" $PY -m edge.cli generate --out "$dir" \
    --scenarios "$5" --frames "$FRAMES" --image-size "$3" --renderer "$2" --workers "$4" \
    --samples-per-shard $(( 2 * FRAMES )) --seed 7 --no-progress --no-card \
    > "$W/logs/gen_$1.log" 2>&1
  local rc=$? wall=$(( SECONDS - t0 ))
  local line; line=$(grep '^built' "$W/logs/gen_$1.log" | tail -1)
  local build_s; build_s=$(echo "$line" | sed -E 's/.*, ([0-9.]+) s$/\1/')
  local n=$(( $5 * FRAMES ))
  put "gen_$1" "{\"renderer\": \"$2\", \"size\": $3, \"workers\": $4, \"samples\": $n, \"rc\": $rc, \"wall_s\": $wall, \"build_s\": ${build_s:-null}}"
  log "gen $1: rc=$rc wall=${wall}s build=${build_s}s samples=$n -> $(python3 -c "print(round($n/float('${build_s:-0}' or 'inf'),1))") samples/s"
}
for size in ${SIZES:-128 256 512}; do
  for r in ${RENDERERS:-egl tiny}; do
    n=$(( GEN_W * 8 )); (( size == 512 )) && n=$(( GEN_W * 4 ))
    (( $(left) > 60 )) && gen "${r}${size}" "$r" "$size" "$GEN_W" "$n"
    # a run three times as long on the same workers: the difference is the steady rate
    # (worker start-up, numba loading and the last shard's tail cancel out)
    (( size == 128 && $(left) > 90 )) && gen "${r}${size}x3" "$r" "$size" "$GEN_W" $(( 3 * n ))
  done
done
for w in 1 4 8 "$GEN_W"; do
  (( $(left) > 40 )) && gen "scale${w}" egl 128 "$w" $(( w * ${SCALE_SCEN:-16} ))
done
if (( $(left) > 40 )); then
  gen same4 egl 128 4 $(( GEN_W * 8 ))
  a=$(cd "$W/data/egl128" && sha256sum *.tar | sha256sum | cut -c1-16)
  b=$(cd "$W/data/same4" && sha256sum *.tar | sha256sum | cut -c1-16)
  put identical_shards_4_vs_${GEN_W} "{\"a\": \"$a\", \"b\": \"$b\", \"same\": $([[ $a == "$b" ]] && echo true || echo false)}"
  log "shards 4 vs $GEN_W workers: $a $b"
fi
# steady rates and scaling efficiency from the recorded runs
put summary "$($PY - "$RESULTS" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
def rate(k):
    r = d.get(k) or {}
    return r["samples"] / r["build_s"] if r.get("rc") == 0 and r.get("build_s") else None
out = {"end_to_end_samples_per_s": {k[4:]: round(rate(k), 1) for k in d if k.startswith("gen_") and rate(k)}}
for r in ("egl", "tiny"):
    a, b = d.get(f"gen_{r}128") or {}, d.get(f"gen_{r}128x3") or {}
    if rate(f"gen_{r}128") and rate(f"gen_{r}128x3") and b["build_s"] > a["build_s"]:
        out[f"steady_{r}128_samples_per_s"] = round((b["samples"] - a["samples"]) / (b["build_s"] - a["build_s"]), 1)
one = rate("gen_scale1")
if one:
    out["scaling_efficiency"] = {k[9:]: round(rate(k) / (one * d[k]["workers"]), 3)
                                 for k in d if k.startswith("gen_scale") and rate(k)}
print(json.dumps(out))
PYEOF
)"
log "summary: $($PY -c "import json; print(json.load(open('$RESULTS')).get('summary'))")"
cp "$W/logs/run.log" "$OUT/run.log"
tar czf "$OUT/logs.tgz" -C "$W" logs agree.json 2>/dev/null
log "done"
