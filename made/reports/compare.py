"""This project's numbers beside the paper's and the seed project's.

The reference figures are the project's own copy (``reference_numbers.csv``,
from the shared paper notes): the paper's numbers are *recalled*, not read
from its PDF, and the table carries that confidence column along.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from .curves import rows_of_mode
from ..evaluate import mean_and_stderr

TRAINING_LABEL = {"order": "order-agnostic", "connectivity": "connectivity-agnostic"}
EVAL_LABEL = {"test_nll_single_mask": "single mask", "test_nll_ensemble": "ensemble of training masks"}
PAPER_WIDTH = 8000  # the width the paper's 1-hidden-layer MNIST rows most likely had (not stated in our notes)


def reference_numbers() -> pd.DataFrame:
    with resources.files(__package__).joinpath("reference_numbers.csv").open() as f:
        return pd.read_csv(f)


def _ref(refs: pd.DataFrame, **match) -> pd.Series | None:
    sel = refs
    for key, value in match.items():
        sel = sel[sel[key].astype(str) == str(value)]
    return sel.iloc[0] if len(sel) else None


def mean_se(values: pd.Series) -> tuple[float, float, int]:
    """Mean, standard error over seeds and number of seeds.  With one seed
    the standard error is NaN: one run says nothing about the spread."""
    values = pd.Series(values, dtype=float).dropna()
    return (*mean_and_stderr(values.to_numpy()), len(values))


@dataclass(frozen=True)
class Difference:
    """``a - b`` for two means, judged by :func:`difference`."""

    delta: float
    combined_se: float
    verdict: str  # "lower", "higher", "within the spread", "one seed" or "missing"

    def text(self) -> str:
        """The difference in words, with what it was judged against."""
        if self.verdict == "missing":
            return "not available"
        side = "lower" if self.delta < 0 else "higher"
        if self.verdict == "one seed":
            return f"{abs(self.delta):.2f} nats {side} with one seed: no spread over seeds to judge it by"
        if self.verdict == "within the spread":
            return (f"within the spread: {self.delta:+.2f} nats against a combined standard error "
                    f"of {self.combined_se:.2f}")
        return f"{abs(self.delta):.2f} nats {side}, beyond the combined standard error of {self.combined_se:.2f}"


def difference(a: float, se_a: float, b: float, se_b: float = 0.0) -> Difference:
    """The one rule by which the reports call two numbers different.

    ``a - b`` is a difference ("lower" or "higher") only where it exceeds the
    combined standard error over seeds, ``sqrt(se_a**2 + se_b**2)``; otherwise
    it is "within the spread".  A mean of one seed has no standard error (NaN),
    so nothing it is compared with is called a difference: the verdict is "one
    seed".  A number quoted without a spread (the paper's) is one run: see
    :func:`against_reference`.

    >>> difference(91.0, 0.2, 91.2, 0.2).verdict, difference(90.0, 0.2, 91.2, 0.2).verdict
    ('within the spread', 'lower')
    """
    delta = a - b
    if math.isnan(delta):
        return Difference(delta, float("nan"), "missing")
    combined = math.sqrt(se_a ** 2 + se_b ** 2)
    if math.isnan(combined):
        return Difference(delta, combined, "one seed")
    if abs(delta) <= combined:
        return Difference(delta, combined, "within the spread")
    return Difference(delta, combined, "lower" if delta < 0 else "higher")


def against_reference(mean: float, se: float, n: int, reference: float) -> Difference:
    """Our mean of ``n`` seeds against a number quoted without a spread (the
    paper's, the seed project's).  That number is one training run, so it is
    given the spread of one of ours, ``se * sqrt(n)``: otherwise a gap smaller
    than the seed-to-seed spread would be called a difference merely because
    ours is an average.

    >>> against_reference(79.75, 0.07, 2, 79.66).verdict
    'within the spread'
    """
    return difference(mean, se, reference, se * math.sqrt(n) if n else float("nan"))


def fmt_mean(mean: float, se: float) -> str:
    """``91.43 ± 0.21``; a mean of one seed without ±; empty when missing."""
    if math.isnan(mean):
        return ""
    return f"{mean:.2f}" if math.isnan(se) else f"{mean:.2f} ± {se:.2f}"


def say_mean(mean: float, se: float) -> str:
    """:func:`fmt_mean` for a sentence, where a single seed is said so."""
    return fmt_mean(mean, se) + (" (one seed)" if math.isnan(se) and not math.isnan(mean) else "")


def _row(setting, ours: pd.Series, ref, note="", ours_logit=None, variant="", epochs="", protocol=""):
    mean, se, n = mean_se(ours) if ours is not None and len(ours) else (float("nan"), float("nan"), 0)
    paper = float(ref["test_nll"]) if ref is not None else float("nan")
    return {
        "setting": setting,
        "this_project": mean,
        "stderr_over_seeds": se,
        "seeds": n,
        "reference": paper,
        "reference_source": ref["model"] if ref is not None else "",
        "reference_confidence": ref["confidence"] if ref is not None else "",
        "difference": mean - paper if ref is not None and n else float("nan"),
        "judgement": against_reference(mean, se, n, paper).verdict if ref is not None and n else "",
        "logit_average_not_a_likelihood": ours_logit,
        "data_variant": variant,
        "protocol": protocol,
        "epochs": epochs,
        "note": note,
    }


def _epochs(runs: pd.DataFrame) -> str:
    caps = sorted({str(c) for c in runs["max_epochs"]}) if "max_epochs" in runs else []
    best = sorted(int(b) for b in runs["best_epoch"]) if "best_epoch" in runs else []
    stopped = runs["stopped_early"].all() if "stopped_early" in runs else False
    note = ""
    if best:
        span = str(best[0]) if best[0] == best[-1] else f"{best[0]}-{best[-1]}"
        note = f"best epoch {span}; "
    return note + ("early stopping" if stopped else f"capped at {'/'.join(caps)} epochs")


def _variant(runs: pd.DataFrame) -> str:
    return ", ".join(sorted(runs["data_variant"].dropna().astype(str).unique())) if len(runs) else ""


def _protocol(runs: pd.DataFrame) -> str:
    """The training recipe(s) of some runs, by name (made.pipeline.grid.PROTOCOLS)."""
    return "/".join(sorted(runs["protocol"].dropna().astype(str).unique())) if "protocol" in runs else ""


def _paper_rows(runs: pd.DataFrame, refs: pd.DataFrame, width: str, note: str, grid: str) -> list[dict]:
    """Our 1 x ``width`` runs beside the paper's 1-hidden-layer rows: K = 1, and
    the ensemble of 32 order-agnostic masks (the paper's masks resample both
    orderings and connectivity, as our ``order`` mode does)."""
    rows = []
    runs = runs[runs["hidden_sizes"].astype(str) == width]
    for k in ("1", "32"):
        sub = runs[(runs["num_masks"] == k) & runs["mode"].isin(["single", "order"])]
        col = "test_nll_single_mask" if k == "1" else "test_nll_ensemble"
        ref = _ref(refs, table="mnist", model="MADE 1 hidden layer", masks=k)
        rows.append(_row(
            f"binarized MNIST, 1x{width}, {'1 mask' if k == '1' else '32 masks (order-agnostic), ensemble'}",
            sub[col] if len(sub) else None, ref,
            note=note if len(sub) else f"not run yet (python run_all.py --grid {grid})",
            ours_logit=sub["test_nll_logit_average"].astype(float).mean() if k != "1" and len(sub) else None,
            variant=_variant(sub), epochs=_epochs(sub) if len(sub) else "", protocol=_protocol(sub)))
    return rows


def mnist_rows(runs: pd.DataFrame, widths: pd.DataFrame | None = None) -> list[dict]:
    """The binarized MNIST rows: with the ``widths`` grid's table, its 1x8000
    runs first, at the paper's (most likely) width; then Figure 2's 1x500
    runs beside the same paper rows, and the seed project's two numbers."""
    refs = reference_numbers()
    rows = []
    runs = runs.assign(num_masks=runs["num_masks"].astype(str))
    variant = _variant(runs)
    if widths is not None:
        widths = widths.assign(num_masks=widths["num_masks"].astype(str))
        rows += _paper_rows(widths, refs, str(PAPER_WIDTH),
                            note="the paper's width is recalled (most likely 8000)", grid="widths")
    rows += _paper_rows(runs, refs, "500", note="paper row is most likely 8000 hidden units; ours has 500",
                        grid="figure2")
    k1 = runs[runs["num_masks"] == "1"]
    sub32 = runs[(runs["num_masks"] == "32") & (runs["mode"] == "order")]
    if len(sub32):
        rows.append(_row("binarized MNIST, 1x500, 32 masks (order-agnostic), single mask at test",
                         sub32["test_nll_single_mask"], None, variant=variant, epochs=_epochs(sub32),
                         protocol=_protocol(sub32),
                         note="one forward pass; the paper reports no table row for it"))
    seed_valid = _ref(refs, table="seed", masks="1")
    rows.append(_row("seed project, 1 mask, VALIDATION NLL", k1["valid_nll"] if len(k1) else None,
                     seed_valid, variant=variant, epochs=_epochs(k1) if len(k1) else "", protocol=_protocol(k1),
                     note="compared on the validation split, as the seed measured it"))
    seed_logit = _ref(refs, table="seed", masks="10")
    k_near = runs[runs["num_masks"].isin(["8", "16"]) & (runs["mode"] == "order")]
    rows.append(_row("seed project, -n 10 -s 10: logit average over masks (NOT a likelihood)",
                     k_near["test_nll_logit_average"] if len(k_near) else None, seed_logit,
                     variant=variant, protocol=_protocol(k_near),
                     note="ours: logit average of K=8 and K=16 order-agnostic runs on test; "
                          "compare the valid ensemble NLL of the same runs, which is higher"))
    return rows


