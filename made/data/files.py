"""Data files: where they are looked for, how they are verified, read and downloaded.

Where files are looked for, in order:

1. the ``data_dir`` argument, else ``$MADE_DATA_DIR``, else the user cache;
2. the cache, ``$MADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/made``, else ``~/.cache/made``.

Files written here (downloads, a rebuilt binarization) always go to the cache:
a data directory is only read, so a shared or read-only one is never written
to.  Every write is a temporary file renamed into place only after it verified.

Downloading is written here rather than left to pooch: pooch checks one fixed
hash per file, while here a hash picks a variant or none is published, the
MNIST mirrors recompress their .gz (the hash is of the uncompressed bytes), and
a file must also pass the shape checks before it lands in the cache; pooch
would be called without a hash and with these checks after it, saving only the
urlopen-and-progress-bar loop, for a dependency the core (torch, numpy, tqdm) avoids.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from ..io import atomic_path

if TYPE_CHECKING:  # torch is imported lazily, by Dataset.as_tensors only
    import torch

SPLITS = ("train", "valid", "test")


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
    # How the name's data is found, loaded, identified and described: a
    # Source (NPZ_FILE, the paper's npz layout, unless the entry brings its own).
    source: "Source | None" = None

    @property
    def loader(self) -> "Source":
        return self.source or NPZ_FILE

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

    @functools.cached_property
    def content_sha256(self) -> str:
        """One SHA-256 for the three splits' content: what a run and its
        checkpoint record, so that a run never resumes or is reused on other data.
        Computed once (the splits are not meant to change after loading)."""
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
        f"\nand put it in {directory}" + ("" if directory.is_dir() else " (which does not exist: create it, or fix "
                                                                     "MADE_DATA_DIR / data_dir)")
        + " (or set MADE_DATA_DIR / pass data_dir=...)." + (f"\n{hint}" if hint else ""))


class Source(Protocol):
    """How one registry entry's data is had: each dataset's special cases live
    in its own Source, not in branches of the functions that load by name."""

    def load(self, spec: DatasetSpec, directory: Path, download: bool, variant: str | None,
             verify: bool) -> Dataset: ...

    def identify(self, spec: DatasetSpec, directory: Path, variant: str | None) -> str | None: ...

    def status(self, spec: DatasetSpec, directory: Path) -> list[dict]: ...

    def locate(self, spec: DatasetSpec, directory: Path, variant: str | None) -> str | None: ...


class NpzFile:
    """One ``<name>.npz`` in the paper's layout, known by the SHA-256 of its
    bytes where known (DatasetSpec.known_sha256)."""

    def load(self, spec, directory, download, variant, verify):
        path = _find(directory, f"{spec.name}.npz")
        if path is None:
            if not download:
                raise _missing(spec, directory)
            try:
                path = download_file(spec.url, _write_dir() / f"{spec.name}.npz",
                                     lambda p: (read_npz(p, spec), _variant_from_hash(p, spec, verify)))
            except DatasetError as exc:
                raise _missing(spec, directory, errors=[str(exc)]) from exc
        arrays = read_npz(path, spec)
        found = _variant_from_hash(path, spec, verify)
        if variant is not None and found != variant:
            raise DatasetError(f"{path}: is {found!r}, not the variant {variant!r} asked for; put that file "
                               f"in the data directory, or ask for {found!r}")
        return Dataset(spec.name, *arrays, found, str(path))

    def identify(self, spec, directory, variant):
        if variant is not None:
            return variant  # load gives that variant or refuses
        path = _find(directory, f"{spec.name}.npz")
        if path is None:
            return None
        try:
            return _variant_from_hash(path, spec, verify=True)
        except DatasetError:
            return None  # loading refuses it, naming the file

    def locate(self, spec, directory, variant):
        path = _find(directory, f"{spec.name}.npz")
        return None if path is None else str(path)

    def status(self, spec, directory):
        path = _find(directory, f"{spec.name}.npz")
        if path is None:
            return [not_found(spec.name)]
        try:
            variant = _variant_from_hash(path, spec, verify=True)
            verified = "file sha256" if variant != "unverified" else "no checksum known"
            ok = True
        except DatasetError:
            variant, verified, ok = "unknown", "CHECKSUM MISMATCH", False
        return [dict(name=spec.name, found=True, where=str(path), variant=variant, verified=verified, ok=ok)]


def not_found(name: str) -> dict:
    """A status row: nothing on disk for ``name``."""
    return dict(name=name, found=False, where="", variant="", verified="", ok=True)


NPZ_FILE = NpzFile()
