"""Run grid points on a Dask distributed cluster: ``run_all.py --scheduler ADDRESS``.

Each pending point becomes one Dask task that calls ``made.pipeline.run.execute_run``
on a worker; the driver keeps everything else (skipping complete runs,
aggregation, reports).  Workers write straight into the results directory,
so it must be one shared filesystem that every worker sees at the same path:
:func:`check_results_dir` proves it before any run starts.

Exactly-once training does not rely on Dask: the run's lock (``made.pipeline.run``)
is held by the worker that trains, so a task rescheduled while its first
attempt is still alive finds the run locked instead of training it twice, and
an attempt rescheduled after its worker died (which released the lock with
its process) resumes from the checkpoint.  Dask gives the rest: task retries,
and the GPU resource for cuda points.

Dask is imported here only, and lazily: ``import made`` and the local thread
pool never need it (``pip install "made[cluster]"`` adds it).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterable, Sequence

from .grid import RunPoint
from .run import Interrupted, RunOutcome

# Seconds the driver waits for a first worker, and for the scheduler to answer.
WORKER_WAIT = 60.0
CONNECT_TIMEOUT = 30.0
# Retries of a task whose function raised.  A worker that dies mid-run is a
# different case: the scheduler reschedules its task on its own (up to
# distributed.scheduler.allowed-failures, default 3) and the new attempt
# resumes from the run's checkpoint.
RETRIES = 2
PROBE_PREFIX = ".made-probe-"


class ClusterError(Exception):
    """The cluster cannot run this grid; the message says why and what to do."""


def resources_for(point: RunPoint) -> dict | None:
    """``{"GPU": 1}`` for a point whose device is cuda (``cuda`` or
    ``cuda:N``): it runs only on a worker started with ``--resources GPU=N``,
    which then runs at most N such points at once.  ``auto`` asks for none."""
    device = str(point.params.get("device") or "auto")
    return {"GPU": 1} if device.split(":")[0] == "cuda" else None


def _sees(probe: str, token: str) -> str:
    """On a worker: "" if it reads ``token`` in the driver's ``probe`` file and may
    write in its folder, else why not (answered, not raised, so every worker answers)."""
    try:
        if Path(probe).read_text() != token:
            return "sees another file at that path (the worker has its own disk there)"
    except OSError:
        return "does not see the file the driver wrote there (the worker has its own disk at that path)"
    return "" if os.access(Path(probe).parent, os.W_OK) else "cannot write there"


def check_results_dir(client, results_dir: Path) -> None:
    """This machine writes a probe into ``results_dir`` and every connected worker
    reads it back (then it is deleted); ClusterError, naming the directory and the
    workers, if a worker does not see it (its own local disk) or cannot write there."""
    results_dir = Path(results_dir)
    token = uuid.uuid4().hex
    probe = results_dir / f"{PROBE_PREFIX}{token[:12]}"
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text(token)
    except OSError as exc:
        raise ClusterError(f"this machine cannot write there: the results directory {results_dir} "
                           f"({type(exc).__name__}: {exc.strerror or exc}); give a folder on a filesystem that "
                           "it and every worker mount, with --results-dir.  No run was started.") from None
    try:
        answers = client.run(_sees, str(probe), token)
    except Exception as exc:  # a worker lost during the probe, say
        raise ClusterError(f"could not check that the Dask workers share the results directory {results_dir}: "
                           f"{type(exc).__name__}: {exc}.  No run was started.") from None
    finally:
        probe.unlink(missing_ok=True)
    problems = [f"worker {address} {why}" for address, why in sorted(answers.items()) if why]
    if problems:
        raise ClusterError(
            f"the Dask workers cannot share the results directory {results_dir}: " + "; ".join(problems)
            + ".  Every worker must read and write the results directory at the same path as this "
            "machine, on a filesystem they all mount (NFS, Lustre, GPFS, a shared home): give such a "
            "path with --results-dir.  No run was started.")


class DaskBackend:
    """A pipeline backend (see ``made.pipeline.run.Backend``) on a Dask scheduler.

    ``submit`` is the one place where a point becomes a task: retries, a
    GPU resource for cuda points, a readable key.  Call ``close()`` when done
    (or use ``contextlib.closing``).
    """

    def __init__(self, address: str):
        try:
            import distributed
        except ImportError:
            raise ClusterError("--scheduler needs dask and distributed on this machine and on the workers: "
                               'pip install "made[cluster]" (or: pip install dask distributed)') from None
        self.address = address
        try:
            # A malformed address is refused before a Client exists: a half-made
            # one hangs the interpreter's exit.
            from distributed.comm.addressing import get_address_host_port

            get_address_host_port(address)
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                               "`dask scheduler` and give its address (tcp://HOST:PORT)") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT)
        except (TimeoutError, OSError):
            self.close()
            raise ClusterError(f"no Dask worker joined the scheduler at {address} within {WORKER_WAIT:g} s; "
                               f"start workers with `dask worker {address}`") from None

    def workers(self) -> dict:
        """Address -> the scheduler's record of each connected worker."""
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def check_resources(self, points: Sequence[RunPoint]) -> None:
        """ClusterError if some point needs a resource that no connected worker
        offers: its task would otherwise wait forever."""
        wanted = {name for p in points for name in (resources_for(p) or {})}
        offered = {name for w in self.workers().values() for name, n in (w.get("resources") or {}).items() if n}
        missing = sorted(wanted - offered)
        if missing:
            raise ClusterError(
                f"some runs need the {', '.join(missing)} resource (device cuda) but no worker of "
                f"{self.address} offers it: start the GPU workers with "
                f"`dask worker {self.address} --resources GPU=N` (N runs share each GPU), "
                "or use --device cpu")

    def submit(self, function, point: RunPoint, submission: str = ""):
        """One task: ``function(point)`` on a worker that has the point's resources."""
        return self.client.submit(
            function, point, key=f"made-{point.run_id}-{submission or uuid.uuid4().hex[:12]}",
            resources=resources_for(point), retries=RETRIES, pure=False)

    def __call__(self, function, points: Sequence[RunPoint]) -> Iterable[RunOutcome]:
        from distributed import as_completed

        submission = uuid.uuid4().hex[:12]  # the tail of this submission's task keys
        futures = {self.submit(function, p, submission): p for p in points}
        try:
            for future in as_completed(list(futures), loop=self.client.loop):
                point = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # e.g. KilledWorker: the run died on too many workers
                    yield RunOutcome(point.run_id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
        except KeyboardInterrupt:
            raise self.stop(function, futures) from None
        except GeneratorExit:
            self.stop(function, futures)
            raise
        finally:
            for future in futures:
                future.release()

    def stop(self, function, futures: dict) -> Interrupted:
        """Ctrl-C on the driver: cancel every task not finished, and ask the
        workers to stop the notebooks of those runs (a running Dask task
        cannot be cancelled, but its notebook's process can); each attempt then
        releases its run's lock and leaves its checkpoint to resume."""
        from . import notebooks

        unfinished = [p for f, p in futures.items() if not f.done()]
        try:
            self.client.cancel(list(futures), force=True)
            # execute_run keys each run by its folder; the partial run_grid submits names the runs folder.
            runs_dir = getattr(function, "keywords", {}).get("runs_dir")
            if runs_dir is not None and unfinished:
                keys = [str(Path(runs_dir) / p.run_id) for p in unfinished]
                self.client.run(notebooks.stop, keys)
        except Exception:  # the scheduler is gone: nothing left to cancel there
            pass
        return Interrupted([p.run_id for p in unfinished])

    def close(self) -> None:
        client, self.client = getattr(self, "client", None), None
        if client is not None:
            client.close()

