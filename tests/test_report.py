"""Figure 2 and the comparison table from synthetic run rows."""

import math

import numpy as np
import pandas as pd
import pytest

from made.reports.compare import comparison_table, reference_numbers, to_markdown
from made.reports.plots import figure2, figure2_summary, learning_curves, plot_history, plot_samples, save_figure


# The two training modes get different numbers, so that a report which swaps
# them (or shows one mode twice) fails: order-agnostic training hurts mask 0
# more and helps the ensemble more than connectivity-agnostic training.
SLOPES = {"single": (0.5, -1.0), "order": (0.5, -1.0), "connectivity": (0.2, -0.3)}


def fake_runs() -> pd.DataFrame:
    """K = 1 and 32 with two seeds (seed 1 one nat above seed 0), K = 2 and 4 with one."""
    rows = []
    for k in (1, 2, 4, 32):
        modes = ["single"] if k == 1 else ["order", "connectivity"]
        for mode in modes:
            single, ensemble = SLOPES[mode]
            for seed in ((0, 1) if k in (1, 32) else (0,)):
                rows.append(dict(
                    run_id=f"r{k}{mode}{seed}", dataset="binarized_mnist", data_variant="static-seed0",
                    hidden_sizes="500", num_masks=k, mode=mode, order_agnostic=mode != "connectivity",
                    connectivity_agnostic=True, seed=seed, max_epochs=40, epochs=40, best_epoch=40,
                    stopped_early=False, valid_nll=95.0 + seed, valid_masks=8 if k > 8 else None,
                    lr_step_epochs=15, lr_step_gamma=0.1,
                    test_nll_single_mask=94.0 + math.log2(k) * single + seed,
                    test_nll_ensemble=94.0 + math.log2(k) * ensemble + seed,
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
    # one seed: a mean without a standard error
    k2 = s[(s.num_masks == 2) & (s.training == "connectivity") & (s.evaluation == "single mask")].iloc[0]
    assert k2["seeds"] == 1 and k2["mean"] == pytest.approx(94.2) and math.isnan(k2["stderr"])


def _line(fig, label):
    """The plotted (x, y) of the legend entry ``label``, and its error bars' segments."""
    ax = fig.axes[0]
    for container in ax.containers:
        if container.get_label() == label:
            x, y = container.lines[0].get_data()
            bars = container.lines[2][0].get_segments() if container.lines[2] else []
            return np.asarray(x, float), np.asarray(y, float), bars
    raise AssertionError(f"no line {label!r} in {[c.get_label() for c in ax.containers]}")


def test_figure2_plots_each_mode_under_its_own_name():
    fig = figure2(fake_runs())
    x, y, _ = _line(fig, "order-agnostic, mask 0 alone")
    assert list(x) == [1, 2, 4, 32] and y[-1] == pytest.approx(94.0 + 5 * 0.5 + 0.5)
    x, y, _ = _line(fig, "connectivity-agnostic, mask 0 alone")
    assert y[-1] == pytest.approx(94.0 + 5 * 0.2 + 0.5)
    _, y, _ = _line(fig, "order-agnostic, ensemble of training masks")
    assert y[-1] == pytest.approx(94.0 - 5 * 1.0 + 0.5)
    _, y, _ = _line(fig, "connectivity-agnostic, ensemble of training masks")
    assert y[-1] == pytest.approx(94.0 - 5 * 0.3 + 0.5)


def test_figure2_error_bars_only_where_there_are_two_seeds():
    _, _, bars = _line(figure2(fake_runs()), "connectivity-agnostic, mask 0 alone")
    drawn = [seg for seg in bars if len(seg) and np.isfinite(seg).all()]
    # K = 1 and 32 (two seeds) get a bar of one standard error each way; K = 2 and 4 none
    assert sorted(seg[0][0] for seg in drawn) == [1, 32]
    assert all(seg[1][1] - seg[0][1] == pytest.approx(2 * 0.5) for seg in drawn)
    assert "one seed" in figure2(fake_runs()).axes[0].get_legend().get_title().get_text()


def test_figure2_plot_saves_png_and_pdf(tmp_path):
    fig = figure2(fake_runs(), title="test")
    # 4 curves; the seed project's 94.5 (a validation NLL) is not on this test-NLL axis
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(texts) == 4 and not any("seed project" in t for t in texts)
    assert all(94.5 not in c.get_offsets()[:, 1] for c in fig.axes[0].collections if hasattr(c, "get_offsets")
               and len(c.get_offsets()))
    paths = save_figure(fig, tmp_path / "figure2")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    # the same figure twice gives the same bytes (a rerun leaves committed figures unchanged)
    first = [p.read_bytes() for p in paths]
    again = save_figure(figure2(fake_runs(), title="test"), tmp_path / "again")
    assert [p.read_bytes() for p in again] == first


def test_figure2_table_and_findings_with_one_and_two_seeds():
    from made.reports.compare import figure2_findings, figure2_markdown, figure2_table

    table = figure2_table(fake_runs()).set_index("K")
    assert table.loc[1, "order-agnostic, mask 0"] == "94.50 ± 0.50"
    assert table.loc[2, "connectivity-agnostic, mask 0"] == "94.20"  # one seed: no ±
    assert table.loc[32, "order-agnostic, ensemble"] == "89.50 ± 0.50"
    assert table.loc[32, "connectivity-agnostic, ensemble"] == "93.00 ± 0.50"
    assert list(table["seeds"]) == ["2", "1", "1", "2"]
    text = figure2_findings(fake_runs())
    # K = 32 against K = 1, two seeds each: -5.00 and -1.50 nats, combined se sqrt(0.5^2 + 0.5^2)
    assert "Order-agnostic: better at K = 32 (-5.00 ± 0.71)" in text
    assert "Connectivity-agnostic: better at K = 32 (-1.50 ± 0.71)" in text
    # one seed at K = 2 and 4: the differences are given, not judged
    assert "Order-agnostic: better at K = 32 (-5.00 ± 0.71); one seed, not judged at K = 2 (-1.50), K = 4 (-2.50)" in text
    # mask 0 at K = 32: 95.5 connectivity- against 97.0 order-agnostic
    assert "connectivity-agnostic better at K = 32 (-1.50 ± 0.71)" in text
    assert "| 32 | 97.00 ± 0.50 |" in figure2_markdown(fake_runs())


def test_history_and_samples_plots():
    h = pd.DataFrame(dict(epoch=[1, 2, 3], train_nll=[3.0, 2.0, 1.0], valid_nll=[3.0, 2.5, 2.7]))
    fig = plot_history(h)
    assert "epoch 2" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert len(plot_samples(np.zeros((10, 784))).axes) == 16  # 2 rows of 8 images
    assert len(plot_samples(np.zeros((5, 180))).axes) == 1  # non-square: one matrix


def fake_curves(stop_seed1_at: int | None = None) -> pd.DataFrame:
    """Validation NLL falling as 100 + 10 K / epoch, seed 1 one nat above seed 0;
    seed 1 stopped after ``stop_seed1_at`` epochs (else 40)."""
    rows = []
    for run in fake_runs().itertuples():
        last = stop_seed1_at if run.seed == 1 and stop_seed1_at else 40
        for epoch in range(1, last + 1):
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


def test_learning_curves_stop_at_the_shortest_seed_and_say_what_the_legend_needs():
    fig = learning_curves(fake_curves(stop_seed1_at=25), fake_runs())
    order = fig.axes[0]
    lines = {line.get_label(): line for line in order.get_lines()}
    # K = 1 and 32 have two seeds, one stopped at 25: their mean ends there, not as one seed's tail
    assert max(lines["K = 1"].get_xdata()) == 25 and max(lines["K = 2"].get_xdata()) == 40
    # the legend says which K validate on fewer masks (valid_masks), and where the rate
    # stepped down: every lr_step_epochs (15) of the runs, not a typed-in epoch
    assert "K = 32, validated on 8 masks" in lines
    decay = [line for label, line in lines.items() if label.startswith("learning rate")]
    assert decay and decay[0].get_label() == "learning rate ÷ 10 after epoch 15, 30"
    assert sorted(line.get_xdata()[0] for line in order.get_lines() if line.get_linestyle() == ":") == [15, 30]


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
    from made.reports.compare import report_markdown

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
    from made.reports.compare import _epochs

    def note(best, caps=(400, 400), stopped=(False, False)):
        return _epochs(pd.DataFrame(dict(max_epochs=list(caps), best_epoch=best, stopped_early=list(stopped))))

    assert note([400, 400]) == "best epoch 400; capped at 400 epochs"
    assert note([398, 400]) == "best epoch 398-400; capped at 400 epochs"
    assert note([120, 95], caps=(None, None), stopped=(True, True)) == "best epoch 95-120; early stopping"


def test_uci_table_selects_on_validation_and_reports_what_the_issue_asks():
    from made.reports.compare import uci_table

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
    table = uci_table(runs)
    row = table.iloc[0]
    # dna under mask sampling is the authors' published command (adadelta): it is
    # the row whatever else ran; the other recipe stands beside it, not chosen
    assert row["setting"] == "mask sampling (1000 test masks)" and row["protocol"] == "adadelta"
    assert row["role"] == "authors' command" and row["not_chosen_valid_nll"] == ""
    assert row["valid_nll"] == pytest.approx(80.1)
    assert list(table["role"]) == ["authors' command", "beside the authors' command"]
    assert table.iloc[1]["protocol"] == "paper" and table.iloc[1]["test_nll"] == pytest.approx(70.0)
    assert row["test_nll"] == pytest.approx(79.9) and row["seeds"] == 2
    assert row["stderr_over_examples"] == pytest.approx(0.4) and row["stderr_over_seeds"] == pytest.approx(0.1)
    assert row["paper"] == pytest.approx(79.66) and row["difference"] == pytest.approx(79.9 - 79.66)
    assert row["best_epoch"] == "213/190" and row["wall_minutes"] == pytest.approx(2 * 960 / 60)


def _uci_run(dataset, protocol, mode, valid, test, seed=0, stopped=True):
    return dict(dataset=dataset, hidden_sizes="500", num_masks="sampling", ensemble_masks=1000, seed=seed,
                data_variant="v", protocol=protocol, mode=mode, valid_nll=valid, test_nll_ensemble=test,
                test_nll_single_mask=test + 2, best_epoch=100, stopped_early=stopped)


def test_the_uci_search_chooses_protocol_and_resampling_on_validation_never_on_test():
    from made.reports.compare import uci_expected, uci_rows, uci_table

    runs = pd.DataFrame([
        _uci_run("mushrooms", "paper", "order", 12.9, 12.8),
        _uci_run("mushrooms", "adadelta", "order", 11.8, 11.7),
        _uci_run("mushrooms", "adadelta", "connectivity", 10.0, 10.1),
        _uci_run("mushrooms", "adadelta", "connectivity", 10.2, 10.3, seed=1),
        # planted: the best test NLL by far, worse on validation: never chosen
        _uci_run("mushrooms", "paper", "connectivity", 10.5, 5.0),
        # the best validation NLL of all, but it never stopped early: never chosen
        _uci_run("mushrooms", "adadelta", "order", 9.0, 4.0, seed=1, stopped=False),
    ])
    expected = uci_expected()
    table = uci_table(runs, expected)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["protocol"], row["resampling"], row["role"]) == ("adadelta", "connectivity only", "chosen on validation")
    assert row["test_nll"] == pytest.approx(10.2) and row["seeds"] == 2
    others = row["not_chosen_valid_nll"]
    assert "paper, ordering and connectivity 12.90" in others and "paper, connectivity only 10.50" in others
    assert "adadelta, ordering and connectivity 10.40 (did not stop early)" in others
    # the planted test number flips nothing: the same choice with it swapped for the chosen one's
    flipped = runs.copy()
    flipped.loc[4, "test_nll_ensemble"] = 50.0
    assert uci_table(flipped, expected).iloc[0]["protocol"] == "adadelta"
    # a recipe of the grid without a finished run is said so
    partial = uci_table(runs[runs["protocol"] != "paper"], expected).iloc[0]["not_chosen_valid_nll"]
    assert "paper, ordering and connectivity: not finished" in partial
    assert "paper, connectivity only: not finished" in partial
    # the comparison table's label says which resampling the row used
    setting = uci_rows(runs)[0]["setting"]
    assert "mask sampling (connectivity only)" in setting
    assert "protocol adadelta, connectivity only chosen on validation NLL" in uci_rows(runs)[0]["note"]


def test_dna_keeps_the_published_command_and_reports_connectivity_only_beside_it():
    from made.reports.compare import uci_rows, uci_table

    runs = pd.DataFrame([
        _uci_run("dna", "adadelta", "order", 80.0, 79.8), _uci_run("dna", "adadelta", "order", 80.2, 79.7, seed=1),
        # better on validation, yet not chosen: dna's row is the authors' command as published
        _uci_run("dna", "adadelta", "connectivity", 78.0, 78.5),
    ])
    table = uci_table(runs)
    assert list(zip(table["role"], table["resampling"])) == [
        ("authors' command", "ordering and connectivity"), ("beside the authors' command", "connectivity only")]
    assert table["test_nll"].tolist() == pytest.approx([79.75, 78.5])
    rows = uci_rows(runs)
    assert [r["this_project"] for r in rows] == pytest.approx([79.75, 78.5])
    assert "as published" in rows[0]["note"] and "beside the authors' command" in rows[1]["note"]
    assert "connectivity only" in rows[1]["setting"]


def test_the_recipe_is_chosen_on_validation_averaged_over_seeds():
    from made.reports.compare import select_on_validation

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


def test_the_difference_rule():
    from made.reports.compare import difference

    # a difference only beyond sqrt(se_a^2 + se_b^2): here 0.5
    d = difference(90.0, 0.3, 91.0, 0.4)
    assert d.verdict == "lower" and d.delta == pytest.approx(-1.0) and d.combined_se == pytest.approx(0.5)
    assert difference(92.0, 0.3, 91.0, 0.4).verdict == "higher"
    assert difference(91.4, 0.3, 91.0, 0.4).verdict == "within the spread"
    assert difference(91.5, 0.3, 91.0, 0.4).verdict == "within the spread"  # not beyond: equal
    # one seed on either side: no spread to judge by, never a difference however large
    assert difference(80.0, float("nan"), 91.0, 0.4).verdict == "one seed"
    assert difference(91.0, 0.4, 80.0, float("nan")).verdict == "one seed"
    # a number quoted without a spread (the paper's) enters with se 0
    assert difference(88.5, 0.2, 88.4).verdict == "within the spread"
    assert difference(88.7, 0.2, 88.4).verdict == "higher"
    assert difference(float("nan"), 0.2, 88.4).verdict == "missing"
    assert "within the spread" in difference(91.4, 0.3, 91.0, 0.4).text()
    assert "one seed" in difference(80.0, float("nan"), 91.0, 0.4).text()


def test_comparison_keeps_the_modes_apart():
    table = comparison_table(fake_runs())
    row = table[table.setting == "binarized MNIST, 1x500, 32 masks (order-agnostic), ensemble"].iloc[0]
    assert row["this_project"] == pytest.approx(89.5)  # order-agnostic; connectivity-agnostic is 93.0
    single = table[table.setting.str.contains("single mask at test")].iloc[0]
    assert single["this_project"] == pytest.approx(97.0)  # not connectivity-agnostic's 95.5


def wide_runs(widths=(500, 2000, 8000), seeds=(0,)) -> pd.DataFrame:
    """The widths grid: K = 1 and 32 in both modes per width, 1 nat better per
    fourfold width; 32 masks help the ensemble and hurt mask 0, order-agnostic
    training more of both; seed 1 is 0.2 nats above seed 0."""
    rows = []
    for width in widths:
        gain = math.log(width / 500, 4)
        for k, mode in ((1, "single"), (32, "order"), (32, "connectivity")):
            for seed in seeds:
                single = 92.0 - gain + (3.0 if mode == "order" else 1.0 if mode == "connectivity" else 0) + 0.2 * seed
                ensemble = 92.0 - gain - (1.0 if mode == "order" else 0.5 if mode == "connectivity" else 0) + 0.2 * seed
                rows.append(dict(run_id=f"w{width}{k}{mode}{seed}", dataset="binarized_mnist",
                                 data_variant="static-seed0", protocol="adam", hidden_sizes=str(width),
                                 num_masks=k, mode=mode,
                                 seed=seed, test_nll_single_mask=single, test_nll_ensemble=ensemble,
                                 test_nll_logit_average=80.0, best_epoch=50, epochs=80, stopped_early=True,
                                 max_epochs=None, valid_nll=ensemble + 1))
    return pd.DataFrame(rows)


def test_widths_figure_leaves_a_gap_for_a_missing_width(tmp_path):
    from made.reports.plots import widths_figure

    runs = wide_runs(widths=(500, 8000))  # the 2000-unit runs are not done
    fig = widths_figure(runs, title="test")
    x, y, _ = _line(fig, "K = 32, order-agnostic, ensemble")
    assert list(x) == [500, 2000, 8000] and math.isnan(y[1]) and y[2] == pytest.approx(92.0 - 2 - 1)
    _, y, _ = _line(fig, "K = 32, connectivity-agnostic, mask 0 alone")
    assert y[0] == pytest.approx(93.0) and math.isnan(y[1])
    _, y, _ = _line(fig, "K = 1")
    assert y[0] == pytest.approx(92.0)
    # the paper's rows are points of their own, labelled as recalled
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sum("paper" in t and "recalled" in t for t in labels) == 2
    assert fig.axes[0].get_xlabel() == "hidden units (one hidden layer)" and "nats" in fig.axes[0].get_ylabel()
    first = [p.read_bytes() for p in save_figure(fig, tmp_path / "widths")]
    assert [p.read_bytes() for p in save_figure(widths_figure(runs, title="test"), tmp_path / "again")] == first
    # only the 500-unit runs (Figure 2's): still every width on the axis, no crash
    x, y, _ = _line(widths_figure(wide_runs(widths=(500,))), "K = 1")
    assert list(x) == [500, 2000, 8000] and np.isnan(y[1:]).all()


def test_widths_table_and_paragraph_before_the_8000_unit_runs():
    from made.reports.compare import widths_markdown, widths_paragraph, widths_table

    runs = wide_runs(widths=(500, 2000))
    table = widths_table(runs).set_index("hidden units")
    assert table.loc["8000", "K = 1"] == "not run yet" and table.loc["8000", "seeds"] == "0"
    assert table.loc["500", "K = 32, order-agnostic, ensemble"] == "91.00"  # one seed: no ±
    paper = table.loc[[i for i in table.index if i.startswith("paper")][0]]
    assert paper["K = 1"] == "88.40" and paper["K = 32, order-agnostic, ensemble"] == "88.04"
    text = widths_paragraph(runs)
    assert "not done yet" in text and "help" in text
    assert "not done yet" in widths_markdown(runs)


def test_widths_paragraph_answers_at_8000_units_by_the_difference_rule():
    from made.reports.compare import widths_paragraph

    # two seeds, 0.2 nats apart: standard error 0.1 a mean, 0.14 combined
    text = widths_paragraph(wide_runs(seeds=(0, 1)))
    assert "At 8000 hidden units" in text and "K = 1 gives 90.10 ± 0.10 nats" in text
    ensemble, single = text.split("**Does it help or hurt a single mask")
    assert "Order-agnostic: yes, it helps (89.10 ± 0.10; 1.00 nats lower" in ensemble
    assert "Connectivity-agnostic: yes, it helps (89.60 ± 0.10; 0.50 nats lower" in ensemble
    assert "Order-agnostic: no, it hurts (93.10 ± 0.10; 3.00 nats higher" in single
    assert "88.40 at 1 mask and 88.04 at 32 masks" in text
    # one seed: the differences are stated, not judged
    text = widths_paragraph(wide_runs())
    assert "not judged, one seed (89.00, 1.00 nats lower)" in text and "helps" not in text
    # K = 32 done but no K = 1 run yet: nothing to compare with
    runs = wide_runs()
    assert "K = 1 run is not done yet" in widths_paragraph(runs[~((runs.hidden_sizes == "8000") & (runs.num_masks == 1))])


def test_the_8000_unit_runs_stand_beside_the_papers_rows():
    from made.reports.compare import report_markdown

    widths = wide_runs(seeds=(0, 1))
    table = comparison_table(fake_runs(), widths=widths)
    k1 = table[table.setting == "binarized MNIST, 1x8000, 1 mask"].iloc[0]
    assert k1["this_project"] == pytest.approx(90.1) and k1["reference"] == pytest.approx(88.40)
    assert k1["data_variant"] == "static-seed0" and k1["judgement"] == "higher" and k1["seeds"] == 2
    k32 = table[table.setting == "binarized MNIST, 1x8000, 32 masks (order-agnostic), ensemble"].iloc[0]
    assert k32["this_project"] == pytest.approx(89.1) and k32["reference"] == pytest.approx(88.04)
    md = report_markdown(table)
    assert "| binarized MNIST, 1x8000, 1 mask | 90.10 ± 0.10 | 2 | 88.40 |" in md
    assert "not the Larochelle file" in md and "recalled" in md
    assert "a converging Adam recipe (protocol `adam`" in md and k1["protocol"] == "adam"
    # before the widths grid has run: the rows say so, and so does the note
    table = comparison_table(fake_runs(), widths=widths.iloc[:0])
    assert table[table.setting == "binarized MNIST, 1x8000, 1 mask"]["note"].iloc[0].startswith("not run yet")
    assert "not done yet" in report_markdown(table)


def test_a_reference_without_a_spread_counts_as_one_run_with_ours():
    from made.reports.compare import against_reference

    # 2 seeds, se 0.07: one run spreads by 0.07 * sqrt(2); a 0.09 gap is within sqrt(3) * 0.07
    assert against_reference(79.75, 0.07, 2, 79.66).verdict == "within the spread"
    assert against_reference(79.75, 0.07, 2, 79.66).combined_se == pytest.approx(0.07 * 3 ** 0.5)
    assert against_reference(81.0, 0.07, 2, 79.66).verdict == "higher"
    assert against_reference(78.0, 0.07, 2, 79.66).verdict == "lower"
    assert against_reference(81.0, float("nan"), 1, 79.66).verdict == "one seed"
