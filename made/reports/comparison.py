"""This project's numbers beside the paper's and the seed project's (comparison.md, comparison.csv).

Each of our rows is a mean over seeds, set against one reference number by
:func:`made.reports.statistics.against_reference` (a one-sample interval);
rows that do not measure the same thing as their reference (a test number
against a validation one, a logit average that is not a likelihood) are
shown, not judged.
"""

from __future__ import annotations

import math

import pandas as pd

from .figure2 import figure2_runs
from .references import PAPER_WIDTH, reference
from .runs import by_seed, describe, markdown, rows_of_mode, select
from .sections import section
from .statistics import against_reference, fmt_mean, judgement, mean_se
from .uci import RESAMPLING, chosen_note, uci_entries
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
    d = against_reference(values, number) if judged and ref is not None else None
    return {
        "setting": setting,
        "this_project": mean,
        "stderr_over_seeds": se,
        "seeds": n,
        "reference": number,
        "reference_source": ref["model"] if ref is not None else "",
        "reference_confidence": ref["confidence"] if ref is not None else "",
        "difference": mean - number if ref is not None and n else float("nan"),
        "judgement": judgement(d) if d is not None and n else ("not judged: " + note.split(";")[0]
                                                               if ref is not None and n and not judged else ""),
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
        sub = select(rows_of_mode(runs, "order"), num_masks=k)
        ref = reference(table="mnist", model="MADE 1 hidden layer", masks=k)
        rows.append(_row(
            f"binarized MNIST, 1x{width}, {'1 mask' if k == 1 else '32 masks (order-agnostic), ensemble'}",
            sub, "test_nll_single_mask" if k == 1 else "test_nll_ensemble", ref, judged=judged,
            note=note if len(sub) else f"not run yet (python run_all.py --grid {grid})"))
    return rows


def mnist_rows(runs: pd.DataFrame, widths: pd.DataFrame | None = None) -> list[dict]:
    """The binarized MNIST rows: with the ``widths`` grid's table, its 1x8000
    runs first, at the paper's (most likely) width; then Figure 2's 1x500
    runs beside the same paper rows, and the seed project's two numbers."""
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
    rows.append(_row("seed project, 1 mask, VALIDATION NLL", select(runs, num_masks=1), "valid_nll",
                     reference(table="seed", masks=1),
                     note="compared on the validation split, as the seed measured it"))
    seed_logit = reference(table="seed", masks=10)
    for k in (8, 16):
        rows.append(_row(f"seed project, -n 10 -s 10: logit average over masks (NOT a likelihood); ours at K = {k}",
                         select(runs, num_masks=k, mode="order"), "test_nll_logit_average", seed_logit, judged=False,
                         note="ours on test, the seed's on validation; neither is a likelihood"))
    return rows


def uci_rows(runs: pd.DataFrame, expected: pd.DataFrame | None = None, published: dict | None = None,
             left_out: dict | None = None) -> list[dict]:
    """The UCI table's rows (:func:`..uci.uci_entries`) as comparison rows."""
    rows = []
    entries, _ = uci_entries(runs, expected, published, left_out)
    for dataset, k, role, sub, sampling, col, ref in entries:
        test = f", ensemble of {sub['ensemble_masks'].iloc[0]} test masks" if sampling else ""
        mode = RESAMPLING.get(str(sub["mode"].iloc[0]), "") if sampling and "mode" in sub else ""
        label = ("mask sampling" + (f" ({mode})" if mode else "")) if sampling else "1 mask"
        note = ("an ablation of the authors' command; a reproduction of nothing" if role == "beside"
                else chosen_note(sub, published=role == "published", incomplete=role == "incomplete"))
        rows.append(_row(f"{dataset}, 1x{sub['hidden_sizes'].iloc[0]}, {label}{test}", sub, col, ref, note=note,
                         judged=role != "beside"))
    return rows


def comparison_table(mnist_runs: pd.DataFrame, uci_runs: pd.DataFrame | None = None,
                     widths: pd.DataFrame | None = None, published: dict | None = None,
                     expected: pd.DataFrame | None = None, left_out: dict | None = None) -> pd.DataFrame:
    """One row per setting, this project beside the paper and the seed project;
    ``widths`` (the widths grid's table) adds the 1x8000 rows; the UCI rows
    as :func:`..uci.uci_table` chooses them."""
    rows = mnist_rows(mnist_runs, widths)
    if uci_runs is not None and len(uci_runs):
        rows += uci_rows(uci_runs, expected, published, left_out)
    return pd.DataFrame(rows)


NOTES = """\
Test NLL in nats (lower is better). `this_project` is the mean ± standard error over seeds (no ±:
one seed); `reference` is the paper's or the seed project's figure, with how sure it is
(`recalled`: transcribed from memory of the paper's tables, not read off the PDF). `judgement`
sets our mean over seeds against that one number (`made.reports.statistics.against_reference`,
a one-sample Student-t interval: **clear** where its 95% interval excludes the number,
**suggestive** where only its 80% interval does); with fewer than 3 seeds it is not judged. The
reference's own seed-to-seed spread is not known, so a clear gap says our mean differs from that
number, not that the two setups differ. `data_variant` says which binarized MNIST was used.

Why the logit average is not a likelihood: each mask defines a normalized autoregressive
model, and averaging their *probabilities* (the ensemble) gives a mixture, which is again
normalized. Averaging their *logits*, as the seed project's `run.py -s` does, mixes
conditionals computed under different orderings: the averaged conditional of dimension d then
depends on dimensions that come after d in some of the orderings, so the product does not sum
to 1 over all 2^D vectors (tests/test_model.py enumerates D = 10). Such a number can fall far
below any achievable likelihood, which is how the seed's 79.3 arises. With one shared ordering
(connectivity-agnostic training) the averaged logits are still autoregressive and do define a
normalized model, so there the two numbers stay close.
"""


def paper_rows_note(table: pd.DataFrame) -> str:
    """What this project's runs beside the paper's 1-hidden-layer rows can and
    cannot show, with the data variant the runs used: the 1x8000 runs, at the
    paper's most likely width, once they are done; the 1x500 runs until then."""
    paper_rows = table[table["setting"].str.match(r"binarized MNIST, 1x\d+, (1 mask|32 masks.*ensemble)$")
                       & (table["seeds"] > 0)]
    if not len(paper_rows):
        return ""
    wide = paper_rows[paper_rows["setting"].str.startswith(f"binarized MNIST, 1x{PAPER_WIDTH},")]
    if len(wide):
        shown = (f"The 1x{PAPER_WIDTH} rows set this project's runs at the paper's most likely width beside its "
                 "1-hidden-layer numbers (1 mask and 32 masks). They can show whether this model, trained to "
                 "convergence, reaches the paper's level at that width, and whether 32 masks move the "
                 "ensemble the way the paper's two numbers do.")
    else:
        shown = (f"The 1x{PAPER_WIDTH} runs, at the paper's most likely width, are not done yet (`python run_all.py "
                 "--grid widths`): until they are, only the 1x500 runs stand beside the paper's 1-hidden-layer "
                 "rows, at a sixteenth of its most likely width, and show how far a narrow network is from "
                 "the paper, not whether the paper's numbers are reproduced.")
    rows = wide if len(wide) else paper_rows
    variants = sorted({v for cell in rows["data_variant"] for v in str(cell).split("/") if v})
    protocols = {p for cell in rows["protocol"] for p in str(cell).split("/") if p}
    if not protocols:
        training = "the runs do not name their recipe (`protocol`), so it may differ from the authors' Adagrad 0.01"
    elif protocols == {"paper"}:
        training = "the authors' optimizer, Adagrad 0.01, to early stopping (protocol `paper`)"
    elif protocols == {"adam"}:
        training = ("a converging Adam recipe (protocol `adam`: step decay, early stopping) instead of the "
                    "authors' Adagrad 0.01, which needs far more epochs than the runs here could be given")
    else:
        # One recipe per row (K = 1 has its own, chosen on validation): name each row's.
        per_row = "; ".join(f"{row['setting'].split(', ', 2)[-1]}: `{row['protocol']}`"
                            for _, row in rows.iterrows())
        training = (f"a recipe (protocol) per row, {per_row} ("
                    + ("none of them the authors' Adagrad 0.01" if "paper" not in protocols
                       else "the authors' Adagrad 0.01 where it says `paper`") + ")")
    if variants == ["larochelle"]:
        data = "the same binarized MNIST file as the paper (`larochelle`)"
    else:
        data = (f"a different binarization of MNIST (`{', '.join(variants)}`: a static rebuild from the raw "
                "digits, each pixel drawn once from Bernoulli(intensity), not the Larochelle file the paper "
                "used), so the two test sets hold different binary images of the same digits")
    return f"""## The paper's rows

{shown} Even at the same width they are not the same experiment:

- **Data:** {data}.
- **Training:** {training}; the architecture is the authors'.
- **The paper's numbers** are recalled, not read off the paper, and the width of these rows is not stated in what was recalled: 8000 is the most likely value, the width of each layer in the authors' published MNIST command.
- **Seeds:** a row with fewer than 3 seeds is shown, and its gap to the paper is not judged.
"""


def summary(runs: pd.DataFrame, table: pd.DataFrame) -> str:
    """The comparison in sentences, for the READMEs: the seed project's two
    numbers and the paper's rows, each from the table and the runs."""
    runs = figure2_runs(runs)
    lines = []
    seed = table[table["setting"] == "seed project, 1 mask, VALIDATION NLL"].iloc[0]
    if seed["seeds"]:
        lines.append(f"- **Seed project, 1 mask:** its {seed['reference']:.1f} is a *validation* NLL; ours at K = 1 "
                     f"is {fmt_mean(seed['this_project'], seed['stderr_over_seeds'])} on validation "
                     f"({seed['seeds']} seeds), {seed['difference']:+.2f} nats: {seed['judgement']}.")
    order = rows_of_mode(runs, "order")
    order = order[order["num_masks"].astype(int) > 1]
    if len(order):
        means = order.groupby(order["num_masks"].astype(int))[["test_nll_logit_average", "test_nll_ensemble"]].mean()
        gaps = means["test_nll_ensemble"] - means["test_nll_logit_average"]
        logit = means["test_nll_logit_average"]
        lines.append(
            f"- **Seed project, logit average:** its {reference(table='seed', masks=10)['test_nll']:.1f} averages logits over orderings, which is not a likelihood. "
            f"The same computation on our order-agnostic runs gives {logit.min():.2f}–{logit.max():.2f} "
            f"(means over seeds, K = {int(logit.idxmax())} to {int(logit.idxmin())}; test split), "
            f"{gaps.min():.1f}–{gaps.max():.1f} nats below the valid ensemble NLL of the same models.")
    paper = table[table["setting"].str.match(r"binarized MNIST, 1x\d+, (1 mask|32 masks.*ensemble)$")
                  & (table["seeds"] > 0)]
    if len(paper):
        parts = [f"{r.setting.removeprefix('binarized MNIST, ')}: {fmt_mean(r.this_project, r.stderr_over_seeds)} "
                 f"against {r.reference:.2f}, {r.difference:+.2f}, {r.judgement}" for r in paper.itertuples()]
        lines.append("- **The paper's 1-hidden-layer rows** (recalled; most likely 8000 units): "
                     + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as comparison.md shows it: mean ± standard error
    over seeds in one column, a signed difference, runs not done said so."""
    out = table.copy()
    out["this_project"] = [fmt_mean(m, s) if n else "not run yet"
                           for m, s, n in zip(table["this_project"], table["stderr_over_seeds"], table["seeds"])]
    out["difference"] = ["" if math.isnan(d) else f"{d:+.2f}" for d in table["difference"]]
    return out.drop(columns="stderr_over_seeds")


def report_markdown(table: pd.DataFrame, runs: pd.DataFrame | None = None) -> str:
    """comparison.md: how to read it, the table, what the paper's rows can
    show, and (given the Figure 2 runs) the summary the READMEs quote.  The
    UCI rows' full table, with the recipes not chosen, is uci.md."""
    text = "# This project against the paper\n\n" + NOTES + "\n" + markdown(display(table))
    note = paper_rows_note(table)
    if note:
        text += "\n" + note
    if runs is not None and len(figure2_runs(runs)):
        text += "\n## In short\n\n" + section("comparison-summary", summary(runs, table))
    return text

