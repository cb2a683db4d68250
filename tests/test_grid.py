from made.grid import GRIDS, MODES, expand, run_id


def test_figure2_grid_runs_k1_once_and_two_seeds_at_k1_and_k32():
    points = expand(GRIDS["figure2"])
    ids = [p.run_id for p in points]
    assert len(ids) == len(set(ids))
    k1 = [p for p in points if p.params["num_masks"] == 1]
    assert {p.mode for p in k1} == {"single"} and len(k1) == 2
    for k in (2, 4, 8, 16):
        assert sorted(p.mode for p in points if p.params["num_masks"] == k) == ["connectivity", "order"]
    assert len([p for p in points if p.params["num_masks"] == 32]) == 4
    assert len(points) == 2 + 4 * 2 + 4


def test_modes_set_the_paper_flags():
    points = {p.run_id: p for p in expand(GRIDS["figure2"])}
    order = points["binarized_mnist_h500_K8_order_seed0"].params
    conn = points["binarized_mnist_h500_K8_connectivity_seed0"].params
    assert order["order_agnostic"] and order["connectivity_agnostic"]
    assert not conn["order_agnostic"] and conn["connectivity_agnostic"]
    assert order["optimizer"] == "adagrad" and order["lr"] == 0.01 and order["look_ahead"] == 30
    assert order["max_epochs"] == 700  # the committed results' cap, recorded in the grid


def test_run_ids_are_readable_and_stable():
    assert run_id({"dataset": "dna", "num_masks": None, "hidden_sizes": [500]}, "order") == \
        "dna_h500_Ksampling_order_seed0"
    # an epoch cap does not change the id, so raising it extends the same run
    a = run_id({"num_masks": 4, "max_epochs": 10, **MODES["order"]}, "order")
    b = run_id({"num_masks": 4, "max_epochs": 99, **MODES["order"]}, "order")
    assert a == b
    # other settings that change results do
    assert run_id({"num_masks": 4, "train_subset": 100}, "order").endswith("train_subset100")


def test_seeds_override_and_smoke_grid():
    assert len(expand(GRIDS["figure2"], seeds=3)) == 3 * (1 + 5 * 2)
    smoke = expand(GRIDS["smoke"])
    assert [p.params["num_masks"] for p in smoke] == [1, 2, 2]
    assert all(p.params["train_subset"] and p.params["max_epochs"] for p in smoke)


def test_uci_and_large_grids_are_ready():
    uci = expand(GRIDS["uci"])
    assert {p.params["dataset"] for p in uci} == {"adult", "dna", "mushrooms", "nips"}
    assert {p.params["num_masks"] for p in uci} == {1, None}
    assert {p.params["lr"] for p in uci} == {0.01, 0.03} and len(uci) == 16
    assert "dna_h500_Ksampling_order_seed0_lr0.03" in {p.run_id for p in uci}
    large = expand(GRIDS["large"])
    assert {tuple(p.params["hidden_sizes"]) for p in large} == {(8000,), (8000, 8000)}
