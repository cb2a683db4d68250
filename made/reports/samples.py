"""The paper's samples figure: samples of the best model beside their nearest training images.

The paper shows samples from its best MNIST model, each beside the training
image closest to it, to show that the model does not copy its training set.
Every run saves its samples with their nearest training images
(:mod:`made.samples`); this report draws the figure from the run folders
alone.  The run: the lowest validation NLL on the paper's file among the
runs at the widest width that has runs with samples (the paper's best model
was its widest; validation, never test, chooses).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..samples import read_samples
from .runs import PAPER_FILE

SAMPLES = "samples.txt"


def best_run(runs: pd.DataFrame, runs_dir: str | Path) -> pd.Series | None:
    """The run the figure draws: on the paper's file, with saved samples and
    their nearest training images, at the widest such width, the lowest
    validation NLL; None when no run has them yet."""
    runs_dir = Path(runs_dir)
    runs = runs[runs["data_variant"] == PAPER_FILE].drop_duplicates("run_id")

    def has_nearest(run_id: str) -> bool:
        path = runs_dir / run_id / SAMPLES
        return path.exists() and len(path.read_text().split("\n", 1)[0].split()) == 5

    runs = runs[runs["run_id"].map(has_nearest)]
    if not len(runs):
        return None
    width = runs["hidden_sizes"].map(lambda h: sum(int(v) for v in str(h).split("x")))
    widest = runs[width == width.max()]
    return widest.loc[widest["valid_nll"].idxmin()]


def samples_figure(samples, per_row: int = 10, rows: int = 3, shape: tuple[int, int] = (28, 28)) -> plt.Figure:
    """``rows`` blocks of ``per_row`` samples (top) above their nearest training
    images (bottom), each labelled with its Hamming distance."""
    n = min(len(samples.x), per_row * rows)
    fig, axes = plt.subplots(2 * rows, per_row, figsize=(per_row * 0.9, rows * 2 * 0.98))
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for i in range(n):
        r, c = divmod(i, per_row)
        axes[2 * r, c].imshow(samples.x[i].reshape(shape), cmap="gray_r", interpolation="nearest")
        axes[2 * r + 1, c].imshow(samples.images[i].reshape(shape), cmap="Blues", interpolation="nearest")
        axes[2 * r + 1, c].set_xlabel(f"{int(samples.distance[i])}", fontsize=7, labelpad=1)
    axes[0, 0].set_ylabel("sample", fontsize=7)
    axes[1, 0].set_ylabel("nearest\ntraining", fontsize=7)
    fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.1)
    return fig


def context(results: Path) -> dict | None:
    """samples.md's context: the run (:func:`best_run` among the widths grid's runs) and the
    Hamming distances of its samples to their nearest training images; None before any run has them."""
    table = results / "widths.csv"
    run = best_run(pd.read_csv(table), results / "runs") if table.exists() else None
    if run is None:
        return None
    samples = read_samples(results / "runs" / run["run_id"] / SAMPLES, dim=int(run["dim"]))
    d = samples.distance
    k = int(run["num_masks"]) if pd.notna(run["num_masks"]) else 1
    median = f"{float(np.median(d)):g}"  # a whole number of bits, or a half between two: one text, text and table
    return {"run": run["run_id"], "valid": f"{run['valid_nll']:.2f}", "samples": len(d), "masks": k,
            "copies": int((d == 0).sum()), "median": median, "bits": samples.x.shape[1],
            "table": pd.DataFrame([{"samples": len(d), "at distance 0": int((d == 0).sum()), "min": int(d.min()),
                                    "median": median, "max": int(d.max())}])}
