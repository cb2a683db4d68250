"""A run's samples (made.samples): saved, read back, and set beside their nearest training images."""

import numpy as np
import pytest
import torch

from made import MADE
from made.samples import draw, nearest, read_samples, write_samples


def test_saved_samples_reload_to_the_same_array(tmp_path):
    torch.manual_seed(0)
    model = MADE(13, [20], 13, num_masks=3)  # 13 bits: the last byte is padded
    masks, x = draw(model, 25, n_masks=3, seed=4)
    write_samples(tmp_path / "samples.txt", masks, x)
    got = read_samples(tmp_path / "samples.txt", dim=13)
    assert np.array_equal(got.x, x) and np.array_equal(got.masks, masks) and got.nearest is None
    # with the training images: each sample's nearest one, its distance and its bits
    train = np.random.default_rng(0).integers(0, 2, (40, 13), dtype=np.uint8)
    write_samples(tmp_path / "samples.txt", masks, x, train=train)
    got = read_samples(tmp_path / "samples.txt", dim=13)
    assert np.array_equal(got.x, x) and np.array_equal(got.images, train[got.nearest])
    assert np.array_equal(got.distance, (x != train[got.nearest]).sum(1))
    assert np.array_equal((got.nearest, got.distance), nearest(x, train))
    # the same seed draws the same samples; another, others
    assert np.array_equal(draw(model, 25, n_masks=3, seed=4)[1], x)
    assert not np.array_equal(draw(model, 25, n_masks=3, seed=5)[1], x)


def test_each_sample_draws_its_mask_uniformly_from_the_ensemble():
    torch.manual_seed(0)
    model = MADE(6, [16], 6, num_masks=4)
    masks, _ = draw(model, 4000, n_masks=4, seed=0)
    counts = np.bincount(masks, minlength=4)
    assert counts.sum() == 4000 and (abs(counts - 1000) < 100).all()  # 1000 +- 3 standard deviations


def test_samples_follow_the_model_s_own_distribution():
    # one mask, D = 4: the frequency of each of the 16 states matches p(x) enumerated
    torch.manual_seed(0)
    model = MADE(4, [12], 4, num_masks=1)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.0)
    _, x = draw(model, 20000, n_masks=1, seed=1)
    states = torch.tensor([[(i >> d) & 1 for d in range(4)] for i in range(16)], dtype=torch.float32)
    p = model.log_prob(states).exp().detach().numpy()
    freq = np.bincount((x * (1 << np.arange(4))).sum(1), minlength=16) / len(x)
    assert np.abs(freq - p).max() < 4 * np.sqrt(p.max() / len(x))


def test_the_nearest_image_and_its_hamming_distance_are_a_brute_force_counts():
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 2, (7, 30), dtype=np.uint8)
    images = rng.integers(0, 2, (53, 30), dtype=np.uint8)
    images[11] = samples[3]  # an exact copy: distance 0
    index, distance = nearest(samples, images, chunk=10)  # chunks that do not divide the images
    for i, s in enumerate(samples):
        counts = [(int((s != im).sum()), j) for j, im in enumerate(images)]
        assert (distance[i], index[i]) == min(counts)
    assert (index[3], distance[3]) == (11, 0)


def test_a_damaged_samples_file_names_itself(tmp_path):
    path = tmp_path / "samples.txt"
    path.write_text("0 ff00\n1 zz00\n")
    with pytest.raises(ValueError, match=r"samples.txt, line 2"):
        read_samples(path, dim=16)


def _run(tmp_path, run_id, width, valid, nearest_images=True, variant="larochelle"):
    rng = np.random.default_rng(len(run_id))
    x = rng.integers(0, 2, (12, 784), dtype=np.uint8)
    train = rng.integers(0, 2, (30, 784), dtype=np.uint8)
    train[5] = x[0]  # one sample copies a training image
    write_samples(tmp_path / run_id / "samples.txt", np.zeros(12, int), x, train=train if nearest_images else None)
    return dict(run_id=run_id, data_variant=variant, hidden_sizes=str(width), valid_nll=valid, dim=784, num_masks=32)


def test_the_samples_figure_draws_the_widest_best_run_on_validation(tmp_path):
    import pandas as pd

    from made.reports.samples import best_run, context, samples_figure

    runs = pd.DataFrame([_run(tmp_path, "a500", 500, 85.0),  # lowest validation NLL, but narrower
                         _run(tmp_path, "b8000", 8000, 89.0),
                         _run(tmp_path, "c8000", 8000, 88.5),
                         _run(tmp_path, "d8000", 8000, 80.0, nearest_images=False),  # no nearest images saved
                         _run(tmp_path, "e8000", 8000, 70.0, variant="static-seed0")])  # another binarization
    run = best_run(runs, tmp_path)
    assert run["run_id"] == "c8000"
    (tmp_path / "runs").mkdir()
    for name in ("a500", "b8000", "c8000", "d8000", "e8000"):
        (tmp_path / name).rename(tmp_path / "runs" / name)
    runs.to_csv(tmp_path / "widths.csv", index=False)
    values = context(tmp_path)
    assert (values["run"], values["valid"], values["copies"], values["samples"]) == ("c8000", "88.50", 1, 12)
    (tmp_path / "c8000").symlink_to(tmp_path / "runs" / "c8000")
    samples = read_samples(tmp_path / "c8000" / "samples.txt", dim=784)
    fig = samples_figure(samples, per_row=4, rows=2)
    assert len(fig.axes) == 16 and fig.axes[4].get_xlabel() == "0"  # sample 0's nearest is at distance 0
    assert best_run(runs.iloc[[3]], tmp_path) is None
    (tmp_path / "widths.csv").unlink()
    assert context(tmp_path) is None
