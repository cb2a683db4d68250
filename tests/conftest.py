"""Shared test set-up: the fast suite never reaches the network, and a run
that skipped tests for want of data says so, and how to give it; fixtures
several test files share."""

from __future__ import annotations

import ipaddress
import socket

import pytest

import made.layers
from made.device import set_threads

# First, before any torch work: torch's CPU threads then flush subnormals in fit()
# as a run's do (made.device.set_threads), and fit() has no cause to warn.
set_threads()

_LOCAL_NAMES = {None, "", "localhost", "localhost.localdomain"}


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a host name other than localhost
    return address.is_loopback or address.is_unspecified


class NetworkBlocked(OSError):
    """The fast suite tried to leave this machine."""


@pytest.fixture(autouse=True)
def _offline_unless_slow(request, monkeypatch):
    """Tests not marked slow may talk to 127.0.0.1 (Dask, kernels) only: a
    download attempt fails at once, as it would on an offline machine,
    instead of depending on the network or hanging on it."""
    if request.node.get_closest_marker("slow"):
        return
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            raise NetworkBlocked(f"the fast test suite is offline: no lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise NetworkBlocked(f"the fast test suite is offline: no connection to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def _away_from_the_checkouts_results(tmp_path, monkeypatch):
    """Every test runs in a folder of its own: run_all.py's default results
    folder (``results/``, relative) is then never the checkout's, whose runs
    (a smoke run's, a grid's) no test may read or change.  A test that reads
    the committed results names them by their path, read-only."""
    monkeypatch.chdir(tmp_path)


DATA_REASON = "MADE_DATA_DIR is not set"  # how every real-data test words its skip


def skip_reasons(reports) -> dict[str, int]:
    """Every skip's reason, with how many tests gave it."""
    reasons: dict[str, int] = {}
    for r in reports:
        longrepr = getattr(r, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def pytest_terminal_summary(terminalreporter):
    # every skip says why, without -rs: data, an optional package, a machine without a GPU
    for reason, n in sorted(skip_reasons(terminalreporter.stats.get("skipped", [])).items()):
        hint = (": set MADE_DATA_DIR to a folder with the datasets (docs/data.md; `python -m made.data info` "
                "shows what is found)" if DATA_REASON in reason else "")
        terminalreporter.write_line(f"{n} test{'s' if n > 1 else ''} skipped: {reason}{hint}", yellow=True)


@pytest.fixture
def toy_data(tmp_path, monkeypatch):
    """A dataset "toy" of 8 binary dimensions (300/100/100 examples) in a data
    folder of its own, and a cache of its own: its folder's path."""
    import numpy as np

    from made.data import DATASETS, DatasetSpec

    rng = np.random.default_rng(0)
    sizes = (300, 100, 100)
    path = tmp_path / "data" / "toy.npz"
    path.parent.mkdir()
    with open(path, "wb") as f:
        np.savez(f, **{f"{s}_data": (rng.random((n, 8)) < 0.3).astype(np.float32)
                       for s, n in zip(("train", "valid", "test"), sizes)})
    monkeypatch.setitem(DATASETS, "toy", DatasetSpec("toy", 8, sizes, "file:///nowhere"))
    monkeypatch.setenv("MADE_CACHE_DIR", str(tmp_path / "cache"))
    return str(path.parent)


@pytest.fixture(params=["stacked", "built per switch"])
def mask_storage(request, monkeypatch):
    """Run a test both ways a layer keeps its masks: all K built in a stack (small
    layers), or only the selected one, built at each switch (wide layers)."""
    if request.param == "built per switch":
        monkeypatch.setattr(made.layers, "STACK_MAX_BYTES", 0)
    return request.param
