"""Documents as templates: sentences a person wrote, numbers filled in from the results.

Every document is rendered whole from a Jinja2 template (which torch already
installs) in ``docs/templates/`` of the checkout: README.md and
results/README.md from ``README.md.j2`` and ``results_README.md.j2``, each
report ``results/<name>.md`` from ``reports/<name>.md.j2``.  The templates get
the values of :func:`made.reports.verdict.values` and, for a report, its
module's ``context(results)`` as ``report``: tables (DataFrames, written out
by the ``markdown`` filter, :func:`..runs.markdown`) and numbers already
formatted as text.  Jinja2 is home-made machinery's replacement here, not an
addition: no Python function of the reports writes a sentence.  A template
that names a value the results do not give fails, naming it (``StrictUndefined``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import jinja2

from ..io import write_text
from .runs import markdown

RESULTS_README = "results_README.md.j2"
README = "README.md.j2"
REPORTS = ("binarizations", "comparison", "figure2", "recipes", "samples", "uci", "widths")


def _environment(folder: str | Path | None = None) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(folder)) if folder is not None else None
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["markdown"] = markdown
    return env


def render(template: str | Path, values: dict) -> str:
    """The template file ``template`` with ``values`` filled in."""
    template = Path(template)
    return _environment(template.parent).get_template(template.name).render(**values)


def checkout() -> Path:
    """The checkout this package runs from (its templates are in docs/templates/)."""
    return Path(__file__).resolve().parent.parent.parent


def _write(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    write_text(path, text)
    return True


def render_report(results: str | Path, name: str, root: str | Path | None = None) -> str:
    """Report ``name`` (one of :data:`REPORTS`) rendered from the results in ``results``: its
    template gets the results' values and, as ``report``, its module's context."""
    from .verdict import values

    template = Path(root or checkout()) / "docs" / "templates" / "reports" / f"{name}.md.j2"
    module = importlib.import_module(f"{__package__}.{name}")
    return render(template, {**values(results), "report": module.context(Path(results))})


def write_report(results: str | Path, name: str, root: str | Path | None = None) -> Path:
    """Write ``results/<name>.md`` (:func:`render_report`); a report that does not change is not rewritten."""
    path = Path(results) / f"{name}.md"
    _write(path, render_report(results, name, root))
    return path


def render_documents(results: str | Path, root: str | Path | None = None) -> list[Path]:
    """Render results/README.md into ``results`` and, when ``results`` is the
    checkout's own results folder, README.md, from the templates of the
    checkout ``root``; a document that does not change is not rewritten.
    Without templates (an installed package) nothing."""
    from .verdict import values as result_values

    root, results = Path(root or checkout()), Path(results)
    templates = root / "docs" / "templates"
    if not templates.is_dir():
        return []
    values = result_values(results)
    targets = [(templates / RESULTS_README, results / "README.md")]
    if results.resolve() == (root / "results").resolve():
        targets.append((templates / README, root / "README.md"))
    return [path for template, path in targets if _write(path, render(template, values))]
