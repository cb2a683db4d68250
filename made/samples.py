"""Samples of a trained model, kept beside its run, and their nearest training images.

A run saves :data:`N_SAMPLES` ancestral samples in ``samples.txt``, one per
line: the index of the mask it was drawn under, the sample's bits packed into
bytes, in hex, and then its nearest training image: its index, its Hamming
distance to the sample and its bits.  Text, not an array file: a few kB that
git diffs.  The run writes the nearest images because it has the data at
hand; a report then draws the paper's samples figure from the run alone.

Under an ensemble of K masks the model is a uniform mixture of its K
autoregressive models, so each sample first draws its mask uniformly from the
K, then its bits under that mask.

>>> import torch
>>> from made import MADE
>>> model = MADE(6, [16], 6, num_masks=4)
>>> masks, x = draw(model, 5, n_masks=4, seed=0)
>>> x.shape, bool(((x == 0) | (x == 1)).all()), bool((masks < 4).all())
((5, 6), True, True)
>>> nearest(x, x)[1].tolist()  # every sample is its own nearest image
[0, 0, 0, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .io import write_text

N_SAMPLES = 100


@torch.no_grad()
def draw(model, n: int, n_masks: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples from the uniform mixture of masks ``0 .. n_masks - 1``:
    (mask of each sample, (n, D) array of 0/1 uint8), drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    masks = torch.randint(n_masks, (n,), generator=gen)
    x = np.zeros((n, model.nin), dtype=np.uint8)
    for k in masks.unique().tolist():  # one batch per mask: a sample costs about one forward pass
        rows = (masks == k).nonzero().flatten()
        x[rows.numpy()] = model.sample(len(rows), mask=k, generator=gen).cpu().numpy().astype(np.uint8)
    return masks.numpy(), x


@dataclass
class Samples:
    """A run's samples: ``masks`` (n,), ``x`` (n, D) of 0/1, and, when the file
    has them, each sample's nearest training image: ``nearest`` (n,) indices,
    ``distance`` (n,) Hamming distances and ``images`` (n, D)."""

    masks: np.ndarray
    x: np.ndarray
    nearest: np.ndarray | None = None
    distance: np.ndarray | None = None
    images: np.ndarray | None = None


def _hex(row: np.ndarray) -> str:
    return np.packbits(row).tobytes().hex()


def _bits(text: str, dim: int) -> np.ndarray:
    row = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:dim]
    if row.size != dim:
        raise ValueError(f"{row.size} bits, expected {dim}")
    return row


def write_samples(path: str | Path, masks: np.ndarray, x: np.ndarray, train: np.ndarray | None = None) -> None:
    """``samples.txt``: per line, the sample's mask and bits, then (with the
    ``train`` images) its nearest training image's index, distance and bits."""
    lines = [f"{int(k)} {_hex(row)}" for k, row in zip(masks, x)]
    if train is not None:
        index, distance = nearest(x, train)
        lines = [f"{line} {int(j)} {int(d)} {_hex(np.asarray(train[j], dtype=np.uint8))}"
                 for line, j, d in zip(lines, index, distance)]
    write_text(path, "\n".join(lines) + "\n")


def read_samples(path: str | Path, dim: int) -> Samples:
    """What :func:`write_samples` wrote."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        try:
            if len(fields) not in (2, 5):
                raise ValueError(f"{len(fields)} fields")
            row = [int(fields[0]), _bits(fields[1], dim)]
            if len(fields) == 5:
                row += [int(fields[2]), int(fields[3]), _bits(fields[4], dim)]
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: not '<mask> <hex bits> [<nearest> <distance> <hex bits>]' "
                             f"({exc}); delete the file and draw the run's samples again") from None
        rows.append(row)
    if len({len(r) for r in rows}) > 1:
        raise ValueError(f"{path}: some lines name a nearest training image and some do not")
    columns = [np.array(c) for c in zip(*rows)]
    return Samples(*columns) if columns else Samples(np.zeros(0, int), np.zeros((0, dim), np.uint8))


def nearest(samples: np.ndarray, images: np.ndarray, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, the index of the image at the least Hamming distance
    (the first on a tie) and that distance: two arrays of length n."""
    s = torch.as_tensor(samples, dtype=torch.float32)
    best_d = torch.full((len(s),), float("inf"))
    best_i = torch.zeros(len(s), dtype=torch.long)
    for start in range(0, len(images), chunk):
        im = torch.as_tensor(images[start:start + chunk], dtype=torch.float32)
        # |a - b| summed over bits = |a| + |b| - 2 a.b for 0/1 vectors: one matmul per chunk
        d = s.sum(1, keepdim=True) + im.sum(1) - 2 * s @ im.T
        value, index = d.min(1)
        better = value < best_d
        best_d[better], best_i[better] = value[better], index[better] + start
    return best_i.numpy(), best_d.round().long().numpy()
