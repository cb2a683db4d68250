"""Figures: learning curves, sample grids, the paper's Figure 2, its runs' curves and
Figure 2's question across widths.

Every figure of results shows each seed as a faint point (or line) beside the
mean over seeds, error bars of one standard error over seeds only where
there are at least two, and names in its title the data variant, the recipe
and the number of seeds.  Everything returns a matplotlib Figure;
:func:`save_figure` writes PNG and PDF.  Figure 2 and the widths figure draw
their series by one home-made path (:func:`_draw`): seaborn's ``pointplot``
dodges on a categorical axis only, and these axes are logarithmic (K, width),
with each seed's own point beside the mean and no error bar from one seed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figure2 import figure2_runs, what_was_run
from .references import PAPER_WIDTH, paper_nll
from .runs import EVALUATIONS, MODE_LABEL, TRAINING_MODES, describe, seeds_text, select, summary
from .widths import early_stops, many_masks, widths_runs, with_chosen_recipes
from ..io import atomic_path


def _style():
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.2)


# Shared by Figure 2 and the widths figure: a colour per training mode, a style per evaluation.
MODE_COLORS = {"order": "#1f77b4", "connectivity": "#d95f02"}
EVAL_STYLES = {"mask 0": dict(ls="--", marker="o", mfc="white"),
               "ensemble": dict(ls="-", marker="s")}
EVAL_NAME = {"mask 0": "mask 0 alone", "ensemble": "ensemble"}
COLUMN = {evaluation: column for column, evaluation in EVALUATIONS.items()}
PAPER_STYLE = dict(marker="*", s=160, edgecolor="white", linewidth=0.5, zorder=5)
SEEDS_NOTE = "faint dots: one seed each; bars: ± 1 standard error over seeds (none: one seed)"


def _draw(ax, runs: pd.DataFrame, points: pd.DataFrame, x: str, series: list, step: float, jitter: float,
          axis: list | None = None, mark=None) -> None:
    """Figure 2's and the widths' one way of drawing: each of ``series``, (K,
    mode, evaluation, colour, style, label), K None for every K, against
    column ``x`` of :func:`..runs.summary`'s ``points``, moved sideways (the
    series' offsets, in log2 units of the x axis, centred on 0 and ``step``
    apart) so that no marker hides another: a mean line with error bars of one
    standard error over seeds (a point of one seed, stderr NaN, gets no bar; a
    missing point leaves a gap), and each seed's value as a faint point of the
    same colour, ``jitter`` further; at each value of ``axis`` (a gap where it
    has no point), or at its own points; ``mark(k, shift, points, runs)`` marks
    each series where given."""
    import seaborn as sns

    for i, (k, mode, evaluation, color, style, label) in enumerate(series):
        shift = 2 ** ((i - (len(series) - 1) / 2) * step)
        part = points[(points["training"] == mode) & (points["evaluation"] == evaluation)]
        seeds = select(runs, mode=[mode, "single"])
        if k is not None:
            part, seeds = part[part["num_masks"] == k], seeds[seeds["num_masks"].astype(int) == k]
        part = part.set_index(x).reindex(axis) if axis is not None else part.sort_values(x).set_index(x, drop=False)
        xs = np.asarray(axis if axis is not None else part[x], float) * shift
        if len(seeds):
            sns.scatterplot(x=seeds[x].astype(float).to_numpy() * shift * 2 ** jitter,
                            y=seeds[COLUMN[evaluation]].astype(float).to_numpy(), ax=ax, color=color, alpha=0.5,
                            s=16, linewidth=0, legend=False, marker=style.get("marker", "o"), zorder=2)
        ax.errorbar(xs, part["mean"].to_numpy(float), yerr=part["stderr"].to_numpy(float), capsize=3, color=color,
                    label=label, lw=1.4, ms=5, zorder=3, **style)
        if mark:
            mark(k, shift, part, seeds)


def _finish(fig, ax, ticks, xlim, xlabel: str, title: str | None, subtitle: str, **scale):
    """Ticks at ``ticks`` on a log axis, the labels, the titles and one legend below the axes,
    this project's series first, the paper's marks last."""
    ax.set_xscale("log", **scale)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(*xlim)
    ax.set(xlabel=xlabel, ylabel="test NLL (nats)")
    ax.set_title(subtitle, fontsize=9, loc="left")
    if title:
        fig.suptitle(title, fontsize=11, x=0.02, ha="left")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("paper"))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7.5, frameon=True,
              loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)
    fig.tight_layout()
    return fig


def figure2(runs: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Test NLL against the number of training masks (log2 axis): four curves,
    training mode (order- or connectivity-agnostic) crossed with evaluation
    (mask 0 alone or the ensemble of the training masks), each seed a faint
    point beside its mean.  No reference at another width is drawn: the
    paper's one-hidden-layer rows (most likely 8000 units) are on the widths
    figure, at their width.

    Only test NLL is on this axis: the seed project's 94.5 is a validation
    NLL, compared in comparison.md with this project's validation NLL instead.
    """
    _style()
    runs = figure2_runs(runs)
    points = summary(runs)
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    _draw(ax, runs, points, "num_masks", [(None, m, e, MODE_COLORS[m], EVAL_STYLES[e], f"{MODE_LABEL[m]}, {EVAL_NAME[e]}")
                                          for m in TRAINING_MODES for e in EVAL_STYLES], 0.1, 0.06)
    ks = sorted(points["num_masks"].unique())
    return _finish(fig, ax, ks, (min(ks) / 1.6, max(ks) * 1.4), "number of masks used in training (K)", title,
                   f"{what_was_run(runs)}\n{SEEDS_NOTE}", base=2)


