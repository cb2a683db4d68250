"""Measurements for MADE at width (issue 23, "Memory and cost at width"); the results are in RESULTS.md.

    python benchmarks/width_checks.py fast-vs-plain --hidden 500 2000 8000 --threads 1 2
    python benchmarks/width_checks.py step-time --before /path/to/old/checkout --hidden 500 --threads 1 2
    python benchmarks/width_checks.py peak --hidden 8000 8000 --masks 32
    python benchmarks/width_checks.py svd --n 2000 4000 8000 --threads 1

fast-vs-plain: a K = 1 training step (Figure 2's model: direct connections, Adam
as fit() makes it) on the fast path (premasked weights, ``fixed_mask()``) and
on the plain layers, in interleaved rounds in one process; the median time of
each and plain/fast (above 1: the fast path is faster).

step-time: a K = 32 training step switching masks every minibatch (the
paper's protocol, with direct connections; ``--masks 0``: mask sampling), for the code of another checkout
(``--before``, imported as a second package), for this tree's code, and for
this tree's code with every mask built at each switch (STACK_MAX_BYTES = 0),
in interleaved rounds in one process.

peak: the peak resident memory (VmHWM) of a fresh process that builds a
model and trains it for one step; also the bytes of the model's buffers.  With
``--before`` the old checkout's code is measured instead.

svd: the time and peak memory of the orthogonal initialization
(made.init.orthogonal_) of a (784, n) layer, whose SVD is of an n x n matrix,
each in a fresh process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_package(checkout: str | None, name: str = "made_before"):
    """The ``made`` package of this tree, or of ``checkout`` imported under ``name``."""
    if checkout is None:
        import made
        return made
    spec = importlib.util.spec_from_file_location(
        name, Path(checkout) / "made" / "__init__.py",
        submodule_search_locations=[str(Path(checkout) / "made")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def vm_hwm_mb() -> float:
    """Peak resident set size of this process (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def stepper(pkg, model, premask: bool, switch: bool, stack: contextlib.ExitStack):
    """A function running ``n`` training steps of ``model`` as fit() does
    (Adam, subnormals flushed), inside ``fixed_mask()`` when ``premask``.
    The blocks are entered once, on ``stack``, as fit() enters them once a run:
    entering ``fixed_mask()`` premasks the weights and leaving it checks them,
    which at 8000 units costs more than a training step."""
    import importlib
    train = importlib.import_module(pkg.__name__ + ".train")
    opt, _ = train.make_optimizer(model, train.TrainConfig(optimizer="adam", progress=False))
    x = (torch.rand(800, model.nin) < 0.15).float()
    stack.enter_context(train.flush_denormals())
    if premask:
        stack.enter_context(model.fixed_mask())
    state = {"i": 0}

    def run(n: int) -> None:
        for _ in range(n):
            i = state["i"] = state["i"] + 1
            xb = x[(i % 8) * 100:(i % 8 + 1) * 100]
            loss = F.binary_cross_entropy_with_logits(model(xb), xb, reduction="sum") / 100
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if switch:
                model.update_masks()
    return run


def interleaved(runs: dict, steps: int, rounds: int) -> dict:
    """Median seconds per step of each run, over interleaved rounds."""
    for run in runs.values():
        run(2)  # warm-up
    times: dict = {k: [] for k in runs}
    for _ in range(rounds):
        for k, run in runs.items():
            t0 = time.perf_counter()
            run(steps)
            times[k].append((time.perf_counter() - t0) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def fast_vs_plain(args) -> list[dict]:
    import made
    out = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for h in args.hidden:
            torch.manual_seed(0)
            models = {"fast": made.MADE(784, [h], 784, num_masks=1, direct_connections=True),
                      "plain": made.MADE(784, [h], 784, num_masks=1, direct_connections=True, fast=False)}
            with contextlib.ExitStack() as stack:
                runs = {k: stepper(made, m, k == "fast", True, stack) for k, m in models.items()}
                steps = args.steps or max(2, int(20 * 500 / h))
                t = interleaved(runs, steps, args.rounds)
            row = dict(hidden=h, threads=threads, steps=steps, rounds=args.rounds,
                       fast_ms=1e3 * t["fast"], plain_ms=1e3 * t["plain"], plain_over_fast=t["plain"] / t["fast"])
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def step_time(args) -> list[dict]:
    import made.layers
    before, after = load_package(args.before), load_package(None)
    out = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for h in args.hidden:
            runs = {}
            with contextlib.ExitStack() as stack:
                for name, pkg in (("before", before), ("after", after), ("after_built", after)):
                    if name == "after_built":  # every layer builds its mask at each switch
                        stack.enter_context(_patched(made.layers, "STACK_MAX_BYTES", 0))
                    torch.manual_seed(0)
                    model = pkg.MADE(784, [h], 784, num_masks=args.masks or None, direct_connections=True)
                    runs[name] = stepper(pkg, model, False, True, stack)
                steps = args.steps or max(2, int(30 * 500 / h))
                t = interleaved(runs, steps, args.rounds)
            row = dict(hidden=h, threads=threads, steps=steps, rounds=args.rounds,
                       **{f"{k}_ms": 1e3 * v for k, v in t.items()},
                       after_over_before=t["after"] / t["before"], built_over_before=t["after_built"] / t["before"])
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


@contextlib.contextmanager
def _patched(module, name, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def _peak_worker(checkout, hidden, masks, threads, queue) -> None:
    torch.set_num_threads(threads)
    pkg = load_package(checkout)
    t0 = time.perf_counter()
    model = pkg.MADE(784, hidden, 784, num_masks=masks, direct_connections=True)
    built = time.perf_counter() - t0
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    after_build = vm_hwm_mb()
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stepper(pkg, model, False, True, stack)(1)
    queue.put(dict(code=checkout or "this tree", hidden=hidden, masks=masks, threads=threads,
                   build_s=built, step_s=time.perf_counter() - t0, buffers_mb=buffers / 2**20,
                   params_mb=params / 2**20, peak_after_build_mb=after_build, peak_after_step_mb=vm_hwm_mb()))


def peak(args) -> list[dict]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_worker, args=(args.before, args.hidden, args.masks, args.threads[0], queue))
    proc.start()
    row = queue.get()
    proc.join()
    print(json.dumps(row), flush=True)
    return [row]


def _svd_worker(n, threads, queue) -> None:
    torch.set_num_threads(threads)
    from made.init import orthogonal_
    weight = torch.empty(784, n)
    t0 = time.perf_counter()
    orthogonal_(weight, torch.Generator().manual_seed(0))
    queue.put(dict(n=n, threads=threads, seconds=time.perf_counter() - t0, peak_mb=vm_hwm_mb()))


def svd(args) -> list[dict]:
    ctx = mp.get_context("spawn")
    out = []
    for threads in args.threads:
        for n in args.n:
            queue = ctx.Queue()
            proc = ctx.Process(target=_svd_worker, args=(n, threads, queue))
            proc.start()
            row = queue.get()
            proc.join()
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["fast-vs-plain", "step-time", "peak", "svd"])
    p.add_argument("--hidden", type=int, nargs="+", default=[500, 2000, 8000])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--masks", type=int, default=32, help="K; 0 for mask sampling (step-time)")
    p.add_argument("--n", type=int, nargs="+", default=[2000, 4000, 8000])
    p.add_argument("--before", default=None, help="another checkout's root, to compare against")
    p.add_argument("--steps", type=int, default=None, help="steps per round (default: by width)")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    {"fast-vs-plain": fast_vs_plain, "step-time": step_time, "peak": peak, "svd": svd}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
