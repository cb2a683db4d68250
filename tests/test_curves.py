"""Learning-curve tables, the early-stopping replay and the checks built on it, on synthetic curves."""

import pandas as pd
import pytest
import torch

from made import MADE
from made.reports.curves import convergence_table, early_stop, equal_time, fewer_masks_check
from made.train import TrainConfig, fit


def test_early_stop_replays_fit_on_a_real_curve():
    # The replay must agree with fit() itself, on the curve fit() produced.
    torch.manual_seed(0)
    x = (torch.rand(260, 10) < 0.3).float()
    cfg = TrainConfig(optimizer="adam", lr=1e-2, look_ahead=4, min_delta=0.01, max_epochs=200,
                      batch_size=20, progress=False)
    result = fit(MADE(10, [200], 10, num_masks=2), x[:60], x[60:], cfg)
    curve = [r["valid_nll"] for r in result.history]
    assert result.stopped_early
    assert early_stop(curve, 4, 0.01) == (result.best_epoch, result.epochs)
    assert early_stop(curve[:result.best_epoch + 2], 4, 0.01) == (result.best_epoch, None)


def test_convergence_table_measures_gains_around_the_best_epoch():
    curves = pd.DataFrame(dict(run_id="r", epoch=range(1, 9), valid_nll=[9, 7, 6, 5.5, 5.0, 5.01, 4.995, 5.2]))
    runs = pd.DataFrame([dict(run_id="r", num_masks=2, mode="order", seed=0, best_epoch=5, epochs=8,
                              stopped_early=True, look_ahead=3)])
    row = convergence_table(runs, curves).iloc[0]
    assert row["valid_nll"] == 5.0
    assert row["gain_before_best"] == pytest.approx(7 - 5.0)  # epoch 2 -> 5
    assert row["gain_after_best"] == pytest.approx(0.005)
    assert row["rise_at_stop"] == pytest.approx(0.2)


def test_fewer_masks_check_replays_each_prefix_column():
    hist = pd.DataFrame(dict(valid_nll=[5, 4, 3, 3, 3, 3, 3],
                             valid_nll_m8=[5, 4, 3.5, 3.2, 3.3, 3.3, 3.3],
                             valid_nll_m2=[6, 5, 5, 5, 5, 5, 5]))
    table = fewer_masks_check(hist, look_ahead=2, min_delta=0.0).set_index("masks")
    assert list(table.index) == [2, 8, "all"]
    assert table.loc["all", "best_epoch"] == 3 and table.loc["all", "stop_epoch"] == 5
    assert table.loc[8, "best_epoch"] == 4 and table.loc[8, "stop_epoch"] == 6
    assert table.loc[2, "best_epoch"] == 2 and table.loc[8, "full_valid_nll_at_best"] == 3


def test_equal_time_compares_within_the_reference_runs_time():
    rows = []
    for rid, per_epoch, curve in (("slow", 2.0, [10, 9, 8.5, 8.2]), ("fast", 1.0, [9, 8, 7.5, 7.4, 7.3, 7.3])):
        for e, v in enumerate(curve, 1):
            rows.append(dict(run_id=rid, epoch=e, valid_nll=v, seconds=per_epoch, valid_seconds=0.0))
    # charged the reference's cost per epoch (same model), the challenger gets 4 epochs, not 8 s of its own
    row = equal_time(pd.DataFrame(rows), "slow", "fast")
    assert row["reference_best"] == 8.2 and row["seconds_per_epoch"] == 2.0
    assert row["challenger_best_in_time"] == 7.4  # its best of 4 epochs in the slow run's 8 s, not its 7.3 later
    assert row["challenger_seconds_to_match"] == 4.0  # 8.0 <= 8.2 at its 2nd epoch
