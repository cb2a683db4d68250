"""MaskedLinear: a linear layer that keeps K masks, compactly, and uses one.

The plain reference layer, as in the paper: ``y = x (W * M)^T + b``.  The
fast path (:mod:`made.fast`) computes the same numbers with less memory
traffic; a test checks that the two agree, outputs and gradients.

The K masks are kept as what determines them, not as K (out, in) tensors:
MADE's as the degrees of the units on either side (:meth:`MaskedLinear.set_degrees`,
see :mod:`made.masks`), any others as a boolean stack (:meth:`MaskedLinear.set_masks`).
Only the selected mask is held in the weight's dtype, built when it is
selected.  At 2x8000 hidden units and K = 32, a float stack would need
several GiB per model; the degrees need kilobytes.

>>> import torch
>>> layer = MaskedLinear(3, 2, num_masks=2)
>>> layer.set_masks(torch.tensor([[[1., 0, 0], [1, 1, 0]], [[0., 0, 1], [0, 1, 1]]]))
>>> layer.set_mask(1)
>>> layer.mask
tensor([[0., 0., 1.],
        [0., 1., 1.]])
>>> layer(torch.ones(4, 3)).shape
torch.Size([4, 2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masks import degree_mask


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by one of its K 0/1 masks.

    ``mask`` (out, in) is the selected mask in the weight's dtype, a buffer
    rebuilt by :meth:`set_mask` from the stored degrees (or boolean masks).
    No mask is saved in ``state_dict`` (the model rebuilds them from its
    seed).  With ``condition_on_mask`` the layer also learns ``U`` and adds
    ``(U * M) @ 1``: a bias that depends on the mask, which tells one network
    which connectivity it runs under (the paper's conditioning).
    """

    def __init__(self, in_features: int, out_features: int, num_masks: int = 1, bias: bool = True,
                 condition_on_mask: bool = False):
        super().__init__(in_features, out_features, bias)
        self.num_masks = num_masks
        # Mask k keeps weight (o, i) when out_degrees[k, o] >= in_degrees[k, i]
        # (> when strict): all zeros, the all-ones mask, until set_degrees.
        self.register_buffer("out_degrees", torch.zeros(num_masks, out_features, dtype=torch.long),
                             persistent=False)
        self.register_buffer("in_degrees", torch.zeros(num_masks, in_features, dtype=torch.long),
                             persistent=False)
        self.strict = False
        # Masks that no degrees describe (set_masks), as booleans (K, out, in).
        self.register_buffer("bool_masks", None, persistent=False)
        self.index = 0
        self.register_buffer("mask", self.mask_of(0), persistent=False)
        self.cond = nn.Parameter(torch.zeros(out_features, in_features)) if condition_on_mask else None

    def mask_of(self, k: int) -> torch.Tensor:
        """Mask ``k`` (out, in), built afresh in the weight's dtype."""
        if self.bool_masks is not None:
            m = self.bool_masks[k]
        else:
            m = degree_mask(self.out_degrees[k], self.in_degrees[k], self.strict)
        return m.to(self.weight.dtype)

    @property
    def masks(self) -> torch.Tensor:
        """All K masks (K, out, in) in the weight's dtype, built on demand:
        K times the memory of one mask, for inspection and small layers."""
        return torch.stack([self.mask_of(k) for k in range(self.num_masks)])

    def _select(self, k: int) -> None:
        # A new tensor, not written in place: a pending backward pass may
        # still hold the previous mask (autograd saved it for the multiply).
        self.mask = self.mask_of(k)
        self.index = k

    def set_degrees(self, out_degrees: torch.Tensor, in_degrees: torch.Tensor, strict: bool) -> None:
        """Store the K masks as degrees: ``out_degrees`` (K, out) and
        ``in_degrees`` (K, in); mask k keeps weight (o, i) when
        ``out_degrees[k, o] >= in_degrees[k, i]``, or ``>`` when ``strict``.
        The selected mask is rebuilt."""
        want = [(self.num_masks, self.out_features), (self.num_masks, self.in_features)]
        got = [tuple(out_degrees.shape), tuple(in_degrees.shape)]
        if got != want:
            raise ValueError(f"degree shapes {got} != {want}")
        with torch.no_grad():
            self.out_degrees.copy_(out_degrees)
            self.in_degrees.copy_(in_degrees)
        self.strict = bool(strict)
        self.bool_masks = None
        self._select(self.index)

    def set_masks(self, masks: torch.Tensor) -> None:
        """Store ``masks`` (K, out, in) of zeros and ones, 1 = connection kept."""
        shape = (self.num_masks, self.out_features, self.in_features)
        if masks.shape != shape:
            raise ValueError(f"masks shape {tuple(masks.shape)} != {shape}")
        kept = masks == 1
        if not bool((kept | (masks == 0)).all()):
            raise ValueError("masks must hold only zeros and ones")
        self.bool_masks = kept.to(self.out_degrees.device)
        self._select(self.index)

    def set_mask(self, k: int) -> None:
        """Use mask ``k``; the selected mask is built only when ``k`` changes."""
        if not 0 <= k < self.num_masks:
            raise IndexError(f"mask index must be in [0, {self.num_masks}), got {k!r}")
        if k != self.index:
            self._select(k)

    def masked_bias(self, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        """The bias under ``mask`` (default: the selected one)."""
        mask = self.mask if mask is None else mask
        if self.cond is None:
            return self.bias
        cond = (self.cond * mask).sum(-1)
        return cond if self.bias is None else self.bias + cond

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.mask * self.weight, self.masked_bias())

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", num_masks={self.num_masks}, "
                f"condition_on_mask={self.cond is not None}")
