"""Held-out numbers: the per-epoch validation curve, and on test the
single-mask NLL, the mask-ensemble NLL and the invalid logit average.

All NLLs are in nats per example, averaged over examples.

>>> import torch
>>> from made import MADE
>>> model = MADE(5, [10], 5, num_masks=3)
>>> x = torch.randint(0, 2, (20, 5)).float()
>>> r = evaluate(model, x)
>>> sorted(r)
['ensemble_masks', 'nll_ensemble', 'nll_ensemble_stderr', 'nll_logit_average', 'nll_single_mask', 'nll_single_mask_stderr']
"""

from __future__ import annotations

import math

import torch

from .model import MADE, bernoulli_log_prob

# Ensemble sizes under mask sampling (num_masks=None), where "all K masks" does
# not exist: validation on 32 fresh masks unless a run says otherwise; test on
# 1000, as in the original code.
DEFAULT_VALID_MASKS = 32
DEFAULT_TEST_MASKS = 1000


def validation_masks(num_masks: int | None, valid_masks: int | None) -> int:
    """How many masks the validation ensemble of a K = ``num_masks`` model
    uses: ``valid_masks``, else all K (under mask sampling, DEFAULT_VALID_MASKS)."""
    return valid_masks or (DEFAULT_VALID_MASKS if num_masks is None else num_masks)


@torch.no_grad()
def validation_curve(model: MADE, x: torch.Tensor, n_masks: int, batch_size: int = 1000) -> dict[int, float]:
    """Mean NLL of the ensembles of the first m masks, for m = 1, 2, 4, ...
    and m = ``n_masks``: ``{m: nll}``; the last is the validation NLL that
    early stopping reads.

    The smaller ensembles come free (the n-mask ensemble is accumulated mask
    by mask, in float64), and they show what validating on fewer masks would
    have chosen.
    """
    was_training = model.training
    model.eval()
    out = {}
    try:
        for m, log_p in model.ensemble_log_probs(x, n_masks, batch_size=batch_size, dtype=torch.float64):
            if m == n_masks or (m & (m - 1)) == 0:
                out[m] = -log_p.mean().item()
    finally:
        model.train(was_training)
    return out


def mean_and_stderr(values) -> tuple[float, float]:
    """Mean and standard error of the mean: the sample standard deviation
    (n - 1) over sqrt(n), in float64; NaN with one value, which says nothing
    about the spread.  The one definition for NLLs over test examples and for
    test NLLs over seeds (:func:`made.reports.statistics.mean_se`).

    >>> mean_and_stderr([1.0, 2.0, 3.0])
    (2.0, 0.5773502691896258)
    """
    # A copy: a read-only array (a pandas column) cannot back a tensor.
    v = values.double().flatten() if torch.is_tensor(values) else torch.tensor(values, dtype=torch.float64).flatten()
    n = v.numel()
    stderr = v.std(unbiased=True).item() / math.sqrt(n) if n > 1 else float("nan")
    return (v.mean().item() if n else float("nan")), stderr


@torch.no_grad()
def single_mask_log_prob(model: MADE, x: torch.Tensor, mask: int = 0,
                         batch_size: int = 1000) -> torch.Tensor:
    """log p(x) (B,) under one mask; the model's current mask is restored."""
    current = model.mask_index
    model.set_mask(mask)
    try:
        return torch.cat([model.log_prob(xb) for xb in x.split(batch_size)])
    finally:
        model.set_mask(current)


@torch.no_grad()
def logit_average_log_prob(model: MADE, x: torch.Tensor, n_masks: int | None = None,
                           batch_size: int = 1000) -> torch.Tensor:
    """NOT a likelihood: Bernoulli log-probability of the logits averaged over masks.

    This is what the seed project's ``run.py -s`` reports.  Each mask gives a
    normalized distribution, but a conditional whose logit averages logits
    computed under *different orderings* conditions output d on inputs that
    come after it in some of those orderings, so the product of these
    "conditionals" is not a distribution: over all 2^D vectors it does not sum
    to 1 (see tests/test_model.py).  It can therefore sit far below the true
    ensemble NLL.  (With one shared ordering the averaged logits remain
    autoregressive and do define a normalized model, a different one from the
    mixture.)  Reported only to show how far it is from the real number.
    """
    n_masks = model._check_n_masks(n_masks)
    total = torch.zeros_like(x)
    for start, logits in model.iter_masked_logits(x, n_masks, batch_size):
        total[start:start + len(logits)] += logits
    return bernoulli_log_prob(total / n_masks, x)


def logit_average_nll(model: MADE, x: torch.Tensor, n_masks: int | None = None) -> float:
    """Mean of :func:`logit_average_log_prob` negated: an invalid "NLL", for reference only."""
    return -logit_average_log_prob(model, x, n_masks).double().mean().item()


def evaluate(model: MADE, x: torch.Tensor, n_masks: int | None = None,
             batch_size: int = 1000) -> dict[str, float]:
    """Single-mask (mask 0) and ensemble NLL with standard errors over examples.

    ``n_masks`` defaults to the K training masks; under mask sampling it must
    be given (the original code used 1000 test masks).  With K = 1 the
    ensemble equals the single mask.
    """
    model_was_training = model.training
    model.eval()
    try:
        single, single_se = mean_and_stderr(-single_mask_log_prob(model, x, 0, batch_size))
        ens, ens_se = mean_and_stderr(-model.ensemble_log_prob(x, n_masks, batch_size=batch_size))
        n_used = n_masks if n_masks is not None else model.num_masks
        return {
            "nll_single_mask": single,
            "nll_single_mask_stderr": single_se,
            "nll_ensemble": ens,
            "nll_ensemble_stderr": ens_se,
            "ensemble_masks": int(n_used),
            "nll_logit_average": logit_average_nll(model, x, n_used),
        }
    finally:
        model.train(model_was_training)
