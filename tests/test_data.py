"""Datasets: every bad input is a clear DatasetError; downloads are all-or-nothing; real data loads."""

import dataclasses
import gzip
import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from made import data
from made.data import DATASETS, DatasetError, DatasetSpec, load_dataset

# Three different split sizes, and random contents: a swap of two splits cannot pass unseen.
TOY = DatasetSpec("toy", 4, (5, 3, 2), "file:///nonexistent/toy.npz")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own cache and no MADE_DATA_DIR unless it sets one."""
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MADE_DATA_DIR", raising=False)
    monkeypatch.setitem(DATASETS, "toy", TOY)


def toy_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {f"{s}_data": (rng.random((n, 4)) < 0.5).astype(np.float32)
            for s, n in zip(data.SPLITS, TOY.splits)}


def write_npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def assert_same_splits(ds, arrays):
    """Each split is the array stored under its own key: train, valid, test, in that order."""
    for split in data.SPLITS:
        assert np.array_equal(getattr(ds, split), arrays[f"{split}_data"]), split


def test_loads_a_good_file(tmp_path):
    arrays = toy_arrays()
    write_npz(tmp_path / "d" / "toy.npz", **arrays)
    ds = load_dataset("toy", tmp_path / "d", download=False)
    assert ds.train.shape == (5, 4) and ds.dim == 4 and ds.train.dtype == np.float32
    assert (len(ds.train), len(ds.valid), len(ds.test)) == TOY.splits
    assert_same_splits(ds, arrays)
    assert ds.variant == "unverified" and ds.source.endswith("toy.npz")


def bad_cases():
    good = toy_arrays()
    nan = dict(good, valid_data=np.full((3, 4), np.nan, dtype=np.float32))
    return {
        "missing keys": ({"train_data": good["train_data"]}, "missing keys"),
        "wrong dims": (dict(good, test_data=np.zeros((2, 5), np.float32)), r"expected \(N, 4\)"),
        "non-binary": (dict(good, train_data=np.full((5, 4), 0.5, np.float32)), "other than 0 and 1"),
        "NaN": (nan, "NaN"),
        "wrong split size": (dict(good, train_data=np.zeros((6, 4), np.float32)),
                             "train split has 6 rows, the paper's split has 5"),
        "valid and test swapped": (dict(good, valid_data=good["test_data"], test_data=good["valid_data"]),
                                   "valid split has 2 rows, the paper's split has 3"),
    }


@pytest.mark.parametrize("case", list(bad_cases()))
def test_bad_npz_contents(tmp_path, case):
    arrays, message = bad_cases()[case]
    path = write_npz(tmp_path / "toy.npz", **arrays)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset("toy", tmp_path, download=False)
    assert str(path) in str(err.value)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "toy.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(DatasetError, match="not a readable npz") as err:
        load_dataset("toy", tmp_path, download=False)
    assert str(path) in str(err.value) and "fetch" in str(err.value)


def test_checksum_mismatch_for_a_known_file(tmp_path):
    # dna has a known SHA-256; a file of the right shapes but other bytes is refused
    rng = np.random.default_rng(0)
    arrays = {f"{s}_data": (rng.random((n, 180)) < 0.5).astype(np.float32)
              for s, n in zip(data.SPLITS, DATASETS["dna"].splits)}
    path = write_npz(tmp_path / "dna.npz", **arrays)
    with pytest.raises(DatasetError, match="SHA-256") as err:
        load_dataset("dna", tmp_path, download=False)
    assert str(path) in str(err.value)
    assert load_dataset("dna", tmp_path, download=False, verify=False).variant == "unverified"


def test_truncated_gzip_and_checksum_of_raw_mnist(tmp_path):
    raw = b"\x00\x00\x08\x03" + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(784)
    whole = gzip.compress(raw)
    truncated = tmp_path / "train-images-idx3-ubyte.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match="truncated") as err:
        data.read_idx_images(truncated)
    assert str(truncated) in str(err.value)
    wrong = tmp_path / "other" / "train-images-idx3-ubyte.gz"
    wrong.parent.mkdir()
    wrong.write_bytes(whole)  # a valid gzip, but not the official bytes
    with pytest.raises(DatasetError, match="SHA-256"):
        data.read_idx_images(wrong)


def test_idx_parsing_and_static_binarization_is_deterministic(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(30, 16), dtype=np.uint8)
    header = (2051).to_bytes(4, "big") + (30).to_bytes(4, "big") + (4).to_bytes(4, "big") * 2
    parsed = data.parse_idx_images(header + images.tobytes(), tmp_path / "x")
    assert np.array_equal(parsed, images)
    with pytest.raises(DatasetError, match="truncated"):
        data.parse_idx_images(header + images.tobytes()[:-5], tmp_path / "x")
    a = data.binarize(images, images[:10], seed=0, n_train=20)
    b = data.binarize(images, images[:10], seed=0, n_train=20)
    c = data.binarize(images, images[:10], seed=1, n_train=20)
    assert [x.shape for x in a] == [(20, 16), (10, 16), (10, 16)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # P(pixel = 1) = intensity / 255: all-black stays 0, all-white becomes 1
    ends = data.binarize(np.array([[0, 255]] * 50, np.uint8), np.zeros((1, 2), np.uint8), 0, n_train=50)
    assert (ends[0][:, 0] == 0).all() and (ends[0][:, 1] == 1).all()


def test_binarize_puts_each_image_in_its_own_split():
    # train = the first n_train training images, valid = the rest, test = the test
    # images: all-black and all-white images tell them apart whatever the draw,
    # and the three sizes differ
    train_images = np.zeros((30, 16), np.uint8)
    train_images[:20, :8] = 255  # training rows: left half white
    train_images[20:, 8:] = 255  # validation rows: right half white
    test_images = np.zeros((7, 16), np.uint8)
    test_images[:, ::2] = 255  # test rows: every other pixel white
    train, valid, test = data.binarize(train_images, test_images, seed=0, n_train=20)
    assert [x.shape for x in (train, valid, test)] == [(20, 16), (10, 16), (7, 16)]
    for split, images in ((train, train_images[:20]), (valid, train_images[20:]), (test, test_images)):
        assert np.array_equal(split, (images == 255).astype(np.float32))


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    assert data.resolve_data_dir() == tmp_path / "cache"  # nothing set: the cache
    monkeypatch.setenv("MADE_DATA_DIR", str(tmp_path / "env"))
    assert data.resolve_data_dir() == tmp_path / "env"
    assert data.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("MADE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "made"


def test_download_places_a_verified_file_in_the_cache(tmp_path, monkeypatch):
    source = write_npz(tmp_path / "server" / "toy.npz", **toy_arrays())
    monkeypatch.setitem(DATASETS, "toy", DatasetSpec("toy", 4, TOY.splits, source.as_uri()))
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    ds = load_dataset("toy", readonly)
    assert Path(ds.source) == tmp_path / "cache" / "toy.npz"
    assert_same_splits(ds, toy_arrays())
    assert list(readonly.iterdir()) == []  # the data directory is only read


def test_failed_download_leaves_nothing(tmp_path, monkeypatch):
    bad = tmp_path / "server" / "toy.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"truncated garbage")
    monkeypatch.setitem(DATASETS, "toy", DatasetSpec("toy", 4, TOY.splits, bad.as_uri()))
    with pytest.raises(DatasetError, match="failed verification"):
        load_dataset("toy", tmp_path / "d")
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_offline_error_names_urls_and_directory(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as err:
        load_dataset("binarized_mnist", tmp_path / "empty")
    msg = str(err.value)
    assert "releases/download/ICML2015/binarized_mnist.npz" in msg and str(tmp_path / "empty") in msg
    # the paper's file is never replaced by a rebuild unasked: the error says how to ask for one
    assert "data_variant='static-seed0'" in msg and "train-images-idx3-ubyte.gz" not in msg
    with pytest.raises(DatasetError) as err:
        load_dataset("binarized_mnist", tmp_path / "empty", variant="static-seed0")
    assert "train-images-idx3-ubyte.gz" in str(err.value) and str(tmp_path / "empty") in str(err.value)
    with pytest.raises(DatasetError, match="unknown binarized_mnist variant 'static'"):
        load_dataset("binarized_mnist", tmp_path / "empty", variant="static")
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("dna", tmp_path / "empty", download=False)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("cifar", tmp_path)


def test_garbage_npz_does_not_suggest_unsafe_loading(tmp_path):
    path = tmp_path / "toy.npz"
    with open(path, "wb") as f:
        np.savez(f, train_data=np.array([{"a": 1}], dtype=object), valid_data=np.zeros((3, 4)),
                 test_data=np.zeros((2, 4)))
    with pytest.raises(DatasetError, match="pickled objects") as err:
        load_dataset("toy", tmp_path, download=False)
    assert "allow_pickle" not in str(err.value) and str(path) in str(err.value)


def test_cli_info_downloads_nothing(tmp_path, capsys):
    assert data.main(["info", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "binarized_mnist" in out and "dna" in out and "no" in out


def test_as_tensors(tmp_path):
    arrays = toy_arrays()
    write_npz(tmp_path / "toy.npz", **arrays)
    train, valid, test = load_dataset("toy", tmp_path, download=False).as_tensors("cpu")
    assert train.dtype == torch.float32 and tuple(valid.shape) == (3, 4) and test.device.type == "cpu"
    for split, tensor in zip(data.SPLITS, (train, valid, test)):
        assert np.array_equal(tensor.numpy(), arrays[f"{split}_data"]), split


def test_known_rebuild_hash_does_not_refuse_the_original(tmp_path, monkeypatch):
    # adult only has its rebuild's hash: the original file (other bytes) must still load
    monkeypatch.setitem(DATASETS, "toy", DatasetSpec("toy", 4, TOY.splits, TOY.url, {"0" * 64: "rebuilt"}))
    write_npz(tmp_path / "toy.npz", **toy_arrays())
    assert load_dataset("toy", tmp_path, download=False).variant == "unverified"


@pytest.fixture
def toy_mnist(monkeypatch):
    """binarized_mnist registered as a toy whose content hashes are known: the
    toy arrays of seed 3 are "the paper's file"."""
    arrays = toy_arrays(seed=3)
    content = {s: data.content_sha256(arrays[f"{s}_data"]) for s in data.SPLITS}
    monkeypatch.setitem(DATASETS, "binarized_mnist", dataclasses.replace(
        DATASETS["binarized_mnist"], dim=4, splits=TOY.splits, url="file:///nowhere/binarized_mnist.npz",
        content_sha256=content))
    return arrays


def write_amat(folder: Path, arrays: dict) -> None:
    for split in data.SPLITS:
        np.savetxt(folder / f"binarized_mnist_{split}.amat", arrays[f"{split}_data"], fmt="%d")


def test_amat_splits_are_read_into_their_own_splits(tmp_path, toy_mnist):
    # the paper's .amat text files, one per split (binarized_mnist_{train,valid,test}.amat)
    write_amat(tmp_path, toy_mnist)
    ds = load_dataset("binarized_mnist", tmp_path, download=False)
    assert ds.variant == "larochelle"
    assert_same_splits(ds, toy_mnist)


@pytest.mark.parametrize("form", ["float32 npz", "uint8 npz", "amat"])
def test_the_papers_mnist_is_known_by_content_in_every_form(tmp_path, toy_mnist, form):
    if form == "amat":
        write_amat(tmp_path, toy_mnist)
    else:
        dtype = np.uint8 if form == "uint8 npz" else np.float32
        write_npz(tmp_path / "binarized_mnist.npz", **{k: v.astype(dtype) for k, v in toy_mnist.items()})
    ds = load_dataset("binarized_mnist", tmp_path, download=False)
    assert ds.variant == "larochelle" and data.identify("binarized_mnist", tmp_path) == "larochelle"
    assert [r["variant"] for r in data.status("binarized_mnist", tmp_path)] == ["larochelle"]


@pytest.mark.parametrize("form", ["npz", "amat"])
def test_one_flipped_pixel_is_not_the_papers_mnist(tmp_path, toy_mnist, form, capsys):
    flipped = {k: v.copy() for k, v in toy_mnist.items()}
    flipped["valid_data"][1, 2] = 1 - flipped["valid_data"][1, 2]
    if form == "amat":
        write_amat(tmp_path, flipped)
        named = str(tmp_path / "binarized_mnist_train.amat")
    else:
        named = str(write_npz(tmp_path / "binarized_mnist.npz", **flipped))
    with pytest.raises(DatasetError) as err:
        load_dataset("binarized_mnist", tmp_path, download=False)
    msg = str(err.value)
    assert named in msg and "valid split" in msg and DATASETS["binarized_mnist"].content_sha256["valid"] in msg
    assert "train split" not in msg and "fetch" in msg and "verify=False" in msg and "'unverified'" in msg
    loose = load_dataset("binarized_mnist", tmp_path, download=False, verify=False)
    assert loose.variant == "unverified" and loose.valid[1, 2] == flipped["valid_data"][1, 2]
    # the info command says so and fails
    assert data.main(["info", "--data-dir", str(tmp_path)]) == 1
    out, errors = capsys.readouterr()
    assert "CONTENT MISMATCH" in out and "error: " + str(tmp_path) in errors and "fetch binarized_mnist" in errors


def test_content_hash_names_the_data_not_the_file(tmp_path, toy_mnist):
    write_npz(tmp_path / "a" / "binarized_mnist.npz", **toy_mnist)
    write_npz(tmp_path / "b" / "binarized_mnist.npz", **{k: v.astype(np.uint8) for k, v in toy_mnist.items()})
    a = load_dataset("binarized_mnist", tmp_path / "a", download=False)
    b = load_dataset("binarized_mnist", tmp_path / "b", download=False)
    assert a.content_sha256 == b.content_sha256
    other = {k: v.copy() for k, v in toy_mnist.items()}
    other["test_data"][0, 0] = 1 - other["test_data"][0, 0]
    write_npz(tmp_path / "c" / "binarized_mnist.npz", **other)
    c = load_dataset("binarized_mnist", tmp_path / "c", download=False, verify=False)
    assert c.content_sha256 != a.content_sha256


# ---------------------------------------------- MNIST from tiny fake raw files
FAKE_SPLITS = (6, 2, 3)  # train, valid, test; 4x4 images


def idx_bytes(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return b"".join(x.to_bytes(4, "big") for x in (2051, n, rows, cols)) + images.tobytes()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A data dir with tiny gzipped IDX files, registered as the official ones."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    sizes = {"train-images-idx3-ubyte": 8, "t10k-images-idx3-ubyte": 3}
    for stem, n in sizes.items():
        raw = idx_bytes(rng.integers(0, 256, size=(n, 4, 4), dtype=np.uint8))
        (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        monkeypatch.setitem(data.MNIST_RAW_SHA256, stem, hashlib.sha256(raw).hexdigest())
    monkeypatch.setitem(DATASETS, "binarized_mnist", dataclasses.replace(
        DATASETS["binarized_mnist"], dim=16, splits=FAKE_SPLITS, url="file:///nowhere/binarized_mnist.npz"))
    return folder


def test_static_binarization_built_from_raw_idx_files(fake_mnist, tmp_path, monkeypatch):
    root = fake_mnist.parent
    a = load_dataset("binarized_mnist", root, download=False, variant="static-seed3")
    assert a.variant == "static-seed3" and a.train.dtype == np.float32
    assert tuple(len(x) for x in (a.train, a.valid, a.test)) == FAKE_SPLITS and a.dim == 16
    cached = tmp_path / "cache" / "binarized_mnist_static_seed3.npz"
    assert Path(a.source) == cached and cached.is_file()
    assert sorted(p.name for p in fake_mnist.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                            "train-images-idx3-ubyte.gz"]  # only read
    again = load_dataset("binarized_mnist", root, download=False, variant="static-seed3")  # from the cache
    assert again.source == a.source and _digest(again) == _digest(a)
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache2"))  # rebuilt from scratch
    rebuilt = load_dataset("binarized_mnist", root, download=False, variant="static-seed3")
    assert Path(rebuilt.source).parent == tmp_path / "cache2" and _digest(rebuilt) == _digest(a)
    assert _digest(load_dataset("binarized_mnist", root, download=False, variant="static-seed4")) != _digest(a)
    # raw digits alone are no paper's file: asked for it, the loader refuses rather than rebuilds
    with pytest.raises(DatasetError, match="static-seed0"):
        load_dataset("binarized_mnist", root, download=False)


def test_raw_mnist_checksum_mismatch_and_truncation(fake_mnist, monkeypatch):
    monkeypatch.setitem(data.MNIST_RAW_SHA256, "t10k-images-idx3-ubyte", "0" * 64)
    with pytest.raises(DatasetError, match="SHA-256") as err:
        load_dataset("binarized_mnist", fake_mnist.parent, download=False, variant="static-seed0")
    assert str(fake_mnist / "t10k-images-idx3-ubyte.gz") in str(err.value)
    train = fake_mnist / "train-images-idx3-ubyte.gz"
    train.write_bytes(train.read_bytes()[:-12])  # cut inside the gzip trailer
    with pytest.raises(DatasetError, match="truncated") as err:
        load_dataset("binarized_mnist", fake_mnist.parent, download=False, variant="static-seed0")
    assert str(train) in str(err.value)
    assert not (fake_mnist.parent.parent / "cache").exists()  # nothing built or cached


def test_raw_mnist_download_falls_back_to_second_mirror(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setattr(data.mnist, "RAW_MNIST_MIRRORS", ((tmp_path / "dead").as_uri(), fake_mnist.as_uri()))
    ds = load_dataset("binarized_mnist", tmp_path / "empty", variant="static-seed0")
    assert ds.variant == "static-seed0"
    cache = tmp_path / "cache"
    assert sorted(p.name for p in cache.iterdir()) == [
        "binarized_mnist_static_seed0.npz", "t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"]


class _ShortResponse(io.BytesIO):
    """An HTTP response that announces more bytes than it delivers."""

    def __init__(self, payload: bytes, announced: int):
        super().__init__(payload)
        self.headers = {"Content-Length": str(announced)}


def test_partial_download_leaves_nothing(tmp_path, monkeypatch):
    whole = (write_npz(tmp_path / "server" / "toy.npz", **toy_arrays())).read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: _ShortResponse(whole[:100], len(whole)))
    with pytest.raises(DatasetError, match="100 of") as err:
        load_dataset("toy", tmp_path / "d")
    assert TOY.url in str(err.value) and str(tmp_path / "d") in str(err.value)
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


# ------------------------------------------------------------- real data
REAL = os.environ.get("MADE_DATA_DIR")  # read before the fixture above clears it
needs_real = pytest.mark.skipif(not REAL, reason="MADE_DATA_DIR is not set: no real data to test on")


@pytest.fixture
def real_dir(monkeypatch):
    monkeypatch.setenv("MADE_DATA_DIR", REAL)
    return Path(REAL)


def _digest(ds) -> str:
    h = hashlib.sha256()
    for a in (ds.train, ds.valid, ds.test):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.slow
@needs_real
def test_real_binarized_mnist_from_raw(real_dir, tmp_path, monkeypatch):
    ds = load_dataset("binarized_mnist", variant="static-seed0")
    assert (ds.train.shape, ds.valid.shape, ds.test.shape) == ((50000, 784), (10000, 784), (10000, 784))
    assert 0.12 < ds.train.mean() < 0.14
    assert ds.variant == "static-seed0"
    # valid and test are both 10000 x 784: each must be binarized from its own digits
    # (train = the first 50000 training images, valid = the last 10000, test = t10k)
    raw = {stem: data.read_idx_images(next(real_dir.rglob(f"{stem}*"))) for stem in data.MNIST_RAW_SHA256}
    train_images, test_images = raw["train-images-idx3-ubyte"], raw["t10k-images-idx3-ubyte"]
    for split, images in ((ds.train, train_images[:50000]), (ds.valid, train_images[50000:]),
                          (ds.test, test_images)):
        assert (split[images == 0] == 0).all() and (split[images == 255] == 1).all()
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "second"))  # build again from scratch
    again = load_dataset("binarized_mnist", variant="static-seed0")
    assert _digest(again) == _digest(ds)
    other = load_dataset("binarized_mnist", variant="static-seed1")
    assert other.variant == "static-seed1" and _digest(other) != _digest(ds)
    assert ds.content_sha256 != load_dataset("binarized_mnist").content_sha256  # another dataset


def _amat_bytes(array: np.ndarray) -> bytes:
    """A 0/1 matrix as .amat text ("0 1 0 ...\n" rows), fast: one byte per character."""
    text = np.full((array.shape[0], 2 * array.shape[1]), ord(" "), dtype=np.uint8)
    text[:, 0::2] = array.astype(np.uint8) + ord("0")
    text[:, -1] = ord("\n")
    return text.tobytes()


@needs_real
def test_real_papers_mnist_is_larochelle(real_dir):
    ds = load_dataset("binarized_mnist", download=False)
    assert ds.variant == "larochelle" and ds.source.endswith("binarized_mnist.npz")
    assert ds.split_sha256() == data.MNIST_CONTENT_SHA256
    assert (ds.train.shape, ds.valid.shape, ds.test.shape) == ((50000, 784), (10000, 784), (10000, 784))


@pytest.mark.slow
@needs_real
def test_real_papers_mnist_as_amat_and_uint8_is_larochelle_and_one_pixel_off_is_not(real_dir, tmp_path):
    ds = load_dataset("binarized_mnist", download=False)
    arrays = {s: getattr(ds, s) for s in data.SPLITS}
    (tmp_path / "amat").mkdir()
    for split, array in arrays.items():
        (tmp_path / "amat" / f"binarized_mnist_{split}.amat").write_bytes(_amat_bytes(array))
    assert load_dataset("binarized_mnist", tmp_path / "amat", download=False).variant == "larochelle"
    write_npz(tmp_path / "u8" / "binarized_mnist.npz", **{f"{s}_data": a.astype(np.uint8) for s, a in arrays.items()})
    assert load_dataset("binarized_mnist", tmp_path / "u8", download=False).variant == "larochelle"
    flipped = {f"{s}_data": a.astype(np.uint8) for s, a in arrays.items()}
    flipped["train_data"][123, 456] ^= 1
    path = write_npz(tmp_path / "flip" / "binarized_mnist.npz", **flipped)
    with pytest.raises(DatasetError, match="train split") as err:
        load_dataset("binarized_mnist", tmp_path / "flip", download=False)
    assert str(path) in str(err.value) and "verify=False" in str(err.value)


@needs_real
@pytest.mark.parametrize("name", ["dna", "mushrooms", "nips", "adult"])
def test_real_uci_sets(real_dir, name):
    ds = load_dataset(name, download=False)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == DATASETS[name].splits
    assert ds.dim == DATASETS[name].dim
    assert ds.variant == ("rebuilt-test-reordered" if name == "adult" else "larochelle")


@needs_real
def test_real_info_is_fast_and_builds_nothing(real_dir, tmp_path, capsys):
    assert data.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "raw MNIST" in out and "larochelle" in out and "rebuilt-test-reordered" in out
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []


# --- the UCI sets not shipped to this machine: made here in the same npz layout,
# at their published split sizes (stored as uint8, as some of the originals are).
NOT_HERE = ["connect4", "ocr_letters", "rcv1", "web"]


def uci_file(path: Path, name: str, sizes=None) -> Path:
    spec = DATASETS[name]
    rng = np.random.default_rng(0)
    sizes = sizes or spec.splits
    arrays = {f"{s}_data": (rng.random((n, spec.dim)) < 0.3).astype(np.uint8) for s, n in zip(data.SPLITS, sizes)}
    return write_npz(path, inputsize=np.array(spec.dim), **arrays,
                     **{f"{s}_length": np.array(n) for s, n in zip(data.SPLITS, sizes)})


@pytest.mark.parametrize("name", NOT_HERE)
def test_other_uci_sets_load_by_name_at_their_published_sizes(tmp_path, name):
    uci_file(tmp_path / f"{name}.npz", name)
    ds = load_dataset(name, tmp_path, download=False)
    spec = DATASETS[name]
    assert (len(ds.train), len(ds.valid), len(ds.test)) == spec.splits and ds.dim == spec.dim
    assert ds.train.dtype == np.float32 and set(np.unique(ds.test)) <= {0.0, 1.0}
    assert ds.variant == "unverified"  # no checksum of the original is known: shapes and values checked


@pytest.mark.parametrize("name", NOT_HERE)
def test_other_uci_sets_refuse_wrong_sizes_and_name_the_file(tmp_path, name):
    spec = DATASETS[name]
    path = uci_file(tmp_path / f"{name}.npz", name, sizes=(spec.splits[0] - 1, *spec.splits[1:]))
    with pytest.raises(DatasetError) as err:
        load_dataset(name, tmp_path, download=False)
    assert str(path) in str(err.value) and str(spec.splits[0]) in str(err.value)


@pytest.mark.parametrize("name", NOT_HERE)
def test_other_uci_sets_failed_download_names_the_url_and_the_folder(tmp_path, monkeypatch, name):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as err:
        load_dataset(name, tmp_path / "empty")
    msg = str(err.value)
    where = "releases/download/ICML2015" if name == "rcv1" else "raw/master/datasets"
    assert f"github.com/mgermain/MADE/{where}/{name}.npz" in msg
    assert str(tmp_path / "empty") in msg and "put it in" in msg
