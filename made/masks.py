"""Orderings, hidden-unit degrees and the binary masks they imply.

MADE (Germain et al., 2015, Sec. 4) gives every unit a *degree*:

* input ``d`` gets ``m0[d]``, its position in the ordering (here 0-based, so
  ``m0`` is a permutation of ``0..D-1``);
* hidden unit ``k`` of layer ``l`` gets ``m^l(k)`` drawn uniformly from
  ``{min m^{l-1}, ..., D-2}``;
* a hidden weight is kept when ``m^l(k) >= m^{l-1}(j)`` and an output weight
  when ``m0[d] > m^L(k)`` (strict), so output ``d`` only sees inputs earlier in
  the ordering.

A :class:`MaskSpec` is the pair (ordering, hidden degrees) that defines one
mask; :func:`mask_spec` draws spec ``k`` deterministically from ``seed``, so
mask ``k`` is the same whether it is precomputed (``num_masks=K``) or drawn
fresh during mask sampling (``num_masks=None``).

>>> spec = mask_spec(4, [3], index=0, seed=0)
>>> sorted(spec.ordering.tolist())
[0, 1, 2, 3]
>>> [tuple(o.shape + i.shape) + (strict,) for o, i, strict in layer_degrees(spec, nout=4)]
[(3, 4, False), (4, 3, True)]

The degrees are all a mask needs (:func:`layer_degrees`): the layers keep
them, (K, units) integers per layer, and build the selected mask from them
(:func:`degree_mask`) instead of storing K masks of (out, in) each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

# Second key of the seed sequence for the parts shared by every mask (the one
# ordering when training is not order-agnostic, the one set of hidden degrees
# when it is not connectivity-agnostic).  Mask k uses key k >= 0, so no clash.
_SHARED = -1


@dataclass(frozen=True)
class MaskSpec:
    """What defines one mask: the input ordering and each hidden layer's degrees."""

    ordering: torch.Tensor  # (D,) long: ordering[d] = position of input d
    hidden_degrees: tuple[torch.Tensor, ...]  # one (H_l,) long tensor per layer


def _rng(seed: int, key: int) -> np.random.Generator:
    # SeedSequence keys give independent, reproducible streams per (seed, key).
    return np.random.default_rng([seed, key + 1])


def draw_ordering(nin: int, rng: np.random.Generator, natural: bool) -> torch.Tensor:
    """Input degrees: the identity (natural order) or a random permutation."""
    order = np.arange(nin) if natural else rng.permutation(nin)
    return torch.as_tensor(order, dtype=torch.long)


def draw_hidden_degrees(
    nin: int, hidden_sizes: Sequence[int], rng: np.random.Generator
) -> tuple[torch.Tensor, ...]:
    """Hidden degrees, layer by layer, uniform on {min of previous layer, ..., D-2}.

    The input layer's minimum degree is 0.  With D = 1 no hidden unit can
    feed any output; those units get degree D-1 (connected to nothing after).
    """
    degrees = []
    low = 0
    for size in hidden_sizes:
        if low > nin - 2:
            deg = np.full(size, nin - 1)
        else:
            deg = rng.integers(low, nin - 1, size=size)  # high is exclusive
        degrees.append(torch.as_tensor(deg, dtype=torch.long))
        low = int(deg.min()) if size > 0 else low
    return tuple(degrees)


def mask_spec(
    nin: int,
    hidden_sizes: Sequence[int],
    index: int,
    seed: int = 0,
    *,
    order_agnostic: bool = True,
    connectivity_agnostic: bool = True,
    natural_ordering: bool = False,
) -> MaskSpec:
    """The spec of mask ``index``, reproducible from ``seed``.

    Parts that are not resampled (the ordering when ``order_agnostic`` is
    False, the degrees when ``connectivity_agnostic`` is False) come from one
    shared stream and are therefore identical for every index.
    ``natural_ordering=True`` pins the ordering to the identity for every mask
    (the seed project's behaviour), whatever ``order_agnostic`` says.
    """
    own = _rng(seed, index)
    shared = _rng(seed, _SHARED)
    # Always draw in the same order from each stream so that one flag does not
    # change what the other part receives.
    shared_order = draw_ordering(nin, shared, natural_ordering)
    shared_degrees = draw_hidden_degrees(nin, hidden_sizes, shared)
    own_order = draw_ordering(nin, own, natural_ordering)
    own_degrees = draw_hidden_degrees(nin, hidden_sizes, own)
    return MaskSpec(
        ordering=own_order if order_agnostic else shared_order,
        hidden_degrees=own_degrees if connectivity_agnostic else shared_degrees,
    )


def layer_degrees(
    spec: MaskSpec, nout: int, direct: bool = False
) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """What fully determines each layer's mask: ``(out degrees, in degrees, strict)``.

    One triple per masked layer, input to output (then the direct connections
    when ``direct``); :func:`degree_mask` turns a triple into the mask.  Hidden
    layers compare with ``>=``, the output layer and the direct connections
    with ``>`` (strict).  ``nout`` is k * D: the output degrees are the
    ordering repeated k times, one chunk of D per output parameter.
    """
    order = spec.ordering
    degrees = [order, *spec.hidden_degrees]
    out_order = order.repeat(nout // order.numel())
    triples = [(degrees[l + 1], degrees[l], False) for l in range(len(spec.hidden_degrees))]
    triples.append((out_order, degrees[-1], True))
    if direct:
        triples.append((out_order, order, True))
    return triples


def degree_mask(out_degrees: torch.Tensor, in_degrees: torch.Tensor, strict: bool,
                dtype: torch.dtype = torch.bool, out: torch.Tensor | None = None) -> torch.Tensor:
    """The mask (out, in) of one layer: keep weight (o, i) when
    ``out_degrees[o] > in_degrees[i]`` (strict) or ``>=``.

    Boolean by default; with a floating ``dtype``, the same mask as 0./1.
    (``True``/``False`` cast to that dtype, bit for bit), built without a
    comparison: for integers ``o >= i`` exactly when ``clamp(o - i + 1, 0, 1)``
    is 1, else it is +0.  A subtraction and a clamp in place run vectorized,
    where a comparison followed by a cast from bool is several times slower on
    CPUs, and a layer builds a mask at every mask switch.  The arithmetic runs
    in at least float32, which holds every integer up to 2**24 exactly (MADE's
    degrees are below D, and :class:`made.MADE` refuses D > 2**24).  ``out``, a
    float32 or float64 tensor of ``dtype``, receives the mask in place.
    """
    if dtype == torch.bool:
        compare = torch.gt if strict else torch.ge
        return compare(out_degrees[:, None], in_degrees[None, :])
    work = torch.promote_types(dtype, torch.float32)
    if out is not None and out.dtype != work:
        raise ValueError(f"out must be float32 or float64 and of dtype {dtype}, got {out.dtype}")
    shifted = out_degrees.to(work) + (0.0 if strict else 1.0)
    return torch.sub(shifted[:, None], in_degrees.to(work)[None, :], out=out).clamp_(0, 1).to(dtype)
