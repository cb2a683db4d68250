#!/bin/bash
# The GPU measurements of issue 7, as one prepared call of the workplace's device
# tool (about 8 minutes; the device's budget is 15). Before the call, here:
#   mkdir -p .gpu-data && cp ~/.cache/made/binarized_mnist_static_seed0.npz .gpu-data/
# (.gitignore keeps .gpu-data out of git; the device machine has no internet).
# then run `bash benchmarks/gpu_check.sh` there with carry [".gpu-data"] and
# timeout_s 600. Everything lands in $OUT: the bench table and JSON, dry-run
# estimates measured on the GPU, and real epochs of a Figure 2 run and of the
# paper's largest model. Copy the figures into benchmarks/RESULTS.md.
# A rehearsal here, on CPU in a few minutes: DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh
set -u
DEVICE=${DEVICE:-cuda}
if [ -n "${QUICK:-}" ]; then quick=--quick big=50x50 grid=smoke runs=("500 1 adam" "50,50 1 paper")
else quick= big=8000x8000 grid=large runs=("500 12 adam" "8000,8000 3 paper"); fi
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD MADE_DATA_DIR=$PWD/.gpu-data MADE_CACHE_DIR=$PWD/.gpu-data
py=python3
step() { echo "== $1 ($(date +%T))"; }
table() { $py -c "import json,sys; from made.bench import format_table; print(format_table(json.load(open(sys.argv[1]))))" "$1"; }
{
step "device"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$py -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"
step "made.bench, 1x500 (1, 2 and 4 concurrent K=32 runs on one GPU)"
timeout 150 $py -m made.bench --device $DEVICE --repeats 3 $quick --json > "$OUT/bench-cuda.json" && table "$OUT/bench-cuda.json"
step "made.bench, 2x8000 (the paper's largest MNIST model)"
timeout 120 $py -m made.bench --device $DEVICE --hidden $big --repeats 3 $quick --json > "$OUT/bench-cuda-big.json" && table "$OUT/bench-cuda-big.json"
step "dry runs, timed on this GPU"
timeout 60 $py run_all.py --dry-run --device $DEVICE --jobs 1
timeout 90 $py run_all.py --grid $grid --dry-run --device $DEVICE --jobs 1
step "real epochs on MNIST: K=32 order-agnostic 1x500 (Figure 2's recipe), and 2x8000 K=32 (the authors')"
for spec in "${runs[@]}"; do set -- $spec
  timeout 120 $py - "$1" "$2" "$3" "$DEVICE" <<'PY'
import json, sys, tempfile, time
from made.experiment import ExperimentConfig, run_experiment
from made.grid import PROTOCOLS
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