def _grid():
    """made.pipeline.grid, the grids as data, imported quietly: it imports the
    trainer, whose tqdm.auto warns in a kernel without ipywidgets; nothing here
    draws a progress bar, so the reports stay clean."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ..pipeline import grid
    return grid


def _recipe_columns(runs: pd.DataFrame, expected: pd.DataFrame | None = None) -> list[str]:
    """What distinguishes the recipes searched over: the protocol and the
    resampling mode where either varies (in the runs or the grid's
    ``expected`` points), else the learning rate."""
    def known(column):
        return column in runs and runs[column].notna().all()

    def varies(column, frame):
        return frame is not None and column in frame and frame[column].nunique() > 1

    named = [c for c in ("protocol", "mode") if known(c)]
    if any(varies(c, f) for c in named for f in (runs, expected)):
        return named
    return ["lr"] if known("lr") and varies("lr", runs) else []


def recipe_name(values: dict) -> str:
    """A recipe as a reader reads it: ``adadelta``, ``paper, connectivity only``."""
    resampling = _grid().RESAMPLING
    parts = [str(values[c]) for c in ("protocol", "lr") if c in values and not pd.isna(values[c])]
    label = resampling.get(str(values.get("mode", "")), "")
    return ", ".join(parts[:1] + ([label] if label else []))


def select_on_validation(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group, the recipe (protocol and resampling mode, or learning rate)
    with the lowest validation NLL, averaged over its seeds, with all its
    seeds; never test, and never a recipe with a run that did not stop early.
    Without competing recipes, the best run per group and seed."""
    return _select(runs, by)[0]


