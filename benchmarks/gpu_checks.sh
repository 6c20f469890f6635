#!/usr/bin/env bash
# The GPU checks in one script: device facts, throughput against the floor, the fused
# launcher against the default one, the image suites with the CNN, and the paper-scale
# (full) profile of the studies, each step under its own time limit so one slow step
# cannot take the others with it. Everything lands in one folder (default gpu_checks/).
#
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
#
# Runs from the repository root; a step's failure is logged and the next step runs.
set -u
out=${1:-gpu_checks}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
log="$out/log.txt"
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s): $*" | tee -a "$log"
  local begin=$SECONDS
  timeout "$limit" "$@" >>"$log" 2>&1
  echo "== $name: exit $? after $((SECONDS - begin))s" | tee -a "$log"
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $py -c "import jax; print('jax', jax.__version__, jax.devices())"; nproc; } >"$out/device.txt" 2>&1
step throughput 80 sh -c "$py benchmarks/throughput.py --repeats 3 > '$out/throughput.md'"
step fused_sweep 120 sh -c "$py benchmarks/fused_sweep.py > '$out/fused_sweep.md'"
for suite in digits scenes; do
  step "$suite" 45 $py -m harness.run "data=$suite" model=cnn model.width=32 data.pool=2048 \
    data.n_per_task=300 train.steps=1000 train.seeds=5 runtime.progress=false "hydra.run.dir=$out/suites/$suite"
done
step transfer_vs_mtl_scenes 60 $py -m harness.run -m +experiment=transfer_vs_mtl_scenes hydra/launcher=fused \
  runtime.progress=false "hydra.sweep.dir=$out/full/transfer_vs_mtl_scenes"
for study in relatedness missing_labels data_symmetry capacity help_hurt_map; do
  step "full/$study" "${FULL_LIMIT:-45}" $py -m harness.reproduce --profile full --studies "$study" \
    --out "$out/full/$study" hydra/launcher=fused runtime.progress=false
done
tar czf "$out/results.tgz" -C "$out" suites full 2>/dev/null
rm -rf "$out/suites" "$out/full"
