"""Weight initializations: PyTorch's default, or the authors' orthogonal scheme.

The original MADE code (mgermain/MADE, ``weights_initializer.py``) initializes
every weight matrix "orthogonally": draw a square matrix of the larger
dimension from uniform(+-sqrt(6 / (fan_in + fan_out))), take its right
singular vectors and cut them to the layer's shape; biases start at zero.
The result has orthonormal rows or columns, whichever the shape allows, so
every layer starts as an isometry on its input (no growth or decay of
activations with depth), which is why it trains faster than a plain uniform
draw in the authors' runs.

Its cost is that of a float64 SVD of an n x n matrix, n the layer's larger
side: cubic in n, seconds at a few thousand units and minutes at 8000 on one
CPU thread, with three n x n matrices in memory (benchmarks/RESULTS.md,
"Orthogonal initialization at width").  It is left as it is: runs trained
with it must reproduce, and no cheaper route gives the same bits (a partial
SVD, an eigendecomposition of ``A^T A`` or another LAPACK driver computes the
same vectors only to rounding, and possibly with other signs).  LAPACK's
result also depends, in its last bits, on the number of threads torch uses,
so a run's initialization is reproduced bit for bit with the same
``torch.get_num_threads()`` (recorded in a run's metrics.json).

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
