"""Figure 2 and the comparison table from synthetic run rows."""

import math

import numpy as np
import pandas as pd
import pytest

from made.compare import comparison_table, reference_numbers, to_markdown
from made.plots import figure2, figure2_summary, learning_curves, plot_history, plot_samples, save_figure


def fake_runs() -> pd.DataFrame:
    rows = []
    for k in (1, 2, 4, 32):
        modes = ["single"] if k == 1 else ["order", "connectivity"]
        for mode in modes:
            for seed in ((0, 1) if k in (1, 32) else (0,)):
                rows.append(dict(
                    run_id=f"r{k}{mode}{seed}", dataset="binarized_mnist", data_variant="static-seed0",
                    hidden_sizes="500", num_masks=k, mode=mode, order_agnostic=mode != "connectivity",
                    connectivity_agnostic=True, seed=seed, max_epochs=40, epochs=40, best_epoch=40,
                    stopped_early=False, valid_nll=95.0 + seed,
                    test_nll_single_mask=94.0 + math.log2(k) * 0.5 + seed,
                    test_nll_ensemble=94.0 - math.log2(k) + seed,
                    test_nll_ensemble_stderr=0.3, ensemble_masks=k,
                    test_nll_logit_average=90.0 - k * 0.1))
    return pd.DataFrame(rows)


def test_figure2_summary_means_and_stderr_over_seeds():
    s = figure2_summary(fake_runs())
    k1 = s[(s.num_masks == 1) & (s.training == "order") & (s.evaluation == "single mask")].iloc[0]
    assert k1["mean"] == pytest.approx(94.5) and k1["seeds"] == 2
    assert k1["stderr"] == pytest.approx(0.5)  # std of {94, 95} / sqrt(2)
    # K = 1 appears in both training modes' curves; 4 curves in all
    assert set(s[s.num_masks == 1].training) == {"order", "connectivity"}
    assert s.groupby(["training", "evaluation"]).ngroups == 4


def test_figure2_plot_saves_png_and_pdf(tmp_path):
    fig = figure2(fake_runs(), title="test")
    assert len(fig.axes[0].get_legend().get_texts()) == 5  # 4 curves + the seed's point
    paths = save_figure(fig, tmp_path / "figure2")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    # the same figure twice gives the same bytes (a rerun leaves committed figures unchanged)
    first = [p.read_bytes() for p in paths]
    again = save_figure(figure2(fake_runs(), title="test"), tmp_path / "again")
    assert [p.read_bytes() for p in again] == first


def test_history_and_samples_plots():
    h = pd.DataFrame(dict(epoch=[1, 2, 3], train_nll=[3.0, 2.0, 1.0], valid_nll=[3.0, 2.5, 2.7]))
    fig = plot_history(h)
    assert "epoch 2" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert len(plot_samples(np.zeros((10, 784))).axes) == 16  # 2 rows of 8 images
    assert len(plot_samples(np.zeros((5, 180))).axes) == 1  # non-square: one matrix


def fake_curves() -> pd.DataFrame:
    """Validation NLL falling as 100 + 10 K / epoch, seed 1 one nat above seed 0."""
    rows = []
    for run in fake_runs().itertuples():
        for epoch in range(1, 41):
            rows.append(dict(run_id=run.run_id, dataset=run.dataset, num_masks=run.num_masks,
                             mode=run.mode, seed=run.seed, epoch=epoch, train_nll=0.0,
                             valid_nll=100 + 10 * run.num_masks / epoch + run.seed))
    return pd.DataFrame(rows)


def test_learning_curves_one_line_per_k_in_each_mode(tmp_path):
    fig = learning_curves(fake_curves(), title="test")
    order, conn = fig.axes
    assert len(order.get_lines()) == len(conn.get_lines()) == 4  # K = 1, 2, 4, 32
    low, high = order.get_ylim()
    # the first epochs' fall (K = 32 starts at 420) is left out of the y range
    assert low < 101 and high < 200
    assert [p.stat().st_size > 1000 for p in save_figure(fig, tmp_path / "curves")] == [True, True]


def test_comparison_table_against_the_papers_numbers():
    table = comparison_table(fake_runs())
    refs = reference_numbers()
    assert {"mnist", "uci", "seed"} <= set(refs["table"])
    k1 = table[table.setting.str.contains("1 mask")].iloc[0]
    assert k1["reference"] == pytest.approx(88.40) and k1["reference_confidence"] == "recalled"
    assert k1["this_project"] == pytest.approx(94.5) and k1["difference"] == pytest.approx(94.5 - 88.40)
    seed = table[table.setting.str.contains("VALIDATION")].iloc[0]
    assert seed["reference"] == pytest.approx(94.5) and seed["this_project"] == pytest.approx(95.5)
    logit = table[table.setting.str.contains("logit average")].iloc[0]
    assert logit["reference"] == pytest.approx(79.3)
    from made.compare import report_markdown

    assert "not a likelihood" in report_markdown(table)
    md = to_markdown(table)
    assert md.count("\n") == len(table) + 2 and "recalled" in md


