"""The install commands the README gives resolve."""

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_notebooks_extra_is_declared():
    requires = metadata.requires("made") or []
    assert any(r.startswith("jupyterlab") and 'extra == "notebooks"' in r for r in requires), requires


@pytest.mark.slow
def test_notebooks_extra_resolves_with_pip():
    # What `pip install -e ".[notebooks]"` would do, without installing: JupyterLab
    # (for `jupyter lab notebooks/`) must be among what it resolves.
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
                          f"{ROOT}[notebooks]"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    names = {item["metadata"]["name"].lower() for item in report["install"]}
    installed = {d.metadata["Name"].lower() for d in metadata.distributions()}
    assert "jupyterlab" in names | installed
