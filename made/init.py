"""Weight initializations: PyTorch's default, or the authors' orthogonal scheme.

The original MADE code (mgermain/MADE, ``weights_initializer.py``) initializes
every weight matrix "orthogonally": draw a square matrix of the larger
dimension from uniform(+-sqrt(6 / (fan_in + fan_out))), take its right
singular vectors and cut them to the layer's shape; biases start at zero.
The result has orthonormal rows or columns, whichever the shape allows, so
every layer starts as an isometry on its input (no growth or decay of
activations with depth), which is why it trains faster than a plain uniform
draw in the authors' runs.

>>> import torch
>>> w = torch.empty(3, 5)
>>> orthogonal_(w, torch.Generator().manual_seed(0))
>>> torch.allclose(w @ w.T, torch.eye(3), atol=1e-6)
True
"""

from __future__ import annotations

import math

import torch

INITS = ("default", "orthogonal")


@torch.no_grad()
def orthogonal_(weight: torch.Tensor, generator: torch.Generator) -> None:
    """Fill ``weight`` (out, in) in place with the authors' orthogonal init.

    The authors' matrices are (in, out), cut from the rows of ``V^T``; the
    torch layout is its transpose, which keeps the same property: orthonormal
    rows when out <= in, orthonormal columns when out >= in.
    """
    out_f, in_f = weight.shape
    n = max(out_f, in_f)
    bound = math.sqrt(6.0 / (in_f + out_f))
    square = torch.empty(n, n, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    v_t = torch.linalg.svd(square).Vh  # rows: right singular vectors
    weight.copy_(v_t[:in_f, :out_f].T.to(weight.dtype))
