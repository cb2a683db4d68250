"""What a run is, defined once: a new setting, declared as one config field,
reaches the run id, the tables, the curves' keys and grouping and the reuse
check with no other edit, and a checkpoint written before it existed resumes."""

import dataclasses
import json

import pandas as pd
import pytest
import torch

from made.pipeline import experiment
from made.pipeline.experiment import ExperimentConfig, SettingsError, run_experiment
from made.pipeline.grid import RunPoint, run_id
from made.pipeline.results import collect, collect_curves, curve_keys, run_columns
from made.pipeline.run import DONE, RunMismatch, check_reuse
from made.train import TrainConfig


@pytest.fixture
def dropout(monkeypatch):
    """TrainConfig with one more field, as a change adding a hyperparameter
    would declare it: ``dropout: float = 0.0``, no facts given (the defaults)."""
    extended = dataclasses.make_dataclass("TrainConfig", [("dropout", float, dataclasses.field(default=0.0))],
                                          bases=(TrainConfig,))
    monkeypatch.setitem(experiment.PARTS, "train", extended)
    return extended


def test_a_new_setting_is_part_of_every_derived_list(dropout):
    assert "dropout" in ExperimentConfig.names()
    assert ExperimentConfig.facts()["dropout"] == dict(setting=True, computation=True, id="value", column=True,
                                                       curve=True)
    assert "dropout" in ExperimentConfig.from_dict({"dropout": 0.5}).computation()
    # the id: left out at its default, spelled once it differs
    assert run_id({"protocol": "adam", "num_masks": 4}) == "binarized_mnist_h500_K4_order_seed0_adam"
    assert run_id({"protocol": "adam", "num_masks": 4, "dropout": 0.5}).endswith("_adam_dropout0.5")
    # the tables lead with it (after the numbered columns, before the results), the curves are keyed by it
    columns = run_columns()
    assert columns.index("max_epochs") < columns.index("dropout") < columns.index("epochs")
    assert curve_keys() == ["run_id", "dataset", "num_masks", "mode", "seed", "dropout"]


def _complete(run_dir, settings: dict):
    """A complete run that recorded ``settings`` (and a few results)."""
    run_dir.mkdir(parents=True)
    row = {**settings, "data_variant": "unverified", "stopped_early": True, "epochs": 2, "best_epoch": 1,
           "valid_nll": 9.0}
    (run_dir / "metrics.json").write_text(json.dumps(row))
    pd.DataFrame(dict(epoch=[1, 2], train_nll=[9.5, 9.1], valid_nll=[9.0, 9.2])).to_csv(
        run_dir / "history.csv", index=False)
    (run_dir / DONE).write_text("")


def test_a_new_setting_reaches_the_tables_the_curves_and_the_reuse_check(dropout, toy_data, tmp_path):
    runs = tmp_path / "runs"
    points = [RunPoint(run_id(s), s) for s in ({"dataset": "toy", "num_masks": 2},
                                               {"dataset": "toy", "num_masks": 2, "dropout": 0.5})]
    assert points[1].run_id == points[0].run_id + "_dropout0.5"
    _complete(runs / points[1].run_id, points[1].config().settings())
    old = points[0].config().settings()
    del old["dropout"]  # recorded before the setting existed: it trained at the default
    _complete(runs / points[0].run_id, old)
    check_reuse(points, runs)  # each as recorded
    frame = collect(tmp_path)
    leading = [c for c in run_columns() if c in frame.columns]
    assert "dropout" in leading and list(frame.columns[:len(leading)]) == leading
    assert frame.set_index("run_id")["dropout"].to_dict() == {points[0].run_id: 0.0, points[1].run_id: 0.5}
    # the curves carry it, and a summary over the two must keep them apart
    curves = collect_curves(tmp_path, frame)
    assert curves.groupby("run_id")["dropout"].first().to_dict() == {points[0].run_id: 0.0, points[1].run_id: 0.5}
    # the reports keep them apart too, with no list of settings to update: two rows,
    # and the same run read into two tables under two ids is one
    from made.reports.runs import unique_runs

    assert len(unique_runs(frame)) == 2
    same_results = frame.assign(valid_nll=9.0, epochs=2, best_epoch=1)  # only dropout tells them apart
    assert len(unique_runs(same_results)) == 2
    assert len(unique_runs(pd.concat([frame, frame.assign(run_id=frame.run_id + "_copy")]))) == 2
    # a complete run recorded under another value is not reused in silence
    (runs / points[0].run_id / "metrics.json").write_text(json.dumps({**old, "dropout": 0.25, "stopped_early": True}))
    with pytest.raises(RunMismatch, match=r"dropout: 0.25 -> 0.0"):
        check_reuse(points[:1], runs)


