"""The reported numbers, recomputed independently of the code that reports them.

``evaluate()`` (the test NLLs and their standard errors over test examples) is
checked on D = 6 by enumeration: the network's conditionals for all 2^6
vectors give p(x) by hand (numpy, float64), p sums to 1 and its own
conditionals are the network's, and every number ``evaluate`` returns must be
what that table gives.  The standard error over seeds (the README's "±") is
checked against ``stdev / sqrt(n)`` from the standard library.
"""

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest
import torch

from made import MADE
from made.evaluate import DEFAULT_VALID_MASKS, evaluate, validation_curve, validation_masks
from made.model import bernoulli_log_prob

D = 6
STATES = np.array(list(itertools.product([0, 1], repeat=D)), dtype=np.float64)  # all 2^D vectors


def randomized(model: MADE, seed: int = 1) -> MADE:
    """Every parameter non-zero and O(1), so the conditionals are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=g, dtype=p.dtype) * 2 - 1)
    return model


@torch.no_grad()
def network_logits(model: MADE, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The network's output logits (2^D, D) under mask k, for every vector, and that mask's ordering."""
    current = model.mask_index
    model.set_mask(k)
    try:
        x = torch.as_tensor(STATES, dtype=next(model.parameters()).dtype)
        return model(x).double().numpy(), model.ordering.numpy().copy()
    finally:
        model.set_mask(current)


def log_sigmoid(a: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -a)


def joint_log_p(logits: np.ndarray, x: np.ndarray = STATES) -> np.ndarray:
    """log prod_d Bernoulli(x_d | sigmoid(logit_d)), by hand: log(1 - s(a)) = log s(-a)."""
    return np.where(x == 1, log_sigmoid(logits), log_sigmoid(-logits)).sum(1)


def check_is_the_networks_distribution(logits: np.ndarray, ordering: np.ndarray) -> np.ndarray:
    """p(x) of all 2^D vectors; asserts it sums to 1 and that its conditionals
    p(x_d = 1 | inputs before d), got by summing the table, are the network's."""
    p = np.exp(joint_log_p(logits))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    for d in range(D):
        before = ordering < ordering[d]  # ordering[d] is input d's position
        for i, s in enumerate(STATES):
            same = (STATES[:, before] == s[before]).all(1)
            cond = p[same & (STATES[:, d] == 1)].sum() / p[same].sum()
            assert cond == pytest.approx(1 / (1 + math.exp(-logits[i, d])), abs=1e-12)
    return p


def test_enumeration_catches_a_model_that_is_not_autoregressive():
    # the check above can fail: logits that see their own input do not sum to 1
    logits = np.where(STATES == 1, 3.0, -3.0)
    with pytest.raises(AssertionError):
        check_is_the_networks_distribution(logits, np.arange(D))


def hand_numbers(model: MADE, idx: np.ndarray, n_masks: int) -> dict:
    """What evaluate() must return on STATES[idx], from the enumerated tables."""
    logits, orderings = zip(*(network_logits(model, k) for k in range(n_masks)))
    tables = [check_is_the_networks_distribution(l, o) for l, o in zip(logits, orderings)]
    mixture = np.mean(tables, axis=0)  # equal-weight mixture of the n masks' models
    assert mixture.sum() == pytest.approx(1.0, abs=1e-12)
    n = len(idx)
    single = -np.log(tables[0][idx])
    ensemble = -np.log(mixture[idx])
    averaged = -joint_log_p(np.mean(logits, axis=0)[idx], STATES[idx])
    return {
        "nll_single_mask": sum(single) / n,
        "nll_single_mask_stderr": statistics.stdev(single) / math.sqrt(n),
        "nll_ensemble": sum(ensemble) / n,
        "nll_ensemble_stderr": statistics.stdev(ensemble) / math.sqrt(n),
        "nll_logit_average": sum(averaged) / n,
        "ensemble_masks": n_masks,
    }


def sample_indices(n: int, seed: int = 0) -> np.ndarray:
    """Indices of n test vectors, with repeats (as a real test set has)."""
    return np.random.default_rng(seed).integers(0, 2 ** D, size=n)


