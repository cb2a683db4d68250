"""Datasets: binarized MNIST and the paper's UCI sets, found locally or downloaded, verified.

Where files are looked for, in order:

1. the ``data_dir`` argument, else ``$MADE_DATA_DIR``, else the user cache;
2. the cache, ``$MADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/made``, else ``~/.cache/made``.

Files this module writes (downloads, the rebuilt MNIST binarization) always go
to the cache: a data directory is only read, so a shared or read-only one is
never written to.  Every write is a temporary file renamed
into place only after it verified.

Variants (``Dataset.variant``; results must report it):

* ``larochelle``: the paper's exact file (dna, mushrooms, nips: SHA-256 of
  the file; binarized MNIST: SHA-256 of each split's *content*, so the
  authors' float32 npz, the ``.amat`` text files and a uint8 npz all verify);
* ``rebuilt-test-reordered``: the known adult rebuild (train/valid identical to
  Larochelle's, test = the same rows in another order);
* ``static-seed<N>``: MNIST binarized here from the SHA-256-verified raw
  digits, each pixel ~ Bernoulli(intensity / 255) drawn once with
  ``numpy.random.default_rng(N)``: a second binarization, not the paper's
  file, and loaded only when asked for by name (``variant="static-seed0"``);
* ``unverified``: no known checksum (shapes and 0/1 values still checked).

A file whose SHA-256 (or, for MNIST, content) differs from the paper's exact
one is an error unless ``verify=False``, which loads it as ``unverified``.  Names with no known exact hash (adult, connect4, ...) load
any file that passes the shape and value checks, as ``unverified``.

Downloading is written here rather than left to pooch: pooch checks one fixed
hash per file, while here a hash picks a variant or none is published, the
MNIST mirrors recompress their .gz (the hash is of the uncompressed bytes), and
a file must also pass the shape checks before it lands in the cache; pooch
would be called without a hash and with these checks after it, saving only the
urlopen-and-progress-bar loop, for a dependency the core (torch, numpy, tqdm) avoids.

>>> spec = DATASETS["dna"]
>>> spec.dim, spec.splits
(180, (1400, 600, 1186))
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .io import atomic_path

if TYPE_CHECKING:  # torch is imported lazily, by Dataset.as_tensors only
    import torch

REPO = "https://github.com/mgermain/MADE"
# Public mirrors of the raw MNIST .gz files, tried in order (the original
# yann.lecun.com host is no longer reliable).
RAW_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
)
SPLITS = ("train", "valid", "test")

# Uncompressed SHA-256 of the official MNIST IDX files.
MNIST_RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
}


# SHA-256 of each split of the paper's binarized MNIST as uint8 0/1 values, C
# order, shape (N, 784): the authors' file is known by its content, not its
# bytes, which differ between the npz, the .amat text and a uint8 copy.
MNIST_CONTENT_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}
STATIC_PREFIX = "static-seed"  # the rebuilt binarization's variant: static-seed<N>


class DatasetError(ValueError):
    """A data file is missing, damaged or not what the paper used; the message says what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    dim: int
    splits: tuple[int, int, int]  # train, valid, test sizes
    url: str
    # sha256 -> variant, for files whose exact bytes are known.  Only a
    # "larochelle" entry makes a mismatch an error: a name with just a known
    # rebuild (adult) still accepts the original file, as "unverified".
    known_sha256: dict | None = None
    # split -> SHA-256 of its content as uint8 (see content_sha256), for data
    # known by content rather than by file bytes (the paper's binarized MNIST)
    content_sha256: dict | None = None

    @property
    def exact_sha256(self) -> str | None:
        """SHA-256 of the paper's exact file, when known."""
        return next((h for h, v in (self.known_sha256 or {}).items() if v == "larochelle"), None)

    @property
    def reference_variant(self) -> str:
        """The variant of the file this project knows for the name: the
        paper's ("larochelle") where its bytes or content are known, else
        the one known rebuild, else "unverified".  A run on it needs no
        variant in its id; a run on any other names its variant there."""
        if self.content_sha256 or self.exact_sha256:
            return "larochelle"
        known = sorted(set((self.known_sha256 or {}).values()))
        return known[0] if len(known) == 1 else "unverified"