def test_a_checkpoint_written_before_a_new_setting_resumes(toy_data, tmp_path, monkeypatch):
    settings = dict(dataset="toy", data_dir=toy_data, hidden_sizes=[16], num_masks=2, look_ahead=50,
                    device="cpu", progress=False)
    through = run_experiment(ExperimentConfig.from_dict({**settings, "max_epochs": 3}), tmp_path / "through")
    run_experiment(ExperimentConfig.from_dict({**settings, "max_epochs": 2}), tmp_path / "old")
    extended = dataclasses.make_dataclass("TrainConfig", [("dropout", float, dataclasses.field(default=0.0))],
                                          bases=(TrainConfig,))
    monkeypatch.setitem(experiment.PARTS, "train", extended)
    (tmp_path / "old" / "metrics.json").unlink()  # only the checkpoint speaks for the old run
    resumed = run_experiment(ExperimentConfig.from_dict({**settings, "max_epochs": 3}), tmp_path / "old")
    assert resumed["epochs"] == 3 and resumed["dropout"] == 0.0
    for key in ("valid_nll", "test_nll_ensemble", "best_epoch"):
        assert resumed[key] == through[key], key
    # under another value of the new setting it is refused, naming it
    with pytest.raises(ValueError, match=r"dropout: 0.0 -> 0.5"):
        run_experiment(ExperimentConfig.from_dict({**settings, "max_epochs": 4, "dropout": 0.5}), tmp_path / "old")


@pytest.mark.parametrize("change", ["differs", "missing"])
def test_a_checkpoint_on_other_or_unknown_data_is_refused(toy_data, tmp_path, change):
    cfg = ExperimentConfig.from_dict(dict(dataset="toy", data_dir=toy_data, hidden_sizes=[16], num_masks=2,
                                          max_epochs=1, device="cpu", progress=False))
    run_experiment(cfg, tmp_path / "run")
    (tmp_path / "run" / "metrics.json").unlink()
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    if change == "missing":
        del state["meta"][experiment.DATA_SHA256]
    else:
        state["meta"][experiment.DATA_SHA256] = "0" * 64
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(ValueError, match="data_sha256"):
        run_experiment(cfg.replace(max_epochs=2), tmp_path / "run")


def test_a_named_protocol_brings_its_recipe_and_settings_beside_it_win():
    from made.pipeline.protocols import PROTOCOLS

    adam = ExperimentConfig.from_dict({"protocol": "adam"})
    assert all(adam.settings()[k] == v for k, v in PROTOCOLS["adam"].items())
    assert ExperimentConfig.from_dict({"protocol": "adam", "lr": 3e-3}).train.lr == 3e-3
    with pytest.raises(SettingsError, match="protocol must be one of"):
        ExperimentConfig.from_dict({"protocol": "adamw"})
    # a recorded run holds every setting: read as recorded, never through a recipe
    row = {**adam.settings(), "lr_step_epochs": None}
    assert ExperimentConfig.from_metrics(row).train.lr_step_epochs is None
    # replace keeps the recipe: another protocol is another config, built with from_dict
    with pytest.raises(SettingsError, match="replace\\(\\) keeps the recipe"):
        ExperimentConfig.from_dict({"protocol": "adam", "num_masks": 8}).replace(protocol="paper")
