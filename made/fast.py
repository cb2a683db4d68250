"""The fast path: one fixed mask, premasked weights.

:class:`FastMaskedLinear` computes exactly what :class:`made.layers.MaskedLinear`
does: the same outputs, gradients and optimizer steps, bit for bit
(tests/test_fast.py, every mask mode), so a run trains to the same numbers on
either path.  It keeps one piece of speed machinery, the one that pays on CPUs:

* **Premasked weights for one fixed mask** (:meth:`FastMaskedLinear.fixed_mask`):
  with K = 1 the weight itself can hold ``W * M``, so forward and backward
  passes skip the multiply by the mask and its memory traffic; only the weight
  gradient is masked (in place, in the layer's kept buffer), so that the
  masked-out weights stay zero.
  ``python benchmarks/bench.py`` measures it against the plain layer in one run
  (``train_k1_fast_vs_plain``), and ``benchmarks/width_checks.py fast-vs-plain``
  at 500 to 8000 hidden units: it was faster at every width measured, so
  :func:`made.train.fit` uses it whenever K = 1 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib

import torch

from .layers import MaskedLinear, _MaskedLinear


class FastMaskedLinear(MaskedLinear):
    """:class:`MaskedLinear` that can train under one fixed mask with the mask
    folded into the weight (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.premasked = False  # True inside fixed_mask(): the weight holds W * M

    def set_mask(self, k: int) -> None:
        if self.premasked and k != self.index:
            raise RuntimeError("cannot switch masks inside fixed_mask(): the weights hold W * M "
                               "of the fixed mask; leave the block first")
        super().set_mask(k)

    def set_degrees(self, out_degrees: torch.Tensor, in_degrees: torch.Tensor, strict: bool) -> None:
        self._check_not_premasked()
        super().set_degrees(out_degrees, in_degrees, strict)

    def _check_not_premasked(self) -> None:
        if self.premasked:
            raise RuntimeError("cannot replace the masks inside fixed_mask(); leave the block first")

    @contextlib.contextmanager
    def fixed_mask(self):
        """Within the block the weight holds ``W * M`` and forward passes skip
        the multiply.

        On entry the masked-out weights are set to zero, once and for good:
        under this mask they never count.  The backward pass masks the weight
        gradient, as the plain layer's does, so they stay zero: every torch
        optimizer leaves a zero parameter with a zero gradient at zero
        (Adagrad, Adadelta, Adam, AdamW, SGD with momentum or weight decay,
        RMSprop).  On exit that is checked, and an error says so if something
        changed them.
        """
        if self.premasked:  # nested: the outer block owns the state
            yield
            return
        mask = self.mask
        with torch.no_grad():
            self.weight.mul_(mask)
        self.premasked = True
        try:
            yield
        finally:
            self.premasked = False
            leaked = self.weight.detach()[mask == 0]
            if leaked.numel() and bool(leaked.ne(0).any()):
                raise RuntimeError(
                    "masked-out weights changed inside fixed_mask(): something other than "
                    "a gradient step wrote to the weight, so outputs in the block may not "
                    "have been autoregressive; train without fixed_mask()"
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaskedLinear.apply(x, self.weight, self.masked_bias(), self.mask, self, self.premasked)
