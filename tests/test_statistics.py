"""The one rule for calling a difference (made.reports.statistics)."""

import math

import pandas as pd
import pytest

from made.reports.statistics import (CLEAR, SUGGESTIVE, against_reference, difference, judgement, mean_se,
                                     t_quantile, t_tail)


def test_t_quantiles_match_the_tables():
    # two-sided 95 % and 80 % quantiles of Student's t (any statistics table)
    assert t_quantile(0.95, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.95, 4) == pytest.approx(2.776, abs=1e-3)
    assert t_quantile(0.95, 30) == pytest.approx(2.042, abs=1e-3)
    assert t_quantile(0.80, 1) == pytest.approx(3.078, abs=1e-3)
    assert t_quantile(0.80, 9) == pytest.approx(1.383, abs=1e-3)
    assert t_quantile(0.95, 1e9) == pytest.approx(1.960, abs=1e-3)
    assert t_tail(t_quantile(0.95, 2.5), 2.5) == pytest.approx(0.05)  # fractional df (Welch)
    assert (CLEAR, SUGGESTIVE) == (0.95, 0.80)


def seeds(values, start=0):
    return pd.Series(values, index=range(start, start + len(values)))


def test_pairing_by_seed_finds_a_difference_that_unpaired_calls_within_the_spread():
    # the seeds spread by a nat, and each seed moves both settings alike (same first mask, same init):
    # the pairs differ by 0.3 +- 0.05, far inside the seed-to-seed spread of either mean
    base = [90.0, 91.0, 89.5, 90.6, 91.4]
    a = seeds([b + 0.3 + e for b, e in zip(base, [0.05, -0.04, 0.02, -0.03, 0.0])])
    b = seeds(base)
    paired = difference(a, b)
    unpaired = difference(a, seeds(base, start=10))  # the same numbers under other seeds: no pairs
    assert paired.method == "paired" and paired.seeds == "5 pairs" and paired.verdict == "clear"
    assert unpaired.method == "Welch" and unpaired.seeds == "5+5 seeds" and unpaired.verdict == "within the spread"
    assert paired.delta == pytest.approx(unpaired.delta)
    low, high = paired.interval()
    assert 0 < low < 0.3 < high


def test_and_the_converse_seeds_that_move_the_two_settings_apart_weaken_the_paired_call():
    # anti-correlated seeds: where one setting's seed is good the other's is bad, so the pairs
    # spread more than the means do; unpaired, the gap is clear, paired it is not
    a = seeds([10.0, 10.2, 10.4, 10.6, 10.8])
    b = seeds([10.3, 10.1, 9.9, 9.7, 9.5])
    paired, unpaired = difference(a, b), difference(a, b.set_axis(range(10, 15)))
    assert unpaired.method == "Welch" and unpaired.verdict == "clear"
    assert paired.method == "paired" and paired.verdict != "clear"
    assert paired.delta == pytest.approx(unpaired.delta) == pytest.approx(0.5)


def test_with_two_seeds_a_gap_of_one_and_a_half_standard_errors_is_not_clear():
    h = math.sqrt(0.5)
    paired = difference(seeds([90.5, 92.5]), seeds([90.0, 90.0]))  # differences 0.5 and 2.5: 1.5 +- 1.0
    unpaired = difference(seeds([1.5 - h, 1.5 + h]), seeds([-h, h], start=5))  # 1.5 +- sqrt(0.5 + 0.5)
    for d, method in ((paired, "paired"), (unpaired, "Welch")):
        assert d.method == method and d.delta == pytest.approx(1.5) and d.se == pytest.approx(1.0)
        assert d.verdict == "within the spread"  # not clear, not even suggestive (3.08 SE at 1 df)
    # even at 4 standard errors, 2 seeds are only suggestive: clear needs 12.7 at 1 degree of freedom
    assert difference(seeds([91.0, 91.5]), seeds([90.0, 90.9])).verdict == "suggestive"


def test_one_standard_error_is_never_called_a_difference():
    for n in (2, 3, 5, 10, 50, 500):
        # n pairs whose differences have mean 1 and standard error exactly 1
        sd = math.sqrt(n)
        spread = [sd if i % 2 else -sd for i in range(n)] if n % 2 == 0 else None
        if spread is None:
            continue
        spread = [v * math.sqrt((n - 1) / n) for v in spread]
        d = difference(seeds([1.0 + s for s in spread]), seeds([0.0] * n))
        assert d.se == pytest.approx(1.0) and d.verdict == "within the spread", n


def test_one_seed_is_not_judged_and_missing_is_missing():
    d = difference(seeds([80.0]), seeds([91.0, 91.4]))
    assert d.verdict == "one seed" and d.delta == pytest.approx(-11.2) and judgement(d) == "not judged (one seed)"
    assert "not judged" in d.text()
    assert difference(seeds([]), seeds([91.0])).verdict == "missing"
    assert against_reference(seeds([81.0]), 79.66).verdict == "one seed"


def test_against_a_fixed_number_a_one_sample_interval():
    d = against_reference(seeds([79.82, 79.69]), 79.66)
    assert d.method == "one-sample" and d.seeds == "2 seeds" and d.df == 1
    mean, se, n = mean_se(seeds([79.82, 79.69]))
    assert d.delta == pytest.approx(mean - 79.66) and d.se == pytest.approx(se)
    assert d.verdict == "within the spread"
    assert judgement(against_reference(seeds([13.19, 13.21, 13.20]), 13.13)) == "higher (clear)"
    assert judgement(against_reference(seeds([9.0, 9.1, 8.9]), 9.69), "better", "worse") == "better (clear)"


def test_words_and_numbers_of_a_difference():
    d = difference(seeds([90.1, 90.5, 90.2, 90.7, 90.3]), seeds([90.9, 91.2, 91.1, 91.5, 91.0]))
    low, high = d.interval()
    assert d.short() == f"{d.delta:+.2f} [{low:+.2f}, {high:+.2f}], 5 pairs"
    assert d.text().startswith("clear: ")
    wider = d.interval(0.99)
    assert wider[0] < low and wider[1] > high
