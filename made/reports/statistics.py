"""The one rule by which the reports call a difference, and the means it compares.

A difference between two settings is judged over seeds, never over test
examples: the seeds are the repetitions of the experiment.  :func:`difference`
pairs the runs by seed where both settings share at least two seeds (the same
seed gives the same first mask and the same initialization, so much of the
seed-to-seed spread cancels in the pairs), and otherwise compares the two means
unpaired (Welch).  :func:`against_reference` sets our mean against one fixed
number (the paper's, the seed project's).

Thresholds, stated once (:data:`CLEAR`, :data:`SUGGESTIVE`): with ``t`` the
Student-t quantile for the interval's degrees of freedom (n - 1 for n pairs or
n seeds; Welch-Satterthwaite unpaired),

* **clear**: the 95 % interval of the difference excludes 0;
* **suggestive**: the 80 % interval excludes 0, the 95 % one does not;
* **within the spread**: the 80 % interval includes 0;
* **one seed**: a side without a second seed has no spread: not judged.

The t quantile grows fast as seeds get few: with 2 seeds (1 degree of
freedom) a difference must exceed 12.7 standard errors to be clear and 3.1 to
be suggestive; with 5 seeds, 2.8 and 1.5.  No gap of one standard error is
ever called anything but within the spread (the smallest 80 % quantile, at
infinite degrees of freedom, is 1.28).

>>> d = difference(pd.Series([90.1, 90.5, 90.2, 90.7, 90.3]), pd.Series([90.9, 91.2, 91.1, 91.5, 91.0]))
>>> d.verdict, d.method, round(d.delta, 2)
('clear', 'paired', -0.78)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..evaluate import mean_and_stderr

CLEAR = 0.95  # confidence of the interval that must exclude 0 for "clear"
SUGGESTIVE = 0.80  # ... and for "suggestive"
VERDICTS = ("clear", "suggestive", "within the spread", "one seed", "missing")


# --- Student's t, without scipy ------------------------------------------------------------------

def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, h = 1e-300, 1.0
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_tail(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (two-sided).

    >>> round(t_tail(12.706, 1), 4), round(t_tail(2.776, 4), 4)
    (0.05, 0.05)
    """
    if math.isinf(t):
        return 0.0
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(confidence: float, df: float) -> float:
    """The half-width, in standard errors, of a two-sided ``confidence``
    interval with ``df`` degrees of freedom.

    >>> [round(t_quantile(0.95, df), 3) for df in (1, 4, 1e9)]
    [12.706, 2.776, 1.96]
    >>> [round(t_quantile(0.80, df), 3) for df in (1, 4)]
    [3.078, 1.533]
    """
    tail = 1.0 - confidence
    low, high = 0.0, 1.0
    while t_tail(high, df) > tail:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        low, high = (mid, high) if t_tail(mid, df) > tail else (low, mid)
    return (low + high) / 2.0


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


def say_mean(mean: float, se: float) -> str:
    """:func:`fmt_mean` for a sentence, where a single seed is said so."""
    return fmt_mean(mean, se) + (" (one seed)" if math.isnan(se) and not math.isnan(mean) else "")


