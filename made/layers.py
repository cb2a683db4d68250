"""MaskedLinear: a linear layer that keeps K masks, compactly, and uses one.

The plain reference layer, as in the paper: ``y = x (W * M)^T + b``.  The
fast path (:mod:`made.fast`) computes the same numbers with less memory
traffic; a test checks that the two agree, outputs and gradients.

The K masks are kept as what determines them: the degrees of the units on
either side (:meth:`MaskedLinear.set_degrees`, see :mod:`made.masks`).  From
these a layer builds its masks in the weight's dtype, either all K at once, when that stack
takes at most :data:`STACK_MAX_BYTES`, or only the selected one, at each mask
switch.  A small layer thus reads a ready mask at each switch, as it always
did, and a wide one needs one (out, in) mask instead of K: at 2x8000 hidden
units and K = 32, a stack of all the masks would take about 10 GB.

>>> import torch
>>> layer = MaskedLinear(3, 2, num_masks=2)
>>> layer.set_degrees(torch.tensor([[0, 1], [0, 1]]), torch.tensor([[0, 1, 2], [2, 1, 0]]), strict=False)
>>> layer.set_mask(1)
>>> layer.mask
tensor([[0., 0., 1.],
        [0., 1., 1.]])
>>> layer(torch.ones(4, 3)).shape
torch.Size([4, 2])

A training step allocates no (out, in) tensor after the first
(:class:`_MaskedLinear`): the masked weight ``W * M`` and the weight gradient
live in buffers the layer keeps between steps, the gradient is masked in
place, and with ``zero_grad(set_to_none=False)`` autograd adds it into the
kept ``weight.grad``.  At 8000 units a fresh (out, in) tensor is one the
system must fault in and zero page by page, at every step
(benchmarks/RESULTS.md, "Buffers kept between steps").
"""

from __future__ import annotations

import sys
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from .masks import degree_mask

# The largest stack of K built masks a layer keeps (bytes); above it the layer
# builds the selected mask at each switch.  Building is a pass over (out, in)
# that a small layer's training step notices; a stack of wide layers' masks
# is what does not fit in memory (benchmarks/RESULTS.md, "Masks at width").
STACK_MAX_BYTES = 256 * 2**20


class _Pending:
    """A graph's claim on a layer's buffers: held only by the autograd context
    of one forward pass, and finished by its backward.  While one is alive and
    unfinished, the buffers it saved must not be overwritten; once its backward
    ran, or its graph was freed without one, they may."""

    finished = False


