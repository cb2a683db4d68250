"""The paper's UCI table: per dataset and setting, the recipe chosen on validation, against the paper.

Per dataset and setting (one mask; mask sampling) the recipe with the lowest
*validation* NLL, averaged over its seeds, is the row (never test, never a
run that did not stop early); where the authors published a command it is
the row as published, and the others stand beside it.  Each row is set
against the paper's number by :func:`made.reports.statistics.number_word`.
The search (:func:`_select`) picks the winner with pandas (``groupby`` of the
recipes' means, ``idxmin``); what is home-made around it is what the table
must also say: which recipes were not chosen and their validation NLL, which
did not stop early, which never finished or were left out of the grid, and
which stand beside a published command.
"""

from __future__ import annotations

import pandas as pd

from pathlib import Path

from ..data import DATASETS
from .references import reference, reference_numbers
from .runs import SECONDS, by_seed, read_grid
from .statistics import mean_se, number_word

# What mask sampling resamples at every minibatch, by training mode.
RESAMPLING = {"order": "ordering and connectivity", "connectivity": "connectivity only", "single": ""}


def recipe_name(values: dict) -> str:
    """A recipe as a reader reads it: ``adadelta``, ``paper, connectivity only``."""
    parts = [str(values["protocol"])] if not pd.isna(values.get("protocol")) else []
    label = RESAMPLING.get(str(values.get("mode", "")), "")
    return ", ".join(parts + ([label] if label else []))


def _select(runs: pd.DataFrame, by: list[str], expected: pd.DataFrame | None = None,
            published: dict | None = None, left_out: dict | None = None
            ) -> tuple[pd.DataFrame, dict, pd.DataFrame, set]:
    """Per group, the recipe (protocol and resampling mode) with the lowest
    validation NLL, averaged over its seeds, with all its seeds; never test,
    and never a recipe with a run that did not stop early.

    Beside those runs, the recipes not chosen (with their
    mean validation NLL, "did not stop early", or, from ``expected`` (the
    grid's points as rows), "not finished"; from ``left_out``, "left out of
    the search"), the runs reported beside a published command (``published``
    maps a group to the recipe that stands as published, whatever the
    validation NLL of the others), and the groups whose search has an
    unfinished recipe (their choice is not yet the validation's)."""
    # the recipe: its protocol and resampling mode (a run's table always records both)
    recipe = [c for c in ("protocol", "mode") if c in runs and runs[c].notna().all()]
    stopped = runs["stopped_early"].astype(bool) if "stopped_early" in runs else True
    means = (runs.assign(_stopped=stopped).groupby([*by, *recipe], dropna=False)
             .agg(valid_nll=("valid_nll", "mean"), stopped=("_stopped", "all")).reset_index())
    key = pd.Series(list(zip(*(means[c] for c in by))), index=means.index)
    fixed = key.map(lambda k: {c: v for c, v in (published or {}).get(k, {}).items() if c in recipe} or None)
    as_published = [f is not None and all(str(r[c]) == str(v) for c, v in f.items())
                    for f, (_, r) in zip(fixed, means.iterrows())]
    free = means[fixed.isna() & means["stopped"]]
    chosen = means.index.isin(free.groupby(by, dropna=False)["valid_nll"].idxmin()) | as_published
    means["name"] = [recipe_name(dict(zip(recipe, v))) for v in means[recipe].values]
    texts = {k: [f"{r.name} {r.valid_nll:.2f}" + ("" if r.stopped else " (did not stop early)")
                 for r in means[(key == k) & ~chosen].itertuples()] for k in key[fixed.isna()].unique()}
    incomplete = set()
    for k, text in texts.items():
        if expected is not None:
            want = expected[(expected[by].astype(str) == pd.Series(map(str, k), index=by)).all(axis=1)]
            missing = sorted({tuple(map(str, r)) for r in want[recipe].values}
                             - {tuple(map(str, r)) for r in means[key == k][recipe].values})
            text += [f"{recipe_name(dict(zip(recipe, m)))}: not finished" for m in missing]
            incomplete |= {k} if missing else set()
        text += [f"{recipe_name({c: v for c, v in zip(('protocol', 'mode'), arm) if c in recipe})}: left out of "
                 "the search (why: below)" for (dataset, masks, *arm), _ in sorted((left_out or {}).items())
                 if (str(dataset), str(masks)) == tuple(map(str, k)) and set(recipe) <= {"protocol", "mode"}]
    index = runs.set_index([*by, *recipe]).index
    def rows(part):
        return runs[index.isin(pd.MultiIndex.from_frame(part[[*by, *recipe]]) if len(part) else [])]
    return (rows(means[chosen]), {k: "; ".join(t) for k, t in texts.items() if t},
            rows(means[~chosen & fixed.notna()]), incomplete)


# A row's role, as the tables say it: a row whose search has an unfinished
# recipe does not say it chose on validation.
ROLES = {"chosen": "chosen on validation", "published": "authors' command",
         "beside": "ablation of the authors' command",
         "incomplete": "best of the finished recipes (search incomplete)"}


