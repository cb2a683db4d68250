"""benchmarks/bench.py, run as its README and benchmarks/RESULTS.md say: every field is there."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from made import MADE

pytestmark = pytest.mark.slow  # a real benchmark: about two minutes
BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_prints_every_field():
    bench = load_bench()
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", "--hidden", "64"], cwd="/",
                         capture_output=True, text=True, timeout=300, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["hidden"] == [64]  # a tiny model: this checks the fields, not the speed
    for kind in bench.MEASUREMENTS:
        r = res["results"][kind]
        assert r["rate"] > 0 and r["peak_mb"] > 0 and r["unit"].endswith("/s")
    # Each ratio is the quotient of the two rates it names.  No bound on its size:
    # on a loaded machine any measured ratio is possible (timings belong in the
    # benchmark's output, not in pass/fail).
    pairs = {"train_k1_vs_dense": ("train_k1", "train_dense"),
             "train_k32_vs_dense": ("train_k32", "train_dense"),
             "train_k32_kept_vs_dense": ("train_k32_kept", "train_dense"),
             "train_direct_vs_dense_direct": ("train_direct", "train_dense_direct"),
             "eval_ensemble_vs_dense": ("eval_ensemble", "eval_dense"),
             "train_k1_fast_vs_plain": ("train_k1", "train_k1_plain"),
             "train_k32_kept_buffers_vs_fresh": ("train_k32", "train_k32_fresh")}
    assert set(res["ratios"]) == set(pairs)
    for name, (a, b) in pairs.items():
        rates = res["results"]
        assert res["ratios"][name] == pytest.approx(rates[a]["rate"] / rates[b]["rate"], rel=1e-12), name
    assert res["grid"] and all(g["rate"] > 0 and g["peak_mb"] > 0 for g in res["grid"])
    best = max(res["grid"], key=lambda g: g["rate"])  # the fastest split is the one named
    assert res["grid_best"] == {"jobs": best["jobs"], "threads": best["threads"]}

    # the table prints the same result
    table = bench.format_table(res)
    for label in ("train, 1 mask", "32 masks cycled", "no switching", "direct connections", "dense MLP (ceiling)",
                  "ensemble_log_prob", "sample 100", "grid throughput", "fastest split", "peak MB"):
        assert label in table


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_training_throughput_times_the_training_step(optimizer):
    torch.manual_seed(0)
    model = MADE(6, [8], 6, num_masks=3)
    before = [p.detach().clone() for p in model.parameters()]
    moves, update = [], model.update_masks
    model.update_masks = lambda: (moves.append(1), update())
    rate = load_bench().train_throughput(model, 6, batch_size=10, steps=4, optimizer=optimizer)
    assert rate > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it trained
    assert len(moves) >= 4  # and moved to the next mask at every step, as fit does
    assert load_bench().train_throughput(model, 6, batch_size=10, seconds=0.05) > 0
