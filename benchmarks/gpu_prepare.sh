#!/usr/bin/env bash
# Stage, on this machine, what a GPU machine lent by the device tool needs to
# run grid points with run_all.py (benchmarks/gpu_runs.sh), and print the call.
#
# That machine (nvidia-h200) has Python 3.12 with torch, numpy, pandas,
# matplotlib and seaborn, but no papermill or Jupyter kernel, and no internet.
# So this downloads their wheels for Python 3.12 into .whl/, and copies the
# data the runs read into .gpu-data/; both folders are git-ignored, and the
# device call carries them (64 MiB in all: about 20 MiB of wheels, 4 MiB of data).
#
#   bash benchmarks/gpu_prepare.sh [DATA_DIR]      # DATA_DIR: default $MADE_DATA_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${MADE_DATA_DIR:-}}
[ -n "$data" ] && [ -f "$data/binarized_mnist.npz" ] || {
  echo "gpu_prepare.sh: no binarized_mnist.npz in '${data}': give the data folder (or set MADE_DATA_DIR)" >&2; exit 1; }
mkdir -p .whl .gpu-data
cp "$data"/*.npz .gpu-data/
# papermill and a Jupyter kernel, with what they need that the machine lacks
# (its package list: the device tool's KINDS.md)
wheels=(papermill nbclient nbformat ipykernel ipython ipython_pygments_lexers jupyter_client jupyter_core
        traitlets comm debugpy matplotlib-inline nest-asyncio2 pyzmq tornado jedi parso prompt_toolkit wcwidth
        pexpect ptyprocess stack-data executing asttokens pure_eval fastjsonschema jsonschema
        jsonschema-specifications referencing rpds-py tenacity entrypoints platformdirs)
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl "${wheels[@]}"
du -sh .whl .gpu-data
echo "device call: carry [\".whl\", \".gpu-data\"], command: bash benchmarks/gpu_runs.sh --grid widths --only hidden_sizes=8000"
