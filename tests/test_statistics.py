"""The one rule for calling a difference (made.reports.statistics)."""

import math

import pandas as pd
import pytest

from made.reports.statistics import (CLEAR, MIN_SEEDS, SUGGESTIVE, TOLERANCE, Difference, difference,
                                     judgement, mean_se, number_word, one_sample)


@pytest.mark.parametrize("confidence, df, half", [(0.95, 1, 12.706), (0.95, 4, 2.776), (0.95, 30, 2.042),
                                                  (0.80, 1, 3.078), (0.80, 9, 1.383), (0.95, 1e9, 1.960)])
def test_the_intervals_half_widths_match_the_t_tables(confidence, df, half):
    # two-sided 95 % and 80 % quantiles of Student's t (any statistics table), in standard errors
    d = Difference(0.5, 1.0, df, "Welch", "", "")
    assert d.interval(confidence) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-3)
    assert (CLEAR, SUGGESTIVE) == (0.95, 0.80)


def test_with_no_spread_at_all_a_difference_is_exact():
    same = seeds([90.0, 90.0, 90.0])
    assert difference(same + 0.1, same).interval() == pytest.approx((0.1, 0.1))
    assert difference(same + 0.1, same).verdict == "clear" and difference(same, same).verdict == "within the spread"


def seeds(values, start=0):
    return pd.Series(values, index=range(start, start + len(values)))


def test_welch_matches_scipys_own_ttest_on_the_same_numbers():
    from scipy import stats

    a, b = [90.1, 90.5, 90.2, 90.7, 90.3], [90.9, 91.6, 91.1]
    d = difference(seeds(a), seeds(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert d.method == "Welch" and d.seeds == "5+3 seeds"
    assert d.delta / d.se == pytest.approx(ref.statistic) and d.df == pytest.approx(ref.df)
    for confidence in (CLEAR, SUGGESTIVE):
        low, high = ref.confidence_interval(confidence)
        assert d.interval(confidence) == pytest.approx((low, high))
    # the verdict is the p-value's: an interval that excludes 0 is a p-value below 1 - its confidence
    assert ref.pvalue < 1 - SUGGESTIVE and d.verdict == ("clear" if ref.pvalue < 1 - CLEAR else "suggestive")


def test_no_seed_is_dropped_and_no_pairing_by_seed_number():
    # 5 seeds against 3: every seed of each side enters its mean, whatever the seed numbers
    a, b = seeds([90.0, 91.0, 89.5, 90.6, 91.4]), seeds([92.0, 93.1, 92.2])
    d = difference(a, b)
    assert d.delta == pytest.approx(a.mean() - b.mean()) and d.seeds == "5+3 seeds"
    # the same numbers under other seed numbers: the same difference (nothing is paired)
    moved = difference(a, b.set_axis([7, 8, 9]))
    assert (moved.delta, moved.se, moved.df) == pytest.approx((d.delta, d.se, d.df))


def test_two_seeds_a_side_are_shown_and_not_judged():
    assert MIN_SEEDS == 3
    # a gap of 20 nats with a tiny spread: still not judged with 2 seeds on one side
    d = difference(seeds([70.0, 70.1]), seeds([90.0, 90.1, 90.2, 90.3]))
    assert d.verdict == "not judged" and d.delta == pytest.approx(-20.1) and d.seeds == "2+4 seeds"
    assert judgement(d) == "not judged (2+4 seeds)"
    assert math.isnan(d.interval()[0]) and d.short() == "-20.10, 2+4 seeds"
    assert difference(seeds([70.0, 70.1, 70.2]), seeds([90.0, 90.1, 90.2])).verdict == "clear"


def test_one_standard_error_is_never_called_a_difference():
    for n in (4, 6, 10, 50, 500):
        # a side of n values with mean 1 and standard error exactly 1, against a side with no spread
        sd = math.sqrt(n) * math.sqrt((n - 1) / n)
        d = difference(seeds([1.0 + (sd if i % 2 else -sd) for i in range(n)]), seeds([0.0] * n))
        assert d.se == pytest.approx(1.0) and d.verdict == "within the spread", n


def test_one_seed_is_not_judged_and_missing_is_missing():
    d = difference(seeds([80.0]), seeds([91.0, 91.4, 91.2]))
    assert d.verdict == "not judged" and d.delta == pytest.approx(-11.2) and judgement(d) == "not judged (1+3 seeds)"
    assert difference(seeds([]), seeds([91.0])).verdict == "missing"
    assert one_sample(81.0, float("nan"), 1, 79.66).verdict == "not judged"
    assert number_word(81.1, 0.1, 2, 79.66) == "not judged (2 seeds)"


def test_against_a_fixed_number_a_one_sample_interval_and_a_tolerance():
    from scipy import stats

    values = [79.82, 79.69, 79.75]
    d = one_sample(*mean_se(seeds(values)), 79.66)
    assert d.method == "one-sample" and d.seeds == "3 seeds" and d.df == 2
    assert d.delta / d.se == pytest.approx(stats.ttest_1samp(values, 79.66).statistic)
    # a gap far beyond the spread but inside the tolerance reproduces the number; one wholly
    # beyond it does not; one whose interval straddles the tolerance is not settled
    assert TOLERANCE == 1.0
    assert number_word(*mean_se(seeds([13.19, 13.21, 13.20])), 13.13) == "reproduced"
    assert number_word(*mean_se(seeds([85.0, 85.1, 85.2])), 83.63) == "not reproduced"
    assert number_word(*mean_se(seeds([84.0, 84.9, 85.2])), 83.63) == "not settled"


def test_words_and_numbers_of_a_difference():
    d = difference(seeds([90.1, 90.5, 90.2, 90.7, 90.3]), seeds([90.9, 91.2, 91.1, 91.5, 91.0]))
    low, high = d.interval()
    assert d.short() == f"{d.delta:+.2f} [{low:+.2f}, {high:+.2f}], 5+5 seeds"
    wider = d.interval(0.99)
    assert wider[0] < low and wider[1] > high
