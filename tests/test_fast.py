"""The fast path computes what the plain layers compute: outputs and gradients, every mask mode."""

import pytest
import torch

from made import MADE
from made.fast import FastMaskedLinear
from made.layers import MaskedLinear

# The fast path exists under one fixed mask (fixed_mask(), K = 1): every mask mode there.
ONE_MASK_MODES = {
    "order-agnostic": dict(),
    "connectivity-agnostic": dict(order_agnostic=False),
    "natural ordering": dict(natural_ordering=True),
    "direct connections": dict(direct_connections=True),
    "conditioned on the mask": dict(condition_on_mask=True),
    "two outputs per input": dict(nout_factor=2, direct_connections=True),
    "no hidden layer": dict(hidden_sizes=[], direct_connections=True),
    "orthogonal, direct, conditioned": dict(init="orthogonal", direct_connections=True, condition_on_mask=True),
}
# With K > 1 masks, or mask sampling, there is no fast path: the layers run the plain code.
MANY_MASK_MODES = {
    "K masks, order-agnostic": dict(num_masks=4),
    "K masks, connectivity-agnostic": dict(num_masks=4, order_agnostic=False),
    "mask sampling": dict(num_masks=None),
    "direct connections": dict(num_masks=3, direct_connections=True),
    "conditioned on the mask": dict(num_masks=3, condition_on_mask=True),
}


def pair(dtype=torch.float64, num_masks=1, hidden_sizes=(20, 16), nout_factor=1, **kwargs):
    torch.manual_seed(0)
    fast = MADE(9, list(hidden_sizes), 9 * nout_factor, num_masks=num_masks, seed=3, **kwargs).to(dtype)
    plain = MADE(9, list(hidden_sizes), 9 * nout_factor, num_masks=num_masks, seed=3, fast=False, **kwargs).to(dtype)
    with torch.no_grad():  # non-zero everything, conditioning weights included
        for p, q in zip(fast.parameters(), plain.parameters(), strict=True):
            p.uniform_(-0.5, 0.5)
            q.copy_(p)
    assert all(isinstance(l, FastMaskedLinear) for l in fast.masked_layers)
    assert not any(isinstance(l, FastMaskedLinear) for l in plain.masked_layers)
    return fast, plain


def effective_weights(model):
    """What the model computes with: each masked layer's W * M and its parameters but W."""
    out = [l.weight * l.mask for l in model.masked_layers]
    return out + [p for n, p in model.named_parameters() if not n.endswith("weight")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ONE_MASK_MODES)
def test_fast_path_trains_bit_for_bit_like_the_plain_layers(mode, dtype):
    # Inside fixed_mask() the fast layers hold W * M and skip the multiply:
    # outputs, gradients and optimizer steps must equal the plain layers' to
    # the bit, so that a run trains to the same numbers on either path.
    fast, plain = pair(dtype, **ONE_MASK_MODES[mode])
    x = torch.randint(0, 2, (17, 9)).to(dtype)
    opts = [torch.optim.Adam(m.parameters(), lr=0.01, weight_decay=1e-3) for m in (fast, plain)]
    with fast.fixed_mask():
        assert all(l.premasked for l in fast.masked_layers)
        for step in range(4):
            outs = [m(x) for m in (fast, plain)]
            assert torch.equal(outs[0], outs[1]), step
            g = torch.randn_like(outs[0])
            grads = [torch.autograd.grad(o, list(m.parameters()), g) for o, m in zip(outs, (fast, plain))]
            for (name, _), a, b in zip(plain.named_parameters(), *grads, strict=True):
                assert torch.equal(a, b), (step, name)
            for m, opt, gr in zip((fast, plain), opts, grads):
                for p, gp in zip(m.parameters(), gr):
                    p.grad = gp
                opt.step()
            assert all(torch.equal(a, b) for a, b in zip(effective_weights(fast), effective_weights(plain)))
    assert torch.equal(fast(x), plain(x))  # and after the block


@pytest.mark.parametrize("mode", MANY_MASK_MODES)
def test_outside_fixed_mask_the_fast_layers_are_the_plain_layers(mode):
    fast, plain = pair(**MANY_MASK_MODES[mode])
    x = torch.randint(0, 2, (17, 9)).double()
    for step in range(3):  # across mask switches
        assert not any(l.premasked for l in fast.masked_layers)
        out_f, out_p = fast(x), plain(x)
        assert torch.equal(out_f, out_p)
        g = torch.randn_like(out_f)
        grads_f = torch.autograd.grad(out_f, list(fast.parameters()), g)
        grads_p = torch.autograd.grad(out_p, list(plain.parameters()), g)
        assert all(torch.equal(a, b) for a, b in zip(grads_f, grads_p, strict=True))
        fast.update_masks()
        plain.update_masks()
    n = min(3, fast.num_masks or 3)
    assert torch.equal(fast.ensemble_log_prob(x, n), plain.ensemble_log_prob(x, n))


def test_plain_layers_ignore_fixed_mask():
    fast, plain = pair(direct_connections=True, condition_on_mask=True)
    x = torch.randint(0, 2, (17, 9)).double()
    want = plain(x)
    with plain.fixed_mask():  # plain layers: the same model, nothing premasked
        assert torch.equal(plain(x), want)


def test_fixed_mask_masks_the_weight_gradient_and_undoes_itself_on_exit():
    torch.manual_seed(0)
    layer = FastMaskedLinear(6, 4, condition_on_mask=True).double()
    layer.set_degrees(torch.randint(0, 3, (1, 4)), torch.randint(0, 3, (1, 6)), strict=False)
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
    layer.set_degrees(torch.tensor([[0, 1], [0, 1]]), torch.tensor([[0, 1, 2], [2, 1, 0]]), strict=False)
    x = torch.randn(4, 3)
    for k in range(2):
        layer.set_mask(k)
        torch.testing.assert_close(layer(x), x @ (layer.weight * masks[k]).T + layer.bias)
    with pytest.raises(IndexError):
        layer.set_mask(2)
    with pytest.raises(ValueError, match="degree shapes"):
        layer.set_degrees(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long), strict=False)
