"""run_all.py end to end: real notebooks through papermill on real data (the paper's binarized MNIST)."""

import importlib.util
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from made.data import DATASETS
from made.pipeline import grid as grid_module
from made.pipeline import cli, notebooks
from made.pipeline.child import kernel_manager
from made.pipeline.results import collect_curves
from made.pipeline.run import DONE, ERROR, execute_run, is_complete

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(not os.environ.get("MADE_DATA_DIR"),
                                reason="MADE_DATA_DIR is not set: the pipeline runs on real MNIST")


def load_run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_runs_this_interpreter():
    spec = kernel_manager()().kernel_spec
    assert spec.argv[0] == sys.executable and spec.env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)


@pytest.mark.parametrize("argv, option, allowed", [
    (["--jobs", "0", "--dry-run"], "--jobs", "1 or more"),
    (["--seeds", "0"], "--seeds", "positive"),
    (["--max-epochs", "-5", "--dry-run"], "--max-epochs", "0 for none"),
    (["--threads", "0"], "--threads", "1 or more"),
    (["--device", "tpu"], "--device", "cpu, cuda"),
    (["--data-dir", "/nonexistent/made-data", "--smoke"], "--data-dir", "not a directory"),
    (["--results-dir", __file__, "--smoke"], "--results-dir", "is a file"),
    (["--smoke", "--grid", "uci"], "--grid", "drop one of them"),
])
def test_bad_command_line_input_stops_with_one_line(argv, option, allowed, capsys):
    run_all = load_run_all()
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    bad = argv[argv.index(option) + 1]
    assert option in err and repr(bad) in err and allowed in err