def _uci(name, dim, splits, release=False, known=None, content=None):
    where = "releases/download/ICML2015" if release else "raw/master/datasets"
    return DatasetSpec(name, dim, splits, f"{REPO}/{where}/{name}.npz", known, content)


DATASETS: dict[str, DatasetSpec] = {
    "binarized_mnist": _uci("binarized_mnist", 784, (50000, 10000, 10000), release=True,
                            content=MNIST_CONTENT_SHA256),
    "adult": _uci("adult", 123, (5000, 1414, 26147), known={
        # train/valid identical to Larochelle's; test holds the same rows in another order
        "60d043003a2b2e71a70d9d9bb24d1ec493bb490abbd07afb291e9a80cacccd82": "rebuilt-test-reordered"}),
    "connect4": _uci("connect4", 126, (16000, 4000, 47557), known={
        # train/valid identical to Larochelle's; test = the other legal positions of the UCI set, in another order
        "ebc875bd73e98eeefb79a03cd8d2210206f3dec08b0bd278473912d10835950b": "rebuilt-test-reordered"}),
    "dna": _uci("dna", 180, (1400, 600, 1186), known={
        "df2d2e7ce1469edfead15e41024e108d64f1b4633cfecfc40ef7107cc22c895c": "larochelle"}),
    "mushrooms": _uci("mushrooms", 112, (2000, 500, 5624), known={
        "4130f1defa3033911fe746a3ab1bb22b0c812bb29e68391a0fbc2d65bab6ae74": "larochelle"}),
    "nips": _uci("nips", 500, (400, 100, 1240), known={
        "dbf3b659a49670957c0851971bd51ff952a657f010581d12f6c1e2dca8907b20": "larochelle"}),
    "ocr_letters": _uci("ocr_letters", 128, (32152, 10000, 10000)),
    "rcv1": _uci("rcv1", 150, (40000, 10000, 150000), release=True),
    "web": _uci("web", 300, (14000, 3188, 32561)),
}


@dataclass
class Dataset:
    """Three float32 0/1 arrays (N, D) and where they came from."""

    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    variant: str  # "larochelle" (the paper's exact file), "static-seed<N>" (rebuilt), ...
    source: str  # the file(s) it was read from

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])

    def split_sha256(self) -> dict[str, str]:
        """Each split's :func:`content_sha256`."""
        return {s: content_sha256(getattr(self, s)) for s in SPLITS}

    @property
    def content_sha256(self) -> str:
        """One SHA-256 for the three splits' content: what a run and its
        checkpoint record, so that a run never resumes or is reused on other data."""
        lines = "".join(f"{s} {h}\n" for s, h in self.split_sha256().items())
        return hashlib.sha256(lines.encode()).hexdigest()

    def as_tensors(self, device: "str | torch.device | None" = None
                   ) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
        """(train, valid, test) as float32 torch tensors on ``device``."""
        import torch  # lazy: `python -m made.data info` should not pay for torch

        return tuple(torch.as_tensor(a, dtype=torch.float32, device=device)  # type: ignore[return-value]
                     for a in (self.train, self.valid, self.test))