def widths_figure(runs: pd.DataFrame, widths: list[int] | None = None, k: int | None = None,
                  title: str | None = None) -> plt.Figure:
    """Test NLL against the width of the one hidden layer (log axis): K = 1,
    and at K = ``k`` mask 0 alone and the ensemble in both training modes,
    each series moved a little sideways so that no marker hides another, each
    seed a faint point; the paper's recalled rows as stars to the right of
    their likely width.  A width of ``widths`` without runs says so; a K = 1
    run kept before its first learning-rate step (it overfit in its first
    epochs) is labelled with its kept epoch.
    """
    _style()
    runs = with_chosen_recipes(widths_runs(runs))  # K = 1 under its recipe chosen on validation
    k = k or many_masks(runs)
    points = summary(runs, by=("width",))
    axis = sorted(set(widths or []) | set(points["width"]))
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    series = [(1, "order", "mask 0", "black", dict(ls="-", marker="D"), "K = 1 (its recipe)")]
    series += [(k, m, e, MODE_COLORS[m], EVAL_STYLES[e], f"K = {k}, {MODE_LABEL[m]}, {EVAL_NAME[e]}")
               for m in TRAINING_MODES for e in EVAL_STYLES]
    early = []  # K = 1 runs kept before the rate first stepped down

    def mark(masks, shift, part, seeds):
        for width, stopped in early_stops(seeds).groupby("width") if masks == 1 else ():  # one mark a width
            ax.annotate("‡", (width * shift, part.loc[width, "mean"]), textcoords="offset points",
                        xytext=(0, 5), ha="center", va="bottom", fontsize=9)
            early.append(f"{'/'.join(str(e) for e in sorted(set(stopped['best_epoch'].astype(int))))} at {width} units")

    _draw(ax, runs, points, "width", series, 0.16, 0.03, axis, mark)
    for offset, (masks, color, what) in zip((0.55, 0.95), ((1, "black", "K = 1"),
                                                           (k, MODE_COLORS["order"], f"K = {k}, ensemble"))):
        if not np.isnan(paper_nll(masks)):
            x = PAPER_WIDTH * 2 ** offset
            ax.scatter([x], [paper_nll(masks)], color=color, label=f"paper (recalled), {what}", **PAPER_STYLE)
            ax.annotate(f"{paper_nll(masks):.2f}", (x, paper_nll(masks)), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=7, color=color)
    for width in sorted(set(axis) - set(points["width"])):  # say why a width has no points
        ax.text(width, 0.97, "not run yet", transform=ax.get_xaxis_transform(), ha="center", va="top", color="grey",
                fontsize=9)
    seeds = runs.groupby(["width", "num_masks", "mode"])["seed"].nunique()
    return _finish(fig, ax, axis, (axis[0] / 1.6, max(axis[-1], PAPER_WIDTH) * 2.6), "hidden units (one hidden layer)",
                   title, f"binarized MNIST ({describe(runs, 'data_variant')}), protocol "
                          f"{describe(runs, 'protocol')}, {seeds_text(seeds)} seed(s) a point\n{SEEDS_NOTE}\n"
                          f"stars: the paper's 1 hidden layer (most likely {PAPER_WIDTH} units), as recalled"
                   + (f"\n‡ K = 1 kept an early epoch ({', '.join(early)}): it overfit in its first epochs"
                      if early else ""))


def _decay_epochs(runs: pd.DataFrame | None, last_epoch: int) -> tuple[list[int], float | None]:
    """The epochs after which the learning rate stepped down, from the runs'
    own ``lr_step_epochs`` and ``lr_step_gamma``; none unless every run shares
    one step."""
    if runs is None or "lr_step_epochs" not in runs or runs["lr_step_epochs"].isna().any():
        return [], None
    steps = set(runs["lr_step_epochs"].astype(int))
    gammas = set(runs["lr_step_gamma"].astype(float)) if "lr_step_gamma" in runs else set()
    if len(steps) != 1:
        return [], None
    step = steps.pop()
    return list(range(step, last_epoch, step)), (gammas.pop() if len(gammas) == 1 else None)


