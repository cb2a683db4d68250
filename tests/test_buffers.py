"""The masked layers' kept buffers (made.layers._MaskedLinear): the same
numbers as plain autograd, bit for bit, and no new (out, in) tensor per step."""

import pytest
import torch
import torch.nn.functional as F

import made.layers as layers
from made import MADE
from made.train import train_step, training_context


def plain_step(model, opt, xb):
    """The step before the buffers: plain autograd on ``mask * weight``, gradients freed each step."""
    out = None
    *hidden, output = model.layers
    h = xb
    for layer in hidden:
        h = torch.relu(F.linear(h, layer.mask * layer.weight, layer.masked_bias()))
    out = F.linear(h, output.mask * output.weight, output.masked_bias())
    if model.direct is not None:
        out = out + F.linear(xb, model.direct.mask * model.direct.weight, model.direct.masked_bias())
    loss = F.binary_cross_entropy_with_logits(out, xb, reduction="sum") / xb.shape[0]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    model.update_masks()


@pytest.fixture(params=["stack", "selected"])
def where_masks_live(request, monkeypatch):
    """Masks as a stack of all K, or only the selected one (as wide layers keep them)."""
    if request.param == "selected":
        monkeypatch.setattr(layers, "STACK_MAX_BYTES", 0)
    return request.param


@pytest.mark.parametrize("k", [1, 3])
def test_training_gives_the_numbers_of_plain_autograd_bit_for_bit(k, where_masks_live):
    torch.manual_seed(0)
    x = (torch.rand(240, 12) < 0.3).float()
    models = []
    for _ in range(2):
        torch.manual_seed(1)
        models.append(MADE(12, [40, 30], 12, num_masks=k, direct_connections=True))
    ours, ref = models
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-2, weight_decay=1e-4)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=1e-2, weight_decay=1e-4)
    with training_context(ours):  # K = 1: the fast path, premasked weights
        for i in range(0, 240, 20):
            train_step(ours, opt_ours, x[i:i + 20])
            plain_step(ref, opt_ref, x[i:i + 20])
    masks = {f"{name}.weight": layer.mask for name, layer in ours.named_modules() if hasattr(layer, "mask")}
    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        # K = 1 trains premasked weights: where the mask is 0 they are 0, and never count
        mask = masks.get(name, torch.ones_like(a))
        assert torch.equal(a * mask, b * mask), name


def _pointers(model):
    return {(i, name): t.data_ptr() for i, layer in enumerate(model.masked_layers)
            for name, t in [("grad", layer.weight.grad), ("selected", layer.selected), *layer._kept.items()]
            if t is not None}


@pytest.mark.parametrize("k", [1, 3])
def test_no_step_after_the_first_allocates_an_out_by_in_tensor(k, where_masks_live):
    torch.manual_seed(0)
    model = MADE(12, [40], 12, num_masks=k, direct_connections=True)
    opt = torch.optim.Adam(model.parameters())
    x = (torch.rand(100, 12) < 0.3).float()
    with training_context(model):
        train_step(model, opt, x[:20])
        before = _pointers(model)
        for i in range(20, 100, 20):  # masks switch at every step (K = 3)
            train_step(model, opt, x[i:i + 20])
        assert _pointers(model) == before
    kept = {name for _, name in before}
    assert "grad" in kept and "grad_w" in kept and ("wm" in kept) == (k > 1)  # K = 1: the weight is W * M
    assert ("selected" in kept) == (where_masks_live == "selected")


def test_two_forward_passes_before_one_backward_keep_their_own_buffers(where_masks_live):
    # an ensemble loss over two masks with one backward: each pass's saved W * M and
    # mask must survive the other pass, so the gradient is the plain one
    torch.manual_seed(0)
    x = (torch.rand(20, 12) < 0.3).float()
    grads = []
    for plain in (False, True):
        torch.manual_seed(1)
        model = MADE(12, [40], 12, num_masks=3, direct_connections=True)
        loss = 0
        for k in (0, 2):
            model.set_mask(k)
            if plain:
                h = torch.relu(F.linear(x, model.layers[0].mask * model.layers[0].weight, model.layers[0].bias))
                out = F.linear(h, model.layers[1].mask * model.layers[1].weight, model.layers[1].bias)
                out = out + F.linear(x, model.direct.mask * model.direct.weight)
            else:
                out = model(x)
            loss = loss + F.binary_cross_entropy_with_logits(out, x, reduction="sum")
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_a_retained_graph_keeps_what_it_saved():
    torch.manual_seed(0)
    layer = layers.MaskedLinear(4, 3)
    x = torch.rand(5, 4)
    loss = layer(x).sum()
    first = torch.autograd.grad(loss, layer.weight, retain_graph=True)[0].clone()
    layer(x * 2).sum().backward()  # another pass, while the first graph is retained
    assert torch.equal(torch.autograd.grad(loss, layer.weight)[0], first)


def test_a_gradient_handed_out_is_never_written_again():
    torch.manual_seed(0)
    layer = layers.MaskedLinear(4, 3)
    x = torch.rand(5, 4)
    first = torch.autograd.grad(layer(x).sum(), layer.weight)[0]
    kept = first.clone()
    torch.autograd.grad(layer(x * 2).sum(), layer.weight)
    assert torch.equal(first, kept)
