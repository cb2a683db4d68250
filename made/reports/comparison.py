"""This project's MNIST numbers beside the paper's and the seed project's (comparison.md, comparison.csv).

Each of our rows is a mean over seeds, set against one reference number by
the one rule for that, :func:`made.reports.statistics.number_word`;
rows that do not measure the same thing as their reference (a test number
against a validation one, a logit average that is not a likelihood, another
width or another architecture) are shown, not judged.  The seed project's one
number that is a likelihood, 94.5 on validation, is judged against the seed's
own model only (``plain.csv``, :func:`seed_row`): the authors' model beside it
is another architecture.  The UCI rows against the paper are uci.md's (:mod:`.uci`), said once, there.
"""

from __future__ import annotations

import math

import pandas as pd

from pathlib import Path

from .figure2 import figure2_runs, logit_averages
from .references import PAPER_WIDTH, reference
from .runs import by_seed, describe, read_table, select
from .statistics import fmt_mean, mean_se, number_word
from .widths import widths_runs, with_chosen_recipes


def epochs_note(runs: pd.DataFrame) -> str:
    """``best epoch 95-120; early stopping`` or ``...; capped at 150 epochs``."""
    caps = sorted({str(c) for c in runs["max_epochs"]}) if "max_epochs" in runs else []
    best = sorted(int(b) for b in runs["best_epoch"]) if "best_epoch" in runs else []
    stopped = runs["stopped_early"].all() if "stopped_early" in runs else False
    note = ""
    if best:
        span = str(best[0]) if best[0] == best[-1] else f"{best[0]}-{best[-1]}"
        note = f"best epoch {span}; "
    return note + ("early stopping" if stopped else f"capped at {'/'.join(caps)} epochs")


def _row(setting: str, runs: pd.DataFrame | None, column: str, ref, note: str = "", judged: bool = True) -> dict:
    """One comparison row: our mean over seeds of ``column`` beside the reference ``ref``."""
    runs = runs if runs is not None else pd.DataFrame(columns=[column])
    values = by_seed(runs, column) if len(runs) else pd.Series(dtype=float)
    mean, se, n = mean_se(values)
    number = float(ref["test_nll"]) if ref is not None else float("nan")
    # a row shown and not judged says why: its note's first clause ("not judged: another width")
    why = "not judged: " + note.split(";")[0].split(":")[0]
    return {
        "setting": setting,
        "this_project": mean,
        "stderr_over_seeds": se,
        "seeds": n,
        "reference": number,
        "reference_source": ref["model"] if ref is not None else "",
        "reference_confidence": ref["confidence"] if ref is not None else "",
        "difference": mean - number if ref is not None and n else float("nan"),
        "judgement": "" if ref is None or not n else number_word(mean, se, n, number) if judged else why,
        "data_variant": describe(runs, "data_variant"),
        "protocol": describe(runs, "protocol"),
        "epochs": epochs_note(runs) if len(runs) else "",
        "note": note,
    }


def _paper_rows(runs: pd.DataFrame, width: int, note: str, grid: str, judged: bool = True) -> list[dict]:
    """Our 1 x ``width`` runs beside the paper's 1-hidden-layer rows: K = 1, and
    the ensemble of 32 order-agnostic masks (the paper's masks resample both
    orderings and connectivity, as our ``order`` mode does); judged against
    them only at the paper's width (``judged``), else context."""
    rows = []
    runs = select(runs, hidden_sizes=width)
    for k in (1, 32):
        sub = select(runs, mode=["order", "single"], num_masks=k)
        ref = reference(table="mnist", model="MADE 1 hidden layer", masks=k)
        rows.append(_row(
            f"binarized MNIST, 1x{width}, {'1 mask' if k == 1 else '32 masks (order-agnostic), ensemble'}",
            sub, "test_nll_single_mask" if k == 1 else "test_nll_ensemble", ref, judged=judged,
            note=note if len(sub) else f"not run yet (python run_all.py --grid {grid})"))
    return rows


# The seed project's 94.5 (one mask, validation) against its own model here: the row that judges it.
SEED_SETTING = "seed project, 1 mask, VALIDATION NLL; ours: the seed's model"
# ... and the authors' model beside it: another architecture, shown, not judged.
SEED_AUTHORS_SETTING = "seed project, 1 mask, VALIDATION NLL; ours: the authors' model"


def seed_row(plain: pd.DataFrame | None) -> dict:
    """The seed project's 94.5, a validation NLL of its ``MADE(784, [500], 784)`` (no direct
    connections, PyTorch's default initialization), against the validation NLL of that model
    here: the K = 1 runs of ``plain`` (the ``plain`` grid's table), over seeds.  The one
    computation of that comparison: comparison.md's row and the verdict's word
    (:func:`made.reports.verdict.values`) both read it."""
    runs = select(figure2_runs(plain), num_masks=1) if plain is not None and len(plain) else None
    return _row(SEED_SETTING, runs, "valid_nll", reference(table="seed", masks=1),
                note="on the validation split, as the seed measured it, and on the seed's own model"
                if runs is not None and len(runs) else "not run yet (python run_all.py --grid plain)")


