import torch

from made import MADE
from made.masks import connectivity, draw_hidden_degrees, layer_masks, mask_spec

import numpy as np


def test_masks_deterministic_from_seed():
    a = MADE(12, [30, 30], 12, num_masks=4, seed=7)
    b = MADE(12, [30, 30], 12, num_masks=4, seed=7)
    c = MADE(12, [30, 30], 12, num_masks=4, seed=8)
    for name in ("orderings", "masks_0", "masks_1", "masks_2"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.masks_0, c.masks_0)


def test_update_masks_cycles_with_period_k():
    model = MADE(10, [20], 10, num_masks=3)
    seen = []
    for _ in range(7):
        seen.append(model.layers[0].mask.clone())
        model.update_masks()
    assert [model.mask_index] == [7 % 3]
    assert torch.equal(seen[0], seen[3]) and torch.equal(seen[1], seen[4])
    assert not torch.equal(seen[0], seen[1])


def test_connectivity_agnostic_keeps_ordering_changes_hidden():
    model = MADE(10, [20], 10, num_masks=4, order_agnostic=False, connectivity_agnostic=True)
    assert all(torch.equal(o, model.orderings[0]) for o in model.orderings)
    assert not torch.equal(model.masks_0[0], model.masks_0[1])


def test_order_agnostic_only_changes_ordering_keeps_hidden_degrees():
    model = MADE(10, [20], 10, num_masks=4, order_agnostic=True, connectivity_agnostic=False)
    assert len({tuple(o.tolist()) for o in model.orderings}) == 4
    # same hidden degrees: the hidden-to-output masks differ only by a permutation
    # of the outputs, i.e. each hidden unit keeps the same number of out-links
    fan_out = model.masks_1.sum(1)  # (K, H)
    assert all(torch.equal(f, fan_out[0]) for f in fan_out)
    spec0 = mask_spec(10, [20], 0, order_agnostic=True, connectivity_agnostic=False)
    spec1 = mask_spec(10, [20], 1, order_agnostic=True, connectivity_agnostic=False)
    assert torch.equal(spec0.hidden_degrees[0], spec1.hidden_degrees[0])


def test_natural_ordering_is_identity_for_every_mask():
    model = MADE(6, [12], 6, num_masks=3, natural_ordering=True)
    assert all(torch.equal(o, torch.arange(6)) for o in model.orderings)


def test_hidden_degrees_follow_the_paper():
    rng = np.random.default_rng(0)
    degs = draw_hidden_degrees(10, [200, 200], rng)
    assert degs[0].min() >= 0 and degs[0].max() <= 8  # {0..D-2}
    assert degs[1].min() >= degs[0].min() and degs[1].max() <= 8


def test_connectivity_is_strictly_autoregressive():
    spec = mask_spec(7, [15, 15], 0, seed=2)
    paths = connectivity(layer_masks(spec, [15, 15], nout=7))
    pos = spec.ordering
    assert not (paths & ~(pos[:, None] > pos[None, :])).any()
    # and not trivially empty: with enough hidden units most allowed paths exist
    assert paths.sum() > 0
