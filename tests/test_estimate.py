"""made.pipeline.estimate: a grid's wall time from timed epochs (or FLOP counts) and the
epochs assumed for runs that stop early."""

import json
import os

import pytest
import torch

from made import MADE
from made.pipeline.estimate import (FALLBACK_LOOK_AHEADS, GridEstimate, RunEstimate, assumed_epochs, concurrent_load,
                           finished_epochs, train_throughput)
from made.pipeline.experiment import ExperimentConfig
from made.pipeline.run import DONE


def test_grid_estimate_is_the_makespan_of_run_grid_order():
    from made.pipeline.grid import GRIDS, expand
    from made.pipeline.run import schedule

    # Two 1-hour runs and one 2-hour run on 2 workers: 3 h if the long one starts
    # last, 2 h if it starts first; a sum over jobs would say 2 h either way.
    late = GridEstimate([RunEstimate("a", 1, 3600.0), RunEstimate("b", 1, 3600.0), RunEstimate("c", 2, 3600.0)], 2, 1, "cpu")
    assert late.seconds == pytest.approx(3 * 3600)
    early = GridEstimate(late.runs[::-1], 2, 1, "cpu")
    assert early.seconds == pytest.approx(2 * 3600)
    # run_grid and the estimate share one order: largest K first, mask sampling before any K
    order = [p.params["num_masks"] for p in schedule(expand(GRIDS["figure2"]))]
    assert order == sorted(order, reverse=True) and order[0] == 32 and order[-1] == 1
    uci = schedule(expand(GRIDS["uci"]))
    assert uci[0].params["num_masks"] is None and uci[-1].params["num_masks"] == 1
    # the widest models before any K: they are the longest runs
    widths = [(p.params["hidden_sizes"][0], p.params["num_masks"]) for p in schedule(expand(GRIDS["widths"]))]
    assert widths == sorted(widths, reverse=True) and widths[0] == (8000, 32) and widths[-1] == (500, 1)


def test_concurrent_load_runs_beside_the_block_and_stops():
    import multiprocessing as mp

    with concurrent_load(1, 6, [8], 1):
        alive = [p for p in mp.active_children() if p.is_alive()]
        assert len(alive) == 1
        pid = alive[0].pid
    assert not any(p.pid == pid for p in mp.active_children())
    with pytest.raises(OSError):
        os.kill(pid, 0)  # gone, not just detached



def _finished_run(runs_dir, run_id, epochs, stopped_early=True, **metrics):
    run = runs_dir / run_id
    run.mkdir(parents=True)
    row = {"dataset": "dna", "protocol": "adam", "num_masks": 1, "order_agnostic": True, "epochs": epochs,
           "stopped_early": stopped_early, **metrics}
    (run / "metrics.json").write_text(json.dumps(row))
    (run / DONE).write_text("")


def test_assumed_epochs_come_from_the_complete_runs_of_the_same_kind(tmp_path):
    runs = tmp_path / "runs"
    for i, epochs in enumerate((70, 80, 200)):  # K = 1 on dna: median 80
        _finished_run(runs, f"k1_{i}", epochs)
    _finished_run(runs, "k1_capped", 500, stopped_early=False)  # reached its cap: says nothing
    _finished_run(runs, "k32", 130, num_masks=32)
    _finished_run(runs, "k32_nips", 150, num_masks=32, dataset="nips")
    _finished_run(runs, "sampling_nips", 900, num_masks="sampling", dataset="nips", protocol="paper")
    finished = finished_epochs(tmp_path)
    assert len(finished) == 6

    def assume(**kw):
        return assumed_epochs(ExperimentConfig.from_dict({"dataset": "dna", "protocol": "adam", **kw}), finished)

    epochs, basis = assume(num_masks=1)
    assert epochs == 80 and "median of 3 complete run(s) of protocol adam, K = 1, on dna" in basis
    assert assume(num_masks=4)[0] == 130 and assume(num_masks=4, dataset="nips")[0] == 150  # its own dataset's
    epochs, basis = assume(num_masks=None, protocol="paper", dataset="nips")
    assert epochs == 900 and "mask sampling" in basis
    for kind in (dict(num_masks=None, protocol="paper"),  # sampling runs on nips only: no guide for dna
                 dict(num_masks=4, dataset="mushrooms")):
        epochs, basis = assume(look_ahead=20, **kind)  # nothing of its kind: the rule
        assert epochs == FALLBACK_LOOK_AHEADS * 20 and "no complete run" in basis
    assert finished_epochs(tmp_path / "nothing-here") == [] and finished_epochs(None) == []


def test_the_estimate_says_where_each_epoch_count_came_from():
    runs = [RunEstimate("capped", 3, 10.0), RunEstimate("open", 80, 10.0, "assumed: the median of 3 ...")]
    text = GridEstimate(runs, 1, 1, "cpu").describe()
    assert "capped: 10.0 s/epoch x 3 epochs (its cap) = 0.5 min" in text
    assert "open: 10.0 s/epoch x 80 epochs (assumed: the median of 3 ...) = 13.3 min" in text


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_training_throughput_times_the_training_step(optimizer):
    torch.manual_seed(0)
    model = MADE(6, [8], 6, num_masks=3)
    before = [p.detach().clone() for p in model.parameters()]
    moves, update = [], model.update_masks
    model.update_masks = lambda: (moves.append(1), update())
    rate = train_throughput(model, 6, batch_size=10, steps=4, optimizer=optimizer)
    assert rate > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it trained
    assert len(moves) >= 4  # and moved to the next mask at every step, as fit does
    assert train_throughput(model, 6, batch_size=10, seconds=0.05) > 0
