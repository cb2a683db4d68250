"""Where a grid's runs execute: a backend maps (function, points) to the runs' outcomes.

``ThreadBackend`` (the default) runs ``jobs`` points at a time on threads of
this process, each in its own notebook kernel; ``made.pipeline.cluster.DaskBackend``
runs them as tasks on a Dask cluster.  Both stop on Ctrl-C (or SIGTERM) with
:class:`Interrupted`, which says what was stopped and what never started.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

from .grid import RunPoint

# Seconds an interrupted run's kernel gets to stop on SIGINT before it is killed.
STOP_GRACE_SECONDS = 10.0


@dataclass
class RunOutcome:
    run_id: str
    # "done", "skipped", "failed", "locked" (being trained by another live process)
    # or "interrupted" (stopped by Ctrl-C or SIGTERM; its checkpoint resumes)
    status: str
    seconds: float = 0.0
    error: str = ""  # failed: the last line of the error; locked: who holds the run


RunFunction = Callable[[RunPoint], RunOutcome]


class Backend(Protocol):
    """Where grid points execute: maps (function, points) to their outcomes,
    yielded as they complete.  ``function`` is picklable (a partial of
    ``execute_run``), so a backend may run it in other processes or machines."""

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]: ...


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a grid: ``stopped`` runs were training (their
    checkpoints resume), ``not_started`` were queued and cancelled."""

    def __init__(self, stopped: Sequence[str], not_started: Sequence[str] = ()):
        self.stopped, self.not_started = list(stopped), list(not_started)
        super().__init__(f"stopped {len(self.stopped)} run(s), {len(self.not_started)} not started")


class ThreadBackend:
    """``jobs`` points at a time on threads of this process (the default:
    each run's work happens in its own notebook kernel anyway)."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def __call__(self, function: RunFunction, points: Sequence[RunPoint]) -> Iterable[RunOutcome]:
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        futures = {pool.submit(function, p): p for p in points}
        try:
            for future in as_completed(futures):
                yield future.result()
        except KeyboardInterrupt:
            # Without this, leaving the pool waits for every queued run to finish.
            raise _stop_threads(pool, futures) from None
        except GeneratorExit:  # the caller stopped reading (its own exception)
            _stop_threads(pool, futures)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _stop_threads(pool: ThreadPoolExecutor, futures: dict) -> Interrupted:
    """Cancel the queued runs, stop the running ones (SIGINT to their kernels,
    then kill those still alive after STOP_GRACE_SECONDS), wait for their
    threads to release the locks, and say what was stopped."""
    from . import kernels

    pool.shutdown(wait=False, cancel_futures=True)
    not_started = [p.run_id for f, p in futures.items() if f.cancelled()]
    running = [f for f in futures if not f.done()]
    kernels.interrupt()
    for stop in (None, kernels.kill, kernels.kill):
        try:
            if stop is not None:
                stop()
            if not wait(running, timeout=STOP_GRACE_SECONDS).not_done:
                break
        except KeyboardInterrupt:  # Ctrl-C again: kill now
            continue
    stopped = [futures[f].run_id for f in running
               if not (f.done() and not f.cancelled() and f.exception() is None and f.result().status == "done")]
    return Interrupted(stopped, not_started)


def submission_id() -> str:
    """A new id for one submission of runs (a ``run_grid`` call): the
    ``submitter`` in its runs' locks, and the tail of its Dask task keys."""
    return uuid.uuid4().hex[:12]
