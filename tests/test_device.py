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
