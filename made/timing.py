"""Short measured timings: training and ensemble-evaluation throughput.

Used by ``run_all.py --dry-run`` to estimate a grid's wall time on the
current device, and by the benchmark (``python -m made.bench``).
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing as mp
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import MADE



def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_throughput(model: torch.nn.Module, dim: int, *, batch_size: int = 100, steps: int = 30,
                     warmup: int = 5, switch_masks: bool = True, optimizer: str = "adagrad",
                     device: torch.device | str = "cpu") -> float:
    """Training examples per second: forward, backward, optimizer step (and mask switch)."""
    device = torch.device(device)
    x = (torch.rand(batch_size * 8, dim, device=device) < 0.15).float()
    from .train import TrainConfig, flush_denormals, make_optimizer, training_context

    lr = 0.01 if optimizer == "sgd" else None
    opt, _ = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=lr, progress=False))  # as in fit()
    update = getattr(model, "update_masks", None) if switch_masks else None

    def step(i):
        xb = x[(i % 8) * batch_size:(i % 8 + 1) * batch_size]
        loss = F.binary_cross_entropy_with_logits(model(xb), xb, reduction="sum") / batch_size
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if update is not None:
            update()

    with flush_denormals(), training_context(model):  # as in fit()
        for i in range(warmup):
            step(i)
        sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        sync(device)
        seconds = time.perf_counter() - t0
    return steps * batch_size / seconds


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
    torch.set_num_threads(threads)
    model = MADE(dim, hidden_sizes, dim, num_masks=1)
    train_throughput(model, dim, steps=2, warmup=0)
    ready.release()
    while not stop.is_set():
        train_throughput(model, dim, steps=5, warmup=0)


@contextlib.contextmanager
def concurrent_load(n: int, dim: int, hidden_sizes: list[int], threads: int):
    """Keep ``n`` other processes training a model of this shape while the block runs.

    A grid run with ``--jobs J`` on a CPU shares the cores' caches and memory
    bandwidth with J - 1 other runs, so an epoch timed alone is optimistic
    (measured: 10-25 % with 2 jobs on 2 cores).  The timing of a dry run is
    therefore made under the same load.  Every process started here is
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
# class) on these shapes, when no GPU is here to measure: 10 to 30 TFLOP/s,
# roughly 15-50% of their fp32 peaks at batch 100.  An assumption, printed as such.
ASSUMED_GPU_TFLOPS = (10.0, 30.0)


@dataclass
class RunEstimate:
    run_id: str
    epochs: int
    seconds_per_epoch: float
    capped: bool = True  # False: epochs is an assumption, not a cap

    @property
    def seconds(self) -> float:
        return self.epochs * self.seconds_per_epoch
