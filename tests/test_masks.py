"""made.masks through its public functions: specs, layer masks, connectivity."""

import hashlib

import numpy as np
import pytest
import torch

from made import MADE
from made.masks import degree_mask, draw_hidden_degrees, layer_degrees, mask_spec


def layer_masks(spec, nout: int, direct: bool = False) -> list[torch.Tensor]:
    """Spec's boolean masks (out, in), one per layer, input to output (the
    direct connections' last, with ``direct``), from its degrees."""
    return [degree_mask(o, i, strict) for o, i, strict in layer_degrees(spec, nout, direct=direct)]


def specs(k, seed=7, **flags):
    return [mask_spec(12, [30, 30], i, seed, **flags) for i in range(k)]


def test_masks_deterministic_from_seed():
    a, b, c = specs(4, seed=7), specs(4, seed=7), specs(4, seed=8)
    for sa, sb in zip(a, b):
        assert torch.equal(sa.ordering, sb.ordering)
        for ma, mb in zip(layer_masks(sa, 12), layer_masks(sb, 12)):
            assert torch.equal(ma, mb)
    assert not torch.equal(layer_masks(a[0], 12)[0], layer_masks(c[0], 12)[0])


def test_update_masks_cycles_with_period_k():
    model = MADE(10, [20], 10, num_masks=3)
    seen = []
    for _ in range(7):
        seen.append(model.layers[0].mask.clone())
        model.update_masks()
    assert [model.mask_index] == [7 % 3]
    assert torch.equal(seen[0], seen[3]) and torch.equal(seen[1], seen[4])
    assert not torch.equal(seen[0], seen[1])
    # the model's mask k is spec k of made.masks
    for k in range(3):
        want = layer_masks(mask_spec(10, [20], k, 0), 10)[0].float()
        assert torch.equal(seen[k], want)


def test_connectivity_agnostic_keeps_ordering_changes_hidden():
    s = specs(4, order_agnostic=False, connectivity_agnostic=True)
    assert all(torch.equal(x.ordering, s[0].ordering) for x in s)
    assert not torch.equal(s[0].hidden_degrees[0], s[1].hidden_degrees[0])


def test_order_agnostic_only_changes_ordering_keeps_hidden_degrees():
    s = specs(4, order_agnostic=True, connectivity_agnostic=False)
    assert len({tuple(x.ordering.tolist()) for x in s}) == 4
    for x in s:
        assert all(torch.equal(h, h0) for h, h0 in zip(x.hidden_degrees, s[0].hidden_degrees))
    # same hidden degrees: each hidden unit keeps its number of out-links under any ordering
    fan_out = [layer_masks(x, 12)[-1].sum(0) for x in s]
    assert all(torch.equal(f, fan_out[0]) for f in fan_out)


def test_natural_ordering_is_identity_for_every_mask():
    assert all(torch.equal(x.ordering, torch.arange(12)) for x in specs(3, natural_ordering=True))


def test_hidden_degrees_follow_the_paper():
    # Layer l draws from {min of layer l-1, ..., D-2}.  A narrow first layer
    # often has a minimum above 0, so a second layer drawn from {0, ..., D-2}
    # (the lower bound forgotten) would go below it.
    d, above_zero = 10, 0
    for seed in range(40):
        first, second = draw_hidden_degrees(d, [3, 200], np.random.default_rng(seed))
        assert first.min() >= 0 and first.max() <= d - 2
        assert second.min() == first.min() and second.max() == d - 2  # both ends reached, no further
        above_zero += int(first.min() > 0)
    assert above_zero >= 10  # the check above was not only ever against 0
    wide = draw_hidden_degrees(d, [200], np.random.default_rng(0))[0]
    assert wide.min() == 0 and wide.max() == d - 2


def connectivity(masks) -> torch.Tensor:
    """Which inputs can reach which outputs (nout, nin): the boolean product of
    the layers' masks, input to output."""
    path = masks[0].to(torch.float64)
    for m in masks[1:]:
        path = m.to(torch.float64) @ path
    return path > 0


