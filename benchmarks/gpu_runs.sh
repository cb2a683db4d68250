#!/usr/bin/env bash
# On a GPU machine lent by the device tool, after benchmarks/gpu_prepare.sh
# here: train grid points with run_all.py, all at once on the one GPU, and
# send the complete runs back as $OUT/runs.tgz (checkpoints left out), with
# the log.  Its arguments go to run_all.py, e.g.
#
#   bash benchmarks/gpu_runs.sh --grid widths --only hidden_sizes=8000
#
# Back here: tar xzf <files_at>/runs.tgz -C results, then commit each run.
# LIMIT_S (default 500) stops run_all.py with Ctrl-C's signal before the call's
# own limit, so the runs that finished still come back.  A rehearsal on a CPU:
#   OUT=/tmp/gpu-out DEVICE=cpu RESULTS=/tmp/gpu-results WHEELS= bash benchmarks/gpu_runs.sh \
#     --grid figure2 --only num_masks=1 --seeds 1 --set max_epochs=1 --set train_subset=500
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
results=${RESULTS:-results}
export PYTHONUNBUFFERED=1
wheels=${WHEELS-.whl}  # WHEELS= (empty) for a rehearsal where the packages are installed
if [ -n "$wheels" ] && ls "$wheels"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl \
    || { echo "gpu_runs.sh: the wheels in $wheels/ did not install" >&2; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -d .gpu-data ] && export MADE_DATA_DIR=$PWD/.gpu-data
export MADE_CACHE_DIR=${MADE_CACHE_DIR:-/tmp/made-cache}
mkdir -p "$results/runs"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"
  jobs=${JOBS:-6}  # runs at once on the one GPU (a thread pool: fewer points leave workers idle)
  echo "== $(date +%T) run_all.py $* on ${DEVICE:-cuda}, $jobs job(s)"
  timeout --signal=INT "${LIMIT_S:-500}" python3 run_all.py "$@" --device "${DEVICE:-cuda}" --jobs "$jobs" \
    --threads 2 --no-reports --results-dir "$results"
  echo "== $(date +%T) run_all.py ended with $?"
} 2>&1 | tr '\r' '\n' | grep -v "^runs: " | tee "$OUT/gpu-runs.log"
done_runs=()
for d in "$results"/runs/*/; do
  id=$(basename "$d")
  [ -f "$d/DONE" ] || continue
  git ls-files --error-unmatch "$d/DONE" >/dev/null 2>&1 && continue  # committed: nothing new to send
  done_runs+=("runs/$id")
done
if [ ${#done_runs[@]} -gt 0 ]; then
  tar czf "$OUT/runs.tgz" -C "$results" --exclude='*.pt' --exclude='LOCK*' --exclude=staging "${done_runs[@]}"
  echo "runs.tgz: ${done_runs[*]}" | tee -a "$OUT/gpu-runs.log"
else
  echo "no run finished" | tee -a "$OUT/gpu-runs.log"
fi
