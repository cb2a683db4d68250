"""Figures: learning curves, sample grids, the paper's Figure 2, its runs' curves and
Figure 2's question across widths.

Everything returns a matplotlib Figure; :func:`save_figure` writes PNG and PDF.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .compare import (TRAINING_LABEL, widths_grid, figure2_summary, paper_one_hidden_layer,
                      widths_summary)
from .curves import mean_curves
from ..io import atomic_path


def _style():
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.2)


def plot_history(history: pd.DataFrame, title: str = "") -> plt.Figure:
    """Train and validation NLL per epoch, with the best validation epoch marked."""
    _style()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["epoch"], history["train_nll"], label="train (current mask)")
    ax.plot(history["epoch"], history["valid_nll"], label="validation")
    best = history.loc[history["valid_nll"].idxmin()]
    ax.axvline(best["epoch"], color="grey", ls=":", lw=1)
    ax.scatter([best["epoch"]], [best["valid_nll"]], color="black", zorder=3,
               label=f"best: epoch {int(best['epoch'])}, {best['valid_nll']:.2f}")
    ax.set(xlabel="epoch", ylabel="NLL (nats)", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_samples(samples: np.ndarray, image_shape: tuple[int, int] | None = None,
                 ncols: int = 8) -> plt.Figure:
    """A grid of binary samples as images (28x28 for MNIST) or as rows of a matrix."""
    samples = np.asarray(samples)
    n, d = samples.shape
    if image_shape is None:
        side = int(math.isqrt(d))
        image_shape = (side, side) if side * side == d else None
    if image_shape is None:
        fig, ax = plt.subplots(figsize=(8, max(2, n * 0.15)))
        ax.imshow(samples, cmap="gray_r", aspect="auto", interpolation="nearest")
        ax.set(xlabel="dimension", ylabel="sample")
        return fig
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.1, nrows * 1.1))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < n:
            ax.imshow(samples[i].reshape(image_shape), cmap="gray_r", interpolation="nearest")
    fig.tight_layout(pad=0.2)
    return fig


def _errorbar(ax, x, mean, stderr, **style):
    """A line with error bars of one standard error over seeds; a point of one
    seed (stderr NaN) gets no bar, and a missing point (mean NaN) leaves a gap."""
    return ax.errorbar(x, mean, yerr=stderr, capsize=3, **style)


# Error bars and line styles shared by Figure 2 and the widths figure.
MODE_COLORS = {"order": "tab:blue", "connectivity": "tab:orange"}
EVAL_STYLES = {"single mask": dict(ls="--", marker="o", mfc="white"),
               "ensemble of training masks": dict(ls="-", marker="s")}
ERRORBAR_NOTE = "error bars: ± 1 standard error over seeds\n(none: one seed)"


def figure2(runs: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Test NLL against the number of training masks (log2 axis), four curves.

    Training mode (order- or connectivity-agnostic) crossed with evaluation
    (mask 0 alone or the ensemble of training masks).  Only test NLL is on
    this axis: the seed project's 94.5 is a validation NLL, compared in
    comparison.md with this project's validation NLL instead.
    """
    _style()
    summary = figure2_summary(runs)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (mode, evaluation), part in summary.groupby(["training", "evaluation"], sort=False):
        part = part.sort_values("num_masks")
        which = "mask 0 alone" if evaluation == "single mask" else evaluation
        _errorbar(ax, part["num_masks"], part["mean"], part["stderr"], color=MODE_COLORS[mode],
                  label=f"{TRAINING_LABEL[mode]}, {which}", **EVAL_STYLES[evaluation])
    ax.set_xscale("log", base=2)
    ks = sorted(summary["num_masks"].unique())
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set(xlabel="number of masks used in training (K)", ylabel="test NLL (nats)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, frameon=True, title=ERRORBAR_NOTE, title_fontsize=8, alignment="left")
    fig.tight_layout()
    return fig


def widths_figure(runs: pd.DataFrame, widths: list[int] | None = None, k: int | None = None,
                  title: str | None = None) -> plt.Figure:
    """Test NLL against the width of the one hidden layer (log axis): K = 1,
    and at K = ``k`` mask 0 alone and the ensemble, in both training modes;
    the paper's 1-hidden-layer rows as recalled points at their likely width.

    Every width of the grid is on the axis; a width whose runs are missing
    leaves a gap in the lines.
    """
    _style()
    grid_widths, grid_k = widths_grid()
    k = k or grid_k
    summary = widths_summary(runs)
    axis = sorted(set(widths or grid_widths) | set(summary["width"]))
    fig, ax = plt.subplots(figsize=(7.5, 6.2))

    def line(mode, evaluation, masks):
        part = summary[(summary["training"] == mode) & (summary["evaluation"] == evaluation)
                       & (summary["num_masks"] == masks)].set_index("width").reindex(axis)
        return part["mean"].to_numpy(float), part["stderr"].to_numpy(float)

    mean, se = line("order", "single mask", 1)  # K = 1: mask 0 is the whole model, in both modes
    _errorbar(ax, axis, mean, se, color="black", ls="-", marker="D", label="K = 1")
    for mode in TRAINING_LABEL:
        for evaluation, style in EVAL_STYLES.items():
            mean, se = line(mode, evaluation, k)
            which = "mask 0 alone" if evaluation == "single mask" else "ensemble"
            _errorbar(ax, axis, mean, se, color=MODE_COLORS[mode], label=f"K = {k}, {TRAINING_LABEL[mode]}, {which}",
                      **style)
    for paper in paper_one_hidden_layer().itertuples():
        if paper.masks not in (1, k):
            continue
        width = f"width most likely {paper.width}" if "likely" in str(paper.hidden) else f"width {paper.width}"
        # drawn a little right of its width, so that it does not hide this project's points there
        ax.scatter([paper.width * 1.15], [paper.test_nll], s=170, zorder=4, marker="*",
                   color="tab:blue" if paper.masks > 1 else "black", edgecolor="white", linewidth=0.5,
                   label=f"paper, {'K = 1' if paper.masks == 1 else f'K = {paper.masks}, ensemble'} "
                         f"(recalled; {width})")
    for width in sorted(set(axis) - set(summary["width"])):  # say why a width has no points
        ax.text(width, 0.97, "not run yet", transform=ax.get_xaxis_transform(), ha="center", va="top", color="grey",
                fontsize=9)
    ax.set_xscale("log")
    ax.set_xticks(axis, [str(w) for w in axis])
    ax.minorticks_off()
    ax.set_xlim(axis[0] / 1.5, axis[-1] * 1.5)
    ax.set(xlabel="hidden units (one hidden layer)", ylabel="test NLL (nats)")
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    ours = [i for i, label in enumerate(labels) if not label.startswith("paper")]
    order = ours + [i for i in range(len(labels)) if i not in ours]  # the paper's points last
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, frameon=True,
              title=ERRORBAR_NOTE.replace("\n", " "), title_fontsize=8, alignment="left",
              loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return fig


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


def _k_label(k: int, runs: pd.DataFrame | None) -> str:
    """``K = 16, validated on 8 masks`` where the runs at K validate on fewer than K."""
    if runs is None or "valid_masks" not in runs:
        return f"K = {k}"
    vm = runs[runs["num_masks"].astype(int) == k]["valid_masks"].dropna()
    return f"K = {k}, validated on {int(vm.iloc[0])} masks" if len(vm) and vm.iloc[0] < k else f"K = {k}"


def learning_curves(curves: pd.DataFrame, runs: pd.DataFrame | None = None, title: str | None = None) -> plt.Figure:
    """Validation NLL against epoch, one line per K, one panel per training mode.

    A line is the mean over seeds up to the last epoch every seed reached
    (:func:`made.reports.curves.mean_curves`), so its tail is never one seed alone.
    With ``runs`` (the grid's table), the legend says which K validate on
    fewer masks, and dotted lines mark the learning-rate steps.  The y axis
    leaves out the first epochs' fall so that the end of training, where the
    curves separate, can be read.
    """
    _style()
    by_mode = mean_curves(curves)
    ks = sorted(set(curves["num_masks"].astype(int)))
    colors = dict(zip(ks, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ks)))))
    fig, axes = plt.subplots(1, len(by_mode), figsize=(11, 4.4), sharey=True, squeeze=False)
    decays, gamma = _decay_epochs(runs, int(curves["epoch"].max()) if len(curves) else 0)
    lows, highs = [], []
    for ax, (mode, means) in zip(axes[0], by_mode.items()):
        for k, part in means.groupby("num_masks"):
            ax.plot(part["epoch"], part["valid_nll"], color=colors[k], label=_k_label(k, runs))
            lows.append(part["valid_nll"].min())
            late = part[part["epoch"] >= max(2, 0.1 * part["epoch"].max())]["valid_nll"]
            highs.append(late.max() if len(late) else part["valid_nll"].max())
        for i, epoch in enumerate(decays):
            factor = f"÷ {1 / gamma:g}" if gamma else "steps down"
            ax.axvline(epoch, color="grey", ls=":", lw=1,
                       label=f"learning rate {factor} after epoch {', '.join(map(str, decays))}" if i == 0 else None)
        ax.set(xlabel="epoch", title=f"{TRAINING_LABEL[mode]} training")
    axes[0][0].set_ylabel("validation NLL (nats)")
    if lows:
        pad = 0.03 * (max(highs) - min(lows) + 1e-9)
        axes[0][0].set_ylim(min(lows) - pad, max(highs) + pad)
    seeds = curves.groupby("num_masks")["seed"].nunique().max() if len(curves) else 1
    note = "mean over seeds, up to the last epoch\nevery seed reached" if seeds > 1 else None
    axes[0][-1].legend(title=note, fontsize=8, title_fontsize=8, alignment="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