def comparison_table(runs: pd.DataFrame, widths: pd.DataFrame | None = None,
                     plain: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per setting, this project beside the paper and the seed project: with the
    ``widths`` grid's table, its 1x8000 runs first, at the paper's (most likely) width; then
    Figure 2's 1x500 runs beside the same paper rows, and the seed project's two numbers: its
    94.5 against its own model (``plain``, the ``plain`` grid's table, :func:`seed_row`),
    with the authors' model beside it, not judged."""
    runs = figure2_runs(runs)
    rows = []
    if widths is not None:  # K = 1 under its recipe chosen on validation, as the widths report has it
        rows += _paper_rows(with_chosen_recipes(widths_runs(widths)), PAPER_WIDTH,
                            note="the paper's width is recalled (most likely 8000)", grid="widths")
    # context only: a 1x500 number is never judged against an 8000-unit row
    rows += _paper_rows(runs, 500, note="another width: the paper's row is most likely 8000 hidden units, ours has 500",
                        grid="figure2", judged=False)
    sub32 = select(runs, num_masks=32, mode="order")
    if len(sub32):
        rows.append(_row("binarized MNIST, 1x500, 32 masks (order-agnostic), single mask at test", sub32,
                         "test_nll_single_mask", None, note="one forward pass; the paper reports no table row for it"))
    rows.append(seed_row(plain))
    rows.append(_row(SEED_AUTHORS_SETTING, select(runs, num_masks=1), "valid_nll", reference(table="seed", masks=1),
                     judged=False, note="another architecture: ours has the authors' direct connections and "
                                        "initialization, the seed's model neither"))
    seed_logit = reference(table="seed", masks=10)
    for k in (8, 16):
        rows.append(_row(f"seed project, -n 10 -s 10: logit average over masks (NOT a likelihood); ours at K = {k}",
                         select(runs, num_masks=k, mode="order"), "test_nll_logit_average", seed_logit, judged=False,
                         note="ours on test, the seed's on validation; neither is a likelihood"))
    return pd.DataFrame(rows)


def context(results: Path) -> dict:
    """comparison.md's context: the table (comparison.csv, and as comparison.md shows it), the
    paper's 1-hidden-layer rows with their data and recipe, the seed's 94.5 against its own
    model (:func:`seed_row`) and the authors' model beside it, and the logit averages of
    Figure 2's order-agnostic runs beside their ensembles (means over seeds)."""
    mnist, widths, plain = (read_table(results, f"{n}.csv") for n in ("figure2", "widths", "plain"))
    mnist = mnist if mnist is not None else pd.DataFrame(columns=["hidden_sizes", "num_masks", "mode", "seed"])
    table = comparison_table(mnist, widths if widths is not None else mnist.iloc[:0], plain)
    paper = table[table["setting"].str.match(r"binarized MNIST, 1x\d+, (1 mask|32 masks.*ensemble)$")
                  & (table["seeds"] > 0)]
    wide = paper[paper["setting"].str.startswith(f"binarized MNIST, 1x{PAPER_WIDTH},")]
    means = logit_averages(mnist)
    gaps = means["test_nll_ensemble"] - means["test_nll_logit_average"]
    seed, authors = (table[table["setting"] == s].iloc[0] for s in (SEED_SETTING, SEED_AUTHORS_SETTING))
    # as comparison.md shows it: mean ± standard error over seeds in one column, a signed
    # difference, runs not done said so
    shown = table.drop(columns="stderr_over_seeds").assign(
        this_project=[fmt_mean(m, s) if n else "not run yet"
                      for m, s, n in zip(table["this_project"], table["stderr_over_seeds"], table["seeds"])],
        difference=["" if math.isnan(d) else f"{d:+.2f}" for d in table["difference"]])
    return {"seed": {"seeds": int(seed["seeds"]),
                     "difference": f"{seed['difference']:+.2f}" if seed["seeds"] else "",
                     "authors": fmt_mean(authors["this_project"], authors["stderr_over_seeds"]),
                     "authors_seeds": int(authors["seeds"])},
            "table": table, "shown": shown, "wide": len(wide) > 0, "width": PAPER_WIDTH,
            "paper_rows": [{"setting": r.setting.removeprefix("binarized MNIST, "), "protocol": r.protocol,
                            "data": r.data_variant} for r in (wide if len(wide) else paper).itertuples()],
            "logit": {"low": f"{means['test_nll_logit_average'].min():.2f}",
                      "high": f"{means['test_nll_logit_average'].max():.2f}",
                      "k_low": int(means.index.min()), "k_high": int(means.index.max()),
                      "gap_low": f"{gaps.min():.1f}", "gap_high": f"{gaps.max():.1f}"} if len(means) else None}
