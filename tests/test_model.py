"""MADE is a normalized autoregressive model: prove it on small D."""

import itertools

import pytest
import torch

from made import MADE
from made.evaluate import logit_average_log_prob
from made.train import DecreasingSGD


def all_binary(d: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0, 1], repeat=d)), dtype=torch.float64)


def dependency_matrix(model: MADE, nin: int) -> torch.Tensor:
    """J[o, i] = True when output o's value changes with input i (via gradients)."""
    x = torch.rand(3, nin, dtype=torch.float64, requires_grad=True)
    out = model(x)
    rows = []
    for o in range(model.nout):
        (g,) = torch.autograd.grad(out[:, o].sum(), x, retain_graph=True)
        rows.append(g.abs().sum(0) > 0)
    return torch.stack(rows)


def assert_autoregressive(model: MADE) -> None:
    nin = model.nin
    dep = dependency_matrix(model, nin)
    pos = model.ordering
    k = model.nout // nin
    allowed = (pos[:, None] > pos[None, :]).repeat(k, 1)  # output d sees inputs earlier than d
    bad = dep & ~allowed
    assert not bad.any(), f"output depends on a later or same input: {bad.nonzero().tolist()[:5]}"


def randomize(model: MADE) -> MADE:
    # Non-zero everything, so a zero gradient comes from the mask and not from
    # a dead ReLU or a zero-initialized parameter.
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1, 1)
    return model


CASES = [
    dict(hidden_sizes=[], nout_factor=1),
    dict(hidden_sizes=[40], nout_factor=1),
    dict(hidden_sizes=[30, 30], nout_factor=1),
    dict(hidden_sizes=[25, 30, 20], nout_factor=1),
    dict(hidden_sizes=[5], nout_factor=1),  # narrower than nin
    dict(hidden_sizes=[40, 40], nout_factor=2),
    dict(hidden_sizes=[40], nout_factor=3),
    dict(hidden_sizes=[40], nout_factor=1, natural_ordering=True),
    dict(hidden_sizes=[40], nout_factor=1, direct_connections=True),
    dict(hidden_sizes=[], nout_factor=2, direct_connections=True),
    dict(hidden_sizes=[30, 30], nout_factor=1, condition_on_mask=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("order_agnostic", [True, False])
@pytest.mark.parametrize("connectivity_agnostic", [True, False])
def test_autoregressive_every_mask(case, order_agnostic, connectivity_agnostic):
    nin = 9
    case = dict(case)
    factor = case.pop("nout_factor")
    model = MADE(nin, case.pop("hidden_sizes"), factor * nin, num_masks=4,
                 order_agnostic=order_agnostic, connectivity_agnostic=connectivity_agnostic,
                 **case).double()
    randomize(model)
    for k in range(4):
        model.set_mask(k)
        assert_autoregressive(model)


def test_autoregressive_check_catches_a_leak():
    # The check itself must be able to fail: open one forbidden connection.
    model = randomize(MADE(6, [], 6, num_masks=1, natural_ordering=True).double())
    layer = model.layers[0]
    layer.set_degrees(layer.out_degrees, layer.in_degrees, strict=False)  # output d now sees input d
    with pytest.raises(AssertionError):
        assert_autoregressive(model)


def test_seed_usage_line_verbatim():
    model = MADE(28*28, [500], 28*28, num_masks=1, natural_ordering=False)
    x = (torch.rand(2, 784) < 0.5).float()
    assert model(x).shape == (2, 784)
    assert model.log_prob(x).shape == (2,)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(direct_connections=True),
    dict(condition_on_mask=True),
    dict(hidden_sizes=[7, 9]),
])
def test_exact_normalization_each_mask_and_ensemble(kwargs):
    d = 10
    hidden = kwargs.pop("hidden_sizes", [24])
    model = randomize(MADE(d, hidden, d, num_masks=4, **kwargs).double())
    orderings = {tuple(o.tolist()) for o in model.orderings}
    assert len(orderings) == 4, "the K=4 masks should have different orderings"
    x = all_binary(d)
    for k in range(4):
        model.set_mask(k)
        assert model.log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)
    total = model.ensemble_log_prob(x).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-9)
    # Averaging logits is not a mixture of normalized models: it does not sum to 1.
    bad = logit_average_log_prob(model, x).exp().sum().item()
    assert abs(bad - 1.0) > 1e-6  # far beyond float64 error (the valid sums hold to 1e-9)


