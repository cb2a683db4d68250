"""A grid's wall time before it runs: ``python run_all.py --dry-run``.

Per run: seconds per epoch x epochs.  The seconds per epoch are timed here,
on the run's device, with :func:`made.train.train_step` (the step ``fit``
trains with) and the validation ensemble, on random binary data of the
dataset's shape (:func:`estimate_seconds`); or, for a device this machine does
not have, counted in FLOPs at an assumed sustained rate (:func:`flop_estimate`).
The epochs are the run's cap, or, for a run that stops early, an assumption
from the complete runs already in the results directory, else from the
checkout's committed runs (:func:`assumed_epochs`, which says where each
number came from).  With every run complete, :func:`recorded_estimate` says
what training them again would take, from the times they recorded.  The grid's
wall time is the makespan of its runs in the order ``run_grid`` starts them.

The timed training loop is ``torch.utils.benchmark.Timer`` (warm-up,
accelerator synchronisation, the thread count kept); a timing of one call
(:func:`ensemble_throughput`) stays a plain clock read: ``Timer.timeit`` would
add two untimed warm-up calls of the full size.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing as mp
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..evaluate import validation_masks
from ..model import MADE


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

    from ..device import flush_denormals
    from ..train import TrainConfig, make_optimizer, train_step, training_context

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


def ensemble_throughput(model: MADE, dim: int, n_examples: int = 2000, n_masks: int | None = None,
                        device: torch.device | str = "cpu") -> float:
    """Examples per second of ``ensemble_log_prob`` (all masks counted once per example)."""
    device = torch.device(device)
    x = (torch.rand(n_examples, dim, device=device) < 0.15).float()
    model.ensemble_log_prob(x[:100], n_masks)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    model.ensemble_log_prob(x, n_masks)
    sync(device)
    return n_examples / (time.perf_counter() - t0)


def _load_worker(dim: int, hidden_sizes: list[int], threads: int, ready, stop) -> None:
    """Background training of a model of this shape until ``stop`` is set."""
    from ..device import set_threads

    set_threads(threads)
    model = MADE(dim, hidden_sizes, dim, num_masks=1)
    train_throughput(model, dim, steps=2)
    ready.release()
    while not stop.is_set():
        train_throughput(model, dim, steps=5)


@contextlib.contextmanager
def concurrent_load(n: int, dim: int, hidden_sizes: list[int], threads: int):
    """Keep ``n`` other processes training a model of this shape while the block runs.

    A grid run with ``--jobs J`` on a CPU shares the cores' caches and memory
    bandwidth with J - 1 other runs, so an epoch timed alone is optimistic
    (by how much: results/README.md, "The dry run").  The timing of a dry run
    is therefore made under the same load.  Every process started here is
    stopped, by its own handle, when the block ends.
    """
    if n <= 0:
        yield
        return
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_load_worker, args=(dim, list(hidden_sizes), threads, ready, stop), daemon=True)
             for _ in range(n)]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a timing load process did not start within 120 s")
        yield
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()


def elapsed(seconds: float) -> str:
    """``47 s``, ``12 min 5 s``, ``1 h 58 min``.

    >>> elapsed(47.2), elapsed(725), elapsed(7080)
    ('47 s', '12 min 5 s', '1 h 58 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def makespan(durations: list[float], jobs: int) -> float:
    """Wall time of runs taken in this order by ``jobs`` workers, each taking
    the next run as soon as it is free (what ``run_grid``'s thread pool does).

    >>> makespan([2.0, 1.0, 1.0], 2)
    2.0
    >>> makespan([1.0, 1.0, 2.0], 2)
    3.0
    """
    free = [0.0] * max(1, jobs)
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def epoch_flops(dim: int, hidden_sizes: list[int], n_train: int, n_valid: int,
                valid_masks: int = 1, direct: bool = False) -> float:
    """Floating-point operations of one epoch: training plus validation.

    A forward pass costs 2 x (multiply-adds of the layers) per example; a
    training step about 3 forward passes (forward, input and weight
    gradients); validation is one forward pass per example and mask.

    >>> round(epoch_flops(784, [8000, 8000], 50000, 10000, valid_masks=32) / 1e12, 1)
    72.0
    """
    sizes = [dim, *hidden_sizes, dim]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + (dim * dim if direct else 0)
    return 2 * macs * (3 * n_train + valid_masks * n_valid)


# Sustained fp32 throughput assumed for a data-centre GPU (A100 to H100/H200
# class) on these shapes, when no GPU is here to measure: roughly 15-50% of
# their fp32 peaks at batch 100.  An assumption, printed as such.
ASSUMED_GPU_TFLOPS = (10.0, 30.0)

# With no complete run to go by, an uncapped run is assumed to last this many
# look-aheads (300 epochs at the authors' look-ahead of 30): a round
# placeholder, printed as such, until a run of its kind has finished.
FALLBACK_LOOK_AHEADS = 10


def _k_class(num_masks) -> str:
    """``K = 1``, ``K > 1`` or ``mask sampling``: runs of one class stop after
    similar numbers of epochs (one mask overfits sooner, sampling needs more)."""
    if num_masks is None or str(num_masks) == "sampling":
        return "mask sampling"
    return "K = 1" if int(num_masks) == 1 else "K > 1"


def finished_epochs(results_dir: Path | None) -> list[dict]:
    """``dataset``, ``protocol``, K class and ``epochs`` of every complete run
    in ``results_dir`` that stopped early (a capped run says nothing about
    when early stopping ends one)."""
    from .results import collect

    if results_dir is None:
        return []
    frame = collect(results_dir)
    if frame.empty or "stopped_early" not in frame:
        return []
    return [dict(dataset=r["dataset"], protocol=r.get("protocol") if isinstance(r.get("protocol"), str) else None,
                 k=_k_class(r["num_masks"]), epochs=int(r["epochs"]))
            for r in frame.to_dict("records") if str(r.get("stopped_early")) == "True"]  # bool or numpy bool


def committed_epochs(results_dir: Path | None) -> list[dict]:
    """:func:`finished_epochs` of the checkout's own results (``results/``,
    the committed runs), unless ``results_dir`` is that folder."""
    from .notebooks import ROOT

    committed = ROOT / "results"
    if results_dir is not None and Path(results_dir).resolve() == committed.resolve():
        return []
    return finished_epochs(committed)


def assumed_epochs(cfg, finished: list[dict], committed: list[dict] = ()) -> tuple[int, str]:
    """Epochs an uncapped run of ``cfg`` is assumed to last, and where that came from.

    The rule: the median epochs of the ``finished`` runs (:func:`finished_epochs`)
    of the same dataset, protocol and K class; with none, of the ``committed``
    ones (:func:`committed_epochs`); with none either, FALLBACK_LOOK_AHEADS
    look-aheads.  Other datasets are no guide: one protocol stops after tens
    of epochs on one and thousands on another.
    """
    k = _k_class(cfg.num_masks)
    kind = f"protocol {cfg.protocol}, {k}, on {cfg.dataset}"
    for source, where in ((finished, "complete run(s)"), (committed, "committed run(s)")):
        runs = [r["epochs"] for r in source
                if (r["dataset"], r["protocol"], r["k"]) == (cfg.dataset, cfg.protocol, k)]
        if runs:
            return round(statistics.median(runs)), f"assumed: the median of {len(runs)} {where} of {kind}"
    return (FALLBACK_LOOK_AHEADS * cfg.look_ahead,
            f"assumed: no complete run of {kind} to go by, {FALLBACK_LOOK_AHEADS} x look_ahead")


@dataclass
class RunEstimate:
    run_id: str
    epochs: int
    seconds_per_epoch: float
    basis: str = "its cap"  # where ``epochs`` came from

    @property
    def seconds(self) -> float:
        return self.epochs * self.seconds_per_epoch


@dataclass
class GridEstimate:
    runs: list
    jobs: int
    threads: int
    device: str
    load: int = 0  # other training processes running while each epoch was timed

    @property
    def seconds(self) -> float:
        """The grid's wall time: its runs in ``run_grid``'s order on ``jobs`` workers."""
        return makespan([r.seconds for r in self.runs], self.jobs)

    def describe(self) -> str:
        how = (f"measured on {self.device} with {self.threads} thread(s) per run" if self.threads
               else f"estimated for {self.device}")
        if self.load:
            how += f", beside {self.load} other training process(es) as with {self.jobs} jobs"
        lines = [how + ":"]
        for r in self.runs:
            lines.append(f"  {r.run_id}: {r.seconds_per_epoch:.1f} s/epoch x {r.epochs} epochs "
                         f"({r.basis}) = {r.seconds / 60:.1f} min")
        lines.append(f"estimated wall time with {self.jobs} job(s): {self.seconds / 3600:.2f} h")
        return "\n".join(lines)


def _epoch_shape(point):
    """A point's config and what one epoch touches: (config, dim, training
    examples, validation examples, validation masks)."""
    from ..data import DATASETS

    cfg = point.config()
    spec = DATASETS[cfg.dataset]
    dim, (n_train, n_valid, _) = spec.dim, spec.splits
    n_train = min(n_train, cfg.train_subset or n_train)
    return cfg, dim, n_train, n_valid, validation_masks(cfg.num_masks, cfg.valid_masks)


def _run_estimate(point, cfg, seconds_per_epoch: float, finished: list[dict], committed: list[dict]) -> RunEstimate:
    if cfg.max_epochs is not None:
        return RunEstimate(point.run_id, cfg.max_epochs, seconds_per_epoch)
    epochs, basis = assumed_epochs(cfg, finished, committed)
    return RunEstimate(point.run_id, epochs, seconds_per_epoch, basis)


def flop_estimate(points: list, jobs: int, tflops: float, results_dir: Path | None = None) -> GridEstimate:
    """Grid wall time from FLOP counts at an assumed ``tflops`` (TFLOP/s): for
    a device that is not here to measure (``run_all.py --dry-run`` on a grid
    meant for a GPU)."""
    from .run import schedule

    finished, committed = finished_epochs(results_dir), committed_epochs(results_dir)
    runs = []
    for p in schedule(points):
        cfg, dim, n_train, n_valid, n_masks = _epoch_shape(p)
        flops = epoch_flops(dim, cfg.hidden_sizes, n_train, n_valid, n_masks, cfg.direct_connections)
        runs.append(_run_estimate(p, cfg, flops / (tflops * 1e12), finished, committed))
    return GridEstimate(runs, jobs, 0, f"{cfg.device} (not on this machine: FLOP count at an assumed "
                                       f"{tflops:g} TFLOP/s sustained)")


def estimate_seconds(points: list, jobs: int = 1, threads: int | None = None,
                     results_dir: Path | None = None) -> GridEstimate:
    """Grid wall time from a short timing of each distinct model on this device.

    Per epoch: n_train / (training examples/s) + n_valid * K / (ensemble
    examples/s x K), both measured here with the run's thread count, on random
    binary data of the dataset's shape; on a CPU, while ``jobs - 1`` other
    processes train beside it, as the grid's other jobs will.  The grid's wall
    time is then the runs' makespan in the order ``run_grid`` starts them.
    """
    from ..device import resolve_device, set_threads
    from .experiment import build_model
    from .run import schedule

    set_threads(threads)
    threads = int(threads or torch.get_num_threads())
    finished, committed = finished_epochs(results_dir), committed_epochs(results_dir)
    cache: dict = {}
    runs = []
    load = 0
    for p in schedule(points):
        cfg, dim, n_train, n_valid, n_masks = _epoch_shape(p)
        device = resolve_device(cfg.device)
        key = (dim, tuple(cfg.hidden_sizes), cfg.num_masks, cfg.valid_masks, cfg.direct_connections,
               cfg.optimizer, str(device))
        if key not in cache:
            # The time of a step does not depend on the weights' values: skip the authors'
            # orthogonal init, whose n x n SVD alone takes minutes at 8000 units on a CPU.
            model = build_model(cfg, dim, init_weights=False).to(device)
            # On a CPU, timed while the grid's other jobs would be running beside it.
            others = min(jobs, len(points)) - 1 if device.type == "cpu" else 0
            load = max(load, others)
            with concurrent_load(others, dim, cfg.hidden_sizes, threads):
                train_rate = train_throughput(model, dim, batch_size=cfg.batch_size, device=device,
                                              optimizer=cfg.optimizer)
                eval_rate = ensemble_throughput(model, dim, n_examples=min(n_valid, 1000), n_masks=n_masks,
                                                device=device)
            cache[key] = n_train / train_rate + n_valid / eval_rate
        runs.append(_run_estimate(p, cfg, cache[key], finished, committed))
    return GridEstimate(runs, jobs, threads, str(device), load)


def recorded_estimate(points: list, runs_dir: Path, jobs: int) -> str:
    """What training complete runs again from scratch (``--force``) would
    take: the seconds each recorded (training, validation and test), in
    ``run_grid``'s order on ``jobs`` workers, as one line."""
    from .run import read_metrics, schedule

    seconds = []
    for p in schedule(points):
        row = read_metrics(Path(runs_dir) / p.run_id) or {}
        seconds.append(sum(float(row.get(k) or 0.0) for k in ("train_seconds", "valid_seconds", "eval_seconds")))
    return (f"a rerun from scratch (--force) of these {len(points)} runs would take about "
            f"{elapsed(makespan(seconds, jobs))} with {jobs} job(s), from the seconds they recorded "
            f"({elapsed(sum(seconds))} of run time, on the machines that trained them)")
