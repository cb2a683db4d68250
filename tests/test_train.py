"""Training: it learns a known distribution, stops when it should, and resumes exactly."""

import contextlib
import itertools
import math

import pytest
import torch

from made import MADE
from made.evaluate import validation_curve
from made.train import TrainConfig, fit, load_optimizer_state, make_optimizer


def fvsbn(d: int, seed: int):
    """A random fully visible sigmoid belief net: exact probabilities of all 2^d states."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, d, generator=g, dtype=torch.float64).tril(-1) * 1.5
    b = torch.randn(d, generator=g, dtype=torch.float64)
    states = torch.tensor(list(itertools.product([0, 1], repeat=d)), dtype=torch.float64)
    logits = states @ w.T + b
    logp = -torch.nn.functional.binary_cross_entropy_with_logits(logits, states, reduction="none").sum(1)
    return states, logp


def sample_states(states, logp, n, seed):
    g = torch.Generator().manual_seed(seed)
    idx = torch.multinomial(logp.exp(), n, replacement=True, generator=g)
    return states[idx].float()


def test_fits_a_known_distribution_near_its_entropy():
    d = 8
    states, logp = fvsbn(d, seed=0)
    entropy = -(logp.exp() * logp).sum().item()
    train = sample_states(states, logp, 20000, 1)
    valid = sample_states(states, logp, 5000, 2)
    test = sample_states(states, logp, 20000, 3)
    torch.manual_seed(0)
    model = MADE(d, [64], d, num_masks=1)
    fit(model, train, valid, TrainConfig(optimizer="adam", lr=3e-3, max_epochs=15,
                                         look_ahead=5, progress=False))
    nll = -model.log_prob(test).double().mean().item()
    # The true model's NLL on this same test set differs from the entropy only
    # by sampling noise; the fitted model must come within 0.03 nats of it.
    codes = (test.long() * 2 ** torch.arange(d - 1, -1, -1)).sum(1)
    true_nll = -logp[codes].mean().item()
    assert abs(true_nll - entropy) < 0.05
    assert nll - true_nll < 0.03, (nll, true_nll, entropy)
    # and it did learn something: a uniform model has NLL d*log 2
    assert nll < d * math.log(2) - 0.5


def tiny_problem(n_train=60, d=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_train + 200, d, generator=g) < 0.3).float()
    return x[:n_train], x[n_train:]


def test_early_stopping_stops_look_ahead_after_best_and_restores_best():
    train, valid = tiny_problem()
    torch.manual_seed(0)
    model = MADE(10, [200], 10, num_masks=2)  # overfits 60 examples quickly
    cfg = TrainConfig(optimizer="adam", lr=1e-2, look_ahead=4, max_epochs=200, progress=False, batch_size=20)
    result = fit(model, train, valid, cfg)
    assert result.stopped_early
    assert result.epochs == result.best_epoch + cfg.look_ahead
    valid_curve = [r["valid_nll"] for r in result.history]
    assert result.best_valid_nll == min(valid_curve) == valid_curve[result.best_epoch - 1]
    assert all(v > result.best_valid_nll for v in valid_curve[result.best_epoch:])
    # restored parameters reproduce the best validation NLL
    assert validation_curve(model, valid, 2)[2] == pytest.approx(result.best_valid_nll, abs=1e-6)


def test_epoch_cap():
    train, valid = tiny_problem()
    result = fit(MADE(10, [8], 10), train, valid, TrainConfig(max_epochs=3, progress=False))
    assert result.epochs == 3 and not result.stopped_early
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert all(r["seconds"] >= 0 and r["valid_seconds"] >= 0 for r in result.history)


class FakeClock:
    """A perf_counter that moves only when told to: timings independent of the machine's load."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now


