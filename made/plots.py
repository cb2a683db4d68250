"""Figures: learning curves, sample grids, the paper's Figure 2 and its runs' curves.

Everything returns a matplotlib Figure; :func:`save_figure` writes PNG and PDF.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .curves import mean_curves, rows_of_mode
from .io import atomic_path

SEED_PROJECT_K1_VALID = 94.5  # seed README: 1 mask, measured on the validation split

TRAINING_LABEL = {"order": "order-agnostic", "connectivity": "connectivity-agnostic"}
EVAL_LABEL = {"test_nll_single_mask": "single mask", "test_nll_ensemble": "ensemble of training masks"}


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


def figure2_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds, per training mode, K and evaluation.

    K = 1 runs (mode ``single``) belong to both training modes' curves.
    """
    rows = []
    runs = runs.copy()
    runs["num_masks"] = runs["num_masks"].astype(int)
    for mode in TRAINING_LABEL:
        part = rows_of_mode(runs, mode)
        for k, group in part.groupby("num_masks"):
            for col in EVAL_LABEL:
                values = group[col].astype(float)
                se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
                rows.append(dict(training=mode, evaluation=EVAL_LABEL[col], num_masks=int(k),
                                 mean=values.mean(), stderr=se, seeds=len(values)))
    return pd.DataFrame(rows)


def figure2(runs: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Test NLL against the number of training masks (log2 axis), four curves.

    Training mode (order- or connectivity-agnostic) crossed with evaluation
    (single mask or the ensemble of training masks); error bars are standard
    errors over seeds where there is more than one.
    """
    _style()
    summary = figure2_summary(runs)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = {"order": "tab:blue", "connectivity": "tab:orange"}
    styles = {"single mask": dict(ls="--", marker="o", mfc="white"),
              "ensemble of training masks": dict(ls="-", marker="s")}
    for (mode, evaluation), part in summary.groupby(["training", "evaluation"], sort=False):
        part = part.sort_values("num_masks")
        ax.errorbar(part["num_masks"], part["mean"], yerr=part["stderr"].fillna(0), capsize=3,
                    color=colors[mode], label=f"{TRAINING_LABEL[mode]}, {evaluation}",
                    **styles[evaluation])
    ax.scatter([1], [SEED_PROJECT_K1_VALID], marker="*", s=140, color="black", zorder=4,
               label="seed project, 1 mask (validation split)")
    ax.set_xscale("log", base=2)
    ks = sorted(summary["num_masks"].unique())
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set(xlabel="number of masks used in training", ylabel="test NLL (nats)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, frameon=True)
    fig.tight_layout()
    return fig


def learning_curves(curves: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Validation NLL against epoch, one line per K (mean over seeds), one
    panel per training mode; the y axis leaves out the first epochs' fall so
    that the end of training, where the curves separate, can be read."""
    _style()
    by_mode = mean_curves(curves)
    ks = sorted(set(curves["num_masks"].astype(int)))
    colors = dict(zip(ks, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ks)))))
    fig, axes = plt.subplots(1, len(by_mode), figsize=(11, 4.2), sharey=True, squeeze=False)
    lows, highs = [], []
    for ax, (mode, means) in zip(axes[0], by_mode.items()):
        for k, part in means.groupby("num_masks"):
            ax.plot(part["epoch"], part["valid_nll"], color=colors[k], label=f"K = {k}")
            lows.append(part["valid_nll"].min())
            late = part[part["epoch"] >= max(2, 0.1 * part["epoch"].max())]["valid_nll"]
            highs.append(late.max() if len(late) else part["valid_nll"].max())
        ax.set(xlabel="epoch", title=f"{TRAINING_LABEL[mode]} training")
    axes[0][0].set_ylabel("validation NLL (nats)")
    if lows:
        pad = 0.03 * (max(highs) - min(lows) + 1e-9)
        axes[0][0].set_ylim(min(lows) - pad, max(highs) + pad)
    axes[0][-1].legend(title="training masks", fontsize=8)
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
