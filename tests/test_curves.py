"""Learning-curve tables and the power-law extrapolation, on synthetic curves."""

import math

import numpy as np
import pandas as pd
import pytest

from made.curves import checkpoints, extrapolate, extrapolation_tables, fit_power_law, mean_curves


def synthetic_curves(epochs: int = 40) -> pd.DataFrame:
    """valid NLL = 100 + 10 K / epoch (+1 for seed 1); K = 1 and 32 have two seeds."""
    rows = []
    runs = [(1, "single", s) for s in (0, 1)] + [(k, m, 0) for k in (2, 4) for m in ("order", "connectivity")]
    runs += [(32, m, s) for m in ("order", "connectivity") for s in (0, 1)]
    for k, mode, seed in runs:
        for epoch in range(1, epochs + 1):
            rows.append(dict(run_id=f"{k}{mode}{seed}", num_masks=k, mode=mode, seed=seed, epoch=epoch,
                             valid_nll=100 + 10 * k / epoch + seed))
    return pd.DataFrame(rows)


def test_mean_curves_average_seeds_and_give_k1_to_both_modes():
    means = mean_curves(synthetic_curves())
    assert set(means) == {"order", "connectivity"}
    for part in means.values():
        assert sorted(part["num_masks"].unique()) == [1, 2, 4, 32]
        at = part.set_index(["num_masks", "epoch"])["valid_nll"]
        assert at[(1, 10)] == pytest.approx(100 + 1 + 0.5)
        assert at[(4, 10)] == pytest.approx(104.0)


def test_checkpoints_pick_epochs_and_mark_unreached_ones():
    table = checkpoints(synthetic_curves(), [10, 40, 50])
    assert list(table.columns) == [10, 40, 50]
    assert table.loc[("order", 1), 10] == pytest.approx(101.5)
    assert table.loc[("connectivity", 32), 40] == pytest.approx(108.5)
    assert math.isnan(table.loc[("order", 2), 50])  # no run got that far


@pytest.mark.parametrize("a,b,p", [(90.0, 40.0, 0.5), (101.5, 300.0, 1.2), (95.0, 5.0, 0.1)])
def test_power_law_fit_recovers_its_parameters(a, b, p):
    t = np.arange(5, 201, dtype=float)
    fit = fit_power_law(t, a + b * t ** -p)
    assert fit.asymptote == pytest.approx(a, abs=0.05)
    assert fit.exponent == pytest.approx(p, abs=0.01)
    assert fit(400) == pytest.approx(a + b * 400 ** -p, abs=0.01)


def test_power_law_fit_refuses_too_few_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1, 2], [3.0, 2.0])


def test_extrapolation_from_an_early_window_predicts_a_later_epoch():
    table = extrapolate(synthetic_curves(epochs=60), fit_from=5, fit_to=30, at=[60, 1000])
    row = table.loc[("order", 32)]
    # mean of the two seeds: 100.5 + 320 / t, an exact power law
    assert row["asymptote"] == pytest.approx(100.5, abs=0.01) and row["exponent"] == pytest.approx(1.0, abs=0.01)
    assert row["pred_60"] == pytest.approx(row["valid_60"], abs=0.01)
    assert row["valid_60"] == pytest.approx(100.5 + 320 / 60)
    assert math.isnan(row["valid_1000"]) and row["pred_1000"] == pytest.approx(100.82, abs=0.01)


def test_extrapolation_tables_check_on_held_out_epochs_and_need_long_curves():
    check, forecast = extrapolation_tables(synthetic_curves(epochs=160), fit_from=10, holdout=60)
    assert list(check.columns) == ["asymptote", "exponent", "pred_160", "valid_160", "error"]
    assert check["error"].abs().max() < 0.01  # exact power laws: the held-out epoch is predicted
    assert list(forecast.columns) == ["asymptote", "exponent", "pred_1000"]
    assert extrapolation_tables(synthetic_curves(epochs=3)) is None  # the smoke grid's 3 epochs
