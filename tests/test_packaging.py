"""The install commands the README gives resolve."""

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

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


# The library's modules: they must import and train with torch, numpy and tqdm alone.
CORE = ["made", "made._extras", "made.masks", "made.layers", "made.fast", "made.model", "made.init", "made.device",
        "made.settings", "made.train", "made.evaluate", "made.data", "made.io", "made.samples"]
# What only the pipeline, the reports and the cluster code may need (the extras; not jinja2,
# which the reports use but torch itself installs).
EXTRAS = ["pandas", "scipy", "tabulate", "matplotlib", "seaborn", "papermill", "nbformat", "nbclient", "ipykernel", "IPython",
          "dask", "distributed"]


def test_the_layout_shows_the_three_audiences():
    # made/*.py is the library (all of it in CORE, checked below); the pipeline
    # and the reports are subpackages that the library never imports.
    made_dir = Path(__file__).resolve().parent.parent / "made"
    top = sorted(f"made.{p.stem}" for p in made_dir.glob("*.py") if p.stem != "__init__")
    assert sorted(top + ["made.data"]) == sorted(m for m in CORE if m != "made")
    assert sorted(p.name for p in made_dir.iterdir() if (p / "__init__.py").exists()) == ["data", "pipeline", "reports"]
    for module in [*made_dir.glob("*.py"), *(made_dir / "data").glob("*.py")]:
        text = module.read_text()
        assert not re.search(r"^\s*(from|import) (made\.|\.)(pipeline|reports)", text, re.M), module


CORE_CHECK = f"""
import importlib, sys
import torch
for name in {CORE!r}:
    importlib.import_module(name)
from made import MADE
from made.train import TrainConfig, fit
from made.evaluate import evaluate
x = (torch.rand(300, 8, generator=torch.Generator().manual_seed(0)) < 0.3).float()
model = MADE(8, [16], 8, num_masks=2)
result = fit(model, x[:200], x[200:], TrainConfig(optimizer="adam", max_epochs=2, progress=False))
assert result.epochs == 2, result
print(evaluate(model, x[200:])["nll_ensemble"])
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({EXTRAS!r}))
assert not loaded, f"the core imported {{loaded}}"
"""


def test_core_imports_and_trains_without_importing_the_pipelines_packages(tmp_path):
    # Fast, in this environment: the core imports, trains and evaluates, and
    # none of the extras' packages is imported on the way (they are installed
    # here, so this shows the core does not reach for them; the slow test below
    # shows it works where they are absent).
    out = subprocess.run([sys.executable, "-c", CORE_CHECK], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**_env(), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert float(out.stdout.split()[-1]) > 0


def _closure(requirements: list[str]) -> dict:
    """The installed distributions that ``requirements`` pull in, transitively, as pip
    would resolve them here (extras left out; markers evaluated for this machine)."""
    from packaging.utils import canonicalize_name

    found, todo = {}, [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in found or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        try:
            found[name] = dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # not needed on this platform (torch works here without it)
            continue
        todo += [Requirement(r) for r in dist.requires or []]
    return found


@pytest.mark.slow
def test_core_works_in_a_venv_with_only_torch_numpy_and_tqdm(tmp_path):
    # The project's own requirements (no extras) are torch, numpy and tqdm; a bare
    # venv that holds exactly what they pull in (linked from this environment:
    # the same files pip would install, without fetching torch again) imports,
    # trains and evaluates the core.
    core = [r for r in metadata.requires("made") or [] if "extra ==" not in r]
    assert sorted(Requirement(r).name.lower() for r in core) == ["numpy", "torch", "tqdm"], core
    dists = _closure(core)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for dist in dists.values():
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    out = subprocess.run([str(py), "-c", CORE_CHECK], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**_env(), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    # and nothing else was there to be found
    listed = subprocess.run([str(py), "-c", "import importlib.metadata as m; "
                             "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"],
                            capture_output=True, text=True, check=True, env=_env()).stdout.split()
    assert {n.lower() for n in listed} & {e.lower() for e in EXTRAS} == set(), listed
    assert {"torch", "numpy", "tqdm"} <= {n.lower() for n in listed}, listed


@pytest.mark.slow
def test_the_wheel_holds_the_three_packages_and_the_reference_numbers(tmp_path):
    # Built from a copy, so the checkout gets no build/ folder.
    import shutil
    import zipfile

    src = tmp_path / "src"
    shutil.copytree(ROOT / "made", src / "made", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(src), "--no-deps",
                          "--no-build-isolation", "-w", str(tmp_path / "wheel")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("made-*.whl")
    held = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "made").rglob("*.py")}
    assert sources and sources <= held, sorted(sources - held)
    assert "made/reports/reference_numbers.csv" in held


def _env() -> dict:
    import os

    # The child must not find the packages of this environment through PYTHONPATH.
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


# A torch-only install (`pip install -e .`), imitated: the extras' packages cannot be found.
WITHOUT_EXTRAS = f"""
import sys

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""


@pytest.mark.parametrize("what", ["import made.pipeline.experiment", "import made.reports",
                                  "import runpy; sys.argv = ['run_all.py', '--help']; "
                                  "runpy.run_path('run_all.py', run_name='__main__')"])
def test_without_the_pipeline_extra_one_line_says_what_to_install(what):
    out = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS + what], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={**_env(), "PYTHONPATH": str(ROOT)})
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert 'pip install -e ".[pipeline]"' in last and "pandas" in last, out.stderr
    if "run_all" in what:  # the command line: that line alone, no traceback
        assert out.stderr.strip() == last and last.startswith("run_all.py: error: "), out.stderr


def test_the_test_summary_names_every_skip_reason_without_rs():
    # each skipped test's reason (data, an optional package such as distributed, ...) is counted
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("made_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    reports = [SimpleNamespace(longrepr=("tests/test_cluster.py", 147, "Skipped: could not import 'distributed'")),
               SimpleNamespace(longrepr=("tests/test_x.py", 3, "Skipped: MADE_DATA_DIR is not set: the runs train")),
               SimpleNamespace(longrepr=("tests/test_y.py", 9, "Skipped: MADE_DATA_DIR is not set: the runs train"))]
    assert conftest.skip_reasons(reports) == {"could not import 'distributed'": 1,
                                               "MADE_DATA_DIR is not set: the runs train": 2}


def test_data_flows_one_way_between_the_pipeline_and_the_reports():
    # data -> model -> training -> run folders -> tables -> reports: the reports read tables and
    # run folders (and the grid file the pipeline writes beside a table), never the pipeline's
    # code; the pipeline runs the report notebooks but imports no report.
    import ast

    def imports(path):
        tree = ast.parse(path.read_text())
        found = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        return found | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    for module in (ROOT / "made" / "pipeline").glob("*.py"):
        assert not any("reports" in m for m in imports(module)), module.name
    for module in (ROOT / "made" / "reports").glob("*.py"):
        assert not any("pipeline" in m for m in imports(module)), module.name
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        text = notebook.read_text()
        crossing = "made.reports" if notebook.name == "train_made.ipynb" else "made.pipeline"
        assert crossing not in text, notebook.name
