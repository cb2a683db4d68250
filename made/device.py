"""Where the arithmetic runs: the device a run asks for, and the CPU's subnormal floats.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import contextlib
import warnings

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

    The switch is per thread: it reaches torch's other CPU threads only if
    :func:`set_threads` started them (see there); otherwise a warning says so.
    """
    supported = torch.set_flush_denormal(True)
    try:
        if supported and not _every_thread_flushes():
            warnings.warn(
                f"torch's {torch.get_num_threads() - 1} other CPU thread(s) do not flush subnormal floats, so "
                "training may slow down as they appear: they were started before made.device.set_threads; "
                "call it first in the process, before any torch operation", RuntimeWarning, stacklevel=3)
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def set_threads(threads: int | None = None) -> None:
    """Set torch's CPU threads (``None``: torch's default) so that all of them
    can flush subnormals; call it first in a process, before any torch work.

    ``torch.set_flush_denormal`` changes only the calling thread, and a CPU
    thread takes that mode from the thread that starts it.  torch starts its
    other threads at its first parallel operation and keeps them, so this
    starts them here with flushing on: they flush from then on, and the
    calling thread only inside :func:`flush_denormals`.  With one thread there
    are no others and nothing changes.
    """
    if threads:
        torch.set_num_threads(int(threads))
    if torch.get_num_threads() > 1 and torch.set_flush_denormal(True):
        torch.ones(_probe_size()).add_(1)  # large enough to run on every thread: starts them all
        torch.set_flush_denormal(False)


def _probe_size() -> int:
    """Elements enough for an elementwise op to run on every thread: torch
    splits one in chunks of at least 32,768 (at::internal::GRAIN_SIZE)."""
    return 32_768 * torch.get_num_threads()


def _every_thread_flushes() -> bool:
    """True when every torch CPU thread treats subnormal inputs as zero: a
    subnormal times 1 is then 0 in every thread's chunk."""
    if torch.get_num_threads() == 1:
        return True
    # Made from its bits: converting 1e-39 to float32 would itself flush it here.
    subnormal = torch.full((_probe_size(),), 1 << 20, dtype=torch.int32).view(torch.float32)
    return bool((subnormal * 1.0 == 0).all())