MODELS = {
    "K=3, two layers, direct": dict(hidden_sizes=[16, 16], num_masks=3, direct_connections=True),
    "K=4, connectivity-agnostic": dict(hidden_sizes=[12], num_masks=4, order_agnostic=False),
    "K=1": dict(hidden_sizes=[16], num_masks=1),
    "mask sampling": dict(hidden_sizes=[16], num_masks=None),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_evaluate_matches_the_enumerated_distribution(name):
    kwargs = dict(MODELS[name])
    model = randomized(MADE(D, kwargs.pop("hidden_sizes"), D, seed=3, **kwargs).double())
    n_masks = 5 if model.sampling else model.num_masks
    idx = sample_indices(41)
    # start from another mask, in training mode: the single-mask number is mask 0's regardless
    current = 1 if model.sampling or model.num_masks > 1 else 0
    model.set_mask(current)
    model.train()
    got = evaluate(model, torch.as_tensor(STATES[idx]), n_masks=n_masks if model.sampling else None,
                   batch_size=7)
    want = hand_numbers(model, idx, n_masks)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    # the model is left as it was found
    assert model.mask_index == current and model.training
    if model.num_masks == 1:  # one mask: the ensemble is that mask
        assert got["nll_ensemble"] == pytest.approx(got["nll_single_mask"], rel=1e-12)


def test_evaluate_on_fewer_masks_than_trained():
    model = randomized(MADE(D, [16], D, num_masks=4, seed=5).double())
    idx = sample_indices(30, seed=1)
    got = evaluate(model, torch.as_tensor(STATES[idx]), n_masks=2)
    want = hand_numbers(model, idx, 2)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_evaluate_in_float32_as_the_runs_do():
    # the runs evaluate float32 models: the standard error must not lose its digits there
    model = randomized(MADE(D, [32], D, num_masks=2, seed=7))
    idx = sample_indices(500, seed=2)
    got = evaluate(model, torch.as_tensor(STATES[idx], dtype=torch.float32))
    want = hand_numbers(model, idx, 2)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key


def test_one_test_example_has_no_standard_error():
    model = randomized(MADE(D, [8], D, num_masks=2).double())
    got = evaluate(model, torch.as_tensor(STATES[:1]))
    assert math.isnan(got["nll_single_mask_stderr"]) and math.isnan(got["nll_ensemble_stderr"])
    assert got["nll_single_mask"] == pytest.approx(-joint_log_p(network_logits(model, 0)[0])[0], rel=1e-12)


# ------------------------------------------------ standard error over seeds
SEED_VALUES = [91.64, 91.22, 92.05, 90.71]  # unequal spacing: ddof and sqrt(n) both matter


def se_over_seeds(values) -> float:
    return statistics.stdev(values) / math.sqrt(len(values))


def figure2_runs() -> pd.DataFrame:
    rows = []
    for k, mode, values in ((1, "single", SEED_VALUES), (32, "order", [99.3, 99.2, 98.6]),
                            (2, "connectivity", [91.78])):
        for seed, v in enumerate(values):
            rows.append(dict(num_masks=k, mode=mode, seed=seed, test_nll_single_mask=v,
                             test_nll_ensemble=v - 2 * seed, test_nll_logit_average=80.0))
    return pd.DataFrame(rows)


def test_figure2_summary_stderr_over_seeds_is_stdev_over_sqrt_n():
    # the README's headline "mean ± se" comes from this summary (notebooks/figure2.ipynb)
    from made.reports.runs import summary

    s = summary(figure2_runs()).set_index(["training", "num_masks", "evaluation"])
    for training in ("order", "connectivity"):  # K = 1 belongs to both curves
        row = s.loc[(training, 1, "mask 0")]
        assert row["seeds"] == 4
        assert row["mean"] == pytest.approx(statistics.mean(SEED_VALUES), rel=1e-12)
        assert row["stderr"] == pytest.approx(se_over_seeds(SEED_VALUES), rel=1e-12)
        ens = [v - 2 * seed for seed, v in enumerate(SEED_VALUES)]
        assert s.loc[(training, 1, "ensemble")]["stderr"] == pytest.approx(se_over_seeds(ens))
    assert s.loc[("order", 32, "mask 0")]["stderr"] == pytest.approx(se_over_seeds([99.3, 99.2, 98.6]))
    assert math.isnan(s.loc[("connectivity", 2, "mask 0")]["stderr"])  # one seed: none


def test_comparison_tables_stderr_over_seeds_is_stdev_over_sqrt_n():
    from made.reports.statistics import mean_se
    from made.reports.uci import uci_table

    mean, se, n = mean_se(pd.Series(SEED_VALUES + [float("nan")]))  # a missing run is not a seed
    assert n == 4 and mean == pytest.approx(statistics.mean(SEED_VALUES))
    assert se == pytest.approx(se_over_seeds(SEED_VALUES), rel=1e-12)
    assert math.isnan(mean_se(pd.Series([90.0]))[1])

    runs = pd.DataFrame([dict(dataset="dna", hidden_sizes="500", num_masks="1", ensemble_masks=1, seed=s,
                              data_variant="larochelle", best_epoch=100, test_nll_single_mask=v,
                              protocol="paper", mode="single", valid_nll=v + 1.0,
                              test_nll_single_mask_stderr=0.3 + 0.1 * s, test_nll_ensemble=v)
                         for s, v in enumerate(SEED_VALUES)])
    row = uci_table(runs).iloc[0]
    assert row["seeds"] == 4 and row["test_nll"] == pytest.approx(statistics.mean(SEED_VALUES))
    assert row["stderr_over_seeds"] == pytest.approx(se_over_seeds(SEED_VALUES), rel=1e-12)
    assert row["stderr_over_examples"] == pytest.approx(statistics.mean([0.3, 0.4, 0.5, 0.6]))


def test_validation_curve_prefixes_are_the_smaller_ensembles():
    torch.manual_seed(0)
    model = MADE(10, [16], 10, num_masks=8, direct_connections=True).double()
    x = (torch.rand(200, 10, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    curve = validation_curve(model, x, 6)
    assert sorted(curve) == [1, 2, 4, 6]
    for m, nll in curve.items():
        assert nll == pytest.approx(-model.ensemble_log_prob(x, m).mean().item(), abs=1e-9)


def test_validation_masks_default_to_all_k_or_the_sampling_default():
    assert validation_masks(4, None) == 4 and validation_masks(32, 8) == 8
    assert validation_masks(None, None) == DEFAULT_VALID_MASKS and validation_masks(None, 300) == 300


def _old_ensemble(model, x, n, batch_size, dtype):
    """The two accumulations as they were written before they shared one:
    ensemble_log_prob in x's dtype, the validation curve in float64 from
    prefix snapshots."""
    acc = torch.full((len(x),), -math.inf, dtype=dtype, device=x.device)
    out, m = {}, 0
    for start, logits in model.iter_masked_logits(x, n, batch_size):
        part = slice(start, start + len(logits))
        lp = bernoulli_log_prob(logits, x[part])
        acc[part] = torch.logaddexp(acc[part], lp.double() if dtype == torch.float64 else lp)
        if part.stop == len(x):
            m += 1
            out[m] = acc - math.log(m)
    return out


@pytest.mark.parametrize("num_masks, n", [(5, 5), (8, 3), (None, 4)], ids=["K=5", "3 of K=8", "sampling"])
def test_the_shared_accumulation_gives_the_old_numbers_bit_for_bit(num_masks, n):
    torch.manual_seed(0)
    model = MADE(12, [20], 12, num_masks=num_masks, direct_connections=True).eval()
    x = (torch.rand(250, 12, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    # batches of 100 over 250 examples: the prefix snapshot waits for the last, partial batch
    assert torch.equal(model.ensemble_log_prob(x, n, batch_size=100), _old_ensemble(model, x, n, 100, x.dtype)[n])
    old = _old_ensemble(model, x, n, 100, torch.float64)
    curve = validation_curve(model, x, n, batch_size=100)
    assert curve == {m: -old[m].mean().item() for m in old if m == n or (m & (m - 1)) == 0}
