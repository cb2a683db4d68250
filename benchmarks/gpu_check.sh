#!/bin/bash
# GPU check: what this project has not yet measured on a GPU, in one script of
# about 8 minutes.  For anyone with a CUDA GPU and this checkout installed
# (README, "The two commands"; a CUDA build of torch).
#
#   1. Data: binarized MNIST, found as `python -m made.data info` says; or
#      set MADE_DATA_DIR to a folder holding binarized_mnist_static_seed0.npz
#      (a machine without internet: copy that file from one where
#      `python -m made.data fetch binarized_mnist` made it, ~/.cache/made).
#   2. From the repository's root:  bash benchmarks/gpu_check.sh
#      Everything goes to $OUT (default /tmp/gpu-check): gpu-check.log, and the
#      benchmark's JSON.
#   3. Copy the figures into benchmarks/RESULTS.md ("GPU"), with the GPU's
#      name, the driver and the torch version the log starts with.
#
# What it runs: the benchmark at 1x500 (with 1, 2 and 4 concurrent K = 32 runs
# sharing the GPU) and at 2x8000 (the paper's largest MNIST model), the
# figure2 and large dry runs timed on the GPU, and real MNIST epochs of a
# K = 32 run at 1x500 (Figure 2's recipe) and at 2x8000 (the authors').
# Each step has its own time limit, so one that hangs does not take the rest.
#
# A rehearsal on a CPU, in a few minutes, with small models:
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh
set -u
DEVICE=${DEVICE:-cuda}
if [ -n "${QUICK:-}" ]; then quick=--quick big=50x50 grid=smoke runs=("500 1 adam" "50,50 1 paper")
else quick= big=8000x8000 grid=large runs=("500 12 adam" "8000,8000 3 paper"); fi
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
py=${PYTHON:-python3}
step() { echo "== $1 ($(date +%T))"; }
table() { $py -c "import json, sys; sys.path.insert(0, 'benchmarks'); from bench import format_table
print(format_table(json.load(open(sys.argv[1]))))" "$1"; }
{
step "device"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
$py -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"
step "benchmark, 1x500 (1, 2 and 4 concurrent K=32 runs on one GPU)"
timeout 150 $py benchmarks/bench.py --device $DEVICE --repeats 3 $quick --json > "$OUT/bench-$DEVICE.json" && table "$OUT/bench-$DEVICE.json"
step "benchmark, 2x8000 (the paper's largest MNIST model)"
timeout 120 $py benchmarks/bench.py --device $DEVICE --hidden $big --repeats 3 $quick --json > "$OUT/bench-$DEVICE-big.json" && table "$OUT/bench-$DEVICE-big.json"
step "dry runs, timed on this device"
timeout 60 $py run_all.py --dry-run --device $DEVICE --jobs 1
timeout 90 $py run_all.py --grid $grid --dry-run --device $DEVICE --jobs 1
step "real epochs on MNIST: K=32 order-agnostic 1x500 (Figure 2's recipe), and 2x8000 K=32 (the authors')"
for spec in "${runs[@]}"; do set -- $spec
  timeout 120 $py - "$1" "$2" "$3" "$DEVICE" <<'PY'
import json, sys, tempfile, time
from made.pipeline.experiment import ExperimentConfig, run_experiment
from made.pipeline.grid import PROTOCOLS
hidden, epochs, protocol = [int(h) for h in sys.argv[1].split(",")], int(sys.argv[2]), sys.argv[3]
cfg = ExperimentConfig.from_dict({**PROTOCOLS[protocol], "protocol": protocol, "hidden_sizes": hidden, "num_masks": 32,
                                  "valid_masks": 8 if protocol == "adam" else None, "max_epochs": epochs,
                                  "device": sys.argv[4], "progress": False, "test_masks": 32})
t0 = time.perf_counter()
m = run_experiment(cfg, tempfile.mkdtemp(prefix="made-gpu-check-"))
wall = time.perf_counter() - t0
print(json.dumps({"hidden": hidden, "protocol": protocol, "epochs": epochs, "wall_s": round(wall, 1),
                  "train_s_per_epoch": round(m["train_seconds"] / epochs, 2),
                  "valid_s_per_epoch": round(m["valid_seconds"] / epochs, 2),
                  "test_nll_ensemble": m["test_nll_ensemble"]}))
PY
done
step "done"
} 2>&1 | tee "$OUT/gpu-check.log"
