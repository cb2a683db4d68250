"""The one rule by which the reports call a difference, and the means it compares.

A difference between two settings is judged over seeds, never over test
examples: the seeds are the repetitions of the experiment.  :func:`difference`
compares the two means with Welch's unequal-variance t interval over every
seed of each side: no pairing, since nothing ties seed 0 of one setting to
seed 0 of another once they train different masks (or recipes), and no seed is
left out.  :func:`number_word` sets our mean against one fixed number (the
paper's, the seed project's) with a one-sample interval and a tolerance.

The interval is ``scipy.stats.t.interval`` around the difference of the means,
its standard error over seeds as the scale.  ``scipy.stats.ttest_ind(a, b,
equal_var=False).confidence_interval()`` gives the same Welch interval
(tests/test_statistics.py checks it), but by another path: its last digits can
differ from these, and the committed tables keep every digit.

Thresholds, stated once (:data:`CLEAR`, :data:`SUGGESTIVE`, :data:`MIN_SEEDS`),
with ``t`` the Student-t quantile (``scipy.stats.t``) for the interval's
degrees of freedom (Welch-Satterthwaite; n - 1 against a fixed number):

* **clear**: the 95 % interval of the difference excludes 0;
* **suggestive**: the 80 % interval excludes 0, the 95 % one does not;
* **within the spread**: the 80 % interval includes 0;
* **not judged**: a side has fewer than 3 seeds.  With 2 seeds a standard
  deviation rests on one degree of freedom; the difference is shown, not judged.

Against one fixed number, whose own seed-to-seed spread is unknown, a gap of
any size may be real, so the question is whether it is small: *reproduced*
where the 95 % one-sample interval of our mean minus the number lies within
:data:`TOLERANCE` nats of 0, *not reproduced* where it lies wholly beyond,
*not settled* otherwise (:func:`number_word`).

>>> d = difference(pd.Series([90.1, 90.5, 90.2, 90.7, 90.3]), pd.Series([90.9, 91.2, 91.1, 91.5, 91.0]))
>>> d.verdict, d.method, round(d.delta, 2), d.seeds
('clear', 'Welch', -0.78, '5+5 seeds')
>>> d.short(), d.estimate()  # the estimate leaves the seeds to a verdict that names them
('-0.78 [-1.12, -0.44], 5+5 seeds', '-0.78 [-1.12, -0.44]')
>>> difference(pd.Series([90.1, 90.5]), pd.Series([91.0, 91.2, 91.4])).verdict
'not judged'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd
from scipy import stats

from ..evaluate import mean_and_stderr

CLEAR = 0.95  # confidence of the interval that must exclude 0 for "clear"
SUGGESTIVE = 0.80  # ... and for "suggestive"
MIN_SEEDS = 3  # seeds a side needs before a difference is judged
TOLERANCE = 1.0  # nats: within this of a reference number, a mean reproduces it


# --- means over seeds ----------------------------------------------------------------------------

def mean_se(values) -> tuple[float, float, int]:
    """Mean, standard error over seeds and number of seeds (NaNs are runs
    that are not there).  With one seed the standard error is NaN: one run
    says nothing about the spread.

    >>> mean_se(pd.Series([1.0, 2.0, float("nan"), 3.0]))
    (2.0, 0.5773502691896258, 3)
    """
    values = pd.Series(values, dtype=float).dropna()
    return (*mean_and_stderr(values.to_numpy()), len(values))


def fmt_mean(mean: float, se: float) -> str:
    """``91.43 ± 0.21``; a mean of one seed without ±; empty when missing."""
    if math.isnan(mean):
        return ""
    return f"{mean:.2f}" if math.isnan(se) else f"{mean:.2f} ± {se:.2f}"


# --- the rule ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """``a - b`` judged by :func:`difference` (or a mean minus a fixed number,
    :func:`one_sample`)."""

    delta: float  # the estimate: the difference of the means
    se: float  # its standard error (NaN: not judged)
    df: float  # degrees of freedom of the interval
    method: str  # "Welch", "one-sample" or "" (not judged)
    seeds: str  # "5+3 seeds" (Welch), "3 seeds" (one-sample)
    verdict: str  # "clear", "suggestive", "within the spread", "not judged" or "missing"

    def interval(self, confidence: float = CLEAR) -> tuple[float, float]:
        """The two-sided ``confidence`` interval of :attr:`delta` (NaN: not judged)."""
        if self.method == "" or math.isnan(self.se):
            return float("nan"), float("nan")
        if self.se == 0.0:  # no spread at all (identical runs): the difference is exact
            return self.delta, self.delta
        low, high = stats.t.interval(confidence, self.df, loc=self.delta, scale=self.se)
        return float(low), float(high)

    def estimate(self) -> str:
        """``-0.73 [-1.06, -0.40]``: the difference and its 95 % interval (none when
        not judged), without the seeds, for a sentence whose verdict names them."""
        if self.verdict == "missing":
            return "not available"
        low, high = self.interval()
        interval = "" if math.isnan(low) else f" [{low:+.2f}, {high:+.2f}]"
        return f"{self.delta:+.2f}{interval}"

    def short(self) -> str:
        """``-0.73 [-1.06, -0.40], 5+5 seeds``: :meth:`estimate` and the seeds."""
        return self.estimate() if self.verdict == "missing" else f"{self.estimate()}, {self.seeds}"


def _not_judged(delta=float("nan"), seeds="") -> Difference:
    return Difference(delta, float("nan"), float("nan"), "", seeds,
                      "missing" if math.isnan(delta) else "not judged")


def _judge(delta: float, se: float, df: float, method: str, seeds: str) -> Difference:
    """The rule: clear where the 95 % interval excludes 0, suggestive where only the 80 % one
    does (with no spread at all, any nonzero gap is exact: clear)."""
    judged = Difference(delta, se, df, method, seeds, "")

    def excludes_0(confidence):
        low, high = judged.interval(confidence)
        return low > 0 or high < 0
    verdict = "clear" if excludes_0(CLEAR) else "suggestive" if excludes_0(SUGGESTIVE) else "within the spread"
    return replace(judged, verdict=verdict)


def _by_seed(values) -> pd.Series:
    values = pd.Series(values, dtype=float).dropna()
    return values.groupby(level=0).mean() if values.index.has_duplicates else values


def difference(a, b) -> Difference:
    """``a - b``, two settings' values over seeds (pd.Series), judged by
    Welch's interval over every seed of each side: the difference of the
    means, the Welch-Satterthwaite degrees of freedom, no pairing.  A side
    with fewer than :data:`MIN_SEEDS` seeds is not judged.

    >>> same = pd.Series([90.0, 91.0, 92.0])
    >>> difference(same + 0.3, same).verdict  # a shift far inside the seeds' spread
    'within the spread'
    >>> difference(same + 5.0, same).verdict
    'clear'
    """
    a, b = _by_seed(a), _by_seed(b)
    if not len(a) or not len(b):
        return _not_judged()
    ma, sa, na = mean_se(a)
    mb, sb, nb = mean_se(b)
    seeds = f"{na}+{nb} seeds"
    if min(na, nb) < MIN_SEEDS:
        return _not_judged(ma - mb, seeds)
    se = math.sqrt(sa ** 2 + sb ** 2)
    df = se ** 4 / (sa ** 4 / (na - 1) + sb ** 4 / (nb - 1)) if se > 0 else float(na + nb - 2)
    return _judge(ma - mb, se, df, "Welch", seeds)


def one_sample(mean: float, se: float, n: int, reference: float) -> Difference:
    """Our mean over ``n`` seeds (standard error ``se``) minus a fixed number quoted
    without a spread: a one-sample t interval with n - 1 degrees of freedom, with at
    least :data:`MIN_SEEDS` seeds.

    >>> one_sample(79.753, 0.0376, 3, 79.66).interval()[0] < 0
    True
    """
    seeds = f"{n} seed{'s' if n > 1 else ''}"
    if n < MIN_SEEDS:
        return _not_judged(mean - reference, seeds)
    return _judge(mean - reference, se, n - 1, "one-sample", seeds)


def number_word(mean: float, se: float, n: int, reference: float) -> str:
    """The word for our mean over ``n`` seeds against one reference number: the rule
    for every table and document that sets a number of ours against the paper's or
    the seed project's.

    >>> number_word(88.5, 0.05, 3, 88.4), number_word(91.5, 0.05, 3, 88.4), number_word(89.0, 0.3, 3, 88.4)
    ('reproduced', 'not reproduced', 'not settled')
    >>> number_word(88.5, 0.05, 2, 88.4), number_word(float("nan"), float("nan"), 0, 88.4)
    ('not judged (2 seeds)', 'not run')
    """
    if not n:
        return "not run"
    d = one_sample(mean, se, n, reference)
    if d.verdict == "not judged":
        return f"not judged ({d.seeds})"
    low, high = d.interval()
    if -TOLERANCE <= low and high <= TOLERANCE:
        return "reproduced"
    if low > TOLERANCE or high < -TOLERANCE:
        return "not reproduced"
    return "not settled"


def judgement(d: Difference, lower: str = "lower", higher: str = "higher") -> str:
    """A verdict as a table cell: ``higher (clear)``, ``lower (suggestive)``,
    ``within the spread``, ``not judged (2+3 seeds)`` or empty when missing.

    >>> judgement(difference(pd.Series([80.0, 80.2, 80.1]), pd.Series([79.0, 79.1, 79.2])))
    'higher (clear)'
    >>> judgement(difference(pd.Series([80.0, 80.2]), pd.Series([79.0, 79.1, 79.2])))
    'not judged (2+3 seeds)'
    """
    if d.verdict in ("clear", "suggestive"):
        return f"{lower if d.delta < 0 else higher} ({d.verdict})"
    if d.verdict == "not judged":
        return f"not judged ({d.seeds})"
    return "" if d.verdict == "missing" else d.verdict
