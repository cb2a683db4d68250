"""Documents as templates: sentences a person wrote, numbers filled in from the results.

README.md and results/README.md are rendered from ``docs/templates/<name>.j2``
with Jinja2 (which torch already installs) and the values of
:func:`made.reports.verdict.values`.  A template that names a value the
results do not give fails, naming it (``StrictUndefined``), rather than
leaving a blank where a number should be.

>>> render_text("K = 1 gives {{ k1 }}.", {"k1": "91.52"})
'K = 1 gives 91.52.'
>>> render_text("{{ k2 }}", {"k1": "91.52"})
Traceback (most recent call last):
...
jinja2.exceptions.UndefinedError: 'k2' is undefined
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from ..io import write_text
from .sections import section

# The templates, in docs/templates/ of a checkout: results/README.md is
# rendered into any results folder, README.md only from the checkout's own.
RESULTS_README = "results_README.md.j2"
README = "README.md.j2"


def _environment(folder: str | Path | None = None) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(folder)) if folder is not None else None
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_text(template: str, values: dict) -> str:
    """``template`` (Jinja2 text) with ``values`` filled in."""
    return _environment().from_string(template).render(**values)


def render(template: str | Path, values: dict) -> str:
    """The template file ``template`` with ``values`` filled in."""
    template = Path(template)
    return _environment(template.parent).get_template(template.name).render(**values)


def checkout() -> Path:
    """The checkout this package runs from (its templates are in docs/templates/)."""
    return Path(__file__).resolve().parent.parent.parent


def render_documents(results: str | Path, root: str | Path | None = None) -> list[Path]:
    """Render results/README.md into ``results`` and, when ``results`` is the
    checkout's own results folder, README.md, from the templates of the
    checkout ``root`` and the values of the results; a document that does not
    change is not rewritten.  Without templates (an installed package) nothing."""
    from .verdict import values as result_values

    root, results = Path(root or checkout()), Path(results)
    templates = root / "docs" / "templates"
    if not templates.is_dir():
        return []
    values = result_values(results)
    targets = [(templates / RESULTS_README, results / "README.md")]
    if results.resolve() == (root / "results").resolve():
        targets.append((templates / README, root / "README.md"))
    written = []
    for template, path in targets:
        text = render(template, values)
        if not path.exists() or path.read_text() != text:
            write_text(path, text)
            written.append(path)
    # Each report opens with what it found: its summary, under its title.
    for template in sorted((templates / "reports").glob("*.md.j2")):
        path = results / template.name.removesuffix(".j2")
        if path.exists():
            text = with_summary(path.read_text(), template.name.removesuffix(".md.j2"), render(template, values))
            if text != path.read_text():
                write_text(path, text)
                written.append(path)
    return written


def with_summary(report: str, name: str, summary: str) -> str:
    """``report`` with its ``<name>-summary`` section (made.reports.sections)
    right under its title, in place of any it had.

    >>> with_summary("# T\\n\\nbody\\n", "x", "Found.")
    '# T\\n\\n<!-- generated: x-summary -->\\nFound.\\n<!-- end generated: x-summary -->\\n\\nbody\\n'
    """
    block = section(f"{name}-summary", summary.strip())
    if block in report:
        return report
    report = re.sub(rf"<!-- generated: {name}-summary -->\n.*?<!-- end generated: {name}-summary -->\n\n?", "",
                    report, flags=re.S)
    title, _, rest = report.partition("\n")
    return f"{title}\n\n{block}\n{rest.lstrip(chr(10))}"
