"""Datasets: binarized MNIST and the paper's UCI sets, found locally or downloaded, verified.

A registry (DATASETS) of the paper's datasets; each entry says its shapes,
where users download it, how it is verified, and which Source finds and
loads it (made.data.files.NpzFile for the UCI npz files,
made.data.mnist.BinarizedMnist for MNIST).  Where files are looked for and
written: made.data.files.

Variants (``Dataset.variant``; results must report it):

* ``larochelle``: the paper's exact file (dna, mushrooms, nips: SHA-256 of
  the file; binarized MNIST: SHA-256 of each split's *content*, so the
  authors' float32 npz, the ``.amat`` text files and a uint8 npz all verify);
* ``rebuilt-test-reordered``: the known adult and connect4 rebuilds (train and
  valid identical to Larochelle's, test the same positions in another order);
* ``static-seed<N>``: MNIST binarized here from the raw digits
  (made.data.mnist), loaded only when asked for by name;
* ``unverified``: no known checksum (shapes and 0/1 values still checked).

A file whose SHA-256 (or, for MNIST, content) differs from the paper's exact
one is an error unless ``verify=False``, which loads it as ``unverified``.
Names with no known exact hash load any file that passes the shape and value
checks, as ``unverified``.

>>> spec = DATASETS["dna"]
>>> spec.dim, spec.splits, spec.reference_variant
(180, (1400, 600, 1186), 'larochelle')
"""

from __future__ import annotations

import os

from .files import (SPLITS, Dataset, DatasetError, DatasetSpec, Source, cache_dir, check_split, content_sha256,
                    download_file, read_npz, resolve_data_dir, sha256_file)
from .mnist import (BINARIZED_MNIST, MNIST_CONTENT_SHA256, MNIST_RAW_SHA256, STATIC_PREFIX, binarize,
                    parse_idx_images, read_idx_images, static_seed)

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetSpec", "Source", "SPLITS", "MNIST_CONTENT_SHA256",
           "MNIST_RAW_SHA256", "STATIC_PREFIX", "binarize", "cache_dir", "check_split", "content_sha256",
           "download_file", "identify", "load_dataset", "main", "parse_idx_images", "read_idx_images", "read_npz",
           "resolve_data_dir", "sha256_file", "static_seed", "status", "locate"]

REPO = "https://github.com/mgermain/MADE"


def _entry(name, dim, splits, release=False, known=None, content=None, source=None):
    where = "releases/download/ICML2015" if release else "raw/master/datasets"
    return DatasetSpec(name, dim, splits, f"{REPO}/{where}/{name}.npz", known, content, source)


DATASETS: dict[str, DatasetSpec] = {
    "binarized_mnist": _entry("binarized_mnist", 784, (50000, 10000, 10000), release=True,
                              content=MNIST_CONTENT_SHA256, source=BINARIZED_MNIST),
    "adult": _entry("adult", 123, (5000, 1414, 26147), known={
        # train/valid identical to Larochelle's; test holds the same rows in another order
        "60d043003a2b2e71a70d9d9bb24d1ec493bb490abbd07afb291e9a80cacccd82": "rebuilt-test-reordered"}),
    "connect4": _entry("connect4", 126, (16000, 4000, 47557), known={
        # train/valid identical to Larochelle's; test = the other legal positions of the UCI set, in another order
        "ebc875bd73e98eeefb79a03cd8d2210206f3dec08b0bd278473912d10835950b": "rebuilt-test-reordered"}),
    "dna": _entry("dna", 180, (1400, 600, 1186), known={
        "df2d2e7ce1469edfead15e41024e108d64f1b4633cfecfc40ef7107cc22c895c": "larochelle"}),
    "mushrooms": _entry("mushrooms", 112, (2000, 500, 5624), known={
        "4130f1defa3033911fe746a3ab1bb22b0c812bb29e68391a0fbc2d65bab6ae74": "larochelle"}),
    "nips": _entry("nips", 500, (400, 100, 1240), known={
        "dbf3b659a49670957c0851971bd51ff952a657f010581d12f6c1e2dca8907b20": "larochelle"}),
    "ocr_letters": _entry("ocr_letters", 128, (32152, 10000, 10000)),
    "rcv1": _entry("rcv1", 150, (40000, 10000, 150000), release=True),
    "web": _entry("web", 300, (14000, 3188, 32561)),
}


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, download: bool = True,
                 variant: str | None = None, verify: bool = True) -> Dataset:
    """Load a dataset by name, from the data directory, the cache, or the web.

    ``variant`` names the data a caller wants, and it gets that or a
    DatasetError: None takes the dataset's file as found (binarized MNIST:
    the paper's file, verified by content); ``"static-seed<N>"`` is MNIST
    rebuilt from the raw digits with seed N; any other name must be the
    variant the found file verifies as.  ``verify=False`` accepts a file
    whose checksum matches no known copy, as ``unverified`` (its shapes and
    values are still checked).
    """
    spec = _spec(name)
    return spec.loader.load(spec, resolve_data_dir(data_dir), download, variant, verify)


def identify(name: str, data_dir: str | os.PathLike | None = None, variant: str | None = None) -> str | None:
    """The variant ``load_dataset(name, data_dir, variant=variant)`` gives,
    without loading the data (a found file is hashed, not read); None when
    nothing here says (no local file: it would be downloaded)."""
    spec = DATASETS.get(name)
    if spec is None:
        return None
    return spec.loader.identify(spec, resolve_data_dir(data_dir), variant)


def locate(name: str, data_dir: str | os.PathLike | None = None, variant: str | None = None) -> str | None:
    """Where ``load_dataset(name, data_dir, variant=variant)`` would read its
    data, without reading it (nothing is checked but that the files exist);
    None when nothing is on disk (loading would download)."""
    spec = _spec(name)
    return spec.loader.locate(spec, resolve_data_dir(data_dir), variant)


def status(name: str, directory) -> list[dict]:
    """What is on disk for ``name``, without downloading or building anything:
    one row per source (binarized MNIST: the paper's file, and a rebuild when
    its files are there).  ``ok`` is False for a file that fails verification."""
    spec = _spec(name)
    return spec.loader.status(spec, directory)


from .cli import main  # noqa: E402  (the command line reads the registry above)
