"""The training recipes, by name: a run's ``protocol`` setting names one.

``ExperimentConfig.from_dict({"protocol": "adam", ...})`` applies the named
recipe, and any setting given beside it overrides the recipe's; a grid refers
to one with its ``protocol`` key, and ``run_all.py --protocol NAME`` swaps it.

>>> PROTOCOLS["adam"]["optimizer"], PROTOCOLS["paper"]["lr"]
('adam', 0.01)
"""

from __future__ import annotations

# The authors' architecture, from their MNIST and DNA commands (mgermain/MADE
# README: "... hinge Orthogonal" with direct input-connect "Output"): ReLU
# units, direct input-to-output connections, orthogonal initialization,
# minibatches of 100, early stopping with a look-ahead of 30 epochs, no cap.
AUTHORS_ARCHITECTURE = dict(direct_connections=True, init="orthogonal", activation="relu",
                            batch_size=100, look_ahead=30, max_epochs=None)

# Training recipes by name.  Every setting of a recipe can still be overridden
# by the settings given with it (a grid's base or axes, run_all.py --set).
PROTOCOLS: dict[str, dict] = {
    # The authors' MNIST command at 1x500: Adagrad 0.01 until early stopping.
    # On binarized MNIST it needs well over 1,000 epochs: for a GPU.
    "paper": dict(**AUTHORS_ARCHITECTURE, optimizer="adagrad", lr=0.01),
    # The same model with a recipe that converges in ~100-200 epochs on CPU,
    # chosen on validation NLL (results/README.md): Adam 1e-3, weight decay
    # 1e-4, the rate divided by 10 every 45 epochs; a new best must gain more
    # than 0.02 nats to reset the look-ahead, so the run ends once the decayed
    # rate leaves only gains far below the test NLL's standard error (~0.3).
    "adam": dict(**AUTHORS_ARCHITECTURE, optimizer="adam", lr=1e-3, weight_decay=1e-4,
                 lr_step_epochs=45, lr_step_gamma=0.1, min_delta=0.02),
    # The optimizer of the authors' DNA command ("dna 1e-5 0.95 ... adadelta"):
    # Adadelta with eps 1e-5 (their learning-rate slot) and rho 0.95 (their
    # decrease-constant slot), until early stopping.
    "adadelta": dict(**AUTHORS_ARCHITECTURE, optimizer="adadelta", lr=1.0, eps=1e-5, rho=0.95),
    # The authors' adult command ("adult 0.01 0 -1 0 ? ... None ... tanh Orthogonal"):
    # plain SGD at a constant 0.01 (update rule None, decrease constant 0) and
    # tanh hidden units, with their architecture; one fixed mask.
    "sgd_tanh": {**AUTHORS_ARCHITECTURE, "activation": "tanh", "optimizer": "sgd", "lr": 0.01, "decrease_constant": 0.0},
}
# K = 1's own recipe at the widths where it overfits in the first epochs under
# "adam": the three changes a researcher tries first against early
# overfitting, each one step from "adam", chosen among on validation NLL only
# (made.reports: widths).  The authors' Adagrad 0.01 is not among them: at 500
# units it was still improving after 150 epochs (the recipes grid), far beyond
# what a CPU can give each candidate.
K1_CANDIDATES = {
    "adam_lr3e-4": dict(PROTOCOLS["adam"], lr=3e-4),  # a lower rate
    "adam_wd1e-3": dict(PROTOCOLS["adam"], weight_decay=1e-3),  # ten times the weight decay
    "adam_step10": dict(PROTOCOLS["adam"], lr_step_epochs=10),  # the rate's first step at epoch 10, not 45
}
PROTOCOLS.update(K1_CANDIDATES)