def test_training_and_validation_are_timed_apart_and_totals_survive_a_resume(tmp_path, monkeypatch):
    # Epoch e's training pass "takes" 2 + e s and its validation 0.5 e s, on an
    # injected clock; every time fit() reports must be exactly these.
    import made.train as train_module

    clock = FakeClock()
    epoch = {"n": 0}
    original_train, original_valid = train_module._train_epoch, train_module.validation_curve

    def timed_train(*args, **kwargs):
        epoch["n"] += 1
        out = original_train(*args, **kwargs)
        clock.now += 2 + epoch["n"]
        return out

    def timed_valid(*args, **kwargs):
        out = original_valid(*args, **kwargs)
        clock.now += 0.5 * epoch["n"]
        return out

    monkeypatch.setattr(train_module, "time", clock)
    monkeypatch.setattr(train_module, "_train_epoch", timed_train)
    monkeypatch.setattr(train_module, "validation_curve", timed_valid)
    train, valid = tiny_problem()
    ckpt = tmp_path / "c.pt"
    first = fit(MADE(10, [8], 10), train, valid, TrainConfig(max_epochs=2, progress=False), checkpoint=ckpt)
    assert [r["seconds"] for r in first.history] == [3.0, 4.0]
    assert [r["valid_seconds"] for r in first.history] == [0.5, 1.0]
    assert (first.train_seconds, first.valid_seconds) == (7.0, 1.5)
    # resumed with a higher cap: the totals carry on from the checkpoint
    more = fit(MADE(10, [8], 10), train, valid, TrainConfig(max_epochs=4, progress=False), checkpoint=ckpt)
    assert [r["seconds"] for r in more.history] == [3.0, 4.0, 5.0, 6.0]
    assert [r["valid_seconds"] for r in more.history] == [0.5, 1.0, 1.5, 2.0]
    assert (more.train_seconds, more.valid_seconds) == (18.0, 5.0)


class Interrupt(Exception):
    pass


def test_resume_after_interrupt_is_identical(tmp_path):
    train, valid = tiny_problem(n_train=90)
    cfg = TrainConfig(optimizer="adam", max_epochs=8, batch_size=20, mask_every=2,
                      progress=False, seed=5)

    def fresh():
        torch.manual_seed(0)
        return MADE(10, [16], 10, num_masks=3)

    reference = fresh()
    ref = fit(reference, train, valid, cfg)

    def stop_at_3(row):
        if row["epoch"] == 3:
            raise Interrupt

    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(Interrupt):
        fit(fresh(), train, valid, cfg, checkpoint=ckpt, on_epoch_end=stop_at_3)
    assert ckpt.exists()
    resumed = fresh()
    res = fit(resumed, train, valid, cfg, checkpoint=ckpt)
    assert [r["valid_nll"] for r in res.history] == [r["valid_nll"] for r in ref.history]
    assert [r["train_nll"] for r in res.history] == [r["train_nll"] for r in ref.history]
    assert res.best_epoch == ref.best_epoch and res.steps == ref.steps
    for a, b in zip(resumed.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    # a finished run extends from its checkpoint when the cap is raised
    more = fit(fresh(), train, valid, TrainConfig(**{**cfg.__dict__, "max_epochs": 10}), checkpoint=ckpt)
    assert more.epochs == 10 and more.history[:8] == res.history


def test_resumed_optimizer_keeps_its_own_fused_flag():
    # A CPU checkpoint's fused Adagrad resumed where fused is unavailable (a GPU):
    # the saved flag must not come back with the state, or the first step fails.
    model = MADE(6, [8], 6)
    saved = torch.optim.Adagrad(model.parameters(), lr=0.01, fused=True)
    model(torch.ones(2, 6)).sum().backward()
    saved.step()
    here = torch.optim.Adagrad(model.parameters(), lr=0.01, fused=False)
    load_optimizer_state(here, saved.state_dict())
    assert [g["fused"] for g in here.param_groups] == [False]
    assert torch.equal(here.state[next(model.parameters())]["sum"], saved.state[next(model.parameters())]["sum"])


def test_resume_refuses_a_different_model(tmp_path):
    train, valid = tiny_problem()
    ckpt = tmp_path / "c.pt"
    fit(MADE(10, [16], 10), train, valid, TrainConfig(max_epochs=1, progress=False), checkpoint=ckpt)
    with pytest.raises(ValueError, match="different model"):
        fit(MADE(10, [17], 10), train, valid, TrainConfig(max_epochs=2, progress=False), checkpoint=ckpt)


def test_resume_refuses_a_checkpoint_from_a_newer_version(tmp_path):
    train, valid = tiny_problem()
    ckpt = tmp_path / "c.pt"
    fit(MADE(10, [16], 10), train, valid, TrainConfig(max_epochs=1, progress=False), checkpoint=ckpt)
    state = torch.load(ckpt, weights_only=False)
    state["result"]["gpu_seconds"] = 1.0  # a field this version does not know
    torch.save(state, ckpt)
    model = MADE(10, [16], 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"c\.pt was written by a newer version of made .*gpu_seconds"):
        fit(model, train, valid, TrainConfig(max_epochs=2, progress=False), checkpoint=ckpt)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # refused before loading


def test_resume_refuses_other_settings_and_fewer_epochs_than_it_holds(tmp_path):
    # A checkpoint keeps what trained it (``meta``): resuming it under other
    # settings would label its numbers with settings that never produced them.
    train, valid = tiny_problem()
    ckpt = tmp_path / "c.pt"
    fit(MADE(10, [16], 10), train, valid, TrainConfig(max_epochs=3, progress=False), checkpoint=ckpt,
        meta={"lr": 0.01, "train_subset": None})
    model = MADE(10, [16], 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"other settings \(lr: 0.01 -> 0.1\)"):
        fit(model, train, valid, TrainConfig(max_epochs=4, progress=False), checkpoint=ckpt,
            meta={"lr": 0.1, "train_subset": None})
    with pytest.raises(ValueError, match="already holds 3 epochs, more than max_epochs=2"):
        fit(model, train, valid, TrainConfig(max_epochs=2, progress=False), checkpoint=ckpt,
            meta={"lr": 0.01, "train_subset": None})
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # refused before loading
    # the same settings with a larger cap extend the run
    more = fit(model, train, valid, TrainConfig(max_epochs=4, progress=False), checkpoint=ckpt,
               meta={"lr": 0.01, "train_subset": None})
    assert more.epochs == 4


def test_same_seed_same_numbers_and_adam_step_decay():
    train, valid = tiny_problem()
    cfg = TrainConfig(optimizer="adam", max_epochs=4, lr_step_epochs=2, progress=False)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fit(MADE(10, [16], 10, num_masks=4), train, valid, cfg))
    assert [r["valid_nll"] for r in runs[0].history] == [r["valid_nll"] for r in runs[1].history]
    lrs = [r["lr"] for r in runs[0].history]
    assert lrs == pytest.approx([1e-3, 1e-4, 1e-4, 1e-5])
    assert cfg.resolved()["weight_decay"] == 1e-4