def test_comparison_with_uci_rows():
    uci = pd.DataFrame([
        dict(dataset="dna", hidden_sizes="500", num_masks="1", test_nll_single_mask=84.7,
             test_nll_ensemble=84.7, ensemble_masks=1, data_variant="larochelle", max_epochs=None,
             best_epoch=150, stopped_early=True),
        dict(dataset="dna", hidden_sizes="500", num_masks="sampling", test_nll_single_mask=90.0,
             test_nll_ensemble=80.1, ensemble_masks=1000, data_variant="larochelle", max_epochs=None,
             best_epoch=300, stopped_early=True),
    ])
    # a second learning rate: better on test, worse on validation -> not selected
    other = uci.iloc[[0]].assign(lr=0.03, valid_nll=90.0, test_nll_single_mask=80.0)
    uci = pd.concat([uci.assign(lr=0.01, valid_nll=85.0), other], ignore_index=True)
    table = comparison_table(fake_runs(), uci)
    dna = table[table.setting.str.startswith("dna")]
    assert list(dna["reference"]) == pytest.approx([83.63, 79.66])
    assert list(dna["this_project"]) == pytest.approx([84.7, 80.1])
    assert "lr 0.01 chosen on validation" in dna["note"].iloc[0]
    # with named recipes the note names the protocol that won on validation
    named = uci.assign(protocol=["paper", "adadelta", "adadelta"])
    dna = comparison_table(fake_runs(), named)
    dna = dna[dna.setting.str.startswith("dna")]
    assert list(dna["this_project"]) == pytest.approx([84.7, 80.1])
    assert "protocol paper chosen on validation NLL" in dna["note"].iloc[0]


def test_epochs_note_gives_a_range_of_best_epochs_only_when_they_differ():
    from made.compare import _epochs

    def note(best, caps=(400, 400), stopped=(False, False)):
        return _epochs(pd.DataFrame(dict(max_epochs=list(caps), best_epoch=best, stopped_early=list(stopped))))

    assert note([400, 400]) == "best epoch 400; capped at 400 epochs"
    assert note([398, 400]) == "best epoch 398-400; capped at 400 epochs"
    assert note([120, 95], caps=(None, None), stopped=(True, True)) == "best epoch 95-120; early stopping"


def test_uci_table_selects_on_validation_and_reports_what_the_issue_asks():
    from made.compare import uci_table

    base = dict(dataset="dna", hidden_sizes="500", num_masks="sampling", ensemble_masks=1000,
                data_variant="larochelle", stopped_early=True, train_seconds=600.0, valid_seconds=300.0,
                eval_seconds=60.0, test_nll_single_mask=95.0, test_nll_single_mask_stderr=0.5,
                test_nll_ensemble_stderr=0.4)
    runs = pd.DataFrame([
        {**base, "seed": 0, "protocol": "adadelta", "valid_nll": 80.0, "test_nll_ensemble": 79.8, "best_epoch": 213},
        {**base, "seed": 1, "protocol": "adadelta", "valid_nll": 80.2, "test_nll_ensemble": 80.0, "best_epoch": 190},
        # better on test, worse on validation: never chosen
        {**base, "seed": 0, "protocol": "paper", "valid_nll": 85.0, "test_nll_ensemble": 70.0, "best_epoch": 500},
    ])
    row = uci_table(runs).iloc[0]
    assert row["setting"] == "mask sampling (1000 test masks)" and row["protocol"] == "adadelta"
    assert row["valid_nll"] == pytest.approx(80.1) and row["not_chosen_valid_nll"] == "paper 85.00"
    assert row["test_nll"] == pytest.approx(79.9) and row["seeds"] == 2
    assert row["stderr_over_examples"] == pytest.approx(0.4) and row["stderr_over_seeds"] == pytest.approx(0.1)
    assert row["paper"] == pytest.approx(79.66) and row["difference"] == pytest.approx(79.9 - 79.66)
    assert row["best_epoch"] == "213/190" and row["wall_minutes"] == pytest.approx(2 * 960 / 60)


def test_the_recipe_is_chosen_on_validation_averaged_over_seeds():
    from made.compare import select_on_validation

    # seed 0 alone would pick "paper", seed 1 "adadelta"; the mean over seeds picks adadelta,
    # and both of its seeds are kept, never a mix of recipes in one row
    runs = pd.DataFrame([
        dict(dataset="mushrooms", num_masks="sampling", seed=0, protocol="paper", valid_nll=9.9),
        dict(dataset="mushrooms", num_masks="sampling", seed=1, protocol="paper", valid_nll=10.9),
        dict(dataset="mushrooms", num_masks="sampling", seed=0, protocol="adadelta", valid_nll=10.0),
        dict(dataset="mushrooms", num_masks="sampling", seed=1, protocol="adadelta", valid_nll=10.1),
        dict(dataset="adult", num_masks="1", seed=0, protocol="paper", valid_nll=13.0),
        dict(dataset="adult", num_masks="1", seed=0, protocol="adadelta", valid_nll=13.5),
    ])
    kept = select_on_validation(runs, ["dataset", "num_masks"])
    assert sorted(map(tuple, kept[["dataset", "protocol", "seed"]].values)) == [
        ("adult", "paper", 0), ("mushrooms", "adadelta", 0), ("mushrooms", "adadelta", 1)]