# --- the rule ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """``a - b`` judged by :func:`difference` (or a mean minus a fixed number,
    :func:`against_reference`)."""

    delta: float  # the estimate: mean of the paired differences, or difference of the means
    se: float  # its standard error (NaN: one seed)
    df: float  # degrees of freedom of the interval
    method: str  # "paired", "Welch", "one-sample" or "" (not judged)
    seeds: str  # "5 pairs", "5+2 seeds", "2 seeds", "1+5 seeds"
    verdict: str  # one of VERDICTS

    def interval(self, confidence: float = CLEAR) -> tuple[float, float]:
        if self.method == "" or math.isnan(self.se):
            return float("nan"), float("nan")
        half = t_quantile(confidence, self.df) * self.se
        return self.delta - half, self.delta + half

    @property
    def side(self) -> str:
        return "lower" if self.delta < 0 else "higher"

    def short(self) -> str:
        """``-0.73 [-1.06, -0.40], 5 pairs``: the difference, its 95 % interval and the seeds."""
        if self.verdict == "missing":
            return "not available"
        low, high = self.interval()
        interval = "" if math.isnan(low) else f" [{low:+.2f}, {high:+.2f}]"
        return f"{self.delta:+.2f}{interval}, {self.seeds}"

    def text(self) -> str:
        """The difference in words: the verdict, the number, the interval."""
        if self.verdict == "missing":
            return "not available"
        if self.verdict == "one seed":
            return f"{abs(self.delta):.2f} nats {self.side} ({self.seeds}: not judged, no spread over seeds)"
        return f"{self.verdict}: {self.short()}"


def _missing(delta=float("nan"), seeds="") -> Difference:
    return Difference(delta, float("nan"), float("nan"), "", seeds, "missing" if math.isnan(delta) else "one seed")


def _judge(delta: float, se: float, df: float, method: str, seeds: str) -> Difference:
    if se == 0.0:  # no spread at all (identical runs): any nonzero gap is exact
        verdict = "within the spread" if delta == 0 else "clear"
    else:
        tail = t_tail(delta / se, df)
        verdict = ("clear" if tail < 1 - CLEAR else "suggestive" if tail < 1 - SUGGESTIVE
                   else "within the spread")
    return Difference(delta, se, df, method, seeds, verdict)


def _by_seed(values) -> pd.Series:
    values = pd.Series(values, dtype=float).dropna()
    return values.groupby(level=0).mean() if values.index.has_duplicates else values


def difference(a, b) -> Difference:
    """``a - b``, two settings' values indexed by seed (pd.Series), judged.

    * **Paired** where the two share at least two seeds: the differences of
      the shared seeds, their mean and a t interval with (pairs - 1) degrees
      of freedom.  Seeds that only one side has are left out of the pairs.
    * **Unpaired** otherwise (Welch): the difference of the means, with the
      Welch-Satterthwaite degrees of freedom.
    * **One seed** on a side with no shared pair: not judged.

    The verdict follows the thresholds of the module docstring.

    >>> same = pd.Series([90.0, 91.0, 92.0])
    >>> difference(same + 0.3, same).verdict  # pairs cancel the seeds' spread
    'clear'
    >>> difference(pd.Series([90.3, 91.3, 92.3], index=[5, 6, 7]), same).verdict  # no shared seed: Welch
    'within the spread'
    """
    a, b = _by_seed(a), _by_seed(b)
    if not len(a) or not len(b):
        return _missing()
    shared = a.index.intersection(b.index)
    if len(shared) >= 2:
        d = a[shared] - b[shared]
        mean, se, n = mean_se(d)
        return _judge(mean, se, n - 1, "paired", f"{n} pairs")
    ma, sa, na = mean_se(a)
    mb, sb, nb = mean_se(b)
    seeds = f"{na}+{nb} seeds"
    if na < 2 or nb < 2:
        return _missing(ma - mb, seeds)
    se = math.sqrt(sa ** 2 + sb ** 2)
    df = se ** 4 / (sa ** 4 / (na - 1) + sb ** 4 / (nb - 1)) if se > 0 else float(na + nb - 2)
    return _judge(ma - mb, se, df, "Welch", seeds)


def against_reference(values, reference: float) -> Difference:
    """Our mean over seeds minus a fixed number quoted without a spread (the
    paper's, the seed project's): a one-sample t interval with n - 1 degrees of
    freedom.  It says whether our mean differs from that number; the number's
    own seed-to-seed spread is unknown and not in the interval.

    >>> round(against_reference(pd.Series([79.82, 79.69]), 79.66).delta, 3)
    0.095
    >>> against_reference(pd.Series([79.82, 79.69]), 79.66).verdict
    'within the spread'
    """
    values = _by_seed(values)
    if not len(values) or math.isnan(reference):
        return _missing()
    mean, se, n = mean_se(values)
    if n < 2:
        return _missing(mean - reference, "1 seed")
    return _judge(mean - reference, se, n - 1, "one-sample", f"{n} seeds")


def judgement(d: Difference, lower: str = "lower", higher: str = "higher") -> str:
    """A verdict as a table cell: ``higher (clear)``, ``lower (suggestive)``,
    ``within the spread``, ``not judged (one seed)`` or empty when missing.

    >>> judgement(against_reference(pd.Series([80.0, 80.2]), 79.0))
    'higher (suggestive)'
    """
    if d.verdict in ("clear", "suggestive"):
        return f"{lower if d.delta < 0 else higher} ({d.verdict})"
    return {"one seed": "not judged (one seed)", "missing": ""}.get(d.verdict, d.verdict)


def rule_text() -> str:
    """How every report reads its differences, in one paragraph (the reports print it once)."""
    return (f"A difference is judged over seeds (`made.reports.statistics.difference`): paired by seed where both "
            f"sides share at least two seeds (the same seed gives the same first mask and initialization), "
            f"unpaired (Welch) otherwise, with a Student-t interval; against a fixed number (the paper's), a "
            f"one-sample interval. It is **clear** where the {CLEAR:.0%} interval excludes 0, **suggestive** "
            f"where only the {SUGGESTIVE:.0%} interval does, and **within the spread** otherwise; a side with "
            f"one seed is not judged. Each is written as difference [{CLEAR:.0%} interval], seeds.")
