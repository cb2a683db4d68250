"""The fast path computes what the plain layers compute: outputs and gradients, every mask mode."""

import pytest
import torch

from made import MADE
from made.fast import FastMaskedLinear
from made.layers import MaskedLinear

MODES = {
    "one mask": dict(num_masks=1),
    "K masks, order-agnostic": dict(num_masks=4),
    "K masks, connectivity-agnostic": dict(num_masks=4, order_agnostic=False),
    "mask sampling": dict(num_masks=None),
    "direct connections": dict(num_masks=3, direct_connections=True),
    "conditioned on the mask": dict(num_masks=3, condition_on_mask=True),
    "orthogonal, two layers": dict(num_masks=2, init="orthogonal", direct_connections=True),
}


def pair(**kwargs):
    torch.manual_seed(0)
    fast = MADE(9, [20, 16], 9, seed=3, **kwargs).double()
    plain = MADE(9, [20, 16], 9, seed=3, fast=False, **kwargs).double()
    plain.load_state_dict(fast.state_dict())
    with torch.no_grad():  # non-zero everything, conditioning weights included
        for p, q in zip(fast.parameters(), plain.parameters()):
            p.uniform_(-0.5, 0.5)
            q.copy_(p)
    assert all(isinstance(l, FastMaskedLinear) for l in fast.masked_layers)
    assert not any(isinstance(l, FastMaskedLinear) for l in plain.masked_layers)
    return fast, plain


@pytest.mark.parametrize("mode", MODES)
def test_fast_and_plain_give_identical_outputs_and_gradients(mode):
    fast, plain = pair(**MODES[mode])
    x = torch.randint(0, 2, (17, 9)).double()
    for step in range(3):  # across mask switches
        out_f, out_p = fast(x), plain(x)
        torch.testing.assert_close(out_f, out_p, rtol=0, atol=1e-12)
        g = torch.randn_like(out_f)
        grads_f = torch.autograd.grad(out_f, list(fast.parameters()), g)
        grads_p = torch.autograd.grad(out_p, list(plain.parameters()), g)
        for a, b in zip(grads_f, grads_p):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        fast.update_masks()
        plain.update_masks()
    n = min(3, fast.num_masks or 3)
    torch.testing.assert_close(fast.ensemble_log_prob(x, n), plain.ensemble_log_prob(x, n), rtol=0, atol=1e-12)


def test_premasked_one_mask_matches_the_plain_layer():
    fast, plain = pair(num_masks=1, direct_connections=True, condition_on_mask=True)
    x = torch.randint(0, 2, (17, 9)).double()
    with fast.fixed_mask():
        assert all(l.premasked for l in fast.masked_layers)
        out_f, out_p = fast(x), plain(x)
        torch.testing.assert_close(out_f, out_p, rtol=0, atol=1e-12)
        g = torch.randn_like(out_f)
        for a, b, p in zip(torch.autograd.grad(out_f, list(fast.parameters()), g),
                           torch.autograd.grad(out_p, list(plain.parameters()), g),
                           [n for n, _ in plain.named_parameters()]):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=p)
    with plain.fixed_mask():  # plain layers: the same model, nothing premasked
        torch.testing.assert_close(plain(x), out_p)


def test_fixed_mask_masks_the_weight_gradient_and_undoes_itself_on_exit():
    torch.manual_seed(0)
    layer = FastMaskedLinear(6, 4, condition_on_mask=True).double()
    layer.set_masks((torch.rand(1, 4, 6) < 0.5).double())
    x = torch.randn(5, 6, dtype=torch.float64)
    with layer.fixed_mask():
        assert (layer.weight[layer.mask == 0] == 0).all()  # premasked on entry
        (grad_w,) = torch.autograd.grad(layer(x).sum(), [layer.weight])
        assert (grad_w[layer.mask == 0] == 0).all() and (grad_w[layer.mask == 1] != 0).any()
        with pytest.raises(RuntimeError, match="cannot switch masks"):
            layer.set_mask(1)
    assert not layer.premasked and not layer.weight._backward_hooks  # the hook is gone
    with pytest.raises(RuntimeError, match="masked-out weights changed"):
        with layer.fixed_mask():
            with torch.no_grad():
                layer.weight.add_(1.0)  # not a gradient step: caught on exit


def test_plain_layer_is_the_papers_formula():
    layer = MaskedLinear(3, 2, num_masks=2)
    masks = torch.tensor([[[1., 0, 0], [1, 1, 0]], [[0., 0, 1], [0, 1, 1]]])
    layer.set_masks(masks)
    x = torch.randn(4, 3)
    for k in range(2):
        layer.set_mask(k)
        torch.testing.assert_close(layer(x), x @ (layer.weight * masks[k]).T + layer.bias)
    with pytest.raises(IndexError):
        layer.set_mask(2)
    with pytest.raises(ValueError, match="masks shape"):
        layer.set_masks(torch.ones(3, 2, 3))