def uci_entries(runs: pd.DataFrame, expected: pd.DataFrame | None = None, published: dict | None = None,
                left_out: dict | None = None):
    """The UCI table's rows before formatting, each as (dataset, K, role, runs,
    mask sampling?, the test column read, the paper's row): the chosen (or
    published) recipe of each dataset and K ("incomplete" where a recipe of
    its search has not finished), then the runs beside a published command,
    one row per recipe; and the recipes not chosen."""
    runs = runs.assign(num_masks=runs["num_masks"].astype(str))
    if expected is not None:
        expected = expected.assign(num_masks=expected["num_masks"].astype(str))
    published, refs = published or {}, reference_numbers()
    chosen, others, beside, incomplete = _select(runs, ["dataset", "num_masks"], expected, published, left_out)
    groups = []
    for (dataset, k), sub in chosen.groupby(["dataset", "num_masks"]):
        groups.append((dataset, k, "published" if (dataset, k) in published else
                       "incomplete" if (dataset, k) in incomplete else "chosen", sub))
        near = beside[(beside["dataset"] == dataset) & (beside["num_masks"] == k)]
        groups += [(dataset, k, "beside", other)
                   for _, other in near.groupby([c for c in ("protocol", "mode") if c in near], dropna=False)]
    return [(d, k, role, sub, k == "sampling", "test_nll_ensemble" if k == "sampling" else "test_nll_single_mask",
             reference(refs, table="uci", dataset=d, masks="sampling" if k == "sampling" else "1"))
            for d, k, role, sub in groups], others


COLUMNS = ["dataset", "setting", "resampling", "role", "test_nll", "stderr_over_examples", "stderr_over_seeds",
           "seeds", "paper", "difference", "judgement", "protocol", "valid_nll", "not_chosen_valid_nll", "best_epoch",
           "stopped_early", "run_minutes", "data_variant"]


def uci_table(runs: pd.DataFrame, expected: pd.DataFrame | None = None, published: dict | None = None,
              left_out: dict | None = None) -> pd.DataFrame:
    """The UCI comparison, one row per dataset and setting (single mask; mask sampling).

    Per dataset and setting the recipe (protocol and, under mask sampling,
    the resampling mode) with the lowest *validation* NLL (mean over its
    seeds) is kept, never test; ``protocol`` and ``resampling`` say which
    won and ``not_chosen_valid_nll`` what the others reached (and, given the
    grid's points as ``expected``, which did not finish).  Where the authors
    published a command (``published``: (dataset, K) -> its recipe, the
    grid's ``AS_PUBLISHED``) it is the row, and
    the row's other runs follow it as rows of their own (``role`` beside).
    ``left_out`` ((dataset, K, protocol, mode) -> why, the grid's
    ``LEFT_OUT_OF_SEARCH``) names the recipes taken out of a row's search.
    Columns: test NLL (mean over seeds) with its standard error over test
    examples, the spread over seeds, the paper's number and the difference,
    best epoch(s), and the run time of the kept runs (training, validation
    and test, summed over seeds).
    """
    entries, others = uci_entries(runs, expected, published, left_out)
    rows = []
    for dataset, k, role, sub, sampling, col, ref in entries:
        mean, se_seeds, n = mean_se(sub[col])
        paper = float(ref["test_nll"]) if ref is not None else float("nan")
        protocols = sorted(str(p) for p in sub["protocol"].dropna().unique()) if "protocol" in sub else []
        modes = sorted({RESAMPLING.get(str(m), "") for m in sub["mode"]}) if "mode" in sub else []
        rows.append({
            "dataset": dataset,
            "setting": f"mask sampling ({int(sub['ensemble_masks'].iloc[0])} test masks)" if sampling else "1 mask",
            "resampling": "/".join(m for m in modes if m),
            "role": ROLES[role],
            "test_nll": mean,
            "stderr_over_examples": float(sub[f"{col}_stderr"].astype(float).mean()) if f"{col}_stderr" in sub else float("nan"),
            "stderr_over_seeds": se_seeds,
            "seeds": n,
            "paper": paper,
            "difference": mean - paper,
            # an ablation is not a reproduction: its gap to the paper is shown, not judged
            "judgement": ("ablation: not judged against the paper" if role == "beside"
                          else number_word(*mean_se(by_seed(sub, col)), paper)),
            "protocol": "/".join(protocols) or "",
            "valid_nll": float(sub["valid_nll"].mean()) if "valid_nll" in sub else float("nan"),
            "not_chosen_valid_nll": others.get((dataset, k), "") if role in ("chosen", "incomplete") else "",
            "best_epoch": "/".join(str(int(b)) for b in sub["best_epoch"]),
            "stopped_early": bool(sub["stopped_early"].all()) if "stopped_early" in sub else False,
            # summed per column, then over columns: the order the committed tables were written in
            "run_minutes": sum(sub[c].fillna(0).astype(float).sum() for c in SECONDS if c in sub) / 60,
            "data_variant": ", ".join(sorted(sub["data_variant"].unique())),
        })
    # The grid's datasets with no run at all: no copy of their data was at hand.
    ran = set(runs["dataset"]) if len(runs) else set()
    for dataset in sorted(set(expected["dataset"]) - ran if expected is not None and len(expected) else ()):
        rows.append({"dataset": dataset, "setting": "", "resampling": "",
                     "role": f"not run: no copy of the data here (`python -m made.data fetch {dataset}`, or "
                             f"{DATASETS[dataset].url})" if dataset in DATASETS else "not run", "seeds": 0})
    return pd.DataFrame(rows, columns=COLUMNS)