def _select(runs: pd.DataFrame, by: list[str], expected: pd.DataFrame | None = None,
            published: dict | None = None) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """:func:`select_on_validation`, plus the recipes not chosen (with their
    mean validation NLL, "did not stop early", or, from ``expected`` (the
    grid's points as rows), "not finished") and the runs reported beside a
    published command: ``published`` maps a group to the recipe that stands
    as published, whatever the validation NLL of the others."""
    recipe = _recipe_columns(runs, expected)
    if not recipe:
        keys = [*by, "seed"] if "seed" in runs else by
        return runs.loc[runs.groupby(keys, dropna=False)["valid_nll"].idxmin().values], {}, runs.iloc[:0]
    stopped = runs["stopped_early"].astype(bool) if "stopped_early" in runs else pd.Series(True, index=runs.index)
    means = (runs.assign(_stopped=stopped).groupby([*by, *recipe], dropna=False)
             .agg(valid_nll=("valid_nll", "mean"), stopped=("_stopped", "all")).reset_index())
    published = published or {}
    chosen_keys, others, beside_keys = [], {}, []
    for key, sub in means.groupby(by, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        names = {i: recipe_name(dict(zip(recipe, sub.loc[i, recipe]))) for i in sub.index}
        fixed = {c: v for c, v in published.get(key, {}).items() if c in recipe} or None
        if fixed is not None:
            pick = [i for i in sub.index if all(str(sub.loc[i, c]) == str(v) for c, v in fixed.items())]
            beside_keys += [tuple(sub.loc[i, [*by, *recipe]]) for i in sub.index if i not in pick]
            texts = []
        else:
            eligible = sub[sub["stopped"]]
            pick = [eligible["valid_nll"].idxmin()] if len(eligible) else []
            texts = [f"{names[i]} {sub.loc[i, 'valid_nll']:.2f}" + ("" if sub.loc[i, "stopped"] else
                                                                   " (did not stop early)")
                     for i in sub.index if i not in pick]
        chosen_keys += [tuple(sub.loc[i, [*by, *recipe]]) for i in pick]
        if expected is not None and fixed is None:
            want = expected[(expected[by].astype(str) == pd.Series(map(str, key), index=by)).all(axis=1)]
            have = {tuple(map(str, sub.loc[i, recipe])) for i in sub.index}
            missing = sorted({tuple(map(str, r)) for r in want[recipe].values} - have)
            texts += [f"{recipe_name(dict(zip(recipe, m)))}: not finished" for m in missing]
        if texts:
            others[key] = "; ".join(texts)
    index = runs.set_index([*by, *recipe]).index
    chosen = runs[index.isin(pd.MultiIndex.from_tuples(chosen_keys) if chosen_keys else [])]
    beside = runs[index.isin(pd.MultiIndex.from_tuples(beside_keys) if beside_keys else [])]
    return chosen, others, beside


def _chosen_note(sub: pd.DataFrame, published: bool = False) -> str:
    """Which recipe the row's runs used, and how it was chosen."""
    how = "the authors' command, as published" if published else "chosen on validation NLL"
    if "protocol" in sub and sub["protocol"].notna().all():
        label = recipe_name(sub.iloc[0].to_dict())
        return f"protocol {label} ({how})" if published else f"protocol {label} {how}"
    if "lr" in sub:
        return f"lr {', '.join(str(v) for v in sub['lr'])} {how}"
    return ""


def _uci_groups(runs: pd.DataFrame, expected: pd.DataFrame | None = None):
    """(dataset, K, role, runs) per row of the UCI table: the chosen (or
    published) recipe of each dataset and K, then the runs beside a published
    command, one row per recipe; and the recipes not chosen."""
    runs = runs.assign(num_masks=runs["num_masks"].astype(str))
    if expected is not None:
        expected = expected.assign(num_masks=expected["num_masks"].astype(str))
    if "valid_nll" not in runs:
        return [(d, k, "chosen", sub) for (d, k), sub in runs.groupby(["dataset", "num_masks"])], {}
    published = _grid().AS_PUBLISHED
    chosen, others, beside = _select(runs, ["dataset", "num_masks"], expected, published)
    groups = []
    for (dataset, k), sub in chosen.groupby(["dataset", "num_masks"]):
        groups.append((dataset, k, "published" if (dataset, k) in published else "chosen", sub))
        near = beside[(beside["dataset"] == dataset) & (beside["num_masks"] == k)]
        for _, other in near.groupby([c for c in ("protocol", "mode") if c in near], dropna=False):
            groups.append((dataset, k, "beside", other))
    return groups, others


_ROLE_NOTE = {"beside": "beside the authors' command, not searched over"}


def _sampling_label(sub: pd.DataFrame, sampling: bool) -> str:
    if not sampling:
        return "1 mask"
    resampling = _grid().RESAMPLING
    mode = resampling.get(str(sub["mode"].iloc[0]), "") if "mode" in sub else ""
    return "mask sampling" + (f" ({mode})" if mode else "")


def _uci_entries(runs: pd.DataFrame, expected: pd.DataFrame | None = None):
    """The UCI table's rows before formatting, each as (dataset, K, role, runs,
    mask sampling?, the test column read, the paper's row); and the recipes not chosen."""
    refs = reference_numbers()
    groups, others = _uci_groups(runs, expected)
    entries = []
    for dataset, k, role, sub in groups:
        sampling = k == "sampling"
        entries.append((dataset, k, role, sub, sampling, "test_nll_ensemble" if sampling else "test_nll_single_mask",
                        _ref(refs, table="uci", dataset=dataset, masks="sampling" if sampling else "1")))
    return entries, others


def uci_rows(runs: pd.DataFrame, expected: pd.DataFrame | None = None) -> list[dict]:
    rows = []
    entries, _ = _uci_entries(runs, expected)
    for dataset, k, role, sub, sampling, col, ref in entries:
        test = f", ensemble of {sub['ensemble_masks'].iloc[0]} test masks" if sampling else ""
        note = _ROLE_NOTE.get(role) or _chosen_note(sub, published=role == "published")
        rows.append(_row(f"{dataset}, 1x{sub['hidden_sizes'].iloc[0]}, {_sampling_label(sub, sampling)}{test}",
                         sub[col], ref, variant=", ".join(sorted(sub["data_variant"].unique())),
                         epochs=_epochs(sub), protocol=_protocol(sub), note=note))
    return rows


def uci_table(runs: pd.DataFrame, expected: pd.DataFrame | None = None) -> pd.DataFrame:
    """The UCI comparison, one row per dataset and setting (single mask; mask sampling).

    Per dataset and setting the recipe (protocol and, under mask sampling,
    the resampling mode) with the lowest *validation* NLL (mean over its
    seeds) is kept, never test; ``protocol`` and ``resampling`` say which
    won and ``not_chosen_valid_nll`` what the others reached (and, given the
    grid's points as ``expected``, which did not finish).  Where the authors
    published a command (made.pipeline.grid.AS_PUBLISHED) it is the row, and
    the row's other runs follow it as rows of their own (``role`` beside).
    Columns: test NLL (mean over seeds) with its standard error over test
    examples, the spread over seeds, the paper's number and the difference,
    best epoch(s), and the wall time of the kept runs (training, validation
    and test).
    """
    resampling = _grid().RESAMPLING
    entries, others = _uci_entries(runs, expected)
    rows = []
    for dataset, k, role, sub, sampling, col, ref in entries:
        mean, se_seeds, n = mean_se(sub[col])
        paper = float(ref["test_nll"]) if ref is not None else float("nan")
        seconds = sum(sub.get(c, pd.Series(0.0, index=sub.index)).fillna(0).astype(float).sum()
                      for c in ("train_seconds", "valid_seconds", "eval_seconds"))
        protocols = sorted(str(p) for p in sub["protocol"].dropna().unique()) if "protocol" in sub else []
        modes = sorted({resampling.get(str(m), "") for m in sub["mode"]}) if "mode" in sub else []
        rows.append({
            "dataset": dataset,
            "setting": f"mask sampling ({int(sub['ensemble_masks'].iloc[0])} test masks)" if sampling else "1 mask",
            "resampling": "/".join(m for m in modes if m),
            "role": {"chosen": "chosen on validation", "published": "authors' command",
                     "beside": "beside the authors' command"}[role],
            "test_nll": mean,
            "stderr_over_examples": float(sub[f"{col}_stderr"].astype(float).mean()) if f"{col}_stderr" in sub else float("nan"),
            "stderr_over_seeds": se_seeds,
            "seeds": n,
            "paper": paper,
            "difference": mean - paper,
            "judgement": against_reference(mean, se_seeds, n, paper).verdict,
            "protocol": "/".join(protocols) or "",
            "valid_nll": float(sub["valid_nll"].mean()) if "valid_nll" in sub else float("nan"),
            "not_chosen_valid_nll": others.get((dataset, k), "") if role == "chosen" else "",
            "best_epoch": "/".join(str(int(b)) for b in sub["best_epoch"]),
            "stopped_early": bool(sub["stopped_early"].all()) if "stopped_early" in sub else False,
            "wall_minutes": seconds / 60,
            "data_variant": ", ".join(sorted(sub["data_variant"].unique())),
        })
    return pd.DataFrame(rows)


def uci_expected() -> pd.DataFrame:
    """The ``uci`` grid's points as rows (dataset, num_masks, protocol, mode):
    what :func:`uci_table` lists as not finished when a run is missing."""
    grid = _grid()
    return pd.DataFrame([dict(dataset=p.params["dataset"], protocol=p.params.get("protocol"), mode=p.mode,
                              num_masks="sampling" if p.params.get("num_masks") is None else str(p.params["num_masks"]))
                         for p in grid.expand(grid.GRIDS["uci"])]).drop_duplicates()


def comparison_table(mnist_runs: pd.DataFrame, uci_runs: pd.DataFrame | None = None,
                     widths: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per setting, this project beside the paper and the seed project;
    ``widths`` (the widths grid's table) adds the 1x8000 rows."""
    rows = mnist_rows(mnist_runs, widths)
    if uci_runs is not None and len(uci_runs):
        rows += uci_rows(uci_runs)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, digits: int = 2) -> str:
    """A plain GitHub markdown table (no extra dependency)."""
    def fmt(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.{digits}f}"
        return "" if v is None else str(v).replace("|", "/")

    head = "| " + " | ".join(table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


NOTES = """\
Test NLL in nats (lower is better). `this_project` is the mean ± standard error over seeds (no ±:
one seed); `reference` is the paper's or the seed project's figure, with how sure it is
(`recalled`: transcribed from memory of the paper's tables, not read off the PDF). `judgement`
applies the reports' one rule for a difference (`made.reports.compare.difference`): ours is called
`higher` or `lower` than the reference only where the gap exceeds the combined standard error,
the reference taken as one run with the spread of one of ours (`made.reports.compare.against_reference`);
otherwise `within the spread`, and with one seed `one seed`. `data_variant` says which binarized MNIST was used.

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
    variants = sorted({v for cell in rows["data_variant"] for v in str(cell).split(", ") if v})
    protocols = set(rows["protocol"]) - {""}
    if not protocols:
        training = "the runs do not name their recipe (`protocol`), so it may differ from the authors' Adagrad 0.01"
    elif protocols == {"paper"}:
        training = "the authors' optimizer, Adagrad 0.01, to early stopping (protocol `paper`)"
    elif protocols == {"adam"}:
        training = ("a converging Adam recipe (protocol `adam`: step decay, early stopping) instead of the "
                    "authors' Adagrad 0.01, which needs far more epochs than the runs here could be given")
    else:
        training = f"protocol `{'/'.join(sorted(protocols))}`, not only the authors' Adagrad 0.01"
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
- **Seeds:** a row with one seed has no spread over seeds, so its gap to the paper is not judged.
"""


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as comparison.md shows it: mean ± standard error
    over seeds in one column, a signed difference, runs not done said so."""
    out = table.copy()
    out["this_project"] = [fmt_mean(m, s) if n else "not run yet"
                           for m, s, n in zip(table["this_project"], table["stderr_over_seeds"], table["seeds"])]
    out["difference"] = ["" if math.isnan(d) else f"{d:+.2f}" for d in table["difference"]]
    return out.drop(columns="stderr_over_seeds")


def report_markdown(table: pd.DataFrame, uci: pd.DataFrame | None = None) -> str:
    """comparison.md: a title, how to read it, the table, what the paper's rows
    can show, and the UCI table."""
    text = "# This project against the paper\n\n" + NOTES + "\n" + to_markdown(_display(table))
    note = paper_rows_note(table)
    if note:
        text += "\n" + note
    if uci is not None and len(uci):
        text += ("\n## UCI datasets\n\nPer dataset and setting, the recipe with the best validation NLL "
                 "(mean over its seeds): the protocol and, under mask sampling, what is resampled at "
                 "each minibatch (ordering and connectivity, or the connectivity only under one "
                 "ordering). `protocol` and `resampling` say which won, `not_chosen_valid_nll` what "
                 "the others reached (or that they did not finish); a run that did not stop early is "
                 "never chosen. Where the authors published a command (dna, mask sampling) it is the "
                 "row as published, and the other recipes run for that row follow it, beside it. "
                 "Standard errors over test examples and, with several seeds, over seeds; "
                 "`judgement` as above, by the standard error over seeds.\n\n" + to_markdown(uci))
    return text


# --- Figure 2 and the widths grid: means over seeds and what they say ----------------------------

def figure2_summary(runs: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and standard error over seeds, per training mode, K and evaluation
    (and per ``by`` column, e.g. the width).

    K = 1 runs (mode ``single``) belong to both training modes' curves.
    """
    rows = []
    runs = runs.assign(num_masks=runs["num_masks"].astype(int))
    for mode in TRAINING_LABEL:
        for keys, group in rows_of_mode(runs, mode).groupby([*by, "num_masks"]):
            for col, evaluation in EVAL_LABEL.items():
                mean, se, n = mean_se(group[col])
                rows.append(dict(zip([*by, "num_masks"], keys), training=mode, evaluation=evaluation,
                                 mean=mean, stderr=se, seeds=n))
    columns = [*by, "training", "evaluation", "num_masks", "mean", "stderr", "seeds"]
    return pd.DataFrame(rows, columns=columns)


def _cell(summary: pd.DataFrame, mode: str, evaluation: str, **keys) -> tuple[float, float, int]:
    """(mean, se, seeds) of one point of a summary; NaN and 0 seeds where it was not run."""
    sel = summary[(summary["training"] == mode) & (summary["evaluation"] == EVAL_LABEL[evaluation])]
    for key, value in keys.items():
        sel = sel[sel[key] == value]
    if not len(sel):
        return float("nan"), float("nan"), 0
    row = sel.iloc[0]
    return float(row["mean"]), float(row["stderr"]), int(row["seeds"])


def _column(mode: str, evaluation: str) -> str:
    return f"{TRAINING_LABEL[mode]}, {'mask 0' if evaluation == 'test_nll_single_mask' else 'ensemble'}"


def _seeds_text(counts) -> str:
    counts = sorted({int(c) for c in counts if c})
    return "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else "".join(map(str, counts))


def figure2_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 2 as a table: one row per K, test NLL (mean ± standard error over
    seeds; no ±: one seed) of mask 0 and of the ensemble in both modes, the seed
    project's logit average (order-agnostic; not a likelihood) and the seeds."""
    summary = figure2_summary(runs)
    runs = runs.assign(num_masks=runs["num_masks"].astype(int))
    rows = []
    for k in sorted(summary["num_masks"].unique()):
        row, seeds = {"K": int(k)}, []
        for mode in TRAINING_LABEL:
            for col in EVAL_LABEL:
                mean, se, n = _cell(summary, mode, col, num_masks=k)
                row[_column(mode, col)] = fmt_mean(mean, se)
                seeds.append(n)
        logit = rows_of_mode(runs, "order")
        row["logit average, order-agnostic (not a likelihood)"] = fmt_mean(
            *mean_se(logit[logit["num_masks"] == k]["test_nll_logit_average"])[:2])
        row["seeds"] = _seeds_text(seeds)
        rows.append(row)
    return pd.DataFrame(rows)


def _by_verdict(items: list[tuple[str, Difference]], names: dict[str, str]) -> str:
    """'lower at K = 2 (-0.71 ± 0.25); within the spread at K = 4 (+0.10 ± 0.30)'.

    ``items``: (label, difference) pairs; ``names``: what to call each verdict."""
    groups: dict[str, list[str]] = {}
    for label, d in items:
        if d.verdict == "missing":
            continue
        spread = "" if math.isnan(d.combined_se) else f" ± {d.combined_se:.2f}"
        groups.setdefault(d.verdict, []).append(f"{label} ({d.delta:+.2f}{spread})")
    order = ["lower", "higher", "within the spread", "one seed"]
    return "; ".join(f"{names[v]} at {', '.join(groups[v])}" for v in order if v in groups) or "nothing to compare"


def figure2_findings(runs: pd.DataFrame) -> str:
    """Figure 2 in sentences, every comparison judged by :func:`difference`:
    each K against K = 1, for the ensemble and for mask 0 alone, and the two
    training modes against each other at each K."""
    summary = figure2_summary(runs)
    ks = sorted(k for k in summary["num_masks"].unique() if k != 1)
    lines = ["Differences in nats ± their combined standard error over seeds; a difference is called "
             "one only where it exceeds that (`made.reports.compare.difference`); with one seed on either side "
             "it is not judged."]
    for col, what in (("test_nll_ensemble", "The ensemble of the K training masks"),
                      ("test_nll_single_mask", "Mask 0 alone (one forward pass)")):
        base = _cell(summary, "order", col, num_masks=1)
        parts = []
        for mode in TRAINING_LABEL:
            items = [(f"K = {k}", difference(*_cell(summary, mode, col, num_masks=k)[:2], *base[:2])) for k in ks]
            parts.append(f"{TRAINING_LABEL[mode].capitalize()}: " + _by_verdict(items, {
                "lower": "better", "higher": "worse", "within the spread": "within the spread",
                "one seed": "one seed, not judged"}))
        k1 = fmt_mean(*base[:2]) + (", one seed" if math.isnan(base[1]) else "")
        lines.append(f"- **{what}, against K = 1 ({k1}).** " + ". ".join(parts) + ".")
    for col, what in (("test_nll_ensemble", "ensemble"), ("test_nll_single_mask", "mask 0")):
        items = [(f"K = {k}", difference(*_cell(summary, "connectivity", col, num_masks=k)[:2],
                                         *_cell(summary, "order", col, num_masks=k)[:2])) for k in ks]
        lines.append(f"- **Connectivity- against order-agnostic, {what}:** " + _by_verdict(items, {
            "lower": "connectivity-agnostic better", "higher": "order-agnostic better",
            "within the spread": "within the spread", "one seed": "one seed, not judged"}) + ".")
    return "\n".join(lines) + "\n"


def _nll_report(title: str, runs: pd.DataFrame, scope: str, table: pd.DataFrame, text: str,
                masks: str = "training masks", caveat: str = "") -> str:
    """A markdown report: title, what was run and how to read the table, the table, the text."""
    return (f"# {title}\n\nBinarized MNIST ({_variant(runs)}), {scope} Test NLL in nats, mean ± standard "
            f"error over seeds (no ±: one seed); mask 0 is one forward pass, the ensemble averages the "
            f"probabilities of the {masks}.{caveat}\n\n" + to_markdown(table) + "\n" + text)


def figure2_markdown(runs: pd.DataFrame) -> str:
    """figure2.md: the table and the findings, from the runs alone."""
    return _nll_report("Figure 2: test NLL against the number of training masks", runs,
                       "one hidden layer of 500 units.", figure2_table(runs), figure2_findings(runs),
                       masks="K training masks")


def paper_one_hidden_layer() -> pd.DataFrame:
    """The paper's 1-hidden-layer MNIST rows (recalled): masks, test NLL, the
    width as our notes label it and as a number for a width axis."""
    refs = reference_numbers()
    rows = refs[(refs["table"] == "mnist") & (refs["model"] == "MADE 1 hidden layer")].copy()
    rows["masks"] = rows["masks"].astype(float).astype(int)
    rows["width"] = [int(re.match(r"\d+", str(h)).group()) for h in rows["hidden"]]
    return rows[["masks", "test_nll", "hidden", "width", "confidence"]].reset_index(drop=True)


def widths_grid() -> tuple[list[int], int]:
    """The widths and the many-mask K of the ``widths`` grid, as defined in made/pipeline/grid.py."""
    axes = _grid().GRIDS["widths"]["axes"]
    return [int(h[0]) for h in axes["hidden_sizes"]], max(axes["num_masks"])


def widths_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`figure2_summary` per width (one hidden layer)."""
    runs = runs.assign(width=[int(str(h)) for h in runs["hidden_sizes"]])
    return figure2_summary(runs, by=("width",))


def widths_table(runs: pd.DataFrame, widths: list[int] | None = None, k: int | None = None) -> pd.DataFrame:
    """One row per width of the grid (a width without runs says so): test NLL
    at K = 1 and, at K = ``k``, of mask 0 and of the ensemble in both modes;
    then the paper's rows (recalled)."""
    grid_widths, grid_k = widths_grid()
    widths, k = widths or grid_widths, k or grid_k
    summary = widths_summary(runs)
    columns = ["K = 1"] + [f"K = {k}, {_column(m, c)}" for m in TRAINING_LABEL for c in EVAL_LABEL]
    rows = []
    for width in sorted(set(widths) | set(summary["width"])):
        cells = [_cell(summary, "order", "test_nll_single_mask", width=width, num_masks=1)]
        cells += [_cell(summary, m, c, width=width, num_masks=k) for m in TRAINING_LABEL for c in EVAL_LABEL]
        rows.append({"hidden units": str(width),
                     **{name: fmt_mean(m, s) if n else "not run yet" for name, (m, s, n) in zip(columns, cells)},
                     "seeds": _seeds_text(n for _, _, n in cells) or "0"})
    paper = paper_one_hidden_layer().set_index("masks")["test_nll"]
    rows.append({"hidden units": f"paper ({PAPER_WIDTH}, most likely; recalled)",
                 **{name: "" for name in columns}, "seeds": ""})
    rows[-1]["K = 1"] = f"{paper.get(1, float('nan')):.2f}"
    rows[-1][f"K = {k}, {_column('order', 'test_nll_ensemble')}"] = f"{paper.get(k, float('nan')):.2f}"
    return pd.DataFrame(rows)


_ANSWER = {"lower": "yes, it helps", "higher": "no, it hurts", "within the spread": "no difference beyond the spread",
           "one seed": "not judged, one seed", "missing": "not run yet"}


def widths_paragraph(runs: pd.DataFrame, width: int = PAPER_WIDTH, k: int | None = None) -> str:
    """At ``width`` hidden units: does training with ``k`` masks help the
    ensemble, and does it help or hurt mask 0 alone?  Each judged by
    :func:`difference` against K = 1; until the runs are done, it says so."""
    k = k or widths_grid()[1]
    summary = widths_summary(runs)
    summary = summary[summary["width"] == width]
    if not len(summary):
        return (f"The {width}-unit runs are not done yet (`python run_all.py --grid widths`): whether "
                f"training with {k} masks helps at the paper's width cannot be answered yet.\n")
    base = _cell(summary, "order", "test_nll_single_mask", num_masks=1)
    if not base[2]:
        return (f"The {width}-unit K = 1 run is not done yet (`python run_all.py --grid widths`): there is "
                f"nothing yet to compare the {k}-mask runs with.\n")
    one = " (one seed)" if math.isnan(base[1]) else ""
    text = [f"At {width} hidden units (the paper's width, most likely), K = 1 gives {fmt_mean(*base[:2])} nats{one}."]
    for col, question in (("test_nll_ensemble", f"Does training with {k} masks help the ensemble?"),
                          ("test_nll_single_mask", "Does it help or hurt a single mask (mask 0 alone)?")):
        answers = []
        for mode in TRAINING_LABEL:
            mean, se, n = _cell(summary, mode, col, num_masks=k)
            d = difference(mean, se, *base[:2])
            if d.verdict == "missing":
                detail = ""
            elif d.verdict == "one seed":
                detail = f" ({fmt_mean(mean, se)}, {abs(d.delta):.2f} nats {'lower' if d.delta < 0 else 'higher'})"
            else:
                detail = f" ({say_mean(mean, se)}; {d.text()})"
            answers.append(f"{TRAINING_LABEL[mode].capitalize()}: {_ANSWER[d.verdict]}{detail}.")
        text.append(f"**{question}** " + " ".join(answers))
    paper = paper_one_hidden_layer().set_index("masks")["test_nll"]
    if 1 in paper and k in paper:
        text.append(f"The paper (recalled) reports {paper[1]:.2f} at 1 mask and {paper[k]:.2f} at {k} masks.")
    return " ".join(text) + "\n"


def widths_markdown(runs: pd.DataFrame) -> str:
    """widths.md: the table and the paragraph."""
    return _nll_report("Figure 2's question at the paper's width", runs,
                       "one hidden layer, Figure 2's protocol.", widths_table(runs), widths_paragraph(runs),
                       caveat=" The paper's rows are recalled, and their width is not stated in what was recalled.")