class _MaskedLinear(torch.autograd.Function):
    """``x (W * M)^T + b`` with the layer's kept buffers.

    The arithmetic is the plain layer's, op for op (``F.linear`` forward; for
    2-D inputs autograd's own ``mm`` for each gradient), so the numbers are
    bit for bit those of ``F.linear(x, mask * weight, bias)`` (tests/test_buffers.py).
    With ``premasked`` the weight already holds ``W * M`` (made.fast).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mask, layer, premasked):
        reuse = not layer._pending()
        if premasked:
            wm = weight
        else:
            wm = layer._buffer("wm", weight, reuse)
            torch.mul(mask, weight, out=wm)
        ctx.save_for_backward(x, wm, mask)
        ctx.grad_w = layer._buffer("grad_w", weight, reuse) if weight.requires_grad else None
        ctx.has_bias = bias is not None
        # Held by ctx alone: without a graph to record (no grad) ctx, and the claim, die at once.
        ctx.claim = _Pending()
        layer._claim = weakref.ref(ctx.claim)
        return F.linear(x, wm, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, wm, mask = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = g.mm(wm).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            grad_w = torch.mm(g.t(), x.reshape(-1, x.shape[-1]), out=ctx.grad_w).mul_(mask)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(0)
        ctx.claim.finished = True
        return grad_x, grad_w, grad_b, None, None, None


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by one of its K 0/1 masks.

    ``mask`` (out, in) is the selected mask in the weight's dtype: a view of
    the stack of built masks, or the one built when it was selected (see the
    module docstring).  No mask is saved in ``state_dict`` (the model rebuilds
    them from its seed).  With ``condition_on_mask`` the layer also learns
    ``U`` and adds ``(U * M) @ 1``: a bias that depends on the mask, which
    tells one network which connectivity it runs under (the paper's
    conditioning).
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
        self.register_buffer("stack", None, persistent=False)  # all K masks built, or None
        self.register_buffer("selected", None, persistent=False)  # the selected mask when no stack
        self.index = 0
        self.cond = nn.Parameter(torch.zeros(out_features, in_features)) if condition_on_mask else None
        self._kept: dict[str, torch.Tensor] = {}  # buffers kept between steps (_MaskedLinear)
        self._claim = None  # weak reference to the last forward pass's _Pending
        self._build_masks()

    def _build(self, k: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Mask ``k`` (out, in) in the weight's dtype: built afresh, or into ``out``."""
        return degree_mask(self.out_degrees[k], self.in_degrees[k], self.strict, self.weight.dtype, out)

    def _build_masks(self) -> None:
        """After new degrees: the stack of all K, or the selected one."""
        self.stack = self.selected = None
        size = self.num_masks * self.weight.numel() * self.weight.element_size()
        if size <= STACK_MAX_BYTES:
            masks = [self._build(k) for k in range(self.num_masks)]
            # One mask (K = 1, and every switch under mask sampling): a view, not a copy.
            self.stack = masks[0][None] if len(masks) == 1 else torch.stack(masks)
        else:
            self.selected = self._build(self.index)

    @property
    def mask(self) -> torch.Tensor:
        """The selected mask (out, in), in the weight's dtype."""
        return self.stack[self.index] if self.stack is not None else self.selected

    def mask_of(self, k: int) -> torch.Tensor:
        """Mask ``k`` (out, in): a view of the stack, or built afresh."""
        return self.stack[k] if self.stack is not None else self._build(k)

    def set_degrees(self, out_degrees: torch.Tensor, in_degrees: torch.Tensor, strict: bool) -> None:
        """Store the K masks as degrees: ``out_degrees`` (K, out) and
        ``in_degrees`` (K, in); mask k keeps weight (o, i) when
        ``out_degrees[k, o] >= in_degrees[k, i]``, or ``>`` when ``strict``."""
        want = [(self.num_masks, self.out_features), (self.num_masks, self.in_features)]
        got = [tuple(out_degrees.shape), tuple(in_degrees.shape)]
        if got != want:
            raise ValueError(f"degree shapes {got} != {want}")
        with torch.no_grad():
            self.out_degrees.copy_(out_degrees)
            self.in_degrees.copy_(in_degrees)
        self.strict = bool(strict)
        self._build_masks()

    def set_mask(self, k: int) -> None:
        """Use mask ``k``."""
        if not 0 <= k < self.num_masks:
            raise IndexError(f"mask index must be in [0, {self.num_masks}), got {k!r}")
        if self.stack is None and k != self.index:
            if self._selected_unshared():
                self._build(k, out=self.selected)
            else:  # a new tensor: the old one is still in use
                self.selected = self._build(k)
        self.index = k

    def _pending(self) -> bool:
        """Whether a forward pass's graph still waits for its backward (and so
        holds this layer's buffers and selected mask)."""
        claim = self._claim() if self._claim is not None else None
        return claim is not None and not claim.finished

    def _buffer(self, name: str, like: torch.Tensor, reuse: bool) -> torch.Tensor:
        """The kept buffer ``name`` shaped as ``like``; a new one where it may
        not be reused (a pending graph holds it, or a Python name does: a
        gradient that ``torch.autograd.grad`` returned, say) or does not fit."""
        kept = self._kept.get(name)
        # References: the dict, `kept`, and getrefcount's argument.
        if not reuse or kept is None or sys.getrefcount(kept) > 3 or kept.shape != like.shape \
                or kept.dtype != like.dtype or kept.device != like.device:
            kept = self._kept[name] = torch.empty_like(like, memory_format=torch.contiguous_format)
        return kept

    def _selected_unshared(self) -> bool:
        """Whether the selected mask can be overwritten: no Python name but
        this layer's holds it, and no pending graph saved it for its backward.
        Overwriting it spares a fresh (out, in) allocation at every switch,
        whose pages the system must fault in and zero: at 8000 units that
        costs more than the build."""
        selected = self._buffers["selected"]
        if selected.dtype not in (torch.float32, torch.float64):  # the dtypes degree_mask builds into
            return False
        # References: the buffer dict, `selected`, and getrefcount's argument.
        return sys.getrefcount(selected) <= 3 and not self._pending()

    def __getstate__(self):
        # A copy keeps no claim and no buffers of the original's: it builds its own.
        return {**super().__getstate__(), "_claim": None, "_kept": {}}

    def masked_bias(self, mask: torch.Tensor | None = None) -> torch.Tensor | None:
        """The bias under ``mask`` (default: the selected one)."""
        if self.cond is None:
            return self.bias
        mask = self.mask if mask is None else mask
        cond = (self.cond * mask).sum(-1)
        return cond if self.bias is None else self.bias + cond

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaskedLinear.apply(x, self.weight, self.masked_bias(), self.mask, self, False)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", num_masks={self.num_masks}, "
                f"condition_on_mask={self.cond is not None}")
