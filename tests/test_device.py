"""made.device: the device a run asks for, and flushing subnormal floats on the CPU."""

import pytest
import torch

from made.device import device_available, flush_denormals, resolve_device


@pytest.mark.parametrize("cuda", [True, False], ids=["with CUDA", "without CUDA"])
def test_device_resolution(monkeypatch, cuda):
    # "auto" is the GPU exactly when there is one; both cases run on any machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto") == torch.device("cuda" if cuda else "cpu")
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert device_available("cpu") and device_available("auto") and device_available("cuda") == cuda
    if cuda:
        assert resolve_device("cuda") == torch.device("cuda")
        assert resolve_device("cuda:1") == torch.device("cuda", 1)
    else:
        for asked in ("cuda", "cuda:0", torch.device("cuda")):
            with pytest.raises(ValueError, match="CUDA is not available"):
                resolve_device(asked)


def test_auto_device_on_this_machine():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_flush_denormals_only_inside_the_block():
    tiny = torch.tensor([1e-40])  # subnormal in float32
    with flush_denormals():
        if torch.set_flush_denormal(True):  # this CPU supports it
            assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() != 0.0


# torch's CPU threads are per process, and start at its first parallel operation:
# each case runs in a fresh interpreter.
_THREADS_CASE = """
import sys, warnings, torch
from made.device import _every_thread_flushes, flush_denormals, set_threads
if not torch.set_flush_denormal(False):
    print("unsupported"); sys.exit()
if sys.argv[1] == "started-before":
    torch.set_num_threads(2)
    torch.ones(1 << 20).add_(1)  # starts torch's second thread without flushing
set_threads(2)
torch.ones(1 << 20).mul_(2)  # the work before training (data, init) runs on both threads
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with flush_denormals():
        inside = _every_thread_flushes()
small = torch.full((4,), 1 << 20, dtype=torch.int32).view(torch.float32)  # subnormal, on this thread only
print(inside, len(caught), (small * 1.0 == 0).any().item(), torch.get_num_threads())
"""


@pytest.mark.parametrize("case", ["fresh", "started-before"])
def test_set_threads_makes_every_thread_flush_inside_the_block(case):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _THREADS_CASE, case], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    if out == ["unsupported"]:
        pytest.skip("this CPU cannot flush subnormal floats")
    inside, warned, flushed_after, threads = out
    assert threads == "2"
    assert flushed_after == "False"  # the calling thread flushes only inside the block
    if case == "fresh":  # both threads flush, and nothing is said
        assert (inside, warned) == ("True", "0")
    else:  # the second thread started unflushed, and keeps that: a warning says so
        assert (inside, warned) == ("False", "1")
