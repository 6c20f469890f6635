#!/usr/bin/env bash
# The GPU checks in one script: device facts, throughput against the floor, the patch
# convolution against the library's, the fused launcher against the default one (each
# alone on the device), then every study of the paper-scale (full) profile at once, each
# its own multirun process sharing the GPU. Each step runs under its own time limit so one
# slow step cannot take the others with it; a study cut off keeps the jobs it finished
# (studies whose jobs differ only in values run fused, the others one job at a time, so
# their finished jobs are written as they go). Everything lands in one folder (default
# gpu_checks/). The studies' raw results are large (about 1 MB a job: 250 MB for the full
# profile), so the report is written there (`python -m harness.report`) and report.tgz
# keeps it without the tidy tables: REPORT.md, the figures and each study's summary.csv.
#
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
#
# Runs from the repository root; a step's failure is logged and the next step runs.
# FULL_LIMIT (seconds, default 240) bounds the studies.
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
  $py -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"
  nproc; } >"$out/device.txt" 2>&1
step throughput 90 sh -c "$py benchmarks/throughput.py --repeats 3 > '$out/throughput.md'"
step conv 40 sh -c "$py benchmarks/conv.py > '$out/conv.md'"
step fused_sweep 130 sh -c "$py benchmarks/fused_sweep.py > '$out/fused_sweep.md'"

# The study list is the registry's (harness/analysis/registry.py); the studies whose jobs
# change shapes (width, task count) run one job at a time, every other one fused.
studies=$($py -c "from harness.analysis.registry import main_studies; print(' '.join(main_studies('full')))")
alone="capacity data_symmetry capacity_digits capacity_scenes data_symmetry_digits data_symmetry_scenes"
fused=$(for s in $studies; do [[ " $alone " == *" $s "* ]] || echo "$s"; done | xargs)
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the studies share the GPU
echo "== full profile, all studies at once (limit ${FULL_LIMIT:-240}s)" | tee -a "$log"
begin=$SECONDS
for study in $fused $alone; do
  launcher=$([[ " $fused " == *" $study "* ]] && echo "hydra/launcher=fused hydra.launcher.max_jobs=10" || echo "")
  ( b=$SECONDS
    timeout "${FULL_LIMIT:-240}" $py -m harness.run -m "experiment=full/$study" $launcher runtime.progress=false \
      "hydra.sweep.dir=$out/full/$study" >"$out/full-$study.log" 2>&1
    echo "== full/$study: exit $? after $((SECONDS - b))s, $(ls "$out"/full/"$study"/*/result.json 2>/dev/null | wc -l) results" >>"$log" ) &
done
wait
echo "== full profile: all ended after $((SECONDS - begin))s" | tee -a "$log"
tail -n 3 "$out"/full-*.log >>"$log"
step report 120 $py -m harness.report "$out"/full/*/ --out "$out/report"
tar czf "$out/report.tgz" -C "$out" --exclude='results.*' report
rm -rf "$out/full" "$out"/full-*.log "$out/report"
