"""The fast path: the same masked layer, with less memory traffic on CPUs.

:class:`FastMaskedLinear` computes exactly what :class:`made.layers.MaskedLinear`
does (tests/test_fast.py checks outputs and gradients, for every mask mode).
It keeps two pieces, each measured when it was introduced (benchmarks/RESULTS.md):

* **A reused buffer for** ``W * M``.  The cost of masking is memory traffic,
  not arithmetic: a fresh (out, in) tensor per pass can page-fault its whole
  size (56 and 587 us per ``W * M`` in two runs of one script, ratios to a
  dense MLP swinging between 0.83 and 0.94).  The forward pass writes ``W * M``
  into a buffer the layer keeps; the backward pass reuses it when nothing
  wrote to it since (its version counter says so) and rebuilds it otherwise;
  the weight gradient is masked in place.
* **Premasked weights for one fixed mask** (:meth:`FastMaskedLinear.fixed_mask`):
  with K = 1 the weight itself can hold ``W * M``, and forward passes skip the
  multiply: K = 1 training went from 0.87 to 0.90-0.95 of a dense MLP.

``python -m made.bench`` measures both against the plain layers in one run
(``train_k1_fast_vs_plain``, ``train_k32_fast_vs_plain``), so that either can be
dropped the day it stops paying.  Removed, as not worth their code: one
buffer per thread (runs are separate processes; a model is not shared between
threads during training) and a cache of mask views (about 12 us on a 3 ms step).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .layers import MaskedLinear


class _MaskedLinearFunction(torch.autograd.Function):
    """``x @ (W * M).T + b`` with ``W * M`` written into ``scratch``.

    With ``scratch=None`` the weight already holds ``W * M`` (premasked).
    ``W`` is saved, not ``W * M``: autograd then refuses a backward pass after
    ``W`` was changed in place, instead of using stale weights.
    """

    @staticmethod
    def forward(ctx, x, weight, mask, bias, scratch):
        masked = weight if scratch is None else torch.mul(weight, mask, out=scratch)
        ctx.save_for_backward(x, weight, mask)
        ctx.scratch = scratch
        ctx.scratch_version = None if scratch is None else scratch._version
        return F.linear(x, masked, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, mask = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            scratch = ctx.scratch
            if scratch is None:
                masked = weight
            elif scratch._version == ctx.scratch_version:
                masked = scratch
            else:  # another forward pass reused the buffer in between
                masked = torch.mul(weight, mask, out=scratch)
            grad_x = grad @ masked
        if ctx.needs_input_grad[1]:
            flat_g, flat_x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
            grad_w = (flat_g.T @ flat_x).mul_(mask)
        if ctx.needs_input_grad[3]:
            grad_b = grad.reshape(-1, grad.shape[-1]).sum(0)
        return grad_x, grad_w, None, grad_b, None


class FastMaskedLinear(MaskedLinear):
    """:class:`MaskedLinear` on the fast path (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scratch: torch.Tensor | None = None
        self.premasked = False  # True inside fixed_mask(): the weight holds W * M

    def _scratch_buffer(self) -> torch.Tensor | None:
        if self.premasked:
            return None
        w = self.weight
        buf = self._scratch
        if buf is None or buf.shape != w.shape or buf.dtype != w.dtype or buf.device != w.device:
            buf = self._scratch = torch.empty_like(w, requires_grad=False)
        return buf

    def __getstate__(self):
        # The buffer belongs to this object: never copied or pickled.
        return {**super().__getstate__(), "_scratch": None}

    def set_mask(self, k: int) -> None:
        if self.premasked and k != self.index:
            raise RuntimeError("cannot switch masks inside fixed_mask(): the weights hold W * M "
                               "of the fixed mask; leave the block first")
        super().set_mask(k)

    def set_masks(self, masks: torch.Tensor) -> None:
        if self.premasked:
            raise RuntimeError("cannot replace the masks inside fixed_mask(); leave the block first")
        super().set_masks(masks)

    @contextlib.contextmanager
    def fixed_mask(self):
        """Within the block the weight holds ``W * M`` and forward passes skip
        the multiply.

        On entry the masked-out weights are set to zero, once and for good:
        under this mask they never count.  They stay zero because their
        gradient is zero, and every torch optimizer leaves a zero parameter
        with a zero gradient at zero (Adagrad, Adadelta, Adam, AdamW, SGD with
        momentum or weight decay, RMSprop).  On exit that is checked, and an
        error says so if something changed them.
        """
        if self.premasked:  # nested: the outer block owns the state
            yield
            return
        with torch.no_grad():
            self.weight.mul_(self.mask)
        self.premasked = True
        try:
            yield
        finally:
            self.premasked = False
            leaked = self.weight.detach()[self.mask == 0]
            if leaked.numel() and bool(leaked.ne(0).any()):
                raise RuntimeError(
                    "masked-out weights changed inside fixed_mask(): something other than "
                    "a gradient step wrote to the weight, so outputs in the block may not "
                    "have been autoregressive; train without fixed_mask()"
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaskedLinearFunction.apply(x, self.weight, self.mask, self.masked_bias(),
                                           self._scratch_buffer())