def test_ensemble_matches_loop_of_single_masks():
    model = randomize(MADE(8, [20, 20], 8, num_masks=5, direct_connections=True,
                           condition_on_mask=True).double())
    x = all_binary(8)[::3]
    per_mask = []
    for k in range(5):
        model.set_mask(k)
        per_mask.append(model.log_prob(x))
    expected = torch.logsumexp(torch.stack(per_mask), 0) - torch.log(torch.tensor(5.0, dtype=torch.float64))
    got = model.ensemble_log_prob(x, batch_size=7)
    torch.testing.assert_close(got, expected)
    got3 = model.ensemble_log_prob(x, n_masks=3)
    expected3 = torch.logsumexp(torch.stack(per_mask[:3]), 0) - torch.log(torch.tensor(3.0, dtype=torch.float64))
    torch.testing.assert_close(got3, expected3)


def test_mask_sampling_is_reproducible_and_normalized():
    d = 8
    a = randomize(MADE(d, [16], d, num_masks=None, seed=3).double())
    b = randomize(MADE(d, [16], d, num_masks=None, seed=3).double())
    seen = set()
    for _ in range(5):
        a.update_masks()
        b.update_masks()
        assert torch.equal(a.layers[0].mask, b.layers[0].mask)
        seen.add(tuple(a.ordering.tolist()))
    assert len(seen) == 5, "mask sampling should draw a fresh ordering at every update"
    x = all_binary(d)
    assert a.ensemble_log_prob(x, n_masks=6).exp().sum().item() == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="n_masks is required"):
        a.ensemble_log_prob(x)


@pytest.mark.parametrize("kwargs", [dict(), dict(direct_connections=True, activation="tanh"),
                                    dict(condition_on_mask=True)])
def test_connectivity_only_sampling_keeps_one_ordering_and_is_normalized(kwargs):
    # The authors' shuffling_type Connectivity: a fresh connectivity every
    # update, always under the one ordering drawn from the seed.
    d = 8
    model = randomize(MADE(d, [16, 16], d, num_masks=None, seed=5, order_agnostic=False,
                           connectivity_agnostic=True, **kwargs).double())
    x = all_binary(d)
    ordering = model.ordering.clone()
    assert not torch.equal(ordering, torch.arange(d)), "the seed's ordering, not the natural one"
    connectivity = set()
    for _ in range(4):
        model.update_masks()
        assert torch.equal(model.ordering, ordering)
        connectivity.add(model.layers[0].mask.numpy().tobytes())
        assert model.log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)  # one sampled mask
        assert_autoregressive(model)
    assert len(connectivity) == 4, "each update draws a new connectivity"
    # an ensemble of sampled masks: every mask it draws has the same ordering, and it sums to 1
    specs = []
    original = model._spec

    def spy(index):
        specs.append(original(index))
        return specs[-1]

    model._spec = spy
    assert model.ensemble_log_prob(x, n_masks=6).exp().sum().item() == pytest.approx(1.0, abs=1e-9)
    assert len(specs) == 6 and all(torch.equal(s.ordering, ordering) for s in specs)
    assert len({s.hidden_degrees[0].numpy().tobytes() for s in specs}) == 6


