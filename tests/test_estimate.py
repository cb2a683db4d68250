"""made.pipeline.estimate: a grid's wall time from what runs recorded, else a few steps timed
here, else unknown; the epochs from the runs that stopped early."""

import json

import pytest
import torch

from made.pipeline.estimate import estimate, makespan
from made.pipeline.grid import RunPoint, run_id
from made.pipeline.run import DONE


def test_the_wall_time_is_the_makespan_of_run_grid_order():
    from made.pipeline.grid import GRIDS, expand
    from made.pipeline.run import schedule

    # Two 1-hour runs and one 2-hour run on 2 workers: 3 h if the long one starts
    # last, 2 h if it starts first; a sum over jobs would say 2 h either way.
    assert makespan([3600.0, 3600.0, 7200.0], 2) == pytest.approx(3 * 3600)
    assert makespan([7200.0, 3600.0, 3600.0], 2) == pytest.approx(2 * 3600)
    # run_grid and the estimate share one order: largest K first, mask sampling before any K
    order = [p.params["num_masks"] for p in schedule(expand(GRIDS["figure2"]))]
    assert order == sorted(order, reverse=True) and order[0] == 32 and order[-1] == 1
    uci = schedule(expand(GRIDS["uci"]))
    assert uci[0].params["num_masks"] is None and uci[-1].params["num_masks"] == 1
    # the widest models before any K: they are the longest runs
    widths = [(p.params["hidden_sizes"][0], p.params["num_masks"]) for p in schedule(expand(GRIDS["widths"]))]
    assert widths == sorted(widths, reverse=True) and widths[0] == (8000, 32) and widths[-1] == (500, 1)


def _point(**settings) -> RunPoint:
    params = {"dataset": "dna", "protocol": "adam", **settings}
    return RunPoint(run_id(params), params)


def _recorded(runs_dir, point, epochs, seconds, stopped_early=True, device="cpu"):
    """A complete run of ``point`` that recorded its epochs and seconds."""
    run = runs_dir / "runs" / f"{point.run_id}_{epochs}_{seconds}_{device}"
    run.mkdir(parents=True)
    row = {**point.config().settings(), "epochs": epochs, "stopped_early": stopped_early, "train_seconds": seconds,
           "valid_seconds": 0.0, "device": device}
    (run / "metrics.json").write_text(json.dumps(row))
    (run / DONE).write_text("")


def test_seconds_and_epochs_come_from_the_runs_that_recorded_them(tmp_path, monkeypatch):
    import made.pipeline.estimate as est

    monkeypatch.setattr(est, "COMMITTED", tmp_path)
    k1 = _point(num_masks=1)
    for epochs, seconds in ((70, 70.0), (80, 240.0), (200, 400.0)):  # 1, 3 and 2 s an epoch: median 2
        _recorded(tmp_path, k1, epochs, seconds)
    _recorded(tmp_path, k1, 500, 500.0, stopped_early=False)  # capped: no guide to the epochs (but to the speed)
    text = estimate([_point(num_masks=1, seed=7)], tmp_path, jobs=1)
    assert "1.5 s/epoch (recorded by 4 run(s)) x 80 epochs (the median of 3 run(s) of its shape and recipe that " \
           "stopped early)" in text
    assert "estimated wall time with 1 job(s): 2 min 0 s" in text
    # without a run of its shape that stopped early, its dataset, recipe and K guide the epochs
    wide = estimate([_point(num_masks=1, hidden_sizes=[16])], tmp_path, jobs=1)
    assert "x 80 epochs (the median of 3 run(s) of its dataset, recipe and K that stopped early)" in wide
    _recorded(tmp_path, _point(num_masks=1, hidden_sizes=[16]), 30, 30.0)
    assert "x 30 epochs (the median of 1 run(s) of its shape and recipe" in estimate(
        [_point(num_masks=1, hidden_sizes=[16], seed=3)], tmp_path, jobs=1)
    # a cap is the run's epochs; another dataset or K is no guide to either
    assert "x 5 epochs (its cap)" in estimate([_point(num_masks=1, max_epochs=5)], tmp_path, jobs=1)


def test_an_estimate_for_a_device_that_is_not_here_is_unknown(tmp_path, monkeypatch):
    import made.pipeline.estimate as est

    monkeypatch.setattr(est, "COMMITTED", tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    point = _point(num_masks=4, device="cuda")
    text = estimate([point], tmp_path, jobs=1)
    assert "unknown: no run of this shape recorded on cuda, and no cuda here" in text
    assert "estimated wall time: unknown (1 of 1 runs without an estimate)" in text and "TFLOP" not in text
    # once a run of its shape has recorded its seconds on cuda, they are the estimate
    _recorded(tmp_path, point, 100, 50.0, device="cuda:0")
    text = estimate([_point(num_masks=4, device="cuda", seed=1)], tmp_path, jobs=1)
    assert "0.5 s/epoch (recorded by 1 run(s)) x 100 epochs" in text


def test_with_nothing_recorded_a_few_steps_are_timed_here(tmp_path, monkeypatch):
    import made.model
    import made.pipeline.estimate as est

    def no_svd(*args):  # the timing needs no orthogonal init: minutes of SVD at the paper's width
        raise AssertionError("a dry run ran the orthogonal init")

    monkeypatch.setattr(made.model, "orthogonal_", no_svd)
    monkeypatch.setattr(est, "COMMITTED", tmp_path)  # nothing recorded
    text = estimate([_point(num_masks=2, hidden_sizes=[16], init="orthogonal")], tmp_path, jobs=1)
    assert "s/epoch (timed here)" in text and "unknown: no run of its dataset, recipe and K" in text
