#!/usr/bin/env python
"""Benchmark: MADE training, evaluation and sampling against the dense-MLP ceiling.

    python benchmarks/bench.py            # table
    python benchmarks/bench.py --json     # one JSON object
    python benchmarks/bench.py --quick    # a few seconds, for tests

Every number is measured in the same call, as the median of ``--repeats``
timings after a warm-up.  Each measurement runs in its own fresh process, so
its peak memory (max RSS on the CPU, max allocated on CUDA) is its own.
A masked network does the dense network's arithmetic plus the masking, so
masked/dense is at most about 1.  Results and what they showed:
benchmarks/RESULTS.md.

Training is timed by :func:`train_throughput` (a
``torch.utils.benchmark.Timer`` over the step ``fit`` trains with); an
evaluation or sampling measurement is one call read off the clock, since
``Timer.timeit`` would add two untimed warm-up calls to every round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's made, as a script

from made.device import set_threads  # noqa: E402
from made.model import MADE  # noqa: E402


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_throughput(model: torch.nn.Module, dim: int, *, batch_size: int = 100, steps: int = 30,
                     seconds: float | None = None, switch_masks: bool = True, optimizer: str = "adagrad",
                     device: torch.device | str = "cpu") -> float:
    """Training examples per second of :func:`made.train.train_step` (forward,
    backward, optimizer step, and the mask switch unless ``switch_masks`` is
    False), under the contexts ``fit`` trains in: the mean of ``steps`` timed
    steps after ``Timer``'s warm-up, or, with ``seconds``, of as many steps as
    fill that many seconds (``Timer.blocked_autorange``)."""
    from torch.utils.benchmark import Timer

    from made.device import flush_denormals
    from made.train import TrainConfig, make_optimizer, train_step, training_context

    device = torch.device(device)
    x = (torch.rand(batch_size * 8, dim, device=device) < 0.15).float()
    lr = 0.01 if optimizer == "sgd" else None
    opt, _ = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=lr, progress=False))  # as in fit()
    next_mask = switch_masks and hasattr(model, "update_masks")
    batches = iter(range(10**12))

    def step():
        i = next(batches) % 8
        train_step(model, opt, x[i * batch_size:(i + 1) * batch_size], next_mask=next_mask)

    timer = Timer("step()", globals={"step": step}, num_threads=torch.get_num_threads())
    with flush_denormals(), training_context(model):  # as in fit()
        measured = timer.blocked_autorange(min_run_time=seconds) if seconds else timer.timeit(steps)
    return batch_size / measured.mean


class DenseMLP(nn.Module):
    """The ceiling: an unmasked MLP of identical shapes (with a dense skip
    layer when the MADE has direct connections)."""

    def __init__(self, nin: int, hidden: list[int], direct: bool = False):
        super().__init__()
        sizes = [nin, *hidden, nin]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.direct = nn.Linear(nin, nin, bias=False) if direct else None

    def forward(self, x):
        *hidden, output = self.layers  # unpacked: slicing builds a ModuleList per call
        h = x
        for layer in hidden:
            h = F.relu(layer(h))
        out = output(h)
        return out + self.direct(x) if self.direct is not None else out


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


MEASUREMENTS = ["train_k1", "train_k1_plain", "train_k32", "train_k32_fresh", "train_k32_kept", "train_direct",
                "train_dense", "train_dense_direct", "eval_ensemble", "eval_dense", "sample"]
UNITS = {"sample": "samples/s"}


@contextlib.contextmanager
def fresh_buffers(model):
    """The training step as it was before the layers kept their buffers: a
    fresh ``W * M`` at every forward, fresh weight gradients masked out of
    place (plain autograd), and gradients freed at every ``zero_grad``."""
    layers = model.masked_layers
    for layer in layers:
        layer.forward = lambda x, layer=layer: F.linear(x, layer.mask * layer.weight, layer.masked_bias())
    zero_grad = torch.optim.Optimizer.zero_grad
    torch.optim.Optimizer.zero_grad = lambda self, set_to_none=True: zero_grad(self, True)
    try:
        yield
    finally:
        torch.optim.Optimizer.zero_grad = zero_grad
        for layer in layers:
            del layer.forward


def _make(kind: str, opts: dict):
    """The model and a function returning one timed rate, for one measurement."""
    device = torch.device(opts["device"])
    d, hidden, bs, steps = opts["dim"], opts["hidden"], opts["batch_size"], opts["steps"]
    n_eval, k_eval = opts["eval_examples"], opts["eval_masks"]
    torch.manual_seed(0)
    if kind.startswith("train"):
        if kind.startswith("train_dense"):
            model = DenseMLP(d, hidden, direct=kind == "train_dense_direct").to(device)
        else:
            k = 32 if kind.startswith("train_k32") else 1
            model = MADE(d, hidden, d, num_masks=k, direct_connections=kind == "train_direct",
                         fast=not kind.endswith("_plain")).to(device)
        switch = kind in ("train_k32", "train_k32_fresh")
        if kind == "train_k32_fresh":
            def rate():
                with fresh_buffers(model):
                    return train_throughput(model, d, batch_size=bs, steps=steps, switch_masks=switch, device=device)
            return rate
        return lambda: train_throughput(model, d, batch_size=bs, steps=steps, switch_masks=switch, device=device)
    x = (torch.rand(n_eval, d, device=device) < 0.15).float()
    if kind == "eval_ensemble":
        model = MADE(d, hidden, d, num_masks=k_eval).to(device).eval()
        work = lambda: model.ensemble_log_prob(x)  # noqa: E731
        count = n_eval
    elif kind == "eval_dense":
        model = DenseMLP(d, hidden).to(device).eval()

        @torch.no_grad()
        def work():  # K dense forwards and their Bernoulli log-likelihoods
            for _ in range(k_eval):
                for xb in x.split(1000):
                    F.binary_cross_entropy_with_logits(model(xb), xb, reduction="none").sum(-1)
        count = n_eval
    elif kind == "sample":
        model = MADE(d, hidden, d, num_masks=1).to(device).eval()
        work = lambda: model.sample(100, generator=torch.Generator(device=device).manual_seed(0))  # noqa: E731
        count = 100
    else:
        raise ValueError(f"unknown measurement {kind!r}")

    def rate():
        sync(device)
        t0 = time.perf_counter()
        work()
        sync(device)
        return count / (time.perf_counter() - t0)
    return rate


def _rates(kinds: list[str], opts: dict) -> dict:
    """Median rates, measured in interleaved rounds in one process.

    Interleaving puts every measurement under the same machine conditions
    (clock speed drifts on shared CPUs), which keeps the ratios honest.
    """
    set_threads(opts["threads"])  # first: every thread flushes subnormals, as in a run
    fns = {k: _make(k, opts) for k in kinds}
    for fn in fns.values():
        fn()  # warm-up
    samples: dict = {k: [] for k in kinds}
    for _ in range(opts["repeats"]):
        for k, fn in fns.items():
            samples[k].append(fn())
    return {k: statistics.median(v) for k, v in samples.items()}


def _peak(kind: str, opts: dict) -> float:
    """Peak memory of one measurement, alone in a fresh process."""
    set_threads(opts["threads"])  # first: every thread flushes subnormals, as in a run
    _make(kind, {**opts, "steps": min(opts["steps"], 5)})()
    return _peak_mb(torch.device(opts["device"]))


def _grid_worker(opts: dict, seconds: float, queue) -> None:
    """One training job for the grid-throughput measurement: examples/s over ``seconds``."""
    set_threads(opts["threads"])  # first: every thread flushes subnormals, as in a run
    device = torch.device(opts["device"])
    model = MADE(opts["dim"], opts["hidden"], opts["dim"], num_masks=32).to(device)
    rate = train_throughput(model, opts["dim"], batch_size=opts["batch_size"], seconds=seconds, device=device)
    queue.put((rate, _peak_mb(device)))


def grid_throughput(opts: dict, jobs: int, threads: int, seconds: float) -> dict:
    """Total training examples/s of ``jobs`` concurrent runs with ``threads`` each."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_grid_worker, args=({**opts, "threads": threads}, seconds, queue))
             for _ in range(jobs)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return {"jobs": jobs, "threads": threads, "rate": sum(r[0] for r in results),
            "unit": "examples/s", "peak_mb": sum(r[1] for r in results)}


