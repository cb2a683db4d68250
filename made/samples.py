"""Samples of a trained model, kept beside its run, and their nearest training images.

A run saves :data:`N_SAMPLES` ancestral samples in ``samples.txt``, one per
line: the index of the mask it was drawn under, then the sample's bits packed
into bytes, in hex.  Text, not an array file: a few kB that git diffs and
that need nothing but the standard library to read back.

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


def write_samples(path: str | Path, masks: np.ndarray, x: np.ndarray) -> None:
    """``samples.txt``: per line, the sample's mask and its packed bits in hex."""
    lines = [f"{int(k)} {np.packbits(row).tobytes().hex()}" for k, row in zip(masks, x)]
    write_text(path, "\n".join(lines) + "\n")


def read_samples(path: str | Path, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`write_samples` wrote: (masks, (n, ``dim``) uint8 array)."""
    masks, rows = [], []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            k, bits = line.split()
            rows.append(np.unpackbits(np.frombuffer(bytes.fromhex(bits), dtype=np.uint8))[:dim])
            masks.append(int(k))
        except ValueError:
            raise ValueError(f"{path}, line {number}: not '<mask> <hex bits>'; delete the file and "
                             "draw the run's samples again") from None
        if rows[-1].size != dim:
            raise ValueError(f"{path}, line {number}: {rows[-1].size} bits, expected {dim}")
    return np.array(masks), np.stack(rows)


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