def test_a_missing_gpu_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_all = load_run_all()
    assert run_all.main(["--smoke", "--device", "cuda", "--results-dir", str(tmp_path)]) == 2
    assert "'cuda' is not available" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_reports_only_trains_nothing_and_tables_the_complete_runs(tmp_path, monkeypatch, capsys):
    # Two committed runs of the rebuild grid and nothing else: the table holds those
    # two, no run trains and no data is read.
    run_all = load_run_all()
    import made.pipeline.run

    ids = ["binarized_mnist_static-seed0_h500_K1_single_seed0_adam",
           "binarized_mnist_static-seed0_h500_K32_order_seed0_adam_valid_masks8"]
    for run_id in ids:
        shutil.copytree(ROOT / "results" / "runs" / run_id, tmp_path / "runs" / run_id)
    (tmp_path / "no-data").mkdir()  # an empty data folder: no data at all
    monkeypatch.setenv("MADE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setattr(made.pipeline.run, "run_grid", lambda *a, **k: pytest.fail("--reports-only trained"))
    assert run_all.main(["--grid", "rebuild", "--reports-only", "--results-dir", str(tmp_path)]) == 0
    assert sorted(pd.read_csv(tmp_path / "rebuild.csv")["run_id"]) == sorted(ids)
    total = len(grid_module.expand(grid_module.GRIDS["rebuild"]))
    assert f"{total - 2} of {total} runs not complete" in capsys.readouterr().out


@pytest.mark.parametrize("other", ["--force", "--dry-run", "--no-reports"])
def test_reports_only_refuses_what_contradicts_it(other, capsys):
    with pytest.raises(SystemExit):
        load_run_all().main(["--reports-only", other])
    assert f"not allowed with {other}" in capsys.readouterr().err


def test_dry_run_estimates_from_a_measurement(capsys, monkeypatch, tmp_path):
    import made.model

    # The timing needs no orthogonal init: its n x n SVD takes minutes at the paper's width
    def no_svd(*args):
        raise AssertionError("a dry run ran the orthogonal init")

    monkeypatch.setattr(made.model, "orthogonal_", no_svd)
    run_all = load_run_all()
    assert run_all.main(["--smoke", "--dry-run", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "binarized_mnist_h500_K2_order_seed0_adam_train_subset1000" in out
    assert "s/epoch" in out and "estimated wall time" in out


def test_dry_run_times_steps_on_the_threads_each_run_will_have(tmp_path, monkeypatch):
    # 2 jobs x 1 thread: a step timed on all the driver's threads would be up to twice too fast
    import torch

    import made.pipeline.estimate as est

    seen = []
    monkeypatch.setattr(est, "COMMITTED", tmp_path)  # nothing recorded: every run is timed here
    monkeypatch.setattr(est, "_timed_here", lambda cfg, device: seen.append(torch.get_num_threads()) or 1.0)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert load_run_all().main(["--smoke", "--dry-run", "--jobs", "2", "--threads", "1",
                                    "--results-dir", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(before)
    assert len(seen) == 3 and set(seen) == {1}  # the smoke grid's 3 runs


def test_dry_run_for_a_missing_gpu_assumes_no_speed(capsys, monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_all = load_run_all()
    assert run_all.main(["--grid", "large", "--dry-run", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "binarized_mnist_h8000x8000_K32_order_seed0_paper: unknown: no run of this shape recorded on cuda" in out
    assert "estimated wall time: unknown (4 of 4 runs without an estimate)" in out


def test_dry_run_on_an_empty_results_folder_reads_the_committed_runs(capsys, tmp_path):
    # A fresh --results-dir: seconds and epochs come from the checkout's committed runs (read only)
    assert load_run_all().main(["--dry-run", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "binarized_mnist_h500_K1_single_seed0_adam:" in x)
    assert "s/epoch (recorded by" in line and "epochs (the median of" in line and "that stopped early" in line
    assert "estimated wall time with" in out


def test_is_complete_respects_the_epoch_cap(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"max_epochs": 10, "stopped_early": False}))
    assert not is_complete(run, 10)  # no DONE yet
    (run / DONE).write_text("")
    assert is_complete(run, 10) and is_complete(run, 5)
    assert not is_complete(run, 20) and not is_complete(run, None)  # to be extended
    (run / "metrics.json").write_text(json.dumps({"max_epochs": 10, "stopped_early": True}))
    assert is_complete(run, 20) and is_complete(run, None)


def test_a_successful_rerun_removes_the_earlier_error(tmp_path, monkeypatch):

    point = grid_module.expand(grid_module.GRIDS["smoke"])[0]
    run_dir = tmp_path / point.run_id
    run_dir.mkdir()
    (run_dir / ERROR).write_text("Traceback: an earlier attempt failed\n")

    def fake_notebook(source, output, parameters, **kwargs):  # stands in for train_made
        cwd = parameters["run_dir"]  # the run's folder
        (Path(cwd) / "metrics.json").write_text(json.dumps({"max_epochs": parameters["config"]["max_epochs"]}))

    monkeypatch.setattr(notebooks, "execute", fake_notebook)
    outcome = execute_run(point, tmp_path)
    assert outcome.status == "done"
    assert (run_dir / DONE).exists() and not (run_dir / ERROR).exists()


def test_collect_curves_keys_every_epoch_by_its_run(tmp_path):
    runs = pd.DataFrame(dict(run_id=["a", "b"], dataset="d", num_masks=[1, 4], mode=["single", "order"],
                             seed=[0, 1]))
    for run_id, epochs in (("a", 3), ("b", 2)):
        (tmp_path / "runs" / run_id).mkdir(parents=True)
        pd.DataFrame(dict(epoch=range(1, epochs + 1), train_nll=1.0, valid_nll=2.0)).to_csv(
            tmp_path / "runs" / run_id / "history.csv", index=False)
    curves = collect_curves(tmp_path, runs)
    assert len(curves) == 5 and list(curves["run_id"]) == ["a"] * 3 + ["b"] * 2
    assert curves[curves.run_id == "b"][["num_masks", "mode", "seed"]].drop_duplicates().values.tolist() == [
        [4, "order", 1]]
    assert collect_curves(tmp_path, runs.iloc[:0]).empty


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    results = tmp_path_factory.mktemp("smoke")
    run_all = load_run_all()
    t0 = time.perf_counter()
    # a Figure 2 table and figure already there: the smoke grid must leave them alone
    (results / "figure2.csv").write_text("run_id\nfigure2-row\n")
    (results / "figure2.png").write_bytes(b"not-a-smoke-figure")
    code = run_all.main(["--smoke", "--results-dir", str(results)])
    return run_all, results, code, time.perf_counter() - t0


@pytest.mark.slow
@needs_data
def test_smoke_produces_csv_figure_and_comparison(smoke):
    _, top, code, seconds = smoke
    assert code == 0
    # the smoke grid writes into its own folder and leaves the other grid's files as they were
    assert (top / "figure2.csv").read_text() == "run_id\nfigure2-row\n"
    assert (top / "figure2.png").read_bytes() == b"not-a-smoke-figure"
    results = top / "smoke"
    frame = pd.read_csv(results / "figure2.csv")
    assert len(frame) >= 3
    for col in ["dataset", "data_variant", "hidden_sizes", "num_masks", "order_agnostic",
                "connectivity_agnostic", "seed", "optimizer", "epochs", "best_epoch", "valid_nll",
                "test_nll_single_mask", "test_nll_ensemble", "test_nll_ensemble_stderr",
                "ensemble_masks", "test_nll_logit_average", "train_seconds"]:
        assert col in frame.columns and frame[col].notna().all(), col
    assert set(frame["data_variant"]) <= {"static-seed0", "larochelle"}
    assert (results / "figure2.png").read_bytes()[:4] == b"\x89PNG"
    curves = pd.read_csv(results / "figure2_curves.csv")  # every epoch of every run
    assert len(curves) == frame["epochs"].sum()
    assert set(curves["run_id"]) == set(frame["run_id"]) and curves["valid_nll"].notna().all()
    assert (results / "figure2_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (results / "figure2.pdf").stat().st_size > 1000
    assert re.search(r"^\| setting +\|", (results / "comparison.md").read_text(), re.M)
    for run_id in frame["run_id"]:
        run = results / "runs" / run_id
        assert (run / DONE).exists() and (run / "train_made.ipynb").exists()
        assert (run / "history.csv").exists()


@pytest.mark.slow
@needs_data
def test_second_call_reruns_nothing(smoke):
    run_all, top, _, first = smoke
    results = top / "smoke"
    before = (results / "figure2.csv").read_text()
    done = {p: p.stat().st_mtime_ns for p in results.glob("runs/*/*") if p.is_file()}
    assert run_all.main(["--smoke", "--results-dir", str(top), "--no-reports"]) == 0
    assert (results / "figure2.csv").read_text() == before
    # nothing ran: no file of any run was written again
    assert {p: p.stat().st_mtime_ns for p in results.glob("runs/*/*") if p.is_file()} == done


@pytest.mark.slow
@needs_data
def test_killed_run_is_redone_without_duplicates(smoke):
    run_all, top, _, _ = smoke
    results = top / "smoke"
    frame = pd.read_csv(results / "figure2.csv")
    victim = results / "runs" / frame["run_id"].iloc[1]
    # a run killed midway: no DONE marker, a half-written notebook, no metrics
    (victim / DONE).unlink()
    (victim / "metrics.json").unlink()
    stamp = {r: (results / "runs" / r / DONE).stat().st_mtime for r in frame["run_id"] if r != victim.name}
    assert run_all.main(["--smoke", "--results-dir", str(top), "--no-reports"]) == 0
    again = pd.read_csv(results / "figure2.csv")
    assert sorted(again["run_id"]) == sorted(frame["run_id"])  # no duplicates, none lost
    assert (victim / DONE).exists()
    assert all((results / "runs" / r / DONE).stat().st_mtime == t for r, t in stamp.items())


@pytest.mark.slow
@needs_data
def test_failed_notebook_is_reported_and_others_complete(tmp_path, monkeypatch, capsys):
    run_all = load_run_all()
    # Valid settings that fail inside the notebook (a 5-mask test ensemble of a
    # one-mask model); a setting that is invalid on its own stops the grid at expand.
    bad_grid = dict(base={"dataset": "binarized_mnist", "lr": 0.01, "train_subset": 200, "max_epochs": 1},
                    axes=dict(num_masks=[1], test_masks=[None, 5]), seeds=1,
                    csv="figure2.csv", reports=())
    monkeypatch.setitem(grid_module.GRIDS, "smoke", bad_grid)
    code = run_all.main(["--smoke", "--results-dir", str(tmp_path), "--no-reports"])
    assert code != 0
    err = capsys.readouterr().err
    bad_id = "binarized_mnist_h500_K1_single_seed0_test_masks5_train_subset200"
    assert f"FAILED {bad_id}" in err and "n_masks" in err
    assert (tmp_path / "runs" / bad_id / ERROR).exists()
    assert not (tmp_path / "runs" / bad_id / DONE).exists()
    good = pd.read_csv(tmp_path / "figure2.csv")
    assert list(good["run_id"]) == ["binarized_mnist_h500_K1_single_seed0_train_subset200"]


def test_every_setting_reaches_the_notebook_in_one_config(tmp_path):
    """The notebook's quick interactive run (a training subset, 15 epochs)
    must never leak into a grid run: the run's config holds every setting,
    and each overrides the quick run's."""
    from made.pipeline.experiment import ExperimentConfig
    from made.pipeline.grid import GRIDS, expand
    from made.pipeline.notebooks import notebook_parameters, training_config

    point = expand(GRIDS["figure2"])[0]
    params = notebook_parameters(point.params, point.run_id, tmp_path, threads=1)
    assert set(params) == {"config", "run_dir", "run_id", "threads"}
    config = params["config"]
    assert list(config) == ExperimentConfig.names() and "threads" not in config  # how it runs, not a setting
    assert config["train_subset"] is None and config["max_epochs"] is None and config["valid_masks"] is None
    assert config["direct_connections"] is True and config["init"] == "orthogonal"
    assert config["hidden_sizes"] == [500] and config["progress"] is False and params["threads"] == 1
    assert ExperimentConfig.from_dict(config) == point.config(progress=False)
    quick = {"protocol": "paper", "num_masks": 4, "max_epochs": 15, "train_subset": 5000}
    assert training_config(config, quick) == point.config(progress=False)
    for stray in ("lrr", "threads"):
        with pytest.raises(ValueError, match=f"unknown setting '{stray}'"):
            notebook_parameters({**point.params, stray: 1}, point.run_id, tmp_path)


def test_notebook_takes_the_settings_as_one_config():
    # One definition: the parameters cell holds config (empty: only what a caller
    # changes), the run's folder, name and threads; the quick run is merged under config.
    import ast

    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "train_made.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    body = ast.parse(cell.source).body
    assert [t.id for node in body for t in node.targets] == ["config", "run_dir", "run_id", "threads"]
    assert [ast.literal_eval(node.value) for node in body] == [{}, None, None, None]
    assert any("training_config(config, QUICK)" in c.source for c in nb.cells)


def test_the_notebooks_config_merges_json_text_and_names_what_is_wrong():
    from made.pipeline.experiment import SettingsError
    from made.pipeline.notebooks import training_config

    quick = {"protocol": "adam", "num_masks": 4, "max_epochs": 15, "train_subset": 5000}
    merged = training_config('{"max_epochs": 3}', quick).settings()  # papermill -p config '{"max_epochs": 3}'
    assert merged["max_epochs"] == 3 and merged["train_subset"] == 5000 and merged["num_masks"] == 4
    # the quick run's recipe stays whole: its architecture and optimizer are not the library's defaults
    assert (merged["direct_connections"], merged["init"], merged["weight_decay"], merged["optimizer"]) == (
        True, "orthogonal", 1e-4, "adam")
    assert training_config({"lr": 0.01}, quick).train.lr == 0.01  # papermill -y 'config: {lr: 0.01}'
    assert training_config("", quick) == training_config({}, quick) == training_config(None, quick)
    for bad, named in (('{"max_epoch": 3}', "'max_epoch' (did you mean 'max_epochs'?)"),
                       ("{max_epochs: 3}", "config is not JSON"), ("[3]", "must be a dict")):
        with pytest.raises(SettingsError) as error:
            training_config(bad, quick)
        assert named in str(error.value)
        assert error.value._render_traceback_() == [f"SettingsError: {error.value}"]  # one line in a notebook


def test_the_notebook_run_on_its_own_keeps_its_run_in_the_cache(tmp_path, monkeypatch):
    from made.pipeline.notebooks import interactive_run_dir, training_config

    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    cfg = training_config({"max_epochs": 3}, {"protocol": "adam", "train_subset": 5000})
    monkeypatch.chdir(tmp_path)
    here = interactive_run_dir(cfg)
    monkeypatch.chdir(ROOT)
    assert interactive_run_dir(cfg) == here == tmp_path / "cache" / "interactive" / (
        "binarized_mnist_h500_K1_single_seed0_adam_train_subset5000_max_epochs3")
    # the README's example after the notebook's default run: another folder, not a refused checkpoint
    default = training_config({}, {"protocol": "adam", "train_subset": 5000, "max_epochs": 15})
    assert interactive_run_dir(default).name.endswith("_max_epochs15") and interactive_run_dir(default) != here


@pytest.mark.parametrize("argv, said", [
    (["--set", "hidden_sizes=500"], "hidden_sizes takes a value of type list[int], got 500; e.g. --set hidden_sizes=[500]"),
    (["--set", "lr=fast"], "lr takes a value of type float | None, got 'fast'; e.g. --set lr=0.01"),
    (["--set", "direct_connections=3"], "direct_connections takes a value of type bool, got 3"),
])
def test_a_set_value_of_the_wrong_type_is_one_line_and_exit_2_before_anything(argv, said, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        load_run_all().main([*argv, "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing started


def test_made_data_dir_naming_a_missing_folder_is_refused_as_data_dir_is(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MADE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as stop:
        load_run_all().main(["--dry-run", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "MADE_DATA_DIR=" in err and "is not a directory" in err


@pytest.mark.parametrize("parameters, named", [
    # as `papermill -p config '{...}'` passes it: JSON text
    (dict(config='{"lr": 0.01, "max_epoch": 3}'), "unknown setting 'max_epoch' (did you mean 'max_epochs'?)"),
    pytest.param(dict(lr=0.01), "pass lr inside the config parameter",  # a setting of its own would be ignored
                 marks=pytest.mark.slow),
])
def test_an_unknown_setting_passed_to_the_notebook_is_an_error_naming_it(tmp_path, parameters, named):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as error:
        pm.execute_notebook(str(ROOT / "notebooks" / "train_made.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={**parameters, "run_dir": str(tmp_path / "run")},
                            kernel_manager_class=kernel_manager(), progress_bar=False)
    assert named in str(error.value)
    assert len(error.value.traceback) == 1, error.value.traceback  # one line, no traceback into made
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_missing_data_is_downloaded_once_by_the_driver_or_stops_it_naming_where_from(tmp_path, monkeypatch, capsys):
    # Offline (the fast suite blocks the network), the download fails: one
    # error naming the URL and the folder, exit 2, before any run starts.
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(notebooks, "execute", no_training)
    run_all = load_run_all()
    code = run_all.main(["--grid", "uci", "--only", "dataset=connect4", "--data-dir", str(tmp_path),
                         "--results-dir", str(tmp_path / "results"), "--no-reports"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("run_all.py: error: ") and f"connect4 not found in {tmp_path}" in err
    assert "https://github.com/mgermain/MADE/raw/master/datasets/connect4.npz" in err and f"put it in {tmp_path}" in err
    assert not (tmp_path / "results" / "runs").exists()
    # Where the download works, the driver fetches the file once and the runs go on.
    import made.data as data
    fetched = []
    monkeypatch.setattr(data, "load_dataset", lambda name, **kw: fetched.append(name))
    monkeypatch.setattr(cli, "_data_missing", cli._data_missing)
    assert cli._data_missing(grid_module.expand(grid_module.GRIDS["uci"])[:1], str(tmp_path)) is None
    assert len(fetched) == 1


def test_only_a_list_of_datasets_names_what_the_grid_has(capsys, monkeypatch, tmp_path):
    import torch

    run_all = load_run_all()
    assert run_all.main(["--grid", "uci", "--only", "dataset=dna,cifar", "--dry-run", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--only" in err and "dataset=cifar" in err and "adult" in err and len(err.splitlines()) == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a FLOP estimate: nothing timed
    assert run_all.main(["--grid", "uci", "--only", "dataset=dna,nips", "--dry-run", "--device", "cuda",
                         "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dna_h500_Ksampling_order_seed0_adadelta_valid_masks300" in out and "adult_" not in out


def test_an_only_call_keeps_the_other_datasets_in_the_table(tmp_path, monkeypatch):
    # Training only --only dataset=dna must not drop adult's finished runs from uci.csv.
    run_all = load_run_all()
    points = grid_module.expand(grid_module.GRIDS["uci"])
    finished = [p for p in points if p.params["dataset"] == "dna"] + [
        next(p for p in points if p.params["dataset"] == "adult")]
    for p in finished:
        finish(tmp_path / "runs" / p.run_id, p)
    monkeypatch.setattr(cli, "_data_missing", lambda points, data_dir: None)
    assert run_all.main(["--grid", "uci", "--only", "dataset=dna", "--results-dir", str(tmp_path), "--no-reports"]) == 0
    table = pd.read_csv(tmp_path / "uci.csv")
    assert sorted(table["run_id"]) == sorted(p.run_id for p in finished)


# -- the lock in execute_run ---------------------------------------------------

def smoke_point():
    return grid_module.expand(grid_module.GRIDS["smoke"])[0]


def fake_notebook_writing_metrics(calls):
    def fake(source, output, parameters, **kwargs):  # stands in for train_made
        cwd = parameters["run_dir"]  # the run's folder
        calls.append(cwd)
        (Path(cwd) / "metrics.json").write_text(json.dumps({"max_epochs": parameters["config"]["max_epochs"]}))
    return fake


def test_execute_run_reports_a_run_locked_by_a_live_process(tmp_path, monkeypatch):
    import socket

    from filelock import FileLock

    from made.pipeline.run import LOCK, STARTS, record_start

    point = smoke_point()
    run_dir = tmp_path / point.run_id
    run_dir.mkdir()
    held = FileLock(run_dir / LOCK)
    held.acquire()  # a live owner (this process; test_lock.py: between processes)
    record_start(run_dir)
    try:
        calls = []
        monkeypatch.setattr(notebooks, "execute", fake_notebook_writing_metrics(calls))
        outcome = execute_run(point, tmp_path)
        assert outcome.status == "locked" and f"{socket.gethostname()} pid {os.getpid()}" in outcome.error
        assert calls == [] and not (run_dir / DONE).exists()
        assert len((run_dir / STARTS).read_text().splitlines()) == 1
        assert held.is_locked  # untouched
    finally:
        held.release()


def test_execute_run_records_each_start_and_rechecks_completeness_under_the_lock(tmp_path, monkeypatch):
    import socket


    from filelock import FileLock

    from made.pipeline import run as pipeline
    from made.pipeline.run import LOCK, STARTS

    point = smoke_point()
    run_dir = tmp_path / point.run_id
    calls = []
    monkeypatch.setattr(notebooks, "execute", fake_notebook_writing_metrics(calls))
    assert execute_run(point, tmp_path).status == "done"
    host, pid, _ = (run_dir / STARTS).read_text().split()
    assert (host, int(pid)) == (socket.gethostname(), os.getpid()) and len(calls) == 1
    assert (run_dir / DONE).exists()
    FileLock(run_dir / LOCK).acquire(blocking=False).lock.release()  # released

    # complete at the first look? no; once the lock is ours? yes: another process finished it
    looks = iter([False, True])
    monkeypatch.setattr(pipeline, "is_complete", lambda *a: next(looks))
    assert execute_run(point, tmp_path).status == "skipped"
    assert len(calls) == 1 and len((run_dir / STARTS).read_text().splitlines()) == 1
    FileLock(run_dir / LOCK).acquire(blocking=False).lock.release()


def test_run_all_lists_runs_locked_elsewhere_and_exits_0(tmp_path, capsys, monkeypatch):
    import socket

    from filelock import FileLock

    from made.pipeline.run import LOCK, record_start

    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: pytest.fail("a locked run was trained"))
    run_all = load_run_all()
    monkeypatch.setattr(cli, "_data_missing", lambda points, data_dir: None)  # no data needed
    runs = tmp_path / "smoke" / "runs"
    locks = []
    for point in grid_module.expand(grid_module.GRIDS["smoke"]):  # every run held by a live trainer (here)
        (runs / point.run_id).mkdir(parents=True)
        locks.append(FileLock(runs / point.run_id / LOCK))
        locks[-1].acquire()
        record_start(runs / point.run_id)
    try:
        code = run_all.main(["--smoke", "--results-dir", str(tmp_path), "--no-reports", "--jobs", "2"])
    finally:
        for lock in locks:
            lock.release()
    out = capsys.readouterr()
    assert code == 0 and "FAILED" not in out.err
    for lock in locks:
        assert f"LOCKED {Path(lock.lock_file).parent.name}: being trained elsewhere (locked by " \
               f"{socket.gethostname()} pid {os.getpid()}" in out.out


# -- finished runs, damaged runs, data, --force, dry run ------------------------

def finish(run_dir: Path, point, **metrics) -> None:
    """A complete run as run_all leaves it: metrics.json, history.csv, DONE."""

    run_dir.mkdir(parents=True, exist_ok=True)
    config = point.config()
    # the data it loaded: the variant named, else the dataset's reference file
    loaded = config.data_variant or DATASETS[config.dataset].reference_variant
    row = {**config.settings(), "data_variant": loaded, "stopped_early": True, "epochs": 2, "best_epoch": 1,
           "valid_nll": 90.123456789, "test_nll_ensemble": 91.0, **metrics}
    (run_dir / "metrics.json").write_text(json.dumps(row))
    pd.DataFrame(dict(epoch=[1, 2], train_nll=[95.123456789, 93.0], valid_nll=[90.123456789, 90.5],
                      seconds=[1.23456, 1.2], lr=[1e-3 * 1.0000000001, 1e-3])).to_csv(
        run_dir / "history.csv", index=False)
    (run_dir / DONE).write_text("2026-01-01T00:00:00\n")


def finished_smoke_grid(top: Path) -> list:
    points = grid_module.expand(grid_module.GRIDS["smoke"])
    for p in points:
        finish(top / "smoke" / "runs" / p.run_id, p)
    return points


def no_training(*args, **kwargs):
    pytest.fail("a notebook was started")


def test_finished_runs_need_no_data(tmp_path, monkeypatch, capsys):
    # A clone with results but no data: nothing trains, so nothing is loaded or downloaded.

    from made import data

    finished_smoke_grid(tmp_path)
    (tmp_path / "no-data").mkdir()  # an empty data folder: no data at all
    monkeypatch.setenv("MADE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("data was loaded"))
    monkeypatch.setattr(notebooks, "execute", no_training)
    code = load_run_all().main(["--smoke", "--results-dir", str(tmp_path), "--no-reports"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "SKIPPED" not in out.err and "3 complete runs" in out.out
    assert out.out.splitlines()[-1].startswith("run_all.py: done in ")  # the call's elapsed time, last


def test_a_damaged_metrics_json_names_the_run_and_the_others_go_on(tmp_path, monkeypatch, capsys):

    points = finished_smoke_grid(tmp_path)
    victim = tmp_path / "smoke" / "runs" / points[1].run_id
    text = (victim / "metrics.json").read_text()
    (victim / "metrics.json").write_text(text[: len(text) // 2])  # truncated
    retrained = []

    def fake(source, output, parameters, **kwargs):  # retrains the damaged run only
        cwd = parameters["run_dir"]  # the run's folder
        retrained.append(Path(cwd).name)
        finish(Path(cwd), points[1], valid_nll=88.0)
        (Path(cwd) / DONE).unlink()

    monkeypatch.setattr(notebooks, "execute", fake)
    run_all = load_run_all()
    monkeypatch.setattr(cli, "_data_missing", lambda points, data_dir: None)
    code = run_all.main(["--smoke", "--results-dir", str(tmp_path), "--no-reports"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert retrained == [victim.name]
    named = [line for line in err.splitlines() if "damaged" in line]
    assert len(named) == 1 and victim.name in named[0] and str(victim / "metrics.json") in named[0]
    assert "Traceback" not in err
    table = pd.read_csv(tmp_path / "smoke" / "figure2.csv")
    assert sorted(table["run_id"]) == sorted(p.run_id for p in points)
    assert table.set_index("run_id").loc[victim.name, "valid_nll"] == 88.0


def test_a_damaged_run_that_cannot_retrain_is_left_out_of_the_table(tmp_path, capsys):
    from made.pipeline.results import aggregate

    points = finished_smoke_grid(tmp_path)
    results = tmp_path / "smoke"
    (results / "runs" / points[0].run_id / "metrics.json").write_text("{\"dataset\": ")
    frame = aggregate(results, "figure2.csv")
    assert sorted(frame["run_id"]) == sorted(p.run_id for p in points[1:])
    assert points[0].run_id in capsys.readouterr().err


def test_the_driver_finds_the_data_without_loading_it(tmp_path, monkeypatch, capsys):
    # Each run loads its data once, in its own kernel: the driver only finds the file.
    from made import data

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "dna.npz").write_bytes(b"not read by the driver")
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("the driver loaded data"))
    started = []
    monkeypatch.setattr(notebooks, "execute", lambda source, output, parameters, **k: started.append(1))
    code = load_run_all().main(["--grid", "uci", "--only", "dataset=dna", "--only", "num_masks=1",
                                "--data-dir", str(data_dir), "--results-dir", str(tmp_path / "results"),
                                "--no-reports"])
    err = capsys.readouterr().err
    assert started and code == 1  # the stand-in notebook wrote no metrics: each run fails, in its kernel
    assert "no data" not in err


def test_dry_run_counts_complete_runs_and_estimates_the_rest(tmp_path, monkeypatch, capsys):
    import torch

    points = finished_smoke_grid(tmp_path)
    run_all = load_run_all()
    assert run_all.main(["--smoke", "--dry-run", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(points)} runs, {len(points)} complete" in out and "0 to run" in out
    assert "nothing to run" in out and "estimated wall time" not in out
    # what training them all again would take
    assert run_all.main(["--smoke", "--dry-run", "--force", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(points)} to run" in out and "estimated wall time with" in out
    # one run left: only it is listed and estimated (from FLOP counts: nothing is timed)
    (tmp_path / "smoke" / "runs" / points[0].run_id / DONE).unlink()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run_all.main(["--smoke", "--dry-run", "--device", "cuda", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(points) - 1} complete" in out and "1 to run" in out
    assert points[0].run_id in out and points[1].run_id not in out
    assert out.count(f"{points[0].run_id}:") == out.count("estimated wall time") > 0


def test_force_trains_from_scratch_and_replaces_the_old_run_only_when_complete(tmp_path, monkeypatch):
    import nbformat

    from made.pipeline.run import STAGING, STARTS

    point = smoke_point()
    run_dir = tmp_path / point.run_id
    finish(run_dir, point, valid_nll=90.0)
    (run_dir / "checkpoint.pt").write_text("the old run's checkpoint")
    old = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    seen = []

    def interrupted(source, output, parameters, **kwargs):
        cwd = parameters["run_dir"]  # the run's folder
        seen.append(sorted(p.name for p in Path(cwd).iterdir()))
        (Path(cwd) / "checkpoint.pt").write_text("the new run, half trained")
        raise RuntimeError("the kernel died")

    monkeypatch.setattr(notebooks, "execute", interrupted)
    assert execute_run(point, tmp_path, force=True).status == "failed"
    assert seen == [[]]  # from scratch: nothing of the old run where the new one trains
    assert all((run_dir / n).read_bytes() == b for n, b in old.items() if n != STARTS)  # old run intact
    assert is_complete(run_dir)

    def trains(source, output, parameters, **kwargs):
        cwd = parameters["run_dir"]  # the run's folder
        seen.append(sorted(p.name for p in Path(cwd).iterdir()))
        finish(Path(cwd), point, valid_nll=89.0)
        (Path(cwd) / DONE).unlink()
        (Path(cwd) / "checkpoint.pt").write_text("the new run's checkpoint")
        nbformat.write(nbformat.v4.new_notebook(), output)

    monkeypatch.setattr(notebooks, "execute", trains)
    assert execute_run(point, tmp_path, force=True).status == "done"
    assert seen[1] == ["checkpoint.pt"]  # an interrupted --force resumes its own staging run
    assert json.loads((run_dir / "metrics.json").read_text())["valid_nll"] == 89.0
    assert (run_dir / "checkpoint.pt").read_text() == "the new run's checkpoint"
    assert is_complete(run_dir) and not (run_dir / STAGING).exists() and not (run_dir / ERROR).exists()
    assert len((run_dir / STARTS).read_text().splitlines()) == 2


def test_curves_are_rounded_and_the_table_keeps_every_digit(tmp_path):
    from made.pipeline.results import aggregate

    points = finished_smoke_grid(tmp_path)
    results = tmp_path / "smoke"
    frame = aggregate(results, "figure2.csv")
    assert set(pd.read_csv(results / "figure2.csv")["valid_nll"]) == {90.123456789}
    assert len(frame) == len(points)
    curves = (results / "figure2_curves.csv").read_text()
    assert "95.12346," in curves and "90.12346," in curves and ",1.23," in curves and ",0.001\n" in curves
    assert "95.123456789" not in curves


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def machine_paths(text: bytes) -> list[str]:
    """Absolute paths of this machine that a written file holds."""
    found = []
    for path in {str(ROOT), tempfile_root(), str(Path.home())}:
        if path and path != "/" and path.encode() in text:
            found.append(path)
    return found


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_a_second_call_on_finished_results_changes_no_byte(tmp_path, monkeypatch):
    # The committed results, every run of the rebuild grid complete: nothing
    # trains, no data is needed, and the second call writes the same bytes.

    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    monkeypatch.setattr(notebooks, "execute", no_training)
    run_all = load_run_all()
    argv = ["--grid", "rebuild", "--results-dir", str(results), "--no-reports"]
    assert run_all.main(argv) == 0
    first = snapshot(results)
    assert run_all.main(argv) == 0
    assert snapshot(results) == first
    # what the committed files hold (test_the_committed_tables_are_what_their_runs_give)
    for name in ("rebuild.csv", "rebuild_curves.csv"):
        assert first[name] == (ROOT / "results" / name).read_bytes(), name


def test_a_run_recorded_in_either_form_gives_the_same_table_row(tmp_path):
    # metrics.json keeps each setting's type (hidden sizes a list, K null under mask
    # sampling); runs recorded before wrote text ("500", "sampling"): both read alike.
    from made.pipeline.results import collect

    point = next(p for p in grid_module.expand(grid_module.GRIDS["uci"]) if p.params["num_masks"] is None)
    finish(tmp_path / "runs" / "typed", point)
    finish(tmp_path / "runs" / "text", point)
    row = json.loads((tmp_path / "runs" / "text" / "metrics.json").read_text())
    assert row["hidden_sizes"] == [500] and row["num_masks"] is None
    (tmp_path / "runs" / "text" / "metrics.json").write_text(
        json.dumps({**row, "hidden_sizes": "500", "num_masks": "sampling"}))
    frame = collect(tmp_path).set_index("run_id")
    assert frame.loc["typed"].equals(frame.loc["text"])
    assert (frame.loc["typed", "hidden_sizes"], frame.loc["typed", "num_masks"]) == ("500", "sampling")


def test_the_committed_tables_are_what_their_runs_give(tmp_path):
    from made.pipeline.results import aggregate

    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    for grid in ("figure2", "uci", "recipes", "widths"):
        csv, _, _ = grid_module.grid_outputs(grid)
        aggregate(results, csv, [p.run_id for p in grid_module.expand(grid_module.GRIDS[grid])])
        name = Path(csv)
        for written in (name.name, f"{name.stem}_curves.csv"):
            assert (results / written).read_bytes() == (ROOT / "results" / written).read_bytes(), written


def test_tidy_notebook_drops_times_and_machine_paths(tmp_path):
    import nbformat

    from made.pipeline.notebooks import tidy_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("results_dir = '..'")]
    warning = f"{ROOT / 'made' / 'evaluate.py'}:38: UserWarning: careful\n"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text=warning)]
    nb.cells[1].metadata = {"tags": ["injected-parameters"], "papermill": {"duration": 0.1, "status": "completed"},
                            "execution": {"iopub.status.busy": "2026-01-01T00:00:00Z"}}
    nb.metadata["papermill"] = {"input_path": str(ROOT / "notebooks" / "x.ipynb"), "output_path": "/abs/x.ipynb",
                                "start_time": "2026", "end_time": "2026", "duration": 1.5, "parameters": {}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, str(path))
    tidy_notebook(path, "notebooks/x.ipynb", "notebooks/x.ipynb", timeless=True)
    again = nbformat.read(str(path), as_version=4)
    assert again.metadata.papermill == {"input_path": "notebooks/x.ipynb", "output_path": "notebooks/x.ipynb",
                                        "parameters": {}}
    assert again.cells[1].id == "injected-parameters"
    assert again.cells[0].outputs[0].text == "made/evaluate.py:38: UserWarning: careful\n"
    assert again.cells[1].metadata == {"tags": ["injected-parameters"], "papermill": {"status": "completed"}}
    assert again.metadata.language_info == {"name": "python"}  # no interpreter version: the same on any 3.11.x
    assert machine_paths(path.read_bytes()) == []


# -- Ctrl-C ---------------------------------------------------------------------

def test_ctrl_c_cancels_queued_runs_and_stops_running_ones():
    import signal
    import threading

    from made.pipeline.run import Interrupted, RunOutcome, on_threads

    points = grid_module.expand(grid_module.GRIDS["smoke"]) * 2
    started = []

    def run(point):  # stands in for execute_run: trains until its notebook is stopped
        started.append(point.run_id)
        deadline = time.monotonic() + 60
        while not notebooks._stop_all and time.monotonic() < deadline:
            time.sleep(0.01)
        return RunOutcome(point.run_id, "interrupted" if notebooks._stop_all else "done")

    notebooks.reset()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))  # the user's Ctrl-C
    # A process started in the background by a shell ignores SIGINT; a terminal's does not.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(Interrupted) as stop:
            list(on_threads(run, points, jobs=2))
    finally:
        timer.cancel()
        notebooks.reset()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - t0 < 30  # promptly: the queued runs would take far longer
    assert len(started) == 2 and sorted(stop.value.stopped) == sorted(started)
    assert len(stop.value.not_started) == len(points) - 2


def test_stop_ends_a_notebooks_process_and_its_kernel_at_once(tmp_path):
    # A real notebook in its own process (made/pipeline/child.py), stopped as Ctrl-C stops it.
    import threading

    import nbformat

    book = nbformat.v4.new_notebook()
    book.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    book.cells = [nbformat.v4.new_code_cell("import os, time\n"
                                            "open(os.path.join(folder, 'kernel.pid'), 'w').write(str(os.getpid()))\n"
                                            "time.sleep(120)")]
    book.cells[0].metadata["tags"] = []
    params = nbformat.v4.new_code_cell("folder = None")
    params.metadata["tags"] = ["parameters"]
    book.cells.insert(0, params)
    nbformat.write(book, tmp_path / "sleeps.ipynb")
    outcome = []

    def execute():
        try:
            notebooks.execute(tmp_path / "sleeps.ipynb", tmp_path / "out.ipynb", {"folder": str(tmp_path)},
                              key="sleeper")
        except notebooks.NotebookStopped:
            outcome.append("stopped")

    thread = threading.Thread(target=execute)
    thread.start()
    deadline = time.monotonic() + 120
    while not (tmp_path / "kernel.pid").exists():
        assert time.monotonic() < deadline and thread.is_alive(), "the notebook did not start"
        time.sleep(0.1)
    kernel = int((tmp_path / "kernel.pid").read_text())
    t0 = time.monotonic()
    assert notebooks.stop(["sleeper"]) == ["sleeper"]
    thread.join(timeout=30)
    assert outcome == ["stopped"] and time.monotonic() - t0 < 5
    deadline = time.monotonic() + 5
    while True:  # the kernel ends with its process
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the kernel outlived its notebook's process"
        time.sleep(0.1)


@pytest.mark.slow
@needs_data
def test_ctrl_c_stops_run_all_promptly_and_the_rerun_gives_the_same_numbers(smoke, tmp_path):
    import signal
    import subprocess

    _, top, code, _ = smoke
    assert code == 0
    reference = pd.read_csv(top / "smoke" / "figure2.csv")
    runs = tmp_path / "smoke" / "runs"
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, str(ROOT / "run_all.py"), "--smoke", "--no-reports",
                                   "--results-dir", str(tmp_path)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  # as from a terminal, even when these tests run in the background
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not list(runs.glob("*/checkpoint.pt")):  # training is under way: an epoch is saved
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        t0 = time.monotonic()
        driver.send_signal(signal.SIGINT)
        status = driver.wait(timeout=30)
        stopped_after = time.monotonic() - t0
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
    text = log.read_text()
    assert status == 130 and stopped_after < 10, text  # about a second here; slack for a loaded machine
    assert "run_all.py: interrupted: " in text and "run the same command again" in text
    from filelock import FileLock

    for lock in runs.glob("*/LOCK"):  # none held: the file stays, its lock went with its process
        FileLock(lock).acquire(blocking=False).lock.release()
    assert not (tmp_path / "smoke" / "figure2.csv").exists()  # stopped before the table
    saved = {p: p.stat().st_mtime_ns for p in runs.glob("*/*")}
    time.sleep(3)
    assert {p: p.stat().st_mtime_ns for p in runs.glob("*/*")} == saved, "a kernel still trains"
    # the same command resumes and gives the numbers of the uninterrupted grid
    assert load_run_all().main(["--smoke", "--no-reports", "--results-dir", str(tmp_path)]) == 0
    again = pd.read_csv(tmp_path / "smoke" / "figure2.csv")
    columns = ["run_id", "epochs", "best_epoch", "valid_nll", "test_nll_single_mask", "test_nll_ensemble"]
    pd.testing.assert_frame_equal(again[columns].sort_values("run_id", ignore_index=True),
                                  reference[columns].sort_values("run_id", ignore_index=True))


def _papermill_start(notebook: Path) -> str:
    """When papermill began executing ``notebook`` (ISO time, so strings compare as times)."""
    return json.loads(notebook.read_text())["metadata"]["papermill"]["start_time"]


@pytest.mark.slow
@needs_data
def test_force_retrains_a_real_run_from_scratch(smoke):
    _, top, code, _ = smoke
    assert code == 0
    runs = top / "smoke" / "runs"
    point = smoke_point()
    before = json.loads((runs / point.run_id / "metrics.json").read_text())
    history = pd.read_csv(runs / point.run_id / "history.csv")
    started = _papermill_start(runs / point.run_id / "train_made.ipynb")
    outcome = execute_run(point, runs, force=True, threads=1)
    assert outcome.status == "done", outcome.error
    after = json.loads((runs / point.run_id / "metrics.json").read_text())
    # trained again (a new execution of the notebook; train_seconds, rounded to 0.01 s, can
    # repeat on a run this short), from scratch (the same numbers: training is deterministic)
    assert _papermill_start(runs / point.run_id / "train_made.ipynb") > started
    assert after["valid_nll"] == before["valid_nll"] and after["epochs"] == before["epochs"]
    pd.testing.assert_frame_equal(pd.read_csv(runs / point.run_id / "history.csv")[["train_nll", "valid_nll"]],
                                  history[["train_nll", "valid_nll"]])


@pytest.mark.slow
@needs_data
def test_a_finished_run_directory_refuses_a_notebook_with_other_settings(smoke):
    # train_made.ipynb run again into a finished run's folder with
    # another lr, max_epochs and training subset: an error, and the old files unchanged.
    import papermill as pm

    _, top, code, _ = smoke
    assert code == 0
    run_dir = top / "smoke" / "runs" / smoke_point().run_id
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.suffix in (".json", ".csv")}
    with pytest.raises(pm.PapermillExecutionError, match="other settings"):
        pm.execute_notebook(str(ROOT / "notebooks" / "train_made.ipynb"), str(top / "reused.ipynb"),
                            parameters=dict(run_dir=str(run_dir), config=dict(
                                lr=0.01, max_epochs=3, train_subset=500, num_masks=1, progress=False)),
                            kernel_manager_class=kernel_manager(), progress_bar=False)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.suffix in (".json", ".csv")} == before


@pytest.mark.slow
def test_reports_only_rewrites_every_committed_report_byte_for_byte(tmp_path):
    # What `python run_all.py --reports-only --grid G` does for every grid, each
    # step once: every grid's tables from its complete runs, every report
    # notebook on them, and the documents rendered from them.  On a copy of the
    # committed results it writes exactly the committed files, with no machine
    # path: the committed reports are what their runs give, and a clone's
    # rerun leaves a clean tree.
    from made.pipeline.notebooks import execute_report
    from made.pipeline.results import aggregate
    from made.reports.render import render_documents

    results = tmp_path / "results"
    # (not the checkpoints and locks of runs training beside the test)
    shutil.copytree(ROOT / "results", results, ignore=shutil.ignore_patterns("*.pt", "LOCK*", "staging"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    before = snapshot(results)
    grids = [g for g, spec in grid_module.GRIDS.items() if spec.get("reports") and not spec.get("subdir")]
    reports = []
    for grid in grids:
        csv, _, _ = grid_module.grid_outputs(grid)
        aggregate(results, csv, [p.run_id for p in grid_module.expand(grid_module.GRIDS[grid])])
        reports += [r for r in grid_module.GRIDS[grid]["reports"] if r not in reports]
    assert {"figure2", "widths", "uci", "compare", "binarizations", "recipes"} <= set(reports)
    for name in reports:
        execute_report(name, results)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    render_documents(results, root=tmp_path)
    after = snapshot(results)
    assert sorted(after) == sorted(before), "files added or removed"
    changed = [name for name in after if after[name] != before[name]]
    assert changed == [], f"--reports-only rewrites {changed}: regenerate and commit them"
    assert (tmp_path / "README.md").read_bytes() == (ROOT / "README.md").read_bytes()
    outputs = [name for name in after if not name.startswith("runs/")]
    assert "notebooks/recipes.ipynb" in outputs and "widths.md" in outputs
    for name in outputs:
        assert machine_paths(after[name]) == [], name


# ------------------------------------------------- reuse of complete runs
def _complete_run(runs_dir: Path, point, **recorded) -> Path:
    """A complete run of ``point`` as the pipeline leaves one: DONE, and a
    metrics.json recording its settings and data, with ``recorded`` changed."""
    from made.io import write_json

    row = {**point.config().settings(), "data_variant": "larochelle", "stopped_early": True,
           "epochs": 40, "best_epoch": 10, "valid_nll": 90.0, "test_nll_single_mask": 90.0}
    row.update(recorded)
    run_dir = runs_dir / point.run_id
    run_dir.mkdir(parents=True)
    write_json(run_dir / "metrics.json", row)
    (run_dir / DONE).write_text("x\n")
    return run_dir


def test_a_complete_run_on_the_rebuild_is_not_taken_for_the_papers_file(tmp_path):
    from made.pipeline.run import RunMismatch, check_reuse

    points = grid_module.expand(grid_module.GRIDS["figure2"], seeds=1)[:3]
    runs = tmp_path / "runs"
    _complete_run(runs, points[0])  # the same run: reused
    _complete_run(runs, points[1], data_variant="static-seed0")  # an old run, on the other binarization
    with pytest.raises(RunMismatch) as err:
        check_reuse(points, runs)
    msg = str(err.value)
    assert points[1].run_id in msg and points[0].run_id not in msg
    assert "data_variant (loaded): 'static-seed0' -> 'larochelle'" in msg
    assert "--force" in msg and "--results-dir" in msg
    check_reuse(points[:1], runs)  # nothing differs: no error


@pytest.mark.parametrize("recorded, named", [
    (dict(lr=0.01), "lr: 0.01 -> 0.001"),  # a changed recipe
    (dict(min_delta=0.0), "min_delta: 0.0 -> 0.02"),  # a changed default
    (dict(data_variant="static-seed0", hidden_sizes="500"), "data_variant"),
])
def test_a_complete_run_with_another_setting_is_refused_naming_it(tmp_path, recorded, named):
    from made.pipeline.run import RunMismatch, check_reuse, pending

    point = grid_module.expand(grid_module.GRIDS["figure2"], seeds=1)[0]
    _complete_run(tmp_path / "runs", point, **recorded)
    with pytest.raises(RunMismatch, match=named):
        check_reuse([point], tmp_path / "runs")
    assert pending([point], tmp_path / "runs") == []  # complete, so never silently retrained


def test_run_all_refuses_to_report_or_train_over_a_mismatched_run(tmp_path, capsys):
    run_all = load_run_all()
    point = grid_module.expand(grid_module.GRIDS["smoke"])[0]
    _complete_run(tmp_path / "smoke" / "runs", point, lr=0.5)
    for flags in (["--reports-only"], ["--dry-run"], []):
        assert run_all.main(["--smoke", "--results-dir", str(tmp_path), *flags]) == 2
        err = capsys.readouterr().err
        assert point.run_id in err and "lr: 0.5 -> 0.001" in err and "--force" in err


# -- --set, and reports -----------------------------------------------------------

def test_set_reaches_the_notebooks_config_and_the_run_ids(tmp_path, monkeypatch):

    seen = []

    def fake(source, output, parameters, **kwargs):  # stands in for train_made
        seen.append(parameters)
        (Path(parameters["run_dir"]) / "metrics.json").write_text(json.dumps({"stopped_early": True}))

    monkeypatch.setattr(notebooks, "execute", fake)
    monkeypatch.setattr(cli, "_data_missing", lambda points, data_dir: None)
    argv = ["--smoke", "--set", "lr=0.05", "--set", "direct_connections=false", "--results-dir", str(tmp_path),
            "--no-reports", "--jobs", "1"]
    assert load_run_all().main(argv) == 0
    configs = [parameters["config"] for parameters in seen]
    assert len(configs) == 3 and all(c["lr"] == 0.05 and c["direct_connections"] is False for c in configs)
    ids = sorted(p.name for p in (tmp_path / "smoke" / "runs").iterdir())
    assert ids and all(i.endswith("_direct_connectionsFalse_lr0.05_train_subset1000") for i in ids), ids


@pytest.mark.parametrize("argument, named", [
    ("nosuch=1", "unknown setting 'nosuch'"),
    ("lrr=0.1", "unknown setting 'lrr' (did you mean 'lr'?)"),
    ("lr", "'lr' is not NAME=VALUE"),
    ("protocol=paper", "protocol is set with --protocol"),
    ("activation=swish", "activation must be one of"),
])
def test_set_refuses_what_is_not_a_setting_in_one_line(argument, named, capsys, tmp_path):
    code = None
    try:
        code = load_run_all().main(["--smoke", "--dry-run", "--set", argument, "--results-dir", str(tmp_path)])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--set" in err and named in err, err


def test_a_new_grids_report_runs_on_a_results_folder_without_figure2_csv(tmp_path, monkeypatch, capsys):
    # A new figure is a grid entry, its report module and its notebook: here a grid
    # "mini" whose report notebook writes the number of runs it read.
    import nbformat

    from made.pipeline import notebooks

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell('results_dir = "."', metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell("from pathlib import Path\nimport pandas as pd\n"
                                            "runs = pd.read_csv(Path(results_dir) / 'mini.csv')\n"
                                            "(Path(results_dir) / 'mini.md').write_text(f'{len(runs)} runs\\n')")]
    book.metadata = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
                     "language_info": {"name": "python"}}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(book, str(tmp_path / "notebooks" / "mini.ipynb"))
    monkeypatch.setattr(notebooks, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setitem(grid_module.GRIDS, "mini", {**grid_module.GRIDS["smoke"], "csv": "mini.csv",
                                                    "reports": ("mini",), "subdir": ""})
    results = tmp_path / "results"
    for p in grid_module.expand(grid_module.GRIDS["mini"]):
        finish(results / "runs" / p.run_id, p)
    assert load_run_all().main(["--grid", "mini", "--reports-only", "--results-dir", str(results)]) == 0
    assert (results / "mini.md").read_text() == "3 runs\n" and not (results / "figure2.csv").exists()
    assert f"report: {results / 'notebooks' / 'mini.ipynb'}" in capsys.readouterr().out


def test_a_report_that_reads_another_grids_table_waits_for_it(tmp_path, monkeypatch, capsys):
    # compare reads figure2.csv: on a folder with only a widths run at 2000 units it is not run, and says why.
    from made.pipeline import notebooks

    ran = []
    monkeypatch.setattr(notebooks, "execute_report", lambda name, results: ran.append(name) or results / name)
    point = next(p for p in grid_module.expand(grid_module.GRIDS["widths"]) if p.params["hidden_sizes"] == [2000])
    finish(tmp_path / "runs" / point.run_id, point)
    assert load_run_all().main(["--grid", "widths", "--reports-only", "--results-dir", str(tmp_path)]) == 0
    assert "report compare: not run, it reads figure2.csv" in capsys.readouterr().out
    # the grid's own reports, then the documents; compare waits for figure2.csv
    assert ran == ["widths", "binarizations", "samples", "documents"]


# -- an early Ctrl-C ---------------------------------------------------------------

def _interrupt_run_all(args, when, tmp_path):
    """run_all.py with ``args``, SIGINT once ``when()`` is true; (exit status, its output)."""
    import signal
    import subprocess

    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, str(ROOT / "run_all.py"), *args], cwd=ROOT, stdout=out,
                                  stderr=subprocess.STDOUT,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not when():
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        driver.send_signal(signal.SIGINT)
        status = driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
    return status, log.read_text()


def test_a_ctrl_c_while_run_all_starts_is_one_line(tmp_path):
    started = time.monotonic()
    status, text = _interrupt_run_all(["--smoke", "--dry-run", "--results-dir", str(tmp_path)],
                                      lambda: time.monotonic() - started > 0.5, tmp_path)
    assert status == 130, text
    assert "Traceback" not in text and len([l for l in text.splitlines() if "interrupted" in l]) == 1, text


@pytest.mark.slow
@needs_data
def test_a_ctrl_c_while_the_kernels_start_is_one_line(tmp_path):
    # The first second of a grid: the runs' kernels are starting (starts.log is written just
    # before); what stops them must not reach the terminal, only the driver's one line.
    runs = tmp_path / "smoke" / "runs"
    status, text = _interrupt_run_all(["--smoke", "--no-reports", "--results-dir", str(tmp_path)],
                                      lambda: bool(list(runs.glob("*/starts.log"))), tmp_path)
    assert status == 130, text
    for noise in ("Traceback", "KeyboardInterrupt", "Kernel died", "ERROR"):
        assert noise not in text, text
    assert len([l for l in text.splitlines() if l.startswith("run_all.py: interrupted")]) == 1, text


def test_only_selects_the_grids_runs_by_setting(tmp_path, capsys):
    from made.pipeline import cli

    points = grid_module.expand(grid_module.GRIDS["widths"])
    only = [cli._only("hidden_sizes=2000"), cli._only("num_masks=1")]
    chosen = [p.run_id for p in cli._select(points, only, "widths")]
    assert sorted(chosen) == sorted(p.run_id for p in points
                                    if p.params["hidden_sizes"] == [2000] and p.params["num_masks"] == 1)
    assert len(chosen) == 4  # adam and the three K = 1 candidates
    chosen = [p.run_id for p in cli._select(points, [cli._only("hidden_sizes=[8000]"), cli._only("mode=order")], "widths")]
    assert len(cli._select(points, [cli._only("hidden_sizes=500,[2000]"), cli._only("num_masks=1")], "widths")) == 9
    assert len(chosen) == 4 and all("_h8000_" in i and "_order_" in i for i in chosen)
    run_all = load_run_all()
    argv = ["--grid", "widths", "--results-dir", str(tmp_path), "--dry-run"]
    assert run_all.main([*argv, "--only", "hidden_sizes=123"]) == 2
    assert "no run of grid widths has hidden_sizes=123" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_all.main([*argv, "--only", "hiden_sizes=2000"])
    assert "did you mean 'hidden_sizes'" in capsys.readouterr().err


def test_the_grid_file_beside_a_table_holds_its_points_and_facts_and_no_machine_path(tmp_path):
    from made.pipeline.results import write_grid

    points = grid_module.expand(grid_module.GRIDS["uci"], data_dir=str(tmp_path / "data"), progress=False)
    path = write_grid(tmp_path, "uci.csv", points, grid_module.GRIDS["uci"]["facts"])
    first = path.read_bytes()
    assert path.name == "uci_grid.json" and str(tmp_path).encode() not in first  # data_dir is left out
    grid = json.loads(first)
    assert [p["run_id"] for p in grid["points"]] == [p.run_id for p in points]
    assert {"dataset": "dna", "k": "sampling", "protocol": "adadelta", "mode": "order"} in grid["published"]
    assert all(r["why"] for r in grid["left_out"]) and len(grid["left_out"]) == len(grid_module.LEFT_OUT_OF_SEARCH)
    assert write_grid(tmp_path, "uci.csv", points, grid_module.GRIDS["uci"]["facts"]).read_bytes() == first
    # and the reports read it back as the grid's own constants
    from made.reports.runs import read_grid

    read = read_grid(tmp_path, "uci")
    assert read["published"] == grid_module.AS_PUBLISHED and read["left_out"] == grid_module.LEFT_OUT_OF_SEARCH
    assert read_grid(tmp_path, "nothing") == {"points": [], "published": {}, "left_out": {}}
