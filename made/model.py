"""MADE: a masked MLP whose outputs are autoregressive conditionals (Germain et al., 2015).

Each masked layer (:class:`made.layers.MaskedLinear`) keeps its K masks as
the degrees of :mod:`made.masks` (the orderings and hidden degrees), and
builds the one :class:`MADE` selects per minibatch; the model turns the
outputs into
log-likelihoods: under one mask, or as a mixture over masks.  By default the
layers are those of the fast path (:mod:`made.fast`), which computes the same
numbers and trains a one-mask model with the mask folded into its weights.

>>> import torch
>>> from made import MADE
>>> model = MADE(6, [16], 6, num_masks=4)
>>> x = torch.randint(0, 2, (3, 6)).float()
>>> model(x).shape
torch.Size([3, 6])
>>> model.log_prob(x).shape, model.ensemble_log_prob(x).shape
(torch.Size([3]), torch.Size([3]))
>>> model.sample(2).shape
torch.Size([2, 6])
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .fast import FastMaskedLinear
from .init import INITS, orthogonal_
from .layers import MaskedLinear
from .masks import MaskSpec, degree_mask, layer_degrees, mask_spec
from .settings import DETAIL, setting

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
}


@dataclass
class ModelConfig:
    """A MADE's settings: everything but its input and output sizes.

    Fields, in the order a run's metrics.json lists them (made.pipeline.experiment):

    * ``hidden_sizes``: widths of the hidden layers (may be empty);
    * ``num_masks``: K masks cycled by :meth:`MADE.update_masks`, or ``None``
      for mask sampling (a fresh mask at every update, still reproducible);
    * ``order_agnostic``: each mask has its own random ordering;
    * ``connectivity_agnostic``: each mask draws its own hidden degrees;
    * ``natural_ordering``: use the identity ordering for every mask;
    * ``direct_connections``: add masked direct input-to-output weights (the
      authors' ``Output`` option);
    * ``condition_on_mask``: add a mask-dependent bias ``(U * M) @ 1`` per layer;
    * ``activation``: ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"elu"``;
    * ``init``: ``"default"`` (PyTorch's ``nn.Linear`` initialization, drawn
      from the global RNG) or ``"orthogonal"`` (the authors' scheme, see
      :mod:`made.init`; drawn from ``seed``, biases zero);
    * ``seed``: makes every mask (and the orthogonal initialization) reproducible.

    Each field also carries its facts for the pipeline (:mod:`made.settings`).
    """

    hidden_sizes: list[int] = setting(factory=lambda: [500], id="name", column=30, curve=False)
    num_masks: int | None = setting(1, id="name", column=40)
    # The two flags are the run's mode (made.pipeline.experiment.run_mode), which the id and the tables spell.
    order_agnostic: bool = setting(True, id="name", column=50, curve=False)
    connectivity_agnostic: bool = setting(True, id="name", column=60, curve=False)
    natural_ordering: bool = setting(False, **DETAIL)
    direct_connections: bool = setting(False, column=90, curve=False)
    condition_on_mask: bool = setting(False, **DETAIL)
    activation: str = setting("relu", **DETAIL)
    init: str = setting("default", column=100, curve=False)
    seed: int = setting(0, id="name", **DETAIL)  # a run's is ExperimentConfig.seed

    def __post_init__(self):
        self.hidden_sizes = [int(h) for h in self.hidden_sizes]
        if any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if self.num_masks is not None and (not isinstance(self.num_masks, int) or self.num_masks < 1):
            raise ValueError(
                f"num_masks must be a positive integer, or None for mask sampling; got {self.num_masks!r}"
            )
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")


class MADE(nn.Module):
    """Masked Autoencoder for Distribution Estimation.

    Args:
        nin: number of inputs D.
        hidden_sizes: widths of the hidden layers (may be empty).
        nout: number of outputs, k * D for k parameters per dimension; the
            outputs are laid out as k chunks of D.
        num_masks, natural_ordering, **settings: the other settings, by
            keyword: any field of :class:`ModelConfig` (order_agnostic,
            connectivity_agnostic, direct_connections, condition_on_mask,
            activation, init, seed); an unknown name is a TypeError.
        fast: run the layers on the fast path (:mod:`made.fast`); ``False``
            gives the plain reference layers.  The same numbers either way.
        init_weights: ``False`` leaves the weights as torch creates them,
            for a model whose saved weights are loaded next (the orthogonal
            init of a wide layer is a slow SVD).

    ``model.settings`` is the model's :class:`ModelConfig`, and each of its
    fields is also an attribute (``model.num_masks``); ``model.config`` adds
    the sizes: ``MADE(**model.config)`` rebuilds the model, masks included.
    """

    @classmethod
    def from_config(cls, nin: int, config: ModelConfig, nout: int | None = None, *, fast: bool = True,
                    init_weights: bool = True) -> "MADE":
        """The MADE of ``config`` for ``nin`` inputs (``nout``: one output per input, Bernoulli)."""
        return cls(nin, nout=nout or nin, fast=fast, init_weights=init_weights, **asdict(config))

    def __init__(
        self,
        nin: int,
        hidden_sizes: Sequence[int],
        nout: int,
        num_masks: int | None = ModelConfig.num_masks,
        natural_ordering: bool = ModelConfig.natural_ordering,
        *,
        fast: bool = True,
        init_weights: bool = True,
        **settings,
    ):
        super().__init__()
        if not isinstance(nin, int) or not 1 <= nin <= 2**24:
            # Degrees lie in 0..nin-1; masks are built from them in float32 (made.masks.degree_mask).
            raise ValueError(f"nin must be an integer in [1, 2**24], got {nin!r}")
        if not isinstance(nout, int) or nout < 1 or nout % nin != 0:
            raise ValueError(
                f"nout must be a positive integer multiple k of nin (k outputs per "
                f"dimension, laid out as k chunks of nin); got nout={nout!r}, nin={nin}"
            )
        self.settings = ModelConfig(hidden_sizes=hidden_sizes, num_masks=num_masks,
                                    natural_ordering=natural_ordering, **settings)
        self.config = dict(nin=nin, nout=nout, **asdict(self.settings))
        for name, value in self.config.items():  # model.nin, model.num_masks, ...
            setattr(self, name, value)
        self._act = _ACTIVATIONS[self.activation]

        # Under mask sampling each layer stores only the current mask.
        stored = self.num_masks if self.num_masks is not None else 1
        layer = FastMaskedLinear if fast else MaskedLinear
        sizes = [nin, *self.hidden_sizes, nout]
        self.layers = nn.ModuleList(
            layer(a, b, stored, condition_on_mask=self.condition_on_mask) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.direct = layer(nin, nout, stored, bias=False) if self.direct_connections else None
        if self.init == "orthogonal" and init_weights:
            # Its own stream: the same seed gives the same weights whatever the global RNG holds.
            gen = torch.Generator().manual_seed(self.seed)
            for masked in self.masked_layers:
                orthogonal_(masked.weight, gen)
                if masked.bias is not None:
                    nn.init.zeros_(masked.bias)

        # The K masks' degrees, drawn once from `seed` and handed to the layers,
        # which build the selected mask from them.  Not in state_dict: the
        # constructor arguments (`config`) rebuild them exactly.
        specs = [self._spec(k) for k in range(stored)]
        self.register_buffer("orderings", torch.stack([s.ordering for s in specs]), persistent=False)
        self._set_degrees(specs)
        self.mask_index = 0

    # ------------------------------------------------------------------ masks
    @property
    def masked_layers(self) -> list[MaskedLinear]:
        """Every masked layer, input to output, then the direct connections."""
        return [*self.layers, *([self.direct] if self.direct is not None else [])]

    def _spec(self, index: int) -> MaskSpec:
        return mask_spec(
            self.nin, self.hidden_sizes, index, self.seed,
            order_agnostic=self.order_agnostic,
            connectivity_agnostic=self.connectivity_agnostic,
            natural_ordering=self.natural_ordering,
        )

    def _set_degrees(self, specs: list[MaskSpec]) -> None:
        """Hand every masked layer the degrees of ``specs`` (its K masks)."""
        per_spec = [layer_degrees(s, self.nout, direct=self.direct is not None) for s in specs]
        device = self.orderings.device
        for l, masked in enumerate(self.masked_layers):
            outs, ins, strict = zip(*(p[l] for p in per_spec))
            masked.set_degrees(torch.stack(outs).to(device), torch.stack(ins).to(device), strict[0])

    def _layer_masks(self, spec: MaskSpec) -> list[torch.Tensor]:
        """Mask ``spec``'s 0/1 masks, one per masked layer, in the weights' dtype."""
        device, dtype = self.orderings.device, self.layers[0].weight.dtype
        return [degree_mask(o.to(device), i.to(device), strict, dtype)
                for o, i, strict in layer_degrees(spec, self.nout, direct=self.direct is not None)]

    @property
    def sampling(self) -> bool:
        """True when masks are sampled afresh (``num_masks=None``)."""
        return self.num_masks is None

    @property
    def ordering(self) -> torch.Tensor:
        """Ordering of the current mask: ``ordering[d]`` is input d's position."""
        return self.orderings[0 if self.sampling else self.mask_index]

    def set_mask(self, k: int) -> None:
        """Select mask ``k`` (0 <= k < num_masks; any k >= 0 under mask sampling)."""
        self._check_mask_index(k)
        if self.sampling:
            # Draw spec k and keep it as the single stored mask.
            spec = self._spec(k)
            self.orderings[0].copy_(spec.ordering)
            self._set_degrees([spec])
        else:
            for masked in self.masked_layers:
                masked.set_mask(k)
        self.mask_index = k

    @contextlib.contextmanager
    def fixed_mask(self):
        """Train faster under one fixed mask (``num_masks=1``).

        Inside the block every masked layer stores ``W * M`` in its weight,
        so forward passes skip the mask multiply (see
        :meth:`made.fast.FastMaskedLinear.fixed_mask`); :func:`made.train.fit`
        uses it whenever there is one mask.  The masked-out weights, which
        never count under this mask, are left at zero.  Plain layers
        (``fast=False``) just run as they are.

        >>> model = MADE(4, [8], 4)
        >>> x = torch.ones(2, 4)
        >>> before = model.log_prob(x)
        >>> with model.fixed_mask():
        ...     torch.allclose(model.log_prob(x), before)
        True
        """
        if self.num_masks != 1:
            raise ValueError(f"fixed_mask() needs num_masks=1 (one fixed mask); this model has "
                             f"num_masks={self.num_masks}")
        with contextlib.ExitStack() as stack:
            for masked in self.masked_layers:
                if isinstance(masked, FastMaskedLinear):
                    stack.enter_context(masked.fixed_mask())
            yield self

    def _check_mask_index(self, k) -> None:
        if not isinstance(k, int) or k < 0 or (not self.sampling and k >= self.num_masks):
            limit = "a non-negative integer" if self.sampling else f"in [0, {self.num_masks})"
            raise IndexError(f"mask index must be {limit}, got {k!r}")

    def update_masks(self) -> None:
        """Move to the next mask: cycle through K, or draw a fresh one when sampling."""
        nxt = self.mask_index + 1
        self.set_mask(nxt if self.sampling else nxt % self.num_masks)

    # ---------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, nout) under the current mask."""
        # Unpacked, not sliced: ``self.layers[:-1]`` builds a new ModuleList
        # on every call, which costs about as much as a small layer's forward pass.
        *hidden, output = self.layers
        h = x
        for layer in hidden:
            h = self._act(layer(h))
        out = output(h)
        if self.direct is not None:
            out = out + self.direct(x)
        return out

    def _check_bernoulli(self, x: torch.Tensor) -> None:
        if self.nout != self.nin:
            raise ValueError(
                f"log_prob needs Bernoulli outputs (nout == nin); this model has "
                f"nout={self.nout}, nin={self.nin}"
            )
        if x.dim() != 2 or x.shape[1] != self.nin:
            raise ValueError(f"x must have shape (B, {self.nin}), got {tuple(x.shape)}")
        if not bool(((x == 0) | (x == 1)).all()):
            raise ValueError("x must be binary (every value 0 or 1) for Bernoulli log_prob")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) (B,) under the current mask, Bernoulli outputs."""
        self._check_bernoulli(x)
        return bernoulli_log_prob(self(x), x)

    def _masks_of(self, k: int) -> list[torch.Tensor]:
        """Mask ``k``, one (out, in) 0/1 tensor per masked layer, built from
        the stored degrees, or drawn afresh under mask sampling."""
        if self.sampling:
            return self._layer_masks(self._spec(k))
        return [masked.mask_of(k) for masked in self.masked_layers]

    def _params_under(self, masks: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """(masked weight, bias) per masked layer under one mask's per-layer masks."""
        return [(masked.weight * m, masked.masked_bias(m)) for masked, m in zip(self.masked_layers, masks)]

    def _params_of(self, k: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """(masked weight, bias) per masked layer under mask ``k``."""
        return self._params_under(self._masks_of(k))

    def _forward_with(self, x: torch.Tensor, params) -> torch.Tensor:
        """The forward pass with given masked weights (see ``_params_of``)."""
        h, last = x, len(self.layers) - 1
        for l, (w, b) in enumerate(params[:len(self.layers)]):
            h = F.linear(h, w, b)
            h = self._act(h) if l < last else h
        if self.direct is not None:
            h = h + F.linear(x, params[-1][0])
        return h

    def iter_masked_logits(self, x: torch.Tensor, n_masks: int, batch_size: int = 1000):
        """Yield ``(start, logits)`` over masks 0..n_masks-1 and all of ``x``.

        ``logits`` is (examples in batch, nout) under one mask, for the
        examples ``x[start:start + batch_size]``.  Masks are the outer loop:
        each mask's weights are masked once (under mask sampling, the mask is
        drawn once), then every batch is one plain forward pass, the same
        GEMMs as a dense network (``python benchmarks/bench.py`` measures the
        ensemble against that ceiling).  Memory is bounded by one batch, and
        the model's current mask is left alone.
        """
        for k in range(n_masks):
            params = self._params_of(k)
            for start in range(0, len(x), batch_size):
                yield start, self._forward_with(x[start:start + batch_size], params)

    def _check_n_masks(self, n_masks: int | None) -> int:
        if n_masks is None:
            if self.sampling:
                raise ValueError("n_masks is required under mask sampling (num_masks=None)")
            return self.num_masks
        if not isinstance(n_masks, int) or n_masks < 1 or (
            not self.sampling and n_masks > self.num_masks
        ):
            limit = "a positive integer" if self.sampling else f"in [1, {self.num_masks}]"
            raise ValueError(f"n_masks must be {limit}, got {n_masks!r}")
        return n_masks

    @torch.no_grad()
    def ensemble_log_prob(
        self, x: torch.Tensor, n_masks: int | None = None, *, batch_size: int = 1000,
    ) -> torch.Tensor:
        """log((1/n) sum_k p(x | mask k)) over masks 0..n-1, shape (B,).

        A valid likelihood: an equal-weight mixture of n normalized
        autoregressive models.  Defaults to all K training masks; under mask
        sampling ``n_masks`` is required (the original code used 1000).
        """
        log_p = x.new_empty(0)  # what an empty x gets: no mask yields anything
        for _, log_p in self.ensemble_log_probs(x, n_masks, batch_size=batch_size):
            pass
        return log_p

    @torch.no_grad()
    def ensemble_log_probs(self, x: torch.Tensor, n_masks: int | None = None, *, batch_size: int = 1000,
                           dtype: torch.dtype | None = None):
        """Yield ``(m, log p_m(x))`` for m = 1..n: the (B,) log-likelihoods of
        the ensembles of the first m masks, each a new tensor.

        The one log-mean-exp accumulation: logsumexp of the joint
        log-likelihoods, accumulated mask by mask with logaddexp (in ``dtype``,
        by default ``x``'s), minus log m.  Evaluated with
        :meth:`iter_masked_logits`, so the smaller ensembles come free.
        """
        self._check_bernoulli(x)
        n_masks = self._check_n_masks(n_masks)
        acc = torch.full((len(x),), -math.inf, dtype=dtype or x.dtype, device=x.device)
        m = 0  # masks accumulated so far: iter_masked_logits goes mask by mask, batches inner
        for start, logits in self.iter_masked_logits(x, n_masks, batch_size):
            part = slice(start, start + len(logits))
            # A log-likelihood of another dtype is promoted exactly (or rounded once) into acc's.
            acc[part] = torch.logaddexp(acc[part], bernoulli_log_prob(logits, x[part]))
            if part.stop == len(x):
                m += 1
                yield m, acc - math.log(m)

    # --------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, mask: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` binary samples (n, nin) by ancestral sampling in a mask's ordering.

        Uses the current mask unless ``mask`` is given; the model's current
        mask is left as it is.  Pass a ``torch.Generator`` for reproducibility.

        Dimensions are drawn one at a time, and only what changes is
        recomputed: drawing x_d adds ``x_d * W1[:, d]`` to the first layer's
        pre-activations (a rank-1 update, not a new forward pass), and only
        output d is computed.  A sample costs about one forward pass instead of D.
        """
        if self.nout != self.nin:
            raise ValueError("sample needs Bernoulli outputs (nout == nin)")
        if mask is None:
            masks = [layer.mask for layer in self.masked_layers]
            ordering = self.ordering
        else:
            self._check_mask_index(mask)
            masks = self._masks_of(mask)
            ordering = self._spec(mask).ordering if self.sampling else self.orderings[mask]
        params = self._params_under(masks)
        layers, direct = params[:len(self.layers)], (params[-1][0] if self.direct is not None else None)
        w_in, b_in = layers[0]
        x = torch.zeros(n, self.nin, device=w_in.device, dtype=w_in.dtype)
        pre = (b_in if b_in is not None else w_in.new_zeros(w_in.shape[0])).expand(n, -1).clone()
        gen_device = generator.device if generator is not None else w_in.device
        for d in torch.argsort(ordering).tolist():
            if len(layers) == 1:
                logit = pre[:, d]  # no hidden layer: pre is already the output
            else:
                h = self._act(pre)
                for w, b in layers[1:-1]:
                    h = self._act(F.linear(h, w, b))
                w_out, b_out = layers[-1]
                logit = h @ w_out[d] + (b_out[d] if b_out is not None else 0)
            if direct is not None:
                logit = logit + x @ direct[d]
            u = torch.rand(n, generator=generator, device=gen_device, dtype=x.dtype).to(x.device)
            x[:, d] = (u < torch.sigmoid(logit)).to(x.dtype)
            pre += x[:, d:d + 1] * w_in[:, d]
        return x


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum over the last axis of log Bernoulli(x | sigmoid(logits)).

    ``logits`` may carry extra leading axes (one per mask) over ``x``.  The
    fused, numerically stable binary cross-entropy kernel does the work:
    one pass over the logits.
    """
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
