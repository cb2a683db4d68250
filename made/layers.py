"""MaskedLinear: a linear layer that owns a stack of 0/1 masks and uses one.

The plain reference layer, as in the paper: ``y = x (W * M)^T + b``.  The
fast path (:mod:`made.fast`) computes the same numbers with less memory
traffic; a test checks that the two agree, outputs and gradients.

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


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by one of its K 0/1 masks.

    ``masks`` (K, out, in) is a buffer in the weight's dtype, not saved in
    ``state_dict`` (the model rebuilds it from its seed); :meth:`set_mask`
    selects one.  With ``condition_on_mask`` the layer also learns ``U`` and
    adds ``(U * M) @ 1``: a bias that depends on the mask, which tells one
    network which connectivity it runs under (the paper's conditioning).
    """

    def __init__(self, in_features: int, out_features: int, num_masks: int = 1, bias: bool = True,
                 condition_on_mask: bool = False):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("masks", torch.ones(num_masks, out_features, in_features), persistent=False)
        self.cond = nn.Parameter(torch.zeros(out_features, in_features)) if condition_on_mask else None
        self.index = 0

    @property
    def mask(self) -> torch.Tensor:
        """The selected mask (out, in): a view of the stack, never a copy."""
        return self.masks[self.index]

    def set_masks(self, masks: torch.Tensor) -> None:
        """Store ``masks`` (K, out, in), 1 = connection kept, in place."""
        if masks.shape != self.masks.shape:
            raise ValueError(f"masks shape {tuple(masks.shape)} != {tuple(self.masks.shape)}")
        with torch.no_grad():
            self.masks.copy_(masks)

    def set_mask(self, k: int) -> None:
        """Use stored mask ``k``."""
        if not 0 <= k < self.masks.shape[0]:
            raise IndexError(f"mask index must be in [0, {self.masks.shape[0]}), got {k!r}")
        self.index = k

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
        return (super().extra_repr() + f", num_masks={self.masks.shape[0]}, "
                f"condition_on_mask={self.cond is not None}")