def uci_expected(points: list[dict]) -> pd.DataFrame:
    """The ``uci`` grid's points (as ``uci_grid.json`` lists them, :func:`..runs.read_grid`)
    as rows (dataset, num_masks, protocol, mode): what :func:`uci_table` lists
    as not finished when a run is missing."""
    return pd.DataFrame([dict(dataset=p["dataset"], protocol=p.get("protocol"), mode=p["mode"],
                              num_masks="sampling" if p.get("num_masks") is None else str(p["num_masks"]))
                         for p in points]).drop_duplicates()


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """The UCI table as uci.md shows it."""
    return pd.DataFrame({
        "dataset": table["dataset"], "data": table["data_variant"],
        "setting": [s if not r else f"{s}, {r}" for s, r in zip(table["setting"], table["resampling"])],
        "role": table["role"], "test NLL": table["test_nll"], "± examples": table["stderr_over_examples"],
        "± seeds": table["stderr_over_seeds"], "seeds": table["seeds"], "paper": table["paper"],
        "difference": ["" if pd.isna(d) else f"{d:+.2f}" for d in table["difference"]],
        "judgement": table["judgement"],
        "protocol": table["protocol"], "validation NLL": table["valid_nll"],
        "validation NLL of the recipes not chosen": table["not_chosen_valid_nll"],
        "best epoch": table["best_epoch"], "run minutes": table["run_minutes"],
    })


def runs_shown(runs: pd.DataFrame) -> pd.DataFrame:
    """Every UCI run: recipe, seed, epochs, validation and test NLL, chosen or not."""
    runs = runs.assign(num_masks=runs["num_masks"].astype(str)).sort_values(
        [c for c in ("dataset", "num_masks", "protocol", "mode", "seed") if c in runs])
    sampling = runs["num_masks"] == "sampling"
    return pd.DataFrame({
        "dataset": runs["dataset"], "setting": ["mask sampling" if s else "1 mask" for s in sampling],
        "protocol": runs.get("protocol", ""), "resampling": [RESAMPLING.get(str(m), "") if s else ""
                                                              for m, s in zip(runs["mode"], sampling)],
        "seed": runs["seed"], "epochs": runs["epochs"], "kept epoch": runs["best_epoch"],
        "stopped early": runs["stopped_early"], "validation NLL": runs["valid_nll"],
        "test NLL": [e if s else m for e, m, s in zip(runs["test_nll_ensemble"], runs["test_nll_single_mask"], sampling)],
    })


# The words of the rule (made.reports.statistics.number_word) in the order uci.md's summary groups its rows
WORD_GROUPS = ("reproduced", "not reproduced", "not settled", "not judged")


def context(results: Path) -> dict:
    """uci.md's context, from uci.csv and the grid as the pipeline wrote it (uci_grid.json): the
    table (:func:`uci_table`), its rows set against the paper grouped by their word
    (reproduced, not reproduced, not settled, not judged), the ablations, the datasets not
    run, every run, and the recipes left out of the search with why."""
    runs, grid = pd.read_csv(results / "uci.csv"), read_grid(results, "uci")
    table = uci_table(runs, uci_expected(grid["points"]), grid["published"], grid["left_out"])
    words = table["judgement"].fillna("")
    ablation = words.str.startswith("ablation")
    judged = table[table["test_nll"].notna() & ~ablation]

    def rows(part):
        return [{"dataset": r.dataset, "setting": r.setting + (f", {r.resampling}" if r.resampling else ""),
                 "role": r.role, "ours": f"{r.test_nll:.2f}", "paper": f"{r.paper:.2f}", "difference": f"{r.difference:+.2f}"}
                for r in part.itertuples()]
    return {"table": _shown(table), "judged": len(judged),
            "groups": [{"word": w, "rows": rows(judged[words[judged.index].str.startswith(w)])} for w in WORD_GROUPS],
            "ablations": rows(table[ablation]),
            "not_run": list(table[table["test_nll"].isna()]["dataset"]), "runs": runs_shown(runs),
            "left_out": [{"dataset": d, "setting": "mask sampling" if str(k) == "sampling" else f"{k} mask(s)",
                          "recipe": recipe_name(dict(zip(("protocol", "mode"), arm))), "why": why}
                         for (d, k, *arm), why in sorted(grid["left_out"].items())]}