K_COLORS = ["black", "#1f77b4", "#d95f02", "#2ca02c", "#9467bd", "#e7298a", "#8c564b"]


def _k_label(k: int, runs: pd.DataFrame | None) -> str:
    """``K = 16, validated on 8 masks`` where the runs at K validate on fewer than K."""
    if runs is None or "valid_masks" not in runs:
        return f"K = {k}"
    vm = runs[runs["num_masks"].astype(int) == k]["valid_masks"].dropna()
    return f"K = {k}, validated on {int(vm.iloc[0])} masks" if len(vm) and vm.iloc[0] < k else f"K = {k}"


def learning_curves(curves: pd.DataFrame, runs: pd.DataFrame | None = None, title: str | None = None) -> plt.Figure:
    """Validation NLL against epoch, one panel per training mode (K = 1 in
    both), each seed's own curve to its own last epoch, a colour per K, and a
    marker at each run's kept (best) epoch.  With ``runs`` (the grid's table),
    the legend says which K validate on fewer masks and dotted lines mark the
    learning-rate steps.  One legend for both panels.  The y axis leaves out
    the first epochs' fall, so that the end of training can be read.
    """
    _style()
    ks = sorted(set(curves["num_masks"].astype(int)))
    colors = {k: K_COLORS[i % len(K_COLORS)] for i, k in enumerate(ks)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True, sharex=True, squeeze=False)
    decays, gamma = _decay_epochs(runs, int(curves["epoch"].max()) if len(curves) else 0)
    best = runs.set_index("run_id")["best_epoch"] if runs is not None and "best_epoch" in runs else {}
    lows, highs = [], []
    start = max(2, 0.1 * curves["epoch"].max()) if len(curves) else 2  # the first epochs' fall is left out
    for ax, mode in zip(axes[0], TRAINING_MODES):
        part = select(curves, mode=[mode, "single"])
        for k, runs_k in part.groupby(part["num_masks"].astype(int)):
            for i, (run_id, curve) in enumerate(runs_k.groupby("run_id", sort=True)):
                curve = curve.sort_values("epoch")
                ax.plot(curve["epoch"], curve["valid_nll"], color=colors[k], lw=1.0, alpha=0.75,
                        label=_k_label(k, runs) if i == 0 else "_nolegend_")
                kept = int(best[run_id]) if run_id in best else int(curve.loc[curve["valid_nll"].idxmin(), "epoch"])
                at = curve[curve["epoch"] == kept]["valid_nll"]
                if len(at):
                    ax.plot([kept], [at.iloc[0]], ls="none", marker="o", ms=4, color=colors[k], mec="black",
                            mew=0.6, zorder=4, label="_nolegend_")
                lows.append(curve["valid_nll"].min())
                late = curve[curve["epoch"] >= start]["valid_nll"]
                highs.append(late.max() if len(late) else curve["valid_nll"].max())
        for i, epoch in enumerate(decays):
            factor = f"÷ {1 / gamma:g}" if gamma else "steps down"
            ax.axvline(epoch, color="grey", ls=":", lw=1,
                       label=f"learning rate {factor} after epoch {', '.join(map(str, decays))}" if i == 0 else None)
        ax.set(xlabel="epoch", title=f"{MODE_LABEL[mode]} training (K = 1 in both panels)")
    axes[0][0].set_ylabel("validation NLL (nats)")
    if lows:
        pad = 0.03 * (max(highs) - min(lows) + 1e-9)
        axes[0][0].set_ylim(min(lows) - pad, max(highs) + pad)
    handles, labels = axes[0][0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for ax in axes[0][1:]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    from matplotlib.lines import Line2D
    seen["kept epoch of a run"] = Line2D([], [], ls="none", marker="o", ms=4, color="white", mec="black", mew=0.6)
    rows = -(-len(seen) // 4)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=4, fontsize=8, frameon=False)
    note = "each line one seed" if runs is None else f"{what_was_run(runs)}; each line one seed"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=10)
    fig.tight_layout(rect=(0, 0.045 * rows + 0.02, 1, 1))
    return fig


def save_figure(fig: plt.Figure, stem: str | Path, dpi: int = 200) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` atomically; returns the paths."""
    out = []
    for ext in ("png", "pdf"):
        path = Path(f"{stem}.{ext}")
        with atomic_path(path) as tmp:
            # No creation date: the same figure gives the same bytes, so a rerun on
            # finished results leaves the committed files unchanged.
            meta = {"CreationDate": None} if ext == "pdf" else {}
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata=meta)
        out.append(path)
    return out
