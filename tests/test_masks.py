"""made.masks through its public functions: specs, layer masks, connectivity."""

import numpy as np
import torch

from made import MADE
from made.masks import direct_mask, draw_hidden_degrees, layer_masks, mask_spec


def specs(k, seed=7, **flags):
    return [mask_spec(12, [30, 30], i, seed, **flags) for i in range(k)]


def test_masks_deterministic_from_seed():
    a, b, c = specs(4, seed=7), specs(4, seed=7), specs(4, seed=8)
    for sa, sb in zip(a, b):
        assert torch.equal(sa.ordering, sb.ordering)
        for ma, mb in zip(layer_masks(sa, [30, 30], 12), layer_masks(sb, [30, 30], 12)):
            assert torch.equal(ma, mb)
    assert not torch.equal(layer_masks(a[0], [30, 30], 12)[0], layer_masks(c[0], [30, 30], 12)[0])


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
        want = layer_masks(mask_spec(10, [20], k, 0), [20], 10)[0].float()
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
    fan_out = [layer_masks(x, [30, 30], 12)[-1].sum(0) for x in s]
    assert all(torch.equal(f, fan_out[0]) for f in fan_out)


def test_natural_ordering_is_identity_for_every_mask():
    assert all(torch.equal(x.ordering, torch.arange(12)) for x in specs(3, natural_ordering=True))


def test_hidden_degrees_follow_the_paper():
    rng = np.random.default_rng(0)
    degs = draw_hidden_degrees(10, [200, 200], rng)
    assert degs[0].min() >= 0 and degs[0].max() <= 8  # {0..D-2}
    assert degs[1].min() >= degs[0].min() and degs[1].max() <= 8


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
    paths = connectivity(layer_masks(spec, [15, 15], nout=7))
    assert not (paths & ~allowed).any()
    # and not trivially empty: with enough hidden units most allowed paths exist
    assert paths.sum() > 0
    # direct connections: exactly the allowed pairs
    assert torch.equal(direct_mask(spec, 7), allowed)
