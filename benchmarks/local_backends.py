#!/usr/bin/env python
"""The local path, measured: ``run_all.py --jobs 2`` (a thread pool in the
driver, each run in its own notebook kernel) against the same grid through a
Dask ``LocalCluster`` of two one-thread worker processes (``--scheduler``).

    python benchmarks/local_backends.py              # the smoke grid, 3 rounds
    python benchmarks/local_backends.py --rounds 1   # quicker

Each round runs the grid once per backend, in alternating order, into a fresh
temporary results directory, and times the whole call in a fresh process
(for Dask: starting the cluster, the results-directory probe, the runs and
closing it).  Prints one JSON object with every timing and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_DASK = """
import sys
from distributed import LocalCluster
sys.path.insert(0, {root!r})
import run_all
with LocalCluster(n_workers={jobs}, threads_per_worker=1, processes=True, host="127.0.0.1",
                  dashboard_address=None) as cluster:
    sys.exit(run_all.main([*{args!r}, "--scheduler", cluster.scheduler_address]))
"""


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    times: dict[str, list[float]] = {"threads": [], "dask_local_cluster": []}
    for r in range(args.rounds):
        order = list(times) if r % 2 == 0 else list(times)[::-1]
        for backend in order:
            with tempfile.TemporaryDirectory(prefix="made-backends-") as tmp:
                grid = ["--smoke", "--results-dir", tmp, "--no-reports"]
                if backend == "threads":
                    command = [sys.executable, "run_all.py", *grid, "--jobs", str(args.jobs)]
                else:
                    command = [sys.executable, "-c", _DASK.format(root=str(ROOT), jobs=args.jobs, args=grid)]
                times[backend].append(round(_time(command), 1))
                print(f"round {r + 1}: {backend} {times[backend][-1]} s", file=sys.stderr)
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"grid": "smoke", "jobs": args.jobs, "seconds": times, "median_seconds": medians,
                      "dask_over_threads": round(medians["dask_local_cluster"] / medians["threads"], 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
