"""run_all.py end to end: real notebooks through papermill on real data (MNIST rebuilt from raw)."""

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from made import grid as grid_module
from made.pipeline import DONE, ERROR, KERNEL, collect_curves, ensure_kernel, execute_run, is_complete

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(not os.environ.get("MADE_DATA_DIR"),
                                reason="MADE_DATA_DIR is not set: the pipeline runs on real MNIST")


def load_run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_runs_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    name = ensure_kernel()
    spec = KernelSpecManager().get_kernel_spec(name)
    assert name == KERNEL and spec.argv[0] == sys.executable


@pytest.mark.parametrize("argv, option, allowed", [
    (["--jobs", "0", "--dry-run"], "--jobs", "1 or more"),
    (["--seeds", "0"], "--seeds", "positive"),
    (["--max-epochs", "-5", "--dry-run"], "--max-epochs", "0 for none"),
    (["--threads", "0"], "--threads", "1 or more"),
    (["--device", "tpu"], "--device", "cpu, cuda"),
    (["--data-dir", "/nonexistent/made-data", "--smoke"], "--data-dir", "not a directory"),
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


@pytest.mark.slow
def test_dry_run_estimates_from_a_measurement(capsys):
    run_all = load_run_all()
    assert run_all.main(["--smoke", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "binarized_mnist_h500_K2_order_seed0_adam_train_subset1000" in out
    assert "s/epoch" in out and "estimated wall time" in out


def test_dry_run_for_a_missing_gpu_counts_flops(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_all = load_run_all()
    assert run_all.main(["--grid", "large", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "'cuda' is not on this machine" in out
    # 72.5 TFLOP an epoch (direct connections included) at 10 TFLOP/s
    assert "binarized_mnist_h8000x8000_K32_order_seed0_paper: 7.3 s/epoch" in out
    assert out.count("estimated wall time") == 2


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
    import papermill

    point = grid_module.expand(grid_module.GRIDS["smoke"])[0]
    run_dir = tmp_path / point.run_id
    run_dir.mkdir()
    (run_dir / ERROR).write_text("Traceback: an earlier attempt failed\n")

    def fake_notebook(source, output, parameters, cwd, **kwargs):  # stands in for train_made
        (Path(cwd) / "metrics.json").write_text(json.dumps({"max_epochs": parameters["max_epochs"]}))

    monkeypatch.setattr(papermill, "execute_notebook", fake_notebook)
    outcome = execute_run(point, tmp_path, {}, KERNEL)
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
    assert "| setting |" in (results / "comparison.md").read_text()
    for run_id in frame["run_id"]:
        run = results / "runs" / run_id
        assert (run / DONE).exists() and (run / "train_made.ipynb").exists()
        assert (run / "history.csv").exists()
    assert seconds < 180


@pytest.mark.slow
@needs_data
def test_second_call_reruns_nothing(smoke):
    run_all, top, _, first = smoke
    results = top / "smoke"
    before = (results / "figure2.csv").read_text()
    t0 = time.perf_counter()
    assert run_all.main(["--smoke", "--results-dir", str(top), "--no-reports"]) == 0
    assert time.perf_counter() - t0 < 10
    assert (results / "figure2.csv").read_text() == before


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
    bad_grid = dict(base={**grid_module.PAPER_MNIST, "train_subset": 200, "max_epochs": 1},
                    axes=dict(num_masks=[1], activation=["relu", "swish"]), seeds=1,
                    csv="figure2.csv", reports=())
    monkeypatch.setitem(grid_module.GRIDS, "smoke", bad_grid)
    monkeypatch.setitem(run_all.GRIDS, "smoke", bad_grid)
    code = run_all.main(["--smoke", "--results-dir", str(tmp_path), "--no-reports"])
    assert code != 0
    err = capsys.readouterr().err
    bad_id = "binarized_mnist_h500_K1_single_seed0_activationswish_train_subset200"
    assert f"FAILED {bad_id}" in err and "activation" in err
    assert (tmp_path / "runs" / bad_id / ERROR).exists()
    assert not (tmp_path / "runs" / bad_id / DONE).exists()
    good = pd.read_csv(tmp_path / "figure2.csv")
    assert list(good["run_id"]) == ["binarized_mnist_h500_K1_single_seed0_train_subset200"]


def test_every_config_field_reaches_the_notebook(tmp_path):
    """The notebook's quick interactive defaults (a training subset, 15 epochs)
    must never leak into a grid run: every field is passed explicitly."""
    import dataclasses

    from made.experiment import ExperimentConfig
    from made.grid import GRIDS, expand
    from made.pipeline import notebook_parameters

    point = expand(GRIDS["figure2"])[0]
    params = notebook_parameters({**point.params, "threads": 1}, point.mode, tmp_path)
    for f in dataclasses.fields(ExperimentConfig):
        assert f.name in params, f.name
    assert params["train_subset"] is None and params["max_epochs"] is None and params["valid_masks"] is None
    assert params["direct_connections"] is True and params["init"] == "orthogonal"
    assert params["hidden_sizes"] == "500" and params["threads"] == 1


def test_notebook_parameters_cell_names_every_field_once():
    # One definition: the parameters cell lists every ExperimentConfig field and
    # the notebook builds its config from them in one line.
    import ast
    import dataclasses

    import nbformat

    from made.experiment import ExperimentConfig

    nb = nbformat.read(ROOT / "notebooks" / "train_made.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = [t.id for node in ast.parse(cell.source).body for t in node.targets]
    assert len(names) == len(set(names))
    assert {f.name for f in dataclasses.fields(ExperimentConfig)} <= set(names)
    assert any("ExperimentConfig.from_params(globals())" in c.source for c in nb.cells)


def test_a_dataset_that_cannot_be_had_is_reported_once_not_a_traceback(tmp_path, monkeypatch, capsys):
    import urllib.error

    from made import data

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    run_all = load_run_all()
    code = run_all.main(["--grid", "uci", "--datasets", "connect4", "--data-dir", str(tmp_path),
                         "--results-dir", str(tmp_path / "results"), "--no-reports"])
    err = capsys.readouterr().err
    assert code == 1
    assert "SKIPPED every connect4 run" in err and "Traceback" not in err
    assert "github.com/mgermain/MADE/raw/master/datasets/connect4.npz" in err and "put it in" in err
    assert not (tmp_path / "results" / "runs").exists() or not any((tmp_path / "results" / "runs").iterdir())


def test_datasets_option_names_what_the_grid_has(capsys, monkeypatch):
    import torch

    run_all = load_run_all()
    assert run_all.main(["--grid", "uci", "--datasets", "cifar", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--datasets" in err and "'cifar'" in err and "adult" in err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a FLOP estimate: nothing timed
    assert run_all.main(["--grid", "uci", "--datasets", "dna,nips", "--dry-run", "--device", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "dna_h500_Ksampling_order_seed0_adadelta_valid_masks300" in out and "adult_" not in out


def test_grid_estimate_is_the_makespan_of_run_grid_order():
    from made.grid import GRIDS, expand
    from made.pipeline import GridEstimate, schedule
    from made.timing import RunEstimate

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

    from made.timing import concurrent_load

    with concurrent_load(1, 6, [8], 1):
        alive = [p for p in mp.active_children() if p.is_alive()]
        assert len(alive) == 1
        pid = alive[0].pid
    assert not any(p.pid == pid for p in mp.active_children())
    with pytest.raises(OSError):
        os.kill(pid, 0)  # gone, not just detached


def test_a_datasets_call_keeps_the_other_datasets_in_the_table(tmp_path, monkeypatch):
    # Training only --datasets dna must not drop adult's finished runs from uci.csv.
    run_all = load_run_all()
    points = grid_module.expand(grid_module.GRIDS["uci"])
    finished = [p for p in points if p.params["dataset"] == "dna"] + [
        next(p for p in points if p.params["dataset"] == "adult")]
    for p in finished:
        run_dir = tmp_path / "runs" / p.run_id
        run_dir.mkdir(parents=True)
        metrics = {**p.config().to_params(), "num_masks": p.params["num_masks"] or "sampling",
                   "stopped_early": True, "valid_nll": 1.0}
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        pd.DataFrame(dict(epoch=[1], train_nll=[1.0], valid_nll=[1.0])).to_csv(run_dir / "history.csv", index=False)
        (run_dir / DONE).write_text("done\n")
    monkeypatch.setattr(run_all, "_with_data", lambda points, data_dir: (points, {}))
    assert run_all.main(["--grid", "uci", "--datasets", "dna", "--results-dir", str(tmp_path), "--no-reports"]) == 0
    table = pd.read_csv(tmp_path / "uci.csv")
    assert sorted(table["run_id"]) == sorted(p.run_id for p in finished)