# ----------------------------------------------------------------- locations
def cache_dir() -> Path:
    """Where built and downloaded files go when the data directory is not writable."""
    if os.environ.get("MADE_CACHE_DIR"):
        return Path(os.environ["MADE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "made"


def resolve_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else ``$MADE_DATA_DIR``, else :func:`cache_dir`."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get("MADE_DATA_DIR"):
        return Path(os.environ["MADE_DATA_DIR"]).expanduser()
    return cache_dir()


def _search_dirs(directory: Path) -> list[Path]:
    dirs = [directory, directory / "mnist", cache_dir(), cache_dir() / "mnist"]
    return list(dict.fromkeys(dirs))  # unique, in order


def _write_dir() -> Path:
    """Where downloads and builds go: always the cache.

    A data directory is only ever read: it may be shared or read-only (and a
    root process would not be stopped by missing write bits).
    """
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    return target


def _find(directory: Path, filename: str) -> Path | None:
    for d in _search_dirs(directory):
        if (d / filename).is_file():
            return d / filename
    return None


# ------------------------------------------------------------- verification
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_sha256(array: np.ndarray) -> str:
    """SHA-256 of a 0/1 array's values as uint8, C order: the same for the
    float32 npz, the .amat text and a uint8 copy of the same data."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).hexdigest()


def _variant_from_content(arrays, where: str, spec: DatasetSpec, verify: bool) -> str:
    """"larochelle" when every split's content hash is the paper's; a mismatch
    is an error naming the splits, unless ``verify=False`` ("unverified")."""
    if not spec.content_sha256:
        return "unverified"
    wrong = [s for s, a in zip(SPLITS, arrays) if content_sha256(a) != spec.content_sha256[s]]
    if not wrong:
        return "larochelle"
    if not verify:
        return "unverified"
    expected = ", ".join(f"{s} {spec.content_sha256[s]}" for s in wrong)
    raise DatasetError(
        f"{where}: the content of its {', '.join(wrong)} split{'s' if len(wrong) > 1 else ''} is not that of "
        f"the paper's {spec.name} (expected SHA-256 of the uint8 values: {expected}); delete it and fetch "
        f"the paper's file again from {spec.url} (python -m made.data fetch {spec.name}), or pass "
        f"verify=False to use it anyway (variant 'unverified')")


def check_split(array: np.ndarray, path: Path, spec: DatasetSpec, split: str, size: int | None) -> np.ndarray:
    """A 2-D binary array of the right width and length, as float32; DatasetError otherwise."""
    fix = f"delete {path} and fetch it again (python -m made.data fetch {spec.name})"
    if array.ndim != 2 or array.shape[1] != spec.dim:
        raise DatasetError(f"{path}: {split} split has shape {array.shape}, expected (N, {spec.dim}); {fix}")
    if size is not None and array.shape[0] != size:
        raise DatasetError(f"{path}: {split} split has {array.shape[0]} rows, the paper's split has {size}; {fix}")
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise DatasetError(f"{path}: {split} split contains NaN; {fix}")
    if not _is_binary(array):
        raise DatasetError(f"{path}: {split} split has values other than 0 and 1; MADE models binary data; {fix}")
    return array.astype(np.float32, copy=False)


def _is_binary(array: np.ndarray) -> bool:
    """All values 0 or 1, in one pass without temporaries where the dtype
    allows (np.isin is slower on MNIST-sized arrays: benchmarks/RESULTS.md)."""
    if array.size == 0:
        return True
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.unsignedinteger):
        return bool(array.max() <= 1)  # uint8 files: one pass, no temporaries
    return bool(((array == 0) | (array == 1)).all())


def read_npz(path: Path, spec: DatasetSpec, check_sizes: bool = True) -> tuple[np.ndarray, ...]:
    """The three splits of a Larochelle-format npz (keys train_data, valid_data, test_data)."""
    try:
        with warnings.catch_warnings():
            # Python 2 files trigger a harmless header warning; silence only that one
            warnings.filterwarnings("ignore", message=r"Reading `\.npy` or `\.npz` file required")
            with np.load(path, allow_pickle=False) as f:
                missing = [f"{s}_data" for s in SPLITS if f"{s}_data" not in f.files]
                if missing:
                    raise DatasetError(f"{path}: missing keys {missing} (has {f.files}); expected the paper's "
                                       f"npz layout with train_data, valid_data, test_data")
                arrays = [np.asarray(f[f"{s}_data"]) for s in SPLITS]
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as exc:
        # numpy's own message for a pickled array suggests allow_pickle=True,
        # which would run code from the file: not repeated here.
        why = "it holds pickled objects, not plain arrays" if "pickle" in str(exc) else exc
        raise DatasetError(f"{path}: not a readable npz file of arrays ({why}); delete it and fetch it "
                           f"again (python -m made.data fetch {spec.name})") from exc
    sizes = spec.splits if check_sizes else (None, None, None)
    return tuple(check_split(a, path, spec, s, n) for a, s, n in zip(arrays, SPLITS, sizes))


def _variant_from_hash(path: Path, spec: DatasetSpec, verify: bool) -> str:
    """The variant a file's SHA-256 identifies; a mismatch with the exact file's hash is an error.

    Names without a known exact hash (adult has only its rebuild's) accept any
    file that passes the shape/value checks, as "unverified".
    """
    if not spec.known_sha256:
        return "unverified"  # no checksum known; shapes and values were checked
    digest = sha256_file(path)
    if digest in spec.known_sha256:
        return spec.known_sha256[digest]
    if verify and spec.exact_sha256 is not None:
        raise DatasetError(
            f"{path}: SHA-256 {digest} is not that of the paper's {spec.name} file "
            f"({spec.exact_sha256}); delete it and fetch it again from {spec.url}, "
            f"or pass verify=False to use it anyway (variant 'unverified')")
    return "unverified"


# -------------------------------------------------------------------- MNIST
def read_idx_images(path: Path, stem: str | None = None) -> np.ndarray:
    """Uint8 images (N, rows*cols) from an IDX file, gzipped or not, sha256-verified.

    The SHA-256 is of the *uncompressed* bytes (mirrors recompress the .gz);
    which official file to compare with is ``stem``, by default the file name
    without ".gz" (a download's temp file has another name, so it passes it).
    """
    path = Path(path)
    stem = stem or (path.name[:-3] if path.name.endswith(".gz") else path.name)
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"  # by content: temp files have no .gz suffix
        raw = gzip.open(path, "rb").read() if gzipped else path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{path}: unreadable or truncated ({exc}); delete it and download "
                           f"{RAW_MNIST_MIRRORS[0]}/{stem}.gz again") from exc
    expected = MNIST_RAW_SHA256.get(stem)
    if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
        raise DatasetError(f"{path}: uncompressed SHA-256 does not match the official {stem}; "
                           f"delete it and download {RAW_MNIST_MIRRORS[0]}/{stem}.gz again")
    return parse_idx_images(raw, path)


def parse_idx_images(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 16 or int.from_bytes(raw[:4], "big") != 2051:
        raise DatasetError(f"{path}: not an IDX image file (bad magic number); replace it with "
                           f"the official MNIST file from {RAW_MNIST_MIRRORS[0]}")
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    if len(raw) != 16 + n * rows * cols:
        raise DatasetError(f"{path}: {len(raw) - 16} pixel bytes, header says {n}x{rows}x{cols}; "
                           f"the file is truncated: download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def binarize(train_images: np.ndarray, test_images: np.ndarray, seed: int,
             n_train: int = 50000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static binarization: each pixel ~ Bernoulli(intensity / 255), drawn once.

    Train = the first ``n_train`` training images, valid = the rest, test = the
    official test images.
    """
    rng = np.random.default_rng(seed)
    out = []
    for images in (train_images, test_images):
        u = rng.random(images.shape, dtype=np.float32)
        out.append((u * 255 < images).astype(np.float32))  # P(1) = intensity / 255
    return out[0][:n_train], out[0][n_train:], out[1]


def _raw_mnist(directory: Path) -> dict[str, Path] | None:
    found = {}
    for stem in MNIST_RAW_SHA256:
        path = _find(directory, stem) or _find(directory, stem + ".gz")
        if path is None:
            return None
        found[stem] = path
    return found


def built_mnist_name(seed: int) -> str:
    return f"binarized_mnist_static_seed{seed}.npz"


def _save_npz(path: Path, train, valid, test) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez_compressed(f, train_data=train.astype(np.uint8), valid_data=valid.astype(np.uint8),
                                test_data=test.astype(np.uint8), inputsize=train.shape[1])


def _build_mnist(raw: dict[str, Path], directory: Path, seed: int) -> Dataset:
    """Verify the raw files (hashed once, here), binarize, cache the result.

    The cached npz is written only after the raw hashes matched, so finding it
    later is proof enough: it is never re-hashed against the raw files.
    """
    spec = DATASETS["binarized_mnist"]
    train_images = read_idx_images(raw["train-images-idx3-ubyte"])
    test_images = read_idx_images(raw["t10k-images-idx3-ubyte"])
    train, valid, test = binarize(train_images, test_images, seed, n_train=spec.splits[0])
    for array, split, size in zip((train, valid, test), SPLITS, spec.splits):
        check_split(array, raw["train-images-idx3-ubyte"], spec, split, size)
    out = _write_dir() / built_mnist_name(seed)
    _save_npz(out, train, valid, test)
    return Dataset("binarized_mnist", train, valid, test, f"static-seed{seed}", str(out))


def _read_amat(paths: list[Path], spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    arrays = []
    for path, split, size in zip(paths, SPLITS, spec.splits):
        try:
            array = np.loadtxt(path, dtype=np.float32, ndmin=2)
        except ValueError as exc:
            raise DatasetError(f"{path}: not a whitespace-separated 0/1 text matrix ({exc})") from exc
        arrays.append(check_split(array, path, spec, split, size))
    return tuple(arrays)


def _paper_mnist(directory: Path):
    """The paper's binarized MNIST on disk, in the order loading tries them:
    ``("npz", path)`` or ``("amat", [paths])``; None when neither is there."""
    exact = _find(directory, "binarized_mnist.npz")
    if exact is not None:
        return "npz", exact
    amat = [_find(directory, f"binarized_mnist_{s}.amat") for s in SPLITS]
    return ("amat", amat) if all(amat) else None


def _rebuild_sources(directory: Path, seed: int | None):
    """What a rebuilt binarization would load from: ``("built", [paths])``
    (the cached rebuild of ``seed``; any seed when None) or ``("raw", files)``;
    None when there is neither."""
    if seed is None:
        built = sorted(p for d in _search_dirs(directory) for p in d.glob("binarized_mnist_static_seed*.npz"))
    else:
        built = [p for p in [_find(directory, built_mnist_name(seed))] if p is not None]
    if built:
        return "built", built
    raw = _raw_mnist(directory)
    return ("raw", raw) if raw is not None else None


def _read_paper_mnist(kind: str, where, verify: bool) -> Dataset:
    """The paper's file (npz or .amat), identified by its content."""
    spec = DATASETS["binarized_mnist"]
    arrays = read_npz(where, spec) if kind == "npz" else _read_amat(where, spec)
    source = str(where) if kind == "npz" else ", ".join(map(str, where))
    return Dataset(spec.name, *arrays, _variant_from_content(arrays, source, spec, verify), source)


def static_seed(variant: str) -> int:
    """``"static-seed3"`` -> 3; DatasetError for any other name."""
    tail = variant[len(STATIC_PREFIX):] if variant.startswith(STATIC_PREFIX) else ""
    if not tail.isdigit():
        raise DatasetError(f"unknown binarized_mnist variant {variant!r}: use 'larochelle' (the paper's file, "
                           f"the default) or '{STATIC_PREFIX}<N>' (rebuilt from the raw digits with seed N)")
    return int(tail)


def _load_mnist(directory: Path, download: bool, variant: str | None, verify: bool) -> Dataset:
    """The paper's file (``variant`` None or "larochelle"), or the static
    binarization ``static-seed<N>`` rebuilt from the raw digits.  Never one
    for the other: a run names its data, and gets that data or an error."""
    spec = DATASETS["binarized_mnist"]
    if variant in (None, "larochelle"):
        found = _paper_mnist(directory)
        if found is not None:
            return _read_paper_mnist(*found, verify)
        if not download:
            raise _missing(spec, directory, extra="(or the three binarized_mnist_{train,valid,test}.amat)",
                           hint=_REBUILD_HINT)
        try:
            path = download_file(spec.url, _write_dir() / "binarized_mnist.npz",
                                 lambda p: _read_paper_mnist("npz", p, verify=True))
        except DatasetError as exc:
            raise _missing(spec, directory, errors=[str(exc)], hint=_REBUILD_HINT) from exc
        return _read_paper_mnist("npz", path, verify)
    seed = static_seed(variant)
    kind, where = _rebuild_sources(directory, seed) or (None, None)
    if kind == "built":  # trusted: written only after the raw files verified
        return Dataset(spec.name, *read_npz(where[0], spec), variant, str(where[0]))
    if kind == "raw":
        return _build_mnist(where, directory, seed)
    urls = [f"{m}/{s}.gz" for m in RAW_MNIST_MIRRORS for s in MNIST_RAW_SHA256]
    if not download:
        raise _missing(spec, directory, urls=urls, what="the raw MNIST files (train-images-idx3-ubyte, "
                                                        "t10k-images-idx3-ubyte, gzipped or not)")
    target = _write_dir()
    errors = []
    for mirror in RAW_MNIST_MIRRORS:
        try:
            for stem in MNIST_RAW_SHA256:
                if not (target / f"{stem}.gz").is_file():  # kept from an earlier mirror
                    download_file(f"{mirror}/{stem}.gz", target / f"{stem}.gz",
                                  lambda p, stem=stem: read_idx_images(p, stem))
            return _build_mnist(_raw_mnist(target), directory, seed)
        except DatasetError as exc:
            errors.append(str(exc))
    raise _missing(spec, directory, urls=urls, what="the raw MNIST files", errors=errors)


_REBUILD_HINT = (f"A binarization rebuilt here from the raw MNIST digits is another dataset: ask for it by "
                 f"name, as the setting data_variant='{STATIC_PREFIX}0' (run_all.py --set "
                 f"data_variant={STATIC_PREFIX}0; python -m made.data fetch binarized_mnist --variant "
                 f"{STATIC_PREFIX}0).")


# ------------------------------------------------------------------ download
def download_file(url: str, dest: Path, verify: Callable[[Path], object], timeout: float = 60.0,
                  progress: bool = True) -> Path:
    """Download ``url`` to ``dest``: temp file, progress bar, ``verify(tmp)``, then rename.

    ``verify`` raises DatasetError for a bad file.  Nothing is left at ``dest``
    unless the whole file arrived and verified.
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as f:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        f.write(block)
                        bar.update(len(block))
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:  # incl. timeouts
            raise DatasetError(f"could not download {url} ({exc})") from exc
        if total is not None and tmp.stat().st_size != total:
            raise DatasetError(f"{url}: download stopped at {tmp.stat().st_size} of {total} bytes; try again")
        try:
            verify(tmp)
        except DatasetError as exc:
            raise DatasetError(f"{url}: the downloaded file failed verification and was discarded "
                               f"(meant for {dest}): {exc}") from exc
    return dest


def _missing(spec: DatasetSpec, directory: Path, extra: str = "", errors: list[str] | None = None,
             urls: list[str] | None = None, what: str | None = None, hint: str = "") -> DatasetError:
    urls = urls or [spec.url]
    what = what or f"{spec.name}.npz{' ' + extra if extra else ''}"
    why = ("\n  " + "\n  ".join(errors)) if errors else ""
    return DatasetError(
        f"{spec.name} not found in {directory} (nor in the cache {cache_dir()}).{why}\n"
        f"Download {what} from:\n  " + "\n  ".join(urls) +
        f"\nand put it in {directory} (or set MADE_DATA_DIR / pass data_dir=...)." + (f"\n{hint}" if hint else ""))


# ---------------------------------------------------------------------- API
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
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    directory = resolve_data_dir(data_dir)
    if name == "binarized_mnist":
        data = _load_mnist(directory, download, variant, verify)
        if variant not in (None, data.variant) and not (variant == "larochelle" and not verify):
            raise DatasetError(f"{data.source}: is {data.variant!r}, not the variant {variant!r} asked for")
        return data
    spec = DATASETS[name]
    path = _find(directory, f"{name}.npz")
    if path is None:
        if not download:
            raise _missing(spec, directory)
        try:
            path = download_file(spec.url, _write_dir() / f"{name}.npz",
                                 lambda p: (read_npz(p, spec), _variant_from_hash(p, spec, verify)))
        except DatasetError as exc:
            raise _missing(spec, directory, errors=[str(exc)]) from exc
    arrays = read_npz(path, spec)
    found = _variant_from_hash(path, spec, verify)
    if variant is not None and found != variant:
        raise DatasetError(f"{path}: is {found!r}, not the variant {variant!r} asked for; put that file "
                           f"in the data directory, or ask for {found!r}")
    return Dataset(name, *arrays, found, str(path))


def identify(name: str, data_dir: str | os.PathLike | None = None, variant: str | None = None) -> str | None:
    """The variant ``load_dataset(name, data_dir, variant=variant)`` gives,
    without loading the data (a found file is hashed, not read); None when
    nothing here says (no local file: it would be downloaded)."""
    if variant is not None:
        return variant  # load_dataset gives that variant or refuses
    spec = DATASETS.get(name)
    if spec is None:
        return None
    if spec.content_sha256:  # binarized MNIST: the paper's file or an error
        return spec.reference_variant
    path = _find(resolve_data_dir(data_dir), f"{name}.npz")
    if path is None:
        return None
    try:
        return _variant_from_hash(path, spec, verify=True)
    except DatasetError:
        return None  # loading refuses it, naming the file


def status(name: str, directory: Path) -> list[dict]:
    """What is on disk for ``name``, without downloading or building anything:
    one row per source (binarized MNIST: the paper's file, and a rebuild when
    its files are there).  ``ok`` is False for a file that fails verification."""
    none = dict(name=name, found=False, where="", variant="", verified="", ok=True)
    if name != "binarized_mnist":
        spec = DATASETS[name]
        path = _find(directory, f"{name}.npz")
        if path is None:
            return [none]
        try:
            variant = _variant_from_hash(path, spec, verify=True)
            verified = "file sha256" if variant != "unverified" else "no checksum known"
            ok = True
        except DatasetError:
            variant, verified, ok = "unknown", "CHECKSUM MISMATCH", False
        return [dict(name=name, found=True, where=str(path), variant=variant, verified=verified, ok=ok)]
    rows = []
    found = _paper_mnist(directory)
    if found is not None:
        kind, where = found
        shown = str(where) if kind == "npz" else str(where[0].parent) + " (.amat)"
        try:
            data = _read_paper_mnist(kind, where, verify=True)
            rows.append(dict(name=name, found=True, where=shown, variant=data.variant, ok=True,
                             verified="content sha256 of train, valid, test"))
        except DatasetError as exc:
            bad = "CONTENT MISMATCH" if "content" in str(exc) else "UNREADABLE"
            rows.append(dict(name=name, found=True, where=shown, variant="unknown", verified=bad, ok=False))
    rebuild = _rebuild_sources(directory, seed=None)
    if rebuild is not None:
        kind, where = rebuild
        if kind == "built":
            variants = ", ".join(f"{STATIC_PREFIX}{p.stem.rsplit('seed', 1)[1]}" for p in where)
            rows.append(dict(name=f"{name} (rebuild)", found=True, where=", ".join(map(str, where)),
                             variant=variants, verified="raw sha256 checked when built", ok=True))
        else:
            rows.append(dict(name=f"{name} (rebuild)", found=True,
                             where=str(where["train-images-idx3-ubyte"].parent),
                             variant=f"{STATIC_PREFIX}<N> (raw MNIST, built when asked for)",
                             verified="raw sha256 checked when built", ok=True))
    return rows or [none]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m made.data", description="MADE datasets: status and download.")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="each dataset's status (nothing is downloaded); exit 1 when a file "
                                       "fails verification")
    info.add_argument("--data-dir", default=None)
    fetch = sub.add_parser("fetch", help="download (or build) and verify one dataset")
    fetch.add_argument("name", choices=sorted(DATASETS))
    fetch.add_argument("--data-dir", default=None)
    fetch.add_argument("--variant", default=None,
                       help=f"binarized_mnist: larochelle (the paper's file, default) or {STATIC_PREFIX}<N> "
                            "(rebuilt from the raw digits with seed N)")
    args = p.parse_args(argv)
    directory = resolve_data_dir(args.data_dir)
    if args.command == "info":
        print(f"data directory: {directory}\ncache: {cache_dir()}")
        rows = [("dataset", "found", "variant", "verified", "where")]
        bad = []
        for name in DATASETS:
            for s in status(name, directory):
                rows.append((s["name"], "yes" if s["found"] else "no", s["variant"], s["verified"], s["where"]))
                if not s["ok"]:
                    bad.append(s)
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]  # columns fit their text
        for row in rows:
            print("".join(f"{c:<{w}}" for c, w in zip(row, widths)) + row[4])
        for s in bad:
            print(f"error: {s['where']}: {s['verified'].lower()}: delete it and fetch it again "
                  f"(python -m made.data fetch {s['name']})", file=sys.stderr)
        return 1 if bad else 0
    try:
        ds = load_dataset(args.name, args.data_dir, download=True, variant=args.variant)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{ds.name}: {ds.variant}, train/valid/test = {len(ds.train)}/{len(ds.valid)}/{len(ds.test)} "
          f"x {ds.dim}, from {ds.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