def run_benchmark(device: str = "cpu", hidden: list[int] | None = None, batch_size: int = 100,
                  repeats: int = 3, quick: bool = False, threads: int | None = None) -> dict:
    cores = os.cpu_count() or 1
    opts = dict(device=device, dim=784, hidden=hidden or [500], batch_size=batch_size,
                steps=5 if quick else 50, repeats=1 if quick else repeats,
                eval_examples=500 if quick else 10000, eval_masks=32,
                threads=threads or torch.get_num_threads())
    ctx = mp.get_context("spawn")
    out: dict = {"device": device, "torch": torch.__version__, "cores": cores, "threads": opts["threads"],
                 "dim": 784, "hidden": opts["hidden"], "batch_size": batch_size,
                 "repeats": opts["repeats"], "quick": quick, "results": {}}
    with ctx.Pool(1) as pool:
        rates = pool.apply(_rates, (MEASUREMENTS, opts))
    # Each peak in a fresh process (ru_maxrss only grows), as many at once as
    # there are cores: memory, unlike rates, is not disturbed by neighbours.
    with ctx.Pool(min(cores, len(MEASUREMENTS)), maxtasksperchild=1) as pool:
        peaks = dict(zip(MEASUREMENTS, pool.starmap(_peak, [(k, opts) for k in MEASUREMENTS], chunksize=1)))
    out["results"] = {k: {"rate": rates[k], "unit": UNITS.get(k, "examples/s"), "peak_mb": peaks[k]}
                      for k in MEASUREMENTS}
    r = out["results"]
    out["ratios"] = {
        "train_k1_vs_dense": r["train_k1"]["rate"] / r["train_dense"]["rate"],
        "train_k32_vs_dense": r["train_k32"]["rate"] / r["train_dense"]["rate"],
        # The same without switching: separates the cost of W * M itself from
        # that of reading a different (cache-cold) mask at every minibatch.
        "train_k32_kept_vs_dense": r["train_k32_kept"]["rate"] / r["train_dense"]["rate"],
        "train_direct_vs_dense_direct": r["train_direct"]["rate"] / r["train_dense_direct"]["rate"],
        "eval_ensemble_vs_dense": r["eval_ensemble"]["rate"] / r["eval_dense"]["rate"],
        # What the fast path (made.fast: premasked weights under one mask)
        # buys over the plain reference layer.
        "train_k1_fast_vs_plain": r["train_k1"]["rate"] / r["train_k1_plain"]["rate"],
        # What the layers' kept buffers (made.layers._MaskedLinear) buy over
        # fresh (out, in) tensors at every step.
        "train_k32_kept_buffers_vs_fresh": r["train_k32"]["rate"] / r["train_k32_fresh"]["rate"],
    }
    seconds = 1.0 if quick else 8.0
    splits = [(1, opts["threads"])]
    if device == "cpu" and opts["threads"] >= 2:
        splits.append((2, max(1, opts["threads"] // 2)))
    elif device != "cpu":  # several grid runs sharing one accelerator
        splits += [(2, opts["threads"]), (4, opts["threads"])]
    out["grid"] = [grid_throughput(opts, j, t, seconds) for j, t in splits]
    best = max(out["grid"], key=lambda g: g["rate"])
    out["grid_best"] = {"jobs": best["jobs"], "threads": best["threads"]}
    return out


def format_table(res: dict) -> str:
    r = res["results"]
    lines = [f"MADE benchmark: D={res['dim']}, hidden={res['hidden']}, batch {res['batch_size']}, "
             f"{res['device']}, torch {res['torch']}, {res['threads']} thread(s), median of {res['repeats']}",
             f"{'measurement':<34}{'rate':>14}  {'unit':<11}{'peak MB':>9}"]
    labels = {"train_k1": "train, 1 mask", "train_k1_plain": "train, 1 mask, plain layers",
              "train_k32": "train, 32 masks cycled per batch",
              "train_k32_fresh": "train, 32 masks, fresh buffers",
              "train_k32_kept": "train, 32 masks, no switching",
              "train_direct": "train, direct connections", "train_dense": "train, dense MLP (ceiling)",
              "train_dense_direct": "train, dense MLP + skip (ceiling)",
              "eval_ensemble": "ensemble_log_prob, K=32", "eval_dense": "32 dense forwards (ceiling)",
              "sample": "sample 100 x 784"}
    for k in MEASUREMENTS:
        lines.append(f"{labels[k]:<34}{r[k]['rate']:>14,.0f}  {r[k]['unit']:<11}{r[k]['peak_mb']:>9.0f}")
    lines.append("ratios (to the dense ceiling; fast path to plain layers):")
    for k, v in res["ratios"].items():
        lines.append(f"  {k:<32}{v:>8.3f}")
    lines.append("grid throughput (K=32 training, concurrent runs):")
    for g in res["grid"]:
        lines.append(f"  {g['jobs']} job(s) x {g['threads']} thread(s){g['rate']:>14,.0f} examples/s"
                     f"{g['peak_mb']:>9.0f} MB")
    lines.append(f"fastest split: {res['grid_best']['jobs']} job(s) x {res['grid_best']['threads']} thread(s)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--hidden", default="500", help="hidden sizes, e.g. 500 or 8000x8000")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny timings: checks that everything runs")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)
    hidden = [int(h) for h in args.hidden.split("x") if h]
    res = run_benchmark(args.device, hidden, args.batch_size, args.repeats, args.quick, args.threads)
    print(json.dumps(res) if args.json else format_table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
