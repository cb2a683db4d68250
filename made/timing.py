"""Short measured timings: training and ensemble-evaluation throughput.

Used by ``run_all.py --dry-run`` to estimate a grid's wall time on the
current device, and by the benchmark (``python -m made.bench``).
"""

from __future__ import annotations

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
