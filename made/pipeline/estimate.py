"""A grid's wall time before it runs: ``python run_all.py --dry-run``.

Per run, seconds per epoch x epochs, each from the best source there is:

* **seconds per epoch:** the median recorded by complete runs of the same
  shape (:data:`SHAPE`) on the same kind of device, in the results folder or
  the checkout's committed results; else a few steps timed here on random data
  of the dataset's shape; else *unknown*: no speed is assumed for a device
  that is not here;
* **epochs:** the run's cap; else the median of the complete runs that stopped
  early with the same shape, recipe and mode, else with the same dataset, recipe
  and K (one, several, or mask sampling); else *unknown*.

The grid's wall time is the makespan of its runs in ``run_grid``'s order, and
unknown where one run's is.  How close it came: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import heapq
import statistics
import time
from pathlib import Path

import torch

COMMITTED = Path(__file__).resolve().parents[2] / "results"  # the checkout's committed runs
# What an epoch's cost depends on: the data's size (and the part of it trained
# on), the network's, how many masks validation runs, and the direct
# connections; not the recipe's numbers.
SHAPE = ("dataset", "train_subset", "hidden_sizes", "num_masks", "valid_masks", "direct_connections")


def elapsed(seconds: float) -> str:
    """``47 s``, ``12 min 5 s``, ``1 h 58 min``.

    >>> elapsed(47.2), elapsed(725), elapsed(7080)
    ('47 s', '12 min 5 s', '1 h 58 min')
    """
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def makespan(durations: list[float], jobs: int) -> float:
    """Wall time of runs taken in this order by ``jobs`` workers, each taking
    the next run as soon as it is free (what ``run_grid``'s thread pool does).

    >>> makespan([2.0, 1.0, 1.0], 2), makespan([1.0, 1.0, 2.0], 2)
    (2.0, 3.0)
    """
    free = [0.0] * max(1, jobs)
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def _text(value) -> str:
    """A recorded value as text: 500, 500.0 and "500" alike; None and NaN empty."""
    if value is None or value != value:
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _timed_here(cfg, device: torch.device) -> float:
    """Seconds of one epoch of ``cfg``: a few training steps and validation ensembles
    of one minibatch each, on random data of the dataset's shape, timed as ``fit`` runs them."""
    from ..data import DATASETS
    from ..device import flush_denormals
    from ..evaluate import validation_masks
    from ..train import make_optimizer, train_step, training_context
    from .experiment import build_model

    spec = DATASETS[cfg.dataset]
    n_train, n_valid = min(spec.splits[0], cfg.train_subset or spec.splits[0]), spec.splits[1]
    # a step's time does not depend on the weights: no orthogonal init (minutes of SVD at 8000 units)
    model = build_model(cfg, spec.dim, init_weights=False).to(device)
    optimizer, _ = make_optimizer(model, cfg.train)
    x = (torch.rand(cfg.train.batch_size, spec.dim, device=device) < 0.15).float()
    masks = validation_masks(cfg.model.num_masks, cfg.train.valid_masks)

    def seconds(step, repeats: int = 3) -> float:  # after one call untimed (the warm-up)
        for n in (1, repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) / repeats

    with flush_denormals(), training_context(model):
        train = seconds(lambda: train_step(model, optimizer, x, next_mask=True))
    with flush_denormals():
        valid = seconds(lambda: model.ensemble_log_prob(x, masks))
    return (n_train * train + n_valid * valid) / cfg.train.batch_size


def estimate(points: list, results_dir: Path, jobs: int) -> str:
    """The dry run's lines: each run's seconds per epoch and epochs, where
    each came from, and the grid's wall time on ``jobs`` workers."""
    from ..device import device_available, resolve_device
    from .results import collect, table_values
    from .run import schedule

    records = {}  # every complete run, once: the results folder's copy first
    for folder in dict.fromkeys(Path(f).resolve() for f in (results_dir, COMMITTED)):  # each folder once
        for row in collect(folder).to_dict("records"):
            records.setdefault(row["run_id"], row)

    def k(masks) -> str:
        return {"": "sampling", "sampling": "sampling", "1": "1"}.get(_text(masks), "K > 1")

    stopped = [r for r in records.values() if str(r.get("stopped_early")) == "True"]
    lines, seconds = [], []
    for p in schedule(points):
        cfg = p.config()
        shape = table_values(cfg.settings())  # as the tables hold each setting
        kind = resolve_device(cfg.device).type if device_available(cfg.device) else str(cfg.device).split(":")[0]
        same = [r for r in records.values() if str(r.get("device", "cpu")).split(":")[0] == kind
                and all(_text(r.get(s)) == _text(shape[s]) for s in SHAPE)]
        # epochs: those of its shape, recipe and mode where some stopped early, else of its dataset, recipe and K
        like, of = [int(r["epochs"]) for r in stopped if r.get("mode") == cfg.mode and all(
            _text(r.get(s)) == _text(shape[s]) for s in (*SHAPE, "protocol"))], "its shape and recipe"
        if not like:
            like, of = [int(r["epochs"]) for r in stopped
                        if (r.get("dataset"), _text(r.get("protocol")), k(r.get("num_masks")))
                        == (cfg.dataset, _text(cfg.protocol), k(shape["num_masks"]))], "its dataset, recipe and K"
        if same:
            spe = statistics.median((float(r.get("train_seconds") or 0) + float(r.get("valid_seconds") or 0))
                                    / max(1, int(r["epochs"])) for r in same)
            where = f"{spe:.1f} s/epoch (recorded by {len(same)} run(s))"
        elif device_available(cfg.device):
            spe = _timed_here(cfg, resolve_device(cfg.device))
            where = f"{spe:.1f} s/epoch (timed here)"
        else:
            spe, where = None, f"unknown: no run of this shape recorded on {kind}, and no {kind} here"
        if cfg.train.max_epochs is not None:
            epochs, basis = cfg.train.max_epochs, "its cap"
        elif like:
            epochs, basis = round(statistics.median(like)), f"the median of {len(like)} run(s) of {of} that stopped early"
        else:
            epochs, basis = None, "unknown: no run of its dataset, recipe and K has stopped early"
        known = spe is not None and epochs is not None
        seconds.append(spe * epochs if known else None)
        lines.append(f"  {p.run_id}: {where} x {epochs if epochs is not None else '?'} epochs ({basis})"
                     + (f" = {elapsed(spe * epochs)}" if known else ""))
    unknown = sum(s is None for s in seconds)
    total = (f"estimated wall time with {jobs} job(s): {elapsed(makespan(seconds, jobs))}" if not unknown
             else f"estimated wall time: unknown ({unknown} of {len(seconds)} runs without an estimate)")
    return "\n".join(["per run:", *lines, total])
