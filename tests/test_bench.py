import json
import subprocess
import sys

import pytest

from made.bench import MEASUREMENTS

pytestmark = pytest.mark.slow  # a real benchmark: about two minutes


def test_quick_benchmark_prints_every_field():
    out = subprocess.run([sys.executable, "-m", "made.bench", "--quick", "--json"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    for kind in MEASUREMENTS:
        r = res["results"][kind]
        assert r["rate"] > 0 and r["peak_mb"] > 0 and r["unit"].endswith("/s")
    assert set(res["ratios"]) == {"train_k1_vs_dense", "train_k32_vs_dense", "train_k32_kept_vs_dense",
                                  "train_direct_vs_dense_direct", "eval_ensemble_vs_dense",
                                  "train_k1_fast_vs_plain"}
    assert all(0 < v < 5 for v in res["ratios"].values())
    assert res["grid"] and all(g["rate"] > 0 and g["peak_mb"] > 0 for g in res["grid"])
    assert {"jobs", "threads"} == set(res["grid_best"])


    # the table prints the same result
    from made.bench import format_table

    table = format_table(res)
    for label in ("train, 1 mask", "32 masks cycled", "no switching", "direct connections", "dense MLP (ceiling)",
                  "ensemble_log_prob", "sample 100", "grid throughput", "fastest split", "peak MB"):
        assert label in table