def test_mask_schedule_every_minibatch_visits_all_masks():
    train, valid = tiny_problem(n_train=100)
    model = MADE(10, [16], 10, num_masks=32)
    visited = set()
    original = model.update_masks

    def spy():
        original()
        visited.add(model.mask_index)
    model.update_masks = spy
    fit(model, train, valid, TrainConfig(max_epochs=4, batch_size=10, progress=False))
    assert visited == set(range(32))  # 40 minibatches with K = 32


@pytest.mark.parametrize("bad", [
    dict(optimizer="rmsprop"), dict(optimizer="sgd"), dict(min_delta=-0.1), dict(batch_size=0), dict(look_ahead=0), dict(max_epochs=0), dict(mask_every=0),
])
def test_bad_config(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_one_mask_trains_premasked_and_matches_the_masked_multiply(monkeypatch):
    # fit() trains a one-mask model inside fixed_mask(): its masked-out weights
    # end at zero, and every number matches training with the mask multiply.
    train, valid = tiny_problem(n_train=60)
    cfg = TrainConfig(max_epochs=3, batch_size=20, progress=False)
    torch.manual_seed(0)
    fast = MADE(10, [16], 10, num_masks=1)
    slow = MADE(10, [16], 10, num_masks=1)
    slow.load_state_dict(fast.state_dict())
    res = fit(fast, train, valid, cfg)
    monkeypatch.setattr("made.train.training_context", lambda model: contextlib.nullcontext())
    ref = fit(slow, train, valid, cfg)
    for layer in fast.layers:
        assert bool((layer.weight[layer.mask == 0] == 0).all())
    torch.testing.assert_close([r["valid_nll"] for r in res.history],
                               [r["valid_nll"] for r in ref.history], rtol=1e-6, atol=0)
    torch.testing.assert_close(fast.log_prob(valid), slow.log_prob(valid), rtol=1e-5, atol=1e-5)


def one_step(optimizer_config: TrainConfig, steps: int = 1):
    """A tiny model's parameters before, gradients at each step, and after ``steps`` steps."""
    torch.manual_seed(0)
    model = MADE(4, [6], 4, num_masks=2).double()
    opt, _ = make_optimizer(model, optimizer_config)
    x = torch.randint(0, 2, (8, 4)).double()
    before = [p.detach().clone() for p in model.parameters()]
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        (-model.log_prob(x).mean()).backward()
        grads.append([p.grad.detach().clone() for p in model.parameters()])
        opt.step()
    return before, grads, [p.detach().clone() for p in model.parameters()]


def test_adadelta_step_matches_the_authors_rule_by_hand():
    # The authors' "adadelta 1e-5 0.95": eps = 1e-5, rho = 0.95.  From zero
    # accumulators: E[g^2] = (1 - rho) g^2, dx = -sqrt(0 + eps) / sqrt(E[g^2] + eps) g;
    # the second step uses E[dx^2] = (1 - rho) dx1^2.
    rho, eps = 0.95, 1e-5
    before, grads, after = one_step(TrainConfig(optimizer="adadelta", rho=rho, eps=eps), steps=2)
    for p0, (g1, g2), p2 in zip(before, zip(*grads), after):
        eg = (1 - rho) * g1 ** 2
        dx1 = -(eps ** 0.5) / (eg + eps).sqrt() * g1
        edx = (1 - rho) * dx1 ** 2
        eg = rho * eg + (1 - rho) * g2 ** 2
        dx2 = -(edx + eps).sqrt() / (eg + eps).sqrt() * g2
        torch.testing.assert_close(p2, p0 + dx1 + dx2)


def test_sgd_with_decrease_constant_matches_by_hand():
    lr, c = 0.1, 0.5
    before, grads, after = one_step(TrainConfig(optimizer="sgd", lr=lr, decrease_constant=c), steps=3)
    for p0, gs, p3 in zip(before, zip(*grads), after):
        want = p0 - sum(lr / (1 + c * t) * g for t, g in enumerate(gs))  # t = 0, 1, 2
        torch.testing.assert_close(p3, want)


def test_min_delta_ends_a_run_that_only_creeps_lower():
    # Scripted validation curve: big gains, then tiny ones forever.  With
    # min_delta = 0 the rule never stops; with 0.05 it stops look_ahead epochs
    # after the last gain over 0.05 nats, and keeps that epoch's parameters.
    curve = [10.0, 9.0, 8.5, 8.45] + [8.45 - 0.01 * i for i in range(1, 60)]
    train, valid = tiny_problem()
    seen = []

    def scripted(model, x, n_masks, batch_size):
        seen.append(len(seen))
        return {1: curve[len(seen) - 1]}

    import made.train as train_module
    original = train_module.validation_curve
    train_module.validation_curve = scripted
    try:
        never = fit(MADE(10, [8], 10), train, valid, TrainConfig(look_ahead=5, max_epochs=40, progress=False))
        seen.clear()
        cfg = TrainConfig(look_ahead=5, min_delta=0.05, max_epochs=60, progress=False)
        ends = fit(MADE(10, [8], 10), train, valid, cfg)
    finally:
        train_module.validation_curve = original
    assert not never.stopped_early and never.best_epoch == 40
    assert ends.stopped_early and ends.epochs == ends.best_epoch + cfg.look_ahead
    # epoch 3 (8.5) beats 9.0 by 0.5; the next gain over 0.05 below 8.5 is 8.44 (epoch 6), then 8.38 (12) ...
    bests = [3]
    for e in range(4, len(curve) + 1):
        if curve[e - 1] < curve[bests[-1] - 1] - 0.05:
            bests.append(e)
    assert ends.best_epoch == next(b for b, nxt in zip(bests, bests[1:] + [10**6]) if nxt - b > 5)
    assert ends.best_valid_nll == curve[ends.best_epoch - 1]


def test_fit_records_the_smaller_validation_ensembles():
    # fit records them per epoch, beside the full validation NLL
    torch.manual_seed(0)
    model = MADE(10, [16], 10, num_masks=8, direct_connections=True).double()
    x = tiny_problem()[1].double()
    hist = fit(model, x[:100], x[100:], TrainConfig(max_epochs=2, progress=False)).history
    assert {"valid_nll_m1", "valid_nll_m2", "valid_nll_m4"} <= set(hist[0]) and "valid_nll_m8" not in hist[0]
