"""What each setting of a run is: its facts, kept beside its field.

The settings of a run are the fields of three dataclasses: the model's
(:class:`made.model.ModelConfig`), the training's (:class:`made.train.TrainConfig`)
and the run's own (``made.pipeline.experiment.ExperimentConfig``).  Each field
is declared with :func:`setting`, which records four facts about it in the
field's metadata; the pipeline derives everything else from them (which
settings a run id spells, the tables' leading columns, the curves' keys, what
must agree for a run to be reused or resumed):

* ``computation``: the setting changes what a run computes, so a complete run
  or a checkpoint is reused only under the same value (False: where the data
  lie, the device, the progress bar, the epoch cap, which extends a run, and
  the test ensemble, which is evaluated again at every call);
* ``id``: how the run id shows it: ``"value"``, as ``<name><value>`` when it
  differs from the recipe's (or the default); ``"name"``, spelled by the id's
  fixed part (dataset, width, K, mode, seed, recipe); ``None``, never;
* ``column``: a leading column of the tables, placed by its number (``True``:
  after the numbered ones; ``False``: among the other columns, where every
  setting a run records also is);
* ``curve``: a key of every row of the learning curves' tables.

A field declared without facts takes the defaults, which keep a new setting
visible everywhere: it changes the computation, shows in the id when it is
not at its default, leads the tables and keys the curves.  ``setting=False``
marks a field that is not a setting of a run at all (a memory knob, say).

>>> from dataclasses import dataclass, fields
>>> @dataclass
... class Config:
...     dropout: float = setting(0.0)
...     workers: int = setting(4, setting=False)
>>> [facts(f) for f in fields(Config)][0]
{'setting': True, 'computation': True, 'id': 'value', 'column': True, 'curve': True}
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

FACTS: dict[str, Any] = {"setting": True, "computation": True, "id": "value", "column": True, "curve": True}
ID_FORMS = ("value", "name", None)
# A setting shown in the tables' later columns and not keying the curves.
DETAIL = dict(column=False, curve=False)
# Where the data lie, and how a run is watched: no part of what it computes, nor of its id.
EXECUTION = dict(computation=False, id=None, **DETAIL)


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None, **facts) -> Any:
    """A dataclass field with its ``default`` (or ``factory``) and its facts
    (see the module docstring; any left out take FACTS' defaults)."""
    unknown = sorted(set(facts) - set(FACTS))
    if unknown:
        raise TypeError(f"unknown fact(s) {unknown}; the facts are {list(FACTS)}")
    if facts.get("id", "value") not in ID_FORMS:
        raise ValueError(f"id must be one of {ID_FORMS}, got {facts['id']!r}")
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=facts)
    return dataclasses.field(default=default, metadata=facts)


def facts(field: dataclasses.Field) -> dict:
    """The facts of one field, defaults filled in."""
    return {**FACTS, **{k: v for k, v in field.metadata.items() if k in FACTS}}


def fits(annotation: str, value: Any) -> bool:
    """Whether ``value`` (as JSON gives it) has the type a field declares
    (``int``, ``float | None``, ``list[int]``, ...; a float field takes an int).

    >>> fits("list[int]", [500]), fits("list[int]", 500), fits("float | None", 3), fits("float", "fast")
    (True, False, True, False)
    """
    def one(kind: str) -> bool:
        kind = kind.strip()
        if kind == "None":
            return value is None
        if kind.startswith("list[") and kind.endswith("]"):
            return isinstance(value, list) and all(fits(kind[5:-1], v) for v in value)
        wanted = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}.get(kind)
        if wanted is None:
            return True  # a type this check does not know: left to the setting's own check
        return isinstance(value, wanted) and (kind == "bool" or not isinstance(value, bool))
    return any(one(kind) for kind in str(annotation).split("|"))