def test_connectivity_is_strictly_autoregressive():
    spec = mask_spec(7, [15, 15], 0, seed=2)
    pos = spec.ordering
    allowed = pos[:, None] > pos[None, :]
    paths = connectivity(layer_masks(spec, nout=7))
    assert not (paths & ~allowed).any()
    # and not trivially empty: with enough hidden units most allowed paths exist
    assert paths.sum() > 0
    # direct connections: exactly the allowed pairs
    assert torch.equal(layer_masks(spec, 7, direct=True)[-1], allowed)


# --- the masks are exactly those the code built before the layers kept degrees
def old_layer_masks(spec, hidden_sizes, nout):
    """The layer and direct masks as made.masks built them before the layers kept
    degrees (commit 8461ef7), verbatim: (layer masks, direct mask)."""
    nin = spec.ordering.numel()
    degrees = [spec.ordering] + list(spec.hidden_degrees)
    masks = [degrees[l + 1][:, None] >= degrees[l][None, :] for l in range(len(hidden_sizes))]
    out_degrees = spec.ordering.repeat(nout // nin)
    masks.append(out_degrees[:, None] > degrees[-1][None, :])
    order = spec.ordering
    return masks, order.repeat(nout // order.numel())[:, None] > order[None, :]


MODES = {
    "order-agnostic": dict(),
    "connectivity-agnostic": dict(order_agnostic=False),
    "order-agnostic only": dict(connectivity_agnostic=False),
    "natural ordering": dict(natural_ordering=True),
    "natural ordering, connectivity-agnostic off": dict(natural_ordering=True, connectivity_agnostic=False),
    "direct connections": dict(direct_connections=True),
    "condition_on_mask": dict(condition_on_mask=True),
    "two outputs per input, direct": dict(nout_factor=2, direct_connections=True),
    "no hidden layer, direct": dict(hidden_sizes=[], direct_connections=True),
    "three layers": dict(hidden_sizes=[25, 30, 20]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_masks", [1, 4, None])
@pytest.mark.parametrize("seed", [0, 7])
def test_every_mask_is_the_old_formulas_bit_for_bit(mode, num_masks, seed, mask_storage):
    kwargs = dict(MODES[mode])
    hidden = kwargs.pop("hidden_sizes", [30, 30])
    nin = 11
    nout = nin * kwargs.pop("nout_factor", 1)
    model = MADE(nin, hidden, nout, num_masks=num_masks, seed=seed, **kwargs).double()
    flags = {k: v for k, v in kwargs.items() if k in ("order_agnostic", "connectivity_agnostic", "natural_ordering")}
    for k in [0, 1, 2, 3, 9] if num_masks is None else range(num_masks):
        layers, direct = old_layer_masks(mask_spec(nin, hidden, k, seed, **flags), hidden, nout)
        want = layers + ([direct] if model.direct is not None else [])
        want = [m.double() for m in want]
        # every way a mask is read: selected, built for the ensemble, built on demand
        model.set_mask(k)
        assert all(torch.equal(l.mask, w) for l, w in zip(model.masked_layers, want, strict=True))
        assert not any(torch.signbit(l.mask).any() for l in model.masked_layers)  # +0., as the old casts
        assert all(torch.equal(m, w) for m, w in zip(model._masks_of(k), want, strict=True))
        if num_masks is not None:
            assert all(torch.equal(l.mask_of(k), w) for l, w in zip(model.masked_layers, want))
        assert torch.equal(model.ordering, mask_spec(nin, hidden, k, seed, **flags).ordering)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("strict", [False, True])
def test_degree_mask_in_a_float_dtype_is_the_comparison_cast(dtype, strict):
    gen = torch.Generator().manual_seed(0)
    out_deg = torch.randint(0, 5000, (300,), generator=gen)
    in_deg = torch.randint(0, 5000, (400,), generator=gen)
    in_deg[:3] = out_deg[:3]  # ties, where strict and not strict differ
    want = degree_mask(out_deg, in_deg, strict).to(dtype)
    got = degree_mask(out_deg, in_deg, strict, dtype)
    assert got.dtype == dtype and torch.equal(got, want) and not torch.signbit(got).any()
    assert 0 < int(got.sum()) < got.numel()


# sha256 (first 16 hex digits) of every mask of these models, built by the
# code before the layers kept degrees (commit 8461ef7, float (K, out, in)
# stacks turned to bool); under mask sampling, masks 0-4.
DIGEST_CONFIGS = {
    "order-agnostic K=4": (dict(nin=12, hidden_sizes=[30, 30], nout=12, num_masks=4), "7819915369bc0d0b"),
    "connectivity-agnostic K=4": (dict(nin=12, hidden_sizes=[30, 30], nout=12, num_masks=4, order_agnostic=False),
                                  "5e0776756144d847"),
    "order only K=4": (dict(nin=12, hidden_sizes=[30, 30], nout=12, num_masks=4, connectivity_agnostic=False),
                       "5ccbd6171c20b62a"),
    "natural ordering K=3": (dict(nin=12, hidden_sizes=[20], nout=12, num_masks=3, natural_ordering=True),
                             "87493d4c97b73698"),
    "one mask": (dict(nin=12, hidden_sizes=[20], nout=12, num_masks=1), "29d1311f3e3c748f"),
    "mask sampling": (dict(nin=12, hidden_sizes=[20, 15], nout=12, num_masks=None), "67e9781110d8ef3c"),
    "direct, nout=2D, K=3": (dict(nin=12, hidden_sizes=[20], nout=24, num_masks=3, direct_connections=True),
                             "823e01f6d5c7fb74"),
    "no hidden layer, direct": (dict(nin=12, hidden_sizes=[], nout=12, num_masks=2, direct_connections=True),
                                "6a31babad8e20ca0"),
    "condition_on_mask K=3": (dict(nin=12, hidden_sizes=[16, 16], nout=12, num_masks=3, condition_on_mask=True),
                              "03dd63d3d3494ac1"),
    "seed 7, three layers K=5": (dict(nin=10, hidden_sizes=[25, 30, 20], nout=10, num_masks=5, seed=7),
                                 "d842b35058bc036d"),
    "D=1": (dict(nin=1, hidden_sizes=[4], nout=1, num_masks=2), "149459339c6a18aa"),
    "MNIST 1x500 K=2, direct": (dict(nin=784, hidden_sizes=[500], nout=784, num_masks=2, direct_connections=True),
                                "08e49f8c0a0a2527"),
    "MNIST 1x500 K=32 order-agnostic, direct, seed 1": (
        dict(nin=784, hidden_sizes=[500], nout=784, num_masks=32, direct_connections=True, seed=1),
        "8e1fd53c9f6b76b5"),
    "MNIST 1x500 K=32 connectivity-agnostic, direct": (
        dict(nin=784, hidden_sizes=[500], nout=784, num_masks=32, direct_connections=True, order_agnostic=False),
        "5b47634c32f0ff02"),
}


def mask_digest(model: MADE, n_sampled: int = 5) -> str:
    if model.num_masks is None:
        per_k = []
        for k in range(n_sampled):
            model.set_mask(k)
            per_k.append([layer.mask.clone() for layer in model.masked_layers])
        stacks = [torch.stack([m[i] for m in per_k]) for i in range(len(per_k[0]))]
    else:
        stacks = [torch.stack([layer.mask_of(k) for k in range(model.num_masks)]) for layer in model.masked_layers]
    h = hashlib.sha256()
    for m in stacks:
        h.update(str(tuple(m.shape)).encode())
        h.update(m.bool().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", DIGEST_CONFIGS)
def test_masks_match_digests_of_the_old_code(name, mask_storage):
    config, digest = DIGEST_CONFIGS[name]
    assert mask_digest(MADE(**config)) == digest