@pytest.mark.parametrize("hidden, kwargs", [
    ([32], dict(num_masks=2)),
    ([16, 16], dict(num_masks=2, direct_connections=True, condition_on_mask=True, activation="tanh")),
    ([], dict(num_masks=2)),
    ([32], dict(num_masks=None)),
])
def test_sampling_matches_enumerated_distribution(hidden, kwargs):
    d = 6
    torch.manual_seed(0)
    model = MADE(d, hidden, d, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 1.5)  # a peaked, non-trivial distribution
    model.set_mask(1)
    x = all_binary(d).float()
    probs = model.log_prob(x).exp().double()
    gen = torch.Generator().manual_seed(0)
    model.set_mask(0)
    samples = model.sample(200_000, mask=1, generator=gen)
    assert model.mask_index == 0
    assert samples.shape == (200_000, d)
    codes = (samples.long() * (2 ** torch.arange(d - 1, -1, -1))).sum(1)
    freq = torch.bincount(codes, minlength=2 ** d).double() / 200_000
    tv = 0.5 * (freq - probs).abs().sum().item()
    assert tv < 0.02
    # the other mask is a different distribution, so the test can tell them apart
    other = model.log_prob(x).exp().double()
    assert 0.5 * (freq - other).abs().sum().item() > 0.02
    # without mask=, the current mask's distribution
    model.set_mask(1)
    again = model.sample(200_000, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount((again.long() * (2 ** torch.arange(d - 1, -1, -1))).sum(1), minlength=2 ** d)
    assert 0.5 * (freq.double() / 200_000 - probs).abs().sum().item() < 0.02


def test_sample_restores_current_mask_and_is_reproducible():
    model = MADE(5, [10], 5, num_masks=3)
    model.set_mask(2)
    s1 = model.sample(10, mask=0, generator=torch.Generator().manual_seed(4))
    s2 = model.sample(10, mask=0, generator=torch.Generator().manual_seed(4))
    assert model.mask_index == 2
    assert torch.equal(s1, s2)
    assert set(s1.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("bad, message", [
    (dict(nin=4, hidden_sizes=[8], nout=6), "multiple"),
    (dict(nin=4, hidden_sizes=[8], nout=0), "multiple"),
    (dict(nin=4, hidden_sizes=[8], nout=4, num_masks=0), "num_masks"),
    (dict(nin=4, hidden_sizes=[0], nout=4), "hidden_sizes"),
    (dict(nin=4, hidden_sizes=[8], nout=4, activation="swish"), "activation"),
])
def test_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        MADE(**bad)


def test_settings_are_model_config_fields():
    from dataclasses import asdict

    from made.model import ModelConfig

    with pytest.raises(TypeError, match="direct_conections"):  # misspelt: an error, not ignored
        MADE(4, [8], 4, direct_conections=True)
    model = MADE(4, [8], 4, num_masks=2, direct_connections=True, seed=3)
    assert model.settings == ModelConfig([8], num_masks=2, direct_connections=True, seed=3)
    assert model.config == {"nin": 4, "nout": 4, **asdict(model.settings)}
    assert model.num_masks == 2 and model.seed == 3 and model.direct is not None
    same = MADE.from_config(4, model.settings)
    assert same.config == model.config and torch.equal(same.orderings, model.orderings)


def test_bad_calls():
    model = MADE(4, [8], 4, num_masks=2)
    with pytest.raises(IndexError, match="mask index"):
        model.set_mask(2)
    with pytest.raises(ValueError, match="binary"):
        model.log_prob(torch.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="n_masks"):
        model.ensemble_log_prob(torch.zeros(2, 4), n_masks=3)
    with pytest.raises(ValueError, match="nout == nin"):
        MADE(4, [8], 8).log_prob(torch.zeros(2, 4))


def test_masks_are_kept_as_degrees_and_built_as_a_stack_or_one_at_a_time(mask_storage):
    model = MADE(5, [10], 5, num_masks=3)
    names = {n: b for n, b in model.named_buffers()}
    # The K masks are kept as degrees, (K, units) integers per layer ...
    assert names["layers.0.out_degrees"].shape == (3, 10) and names["layers.0.in_degrees"].shape == (3, 5)
    assert names["layers.1.out_degrees"].shape == (3, 5) and names["layers.1.in_degrees"].shape == (3, 10)
    # ... and built in the weight's dtype: all K for a small layer, else the selected one.
    built = {n: b for n, b in names.items() if b.dtype == torch.float32}
    if mask_storage == "stacked":
        assert {n: tuple(b.shape) for n, b in built.items()} == {"layers.0.stack": (3, 10, 5),
                                                                 "layers.1.stack": (3, 5, 10)}
    else:
        assert {n: tuple(b.shape) for n, b in built.items()} == {"layers.0.selected": (10, 5),
                                                                 "layers.1.selected": (5, 10)}
    layer = model.layers[0]
    assert set(layer.mask.unique().tolist()) == {0.0, 1.0}
    model.set_mask(1)
    assert torch.equal(layer.mask, layer.mask_of(1)) and not torch.equal(layer.mask, layer.mask_of(0))
    ptr = layer.mask.data_ptr()
    model.set_mask(1)  # the same mask again: nothing rebuilt
    assert layer.mask.data_ptr() == ptr
    # Rebuilt from the constructor arguments, so checkpoints stay small
    # (parameters only); the current mask follows from set_mask.
    state = model.state_dict()
    assert not any("mask" in k or "degrees" in k or "stack" in k or "selected" in k for k in state)
    clone = MADE(**model.config)
    assert all(torch.equal(clone.layers[0].mask_of(k), model.layers[0].mask_of(k)) for k in range(model.num_masks))
    assert torch.equal(clone.orderings, model.orderings)
    model.double()  # the masks follow the weights' dtype, the built ones and the next ones
    assert layer.mask.dtype == torch.float64
    model.set_mask(2)
    assert layer.mask.dtype == torch.float64
    assert torch.equal(layer.mask, clone.layers[0].mask_of(2).double())


def test_a_wide_model_keeps_its_masks_in_a_fraction_of_the_memory_of_a_stack():
    # 2x8000 hidden units, K = 32, direct connections: the paper's large MNIST
    # model.  A float stack of all K masks per layer would take 9.9 GB; the
    # buffers are the degrees, the selected masks and the direct layer's small
    # stack (the bound is set from a measurement, benchmarks/RESULTS.md).
    model = MADE(784, [8000, 8000], 784, num_masks=32, direct_connections=True)
    stack_bytes = 32 * sum(layer.weight.numel() * 4 for layer in model.masked_layers)
    assert stack_bytes > 9.8e9
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    assert buffers < 400 * 2**20
    assert model.layers[1].stack is None and model.layers[1].selected.shape == (8000, 8000)
    model.set_mask(31)
    assert torch.equal(model.layers[1].mask[:50, :50], model.layers[1].mask_of(31)[:50, :50])


@pytest.mark.slow
def test_a_wide_model_trains_a_step_within_a_few_gib():
    # Peak resident memory of a fresh process that builds that model and takes
    # one Adam step (the bound is set from a measurement, benchmarks/RESULTS.md):
    # the weights, their gradients and Adam's two moments are 1.2 GB of it.
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "width_checks.py"
    out = subprocess.run([sys.executable, str(script), "peak", "--hidden", "8000", "8000", "--masks", "32",
                          "--threads", "2"], capture_output=True, text=True, check=True).stdout
    import json
    row = json.loads(out.strip().splitlines()[-1])
    assert row["buffers_mb"] < 400
    assert row["peak_after_step_mb"] < 2.5 * 1024


def test_a_layer_rebuilds_its_mask_in_place_only_when_nothing_else_holds_it(monkeypatch):
    monkeypatch.setattr("made.layers.STACK_MAX_BYTES", 0)
    model = MADE(10, [20], 10, num_masks=4)
    layer = model.layers[0]
    ptr = layer.mask.data_ptr()
    model.set_mask(1)  # nothing holds mask 0: built into its memory
    assert layer.mask.data_ptr() == ptr and torch.equal(layer.mask, layer.mask_of(1))
    held = layer.mask  # a Python name holds mask 1
    model.set_mask(2)
    assert torch.equal(held, layer.mask_of(1)) and torch.equal(layer.mask, layer.mask_of(2))
    del held
    view = layer.mask[:3]  # a view of mask 2
    model.set_mask(3)
    assert torch.equal(view, layer.mask_of(2)[:3]) and torch.equal(layer.mask, layer.mask_of(3))
    del view
    model.set_mask(2)
    pending = model(torch.ones(2, 10)).sum()  # a graph holds mask 2 for its backward pass
    saved = layer.mask.clone()
    model.set_mask(3)
    assert torch.equal(layer.mask, layer.mask_of(3))
    ptr = layer.mask.data_ptr()
    pending.backward()  # it would raise if mask 2 had been overwritten
    model.set_mask(0)  # after the backward pass nothing holds mask 3
    assert layer.mask.data_ptr() == ptr and torch.equal(layer.mask, layer.mask_of(0))
    assert torch.equal(saved, layer.mask_of(2))


def test_switching_masks_between_forward_and_backward_never_gives_stale_gradients(mask_storage):
    # Forward under masks 0, 1 and 2, switching between them, before any
    # backward pass: each pass's gradients must still be its own mask's.
    torch.manual_seed(0)
    model = randomize(MADE(6, [12, 12], 6, num_masks=3).double())
    xs = [torch.randint(0, 2, (4, 6)).double() for _ in range(3)]
    ref = MADE(6, [12, 12], 6, num_masks=3).double()
    ref.load_state_dict(model.state_dict())
    want = []
    for k, x in enumerate(xs):
        ref.set_mask(k)
        want.append(torch.autograd.grad(ref.log_prob(x).sum(), list(ref.parameters())))

    losses = []
    for k, x in enumerate(xs):
        model.set_mask(k)
        losses.append(model.log_prob(x).sum())
    model.set_mask(0)  # and one more switch, with every graph pending
    for loss, w in zip(losses, want):
        got = torch.autograd.grad(loss, list(model.parameters()))
        for a, b in zip(got, w, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("num_masks", [3, None])
def test_a_copied_or_pickled_model_computes_the_same(num_masks):
    import copy
    import pickle

    model = randomize(MADE(5, [10], 5, num_masks=num_masks))
    model.set_mask(2)  # not mask 0: a copy that loses the selected mask must fail
    x = all_binary(5).float()
    want = model.log_prob(x)
    model.set_mask(0)
    assert not torch.allclose(model.log_prob(x), want)  # mask 0 is another model
    model.set_mask(2)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.mask_index == 2
        torch.testing.assert_close(clone.log_prob(x), want, rtol=0, atol=0)
        clone.update_masks()  # and it moves on to the same next mask
        model.update_masks()
        torch.testing.assert_close(clone.log_prob(x), model.log_prob(x), rtol=0, atol=0)
        model.set_mask(2)


@pytest.mark.parametrize("optimizer", ["adagrad", "adam", "sgd", "adadelta", "decreasing_sgd"])
def test_fixed_mask_trains_exactly_like_the_masked_multiply(optimizer):
    # Inside fixed_mask() the weights hold W * M and forward passes skip the
    # multiply: outputs, gradients and every optimizer step must match.
    torch.manual_seed(0)
    kwargs = dict(num_masks=1, direct_connections=True, condition_on_mask=True, seed=3)
    a = MADE(7, [16, 16], 7, **kwargs).double()
    b = MADE(7, [16, 16], 7, **kwargs).double()
    b.load_state_dict(a.state_dict())
    make = {"adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
            "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-3),
            "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
            "adadelta": lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-5),
            "decreasing_sgd": lambda p: DecreasingSGD(p, lr=0.1, decrease_constant=0.5, weight_decay=1e-3)}[optimizer]
    opt_a, opt_b = make(a.parameters()), make(b.parameters())
    x = torch.randint(0, 2, (32, 7)).double()
    with b.fixed_mask():
        assert all(layer.premasked for layer in b.masked_layers)
        for step in range(5):
            for model, opt in ((a, opt_a), (b, opt_b)):
                opt.zero_grad()
                (-model.log_prob(x).mean()).backward()
                opt.step()
            torch.testing.assert_close(b.log_prob(x), a.log_prob(x), rtol=0, atol=1e-12)
        assert_autoregressive(b)
    assert not any(layer.premasked for layer in b.masked_layers)
    for la, lb in zip(a.masked_layers, b.masked_layers):
        torch.testing.assert_close(lb.weight, la.weight * la.mask, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.log_prob(x), a.log_prob(x), rtol=0, atol=1e-12)


def test_fixed_mask_refuses_what_it_cannot_keep_exact():
    with pytest.raises(ValueError, match="num_masks=1"):
        with MADE(4, [8], 4, num_masks=2).fixed_mask():
            pass
    model = MADE(4, [8], 4)
    with pytest.raises(RuntimeError, match="cannot replace the masks"):
        with model.fixed_mask():
            layer = model.layers[0]
            layer.set_degrees(layer.out_degrees, layer.in_degrees, layer.strict)
    two = MADE(4, [8], 4, num_masks=2)
    with pytest.raises(RuntimeError, match="cannot switch masks"):
        with two.layers[0].fixed_mask():
            two.layers[0].set_mask(1)
    with pytest.raises(RuntimeError, match="masked-out weights changed"):
        with model.fixed_mask():
            with torch.no_grad():
                model.layers[0].weight.fill_(1.0)
    model.set_mask(0)  # the same mask is fine inside too
    with model.fixed_mask():
        model.update_masks()


# --- the authors' orthogonal initialization (made.init) in a model
def test_model_init_is_deterministic_from_the_seed_and_zeroes_biases():
    kwargs = dict(num_masks=2, direct_connections=True, init="orthogonal")
    torch.manual_seed(0)
    a = MADE(12, [30, 20], 12, seed=4, **kwargs)
    torch.manual_seed(123)  # the global RNG does not matter
    b = MADE(12, [30, 20], 12, seed=4, **kwargs)
    c = MADE(12, [30, 20], 12, seed=5, **kwargs)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
        if name.endswith("bias"):
            assert not pa.any()
        else:
            assert not torch.equal(pa, pc)
    assert a.config["init"] == "orthogonal"
    assert MADE(**a.config).init == "orthogonal"
    with pytest.raises(ValueError, match="init must be one of"):
        MADE(4, [8], 4, init="xavier")


@pytest.mark.parametrize("hidden", [[40], [30, 30]])
def test_autoregressive_and_normalized_with_orthogonal_init(hidden):
    model = MADE(9, hidden, 9, num_masks=3, direct_connections=True, init="orthogonal").double()
    for k in range(3):
        model.set_mask(k)
        assert_autoregressive(model)
    small = MADE(10, [24], 10, num_masks=3, direct_connections=True, init="orthogonal").double()
    x = all_binary(10)
    for k in range(3):
        small.set_mask(k)
        assert small.log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)
    assert small.ensemble_log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)
