"""Where the arithmetic runs: the device a run asks for, and the CPU's subnormal floats.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; ValueError when
    ``device`` names CUDA on a machine without it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available; use 'cpu' or 'auto'")
    return device


def device_available(device: str | torch.device | None) -> bool:
    """False when ``device`` names an accelerator this machine does not have."""
    try:
        resolve_device(device or "auto")
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU inside the block.

    Masked-out weights under weight decay, and Adam moments of weights that a
    mask leaves idle, shrink towards zero and become subnormal (below 1.2e-38);
    CPUs handle subnormals in slow microcode, so a step that touches many of
    them takes much longer (measured in benchmarks/RESULTS.md, "Subnormal
    floats").  Values that small never change a log-likelihood.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)
