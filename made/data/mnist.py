"""Binarized MNIST: the paper's file, known by its content, or a static
binarization rebuilt from the raw digits, asked for by name.

Two variants, never one for the other:

* ``larochelle``: the fixed binarization the paper used (Salakhutdinov & Murray
  2008, as distributed by Larochelle & Murray 2011), recognised by the SHA-256
  of each split's *content* (MNIST_CONTENT_SHA256), so the authors' float32
  npz, the ``.amat`` text files and a uint8 npz all verify, and a copy with one
  pixel flipped does not;
* ``static-seed<N>``: each pixel ~ Bernoulli(intensity / 255) drawn once with
  ``numpy.random.default_rng(N)`` from the SHA-256-verified raw digits; train =
  the first 50,000 training images, valid = the last 10,000, test = the
  official 10,000: a second binarization, with another split and draw.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .files import (SPLITS, Dataset, DatasetError, DatasetSpec, _find, _missing, _search_dirs, _write_dir,
                    atomic_path, check_split, content_sha256, download_file, not_found, read_npz)

# Public mirrors of the raw MNIST .gz files, tried in order (the original
# yann.lecun.com host is no longer reliable).
RAW_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
)
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


def _build_mnist(spec: DatasetSpec, raw: dict[str, Path], seed: int) -> Dataset:
    """Verify the raw files (hashed once, here), binarize, cache the result.

    The cached npz is written only after the raw hashes matched, so finding it
    later is proof enough: it is never re-hashed against the raw files.
    """
    train_images = read_idx_images(raw["train-images-idx3-ubyte"])
    test_images = read_idx_images(raw["t10k-images-idx3-ubyte"])
    train, valid, test = binarize(train_images, test_images, seed, n_train=spec.splits[0])
    for array, split, size in zip((train, valid, test), SPLITS, spec.splits):
        check_split(array, raw["train-images-idx3-ubyte"], spec, split, size)
    out = _write_dir() / built_mnist_name(seed)
    _save_npz(out, train, valid, test)
    return Dataset(spec.name, train, valid, test, f"{STATIC_PREFIX}{seed}", str(out))


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


def _read_paper_mnist(spec: DatasetSpec, kind: str, where, verify: bool) -> Dataset:
    """The paper's file (npz or .amat), identified by its content."""
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


def _load_mnist(spec: DatasetSpec, directory: Path, download: bool, variant: str | None, verify: bool) -> Dataset:
    """The paper's file (``variant`` None or "larochelle"), or the static
    binarization ``static-seed<N>`` rebuilt from the raw digits.  Never one
    for the other: a run names its data, and gets that data or an error."""
    if variant in (None, "larochelle"):
        found = _paper_mnist(directory)
        if found is not None:
            return _read_paper_mnist(spec, *found, verify)
        if not download:
            raise _missing(spec, directory, extra="(or the three binarized_mnist_{train,valid,test}.amat)",
                           hint=_REBUILD_HINT)
        try:
            path = download_file(spec.url, _write_dir() / "binarized_mnist.npz",
                                 lambda p: _read_paper_mnist(spec, "npz", p, verify=True))
        except DatasetError as exc:
            raise _missing(spec, directory, errors=[str(exc)], hint=_REBUILD_HINT) from exc
        return _read_paper_mnist(spec, "npz", path, verify)
    seed = static_seed(variant)
    kind, where = _rebuild_sources(directory, seed) or (None, None)
    if kind == "built":  # trusted: written only after the raw files verified
        return Dataset(spec.name, *read_npz(where[0], spec), f"{STATIC_PREFIX}{seed}", str(where[0]))
    if kind == "raw":
        return _build_mnist(spec, where, seed)
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
            return _build_mnist(spec, _raw_mnist(target), seed)
        except DatasetError as exc:
            errors.append(str(exc))
    raise _missing(spec, directory, urls=urls, what="the raw MNIST files", errors=errors)


_REBUILD_HINT = (f"A binarization rebuilt here from the raw MNIST digits is another dataset: ask for it by "
                 f"name, as the setting data_variant='{STATIC_PREFIX}0' (run_all.py --set "
                 f"data_variant={STATIC_PREFIX}0; python -m made.data fetch binarized_mnist --variant "
                 f"{STATIC_PREFIX}0).")


class BinarizedMnist:
    """The registry's Source for binarized MNIST (made.data.files.Source)."""

    def load(self, spec, directory, download, variant, verify):
        data = _load_mnist(spec, directory, download, variant, verify)
        if variant not in (None, data.variant) and not (variant == "larochelle" and not verify):
            raise DatasetError(f"{data.source}: is {data.variant!r}, not the variant {variant!r} asked for")
        return data

    def identify(self, spec, directory, variant):
        return variant or spec.reference_variant  # the paper's file, or an error when it is not

    def locate(self, spec, directory, variant):
        if variant in (None, "larochelle"):
            found = _paper_mnist(directory)
            return None if found is None else str(found[1] if found[0] == "npz" else found[1][0].parent)
        kind, where = _rebuild_sources(directory, static_seed(variant)) or (None, None)
        return None if kind is None else str(where[0] if kind == "built" else where["train-images-idx3-ubyte"].parent)

    def status(self, spec, directory):
        rows = []
        found = _paper_mnist(directory)
        if found is not None:
            kind, where = found
            shown = str(where) if kind == "npz" else str(where[0].parent) + " (.amat)"
            try:
                data = _read_paper_mnist(spec, kind, where, verify=True)
                rows.append(dict(name=spec.name, found=True, where=shown, variant=data.variant, ok=True,
                                 verified="content sha256 of train, valid, test"))
            except DatasetError as exc:
                bad = "CONTENT MISMATCH" if "content" in str(exc) else "UNREADABLE"
                rows.append(dict(name=spec.name, found=True, where=shown, variant="unknown", verified=bad, ok=False))
        rebuild = _rebuild_sources(directory, seed=None)
        if rebuild is not None:
            kind, where = rebuild
            if kind == "built":
                variants = ", ".join(f"{STATIC_PREFIX}{p.stem.rsplit('seed', 1)[1]}" for p in where)
                rows.append(dict(name=f"{spec.name} (rebuild)", found=True, where=", ".join(map(str, where)),
                                 variant=variants, verified="raw sha256 checked when built", ok=True))
            else:
                rows.append(dict(name=f"{spec.name} (rebuild)", found=True,
                                 where=str(where["train-images-idx3-ubyte"].parent),
                                 variant=f"{STATIC_PREFIX}<N> (raw MNIST, built when asked for)",
                                 verified="raw sha256 checked when built", ok=True))
        return rows or [not_found(spec.name)]


BINARIZED_MNIST = BinarizedMnist()
